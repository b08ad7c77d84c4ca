"""Issue 9 (b): the ARCHON comparison with our native engine and mapper end to end vs the seed's result.csv.

FusioNet (vs its ShuffleNet baseline) and MobileNetV2, CIFAR-10, as the pipeline defines them: the comparison's
own layer jobs (`fusionsim.workflow.archon_comparison.add_comparison_jobs`, content keys as `map_layer`'s) mapped with the
accelerators' mapper files, i.e. the seed's mapper settings (predictions/dense 1x1 50000/1000, DW 10000/300-400,
main 5000/400, head/tail 50000/2000 and 15000/500); the sparse baseline fed the seed's per-PE non-zero work
(`sparsity.pe_work` -> `sparse_baseline/csvs/*_raw_80.csv`); then the pipeline's own job bodies
(`write_fused_block`, `write_sparse_layers_from_pe_work`, `write_comparison`).

Layer results are cached by content key under pytest's cache (`.pytest_cache/d/fusionsim_archon_native/layers`,
reset with `pytest --cache-clear`): a cold run maps ~200 layer problems (~1.5-2.5 min on 2 cores), a warm run
takes seconds. `pytest -s` prints the final totals and the per-row gaps against the seed's result.csv.

Asserted: the 5% bar where it holds (every FusioNet total and ratio; MobileNetV2 cycles and speedup vs dense);
for the MobileNetV2 cells that miss it, their documented causes (docs/report.md): the seed's per-PE inputs of
eleven PW1 layers are stale (their grids do not reproduce the seed's own sparse cycles), and for equal cycles our
mapper finds lower-energy mappings than the seed's Timeloop runs (the engine reproduces the seed's energy on the
seed's own mapping), which the seed's (Cmid - 1) x DRAM-input corrections amplify: its MobileNet DW-prediction
runs re-read their one input plane per M tile (1,070 uJ of its 3,930 uJ ARCHON total; without that traffic ours
is within 5%).
"""

from __future__ import annotations

import csv
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import yaml

from fusionsim.archon.tables import FINAL_COLUMNS

REPO = Path(__file__).resolve().parents[2]
NETS = {"fusionet": "fusionet", "mobilenetv2": "mobilenet"}  # comparison -> seed folder
# the seed's result.csv swaps the per-PE files of MobileNet blocks 6 and 13 (decomp <-> comp)
PE_WORK_FILES = {
    "mobilenet": {
        "b6_decom": "6_comp_raw_80.csv",
        "b6_comp": "6_decomp_raw_80.csv",
        "b13_decom": "13_comp_raw_80.csv",
        "b13_comp": "13_decomp_raw_80.csv",
    }
}
BASELINE = {"fusionet": "shufflenet", "mobilenetv2": "mobilenetv2_seed"}
METRICS = FINAL_COLUMNS[2:]  # every numeric column of the final table


def _merge(a: dict, b: dict) -> dict:
    for k, v in b.items():
        a[k] = _merge(dict(a.get(k) or {}), v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
    return a


def _map_one(args: tuple) -> str:
    from fusionsim.workflow.jobs import run_map_job

    key, kw = args
    run_map_job(key=key, **kw)
    return key


def seed_totals(path: Path) -> dict[str, float]:
    """Network totals of a seed result.csv (seed-fusion-timeloop.md section 6)."""
    rows = list(csv.DictReader(open(path)))

    def s(cols: list[str]) -> float:
        return sum(float(r[c]) for r in rows for c in cols)

    t = {
        "dense_cycles": s(["PW1/L1_c", "DW_c", "PW2_c"]),
        "sparse_cycles": s(["sparse_PW1_c", "sparse_DW_c", "sparse_PW2_c"]),
        "archon_cycles": s(["pred_decom_c", "pred_conv_c", "main_c"]),
        "dense_energy_uJ": s(["PW1/L1_e", "DW_e", "PW2_e"]),
        "sparse_energy_uJ": s(["sparse_PW1/L1_e", "sparse_DW_e", "sparse_PW2_e"]),
        "archon_energy_uJ": s(["pred_decom_e", "pred_conv_e", "main_e", "overhead_e"]),
    }
    t["speedup_vs_dense"] = t["dense_cycles"] / t["archon_cycles"]
    t["speedup_vs_sparse"] = t["sparse_cycles"] / t["archon_cycles"]
    t["energy_ratio_dense"] = t["dense_energy_uJ"] / t["archon_energy_uJ"]
    t["energy_ratio_sparse"] = t["sparse_energy_uJ"] / t["archon_energy_uJ"]
    return t


@pytest.fixture(scope="module")
def native(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Per comparison: (our totals, our result.csv path) from native layer jobs (cached by content key)."""
    from snakemake.utils import validate

    from fusionsim.workflow.archon_comparison import comparison_plan
    from fusionsim.workflow.archon_jobs import (
        write_comparison,
        write_fused_block,
        write_sparse_layers_from_pe_work,
    )
    from fusionsim.workflow.plan import build_plan

    ref = REPO.parent / "shared" / "timeloop-reference" / "fusion-timeloop-model"
    if not ref.exists():
        pytest.skip(f"shared reference material not found at {ref}")
    cache_provider = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    cache = (
        Path(cache_provider.mkdir("fusionsim_archon_native"))
        if cache_provider is not None
        else tmp_path_factory.mktemp("archon_native_cache")
    )
    pe_work = {
        BASELINE[c]: {
            "dir": str(ref / s / "cifar10" / "bottlenecks" / "sparse_baseline" / "csvs"),
            **({"files": PE_WORK_FILES[s]} if s in PE_WORK_FILES else {}),
        }
        for c, s in NETS.items()
    }
    overlay = {
        "output_dir": str(cache),
        "networks": list(NETS),
        "datasets": ["cifar10"],
        "layers": {n: ["conv1"] for n in ("fusionet", "mobilenetv2")},  # the dense pipeline is not run here
        "fusion": {"enabled": True, "comparisons": list(NETS)},
        "sparsity": {"pe_work": pe_work},
    }
    cfg = _merge(yaml.safe_load((REPO / "config.yaml").read_text()), overlay)
    validate(cfg, str(REPO / "config.schema.yaml"), set_default=True)
    plan = build_plan(cfg, REPO)
    cp = comparison_plan(plan, cfg, REPO)

    keys = set()
    for (cmp, ds), fk in cp.fused_keys.items():
        keys |= set(fk.values()) | {k for side in cp.edge_keys[(cmp, ds)].values() for k in side}
        keys |= set(cp.baseline_keys[(cp.baseline_name(cmp), ds)].values())
    todo = []
    for key in sorted(keys):
        d = cache / "cache" / "layers" / key
        if (d / "run.json").exists():
            continue
        job, inp = plan.jobs[key], plan.map_job_inputs(key)
        outputs = {
            n: str(d / f)
            for n, f in (
                ("problem", "problem.yaml"),
                ("mapper", "mapper.yaml"),
                ("mapping", "mapping.yaml"),
                ("stats_json", "stats.json"),
                ("stats_txt", "stats.txt"),
                ("run", "run.json"),
            )
        }
        todo.append(
            (
                key,
                dict(
                    problem=plan.problems[job.problem_key],
                    mapper=plan.mappers[job.mapper_key],
                    arch=inp["arch"],
                    ert=inp["ert"],
                    constraints=inp["constraints"],
                    components=plan.components_dir(key) or None,
                    outputs=outputs,
                    engine=cfg["engine"],
                    seed=cfg["mapper"]["seed"],
                ),
            )
        )
    if todo:
        with ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
            list(pool.map(_map_one, todo))

    out = {}
    tmp = tmp_path_factory.mktemp("archon_native")
    for cmp, ds in cp.pairs:
        net = cp.baseline_name(cmp)
        blocks = []
        for b in cp.block_names(cmp, ds):
            f = tmp / cmp / "blocks" / f"{b}.json"
            i = cp.fused_block_inputs(cmp, ds, b)
            write_fused_block(i["decom"], i["conv"], i["main"], cp.fused_block_params(cmp, ds, b), str(f))
            blocks.append(str(f))
        sparse = tmp / cmp / "sparse_layers.csv"
        write_sparse_layers_from_pe_work(
            cp.sparse_layer_names(net, ds),
            cp.sparse_layer_groups(net, ds),
            cp.sparse_inputs(net, ds)["pe_work"],
            str(sparse),
        )
        inputs = {**cp.comparison_inputs(cmp, ds), "blocks": blocks, "sparse": str(sparse)}
        totals = write_comparison(
            inputs,
            cp.comparison_params(cmp, ds),
            str(tmp / cmp),
            sigma=cfg["fusion"]["sigma"],
            index_bits=cfg["fusion"]["index_bits"],
        )
        t = {k.replace("fusion_", "archon_"): float(v) for k, v in totals.items()}
        t["speedup_vs_dense"] = t["dense_cycles"] / t["archon_cycles"]
        t["speedup_vs_sparse"] = t["sparse_cycles"] / t["archon_cycles"]
        t["energy_ratio_dense"] = t["dense_energy_uJ"] / t["archon_energy_uJ"]
        t["energy_ratio_sparse"] = t["sparse_energy_uJ"] / t["archon_energy_uJ"]
        out[cmp] = (t, tmp / cmp / "result.csv", ref / NETS[cmp] / "cifar10")
    return out


def _gap(ours: float, seed: float) -> float:
    return ours / seed - 1 if seed else (0.0 if ours == 0 else float("inf"))


def _print_tables(cmp: str, totals: dict, seed: dict, ours_csv: Path, seed_csv: Path) -> None:
    print(f"\n### {cmp} cifar10: native engine + mapper vs the seed's result.csv\n")
    print("| total | ours | seed | gap |\n|---|---|---|---|")
    for k in METRICS:
        print(f"| {k} | {totals[k]:.6g} | {seed[k]:.6g} | {_gap(totals[k], seed[k]):+.2%} |")
    groups = {
        "dense_c": ["PW1/L1_c", "DW_c", "PW2_c"],
        "dense_e": ["PW1/L1_e", "DW_e", "PW2_e"],
        "sparse_c": ["sparse_PW1_c", "sparse_DW_c", "sparse_PW2_c"],
        "sparse_e": ["sparse_PW1/L1_e", "sparse_DW_e", "sparse_PW2_e"],
        "archon_c": ["pred_decom_c", "pred_conv_c", "main_c"],
        "archon_e": ["pred_decom_e", "pred_conv_e", "main_e", "overhead_e"],
    }
    ours_rows = list(csv.DictReader(open(ours_csv)))
    seed_rows = list(csv.DictReader(open(seed_csv)))
    print(f"\n| row | {' | '.join(f'{g} ours / seed (gap)' for g in groups)} |")
    print("|---" * (len(groups) + 1) + "|")
    for o, s in zip(ours_rows, seed_rows, strict=True):
        cells = []
        for cols in groups.values():
            a = sum(float(o[c]) for c in cols)
            b = sum(float(s[c]) for c in cols)
            cells.append(f"{a:.6g} / {b:.6g} ({_gap(a, b):+.1%})" if (a or b) else "0")
        print(f"| {o['layer']} | {' | '.join(cells)} |")


def _stale_pe_work_deficit(seed_dir: Path) -> int:
    """Sparse cycles the seed's committed per-PE files give minus its sparse_bl_res.csv (MobileNet: stale PW1)."""
    from fusionsim.sparsity.imbalance import read_pe_work_csv

    b = seed_dir / "bottlenecks"
    files = PE_WORK_FILES.get(seed_dir.parent.name, {})
    order = ("decom", "conv", "comp") if seed_dir.parent.name == "mobilenet" else ("decom", "comp", "conv")
    part = {"decom": "decomp", "conv": "conv", "comp": "comp"}
    deficit = 0
    for i, r in enumerate(csv.DictReader(open(b / "results" / "sparse_bl_res.csv"))):
        k, role = int(r["Block"]), order[i % 3]
        name = files.get(f"b{k}_{role}", f"{k}_{part[role]}_raw_80.csv")
        grid = read_pe_work_csv(b / "sparse_baseline" / "csvs" / name)
        deficit += int(grid.max(axis=0).sum()) - int(r["Sparse MAC Cycles"])
    return deficit


def _seed_dw_prediction_reread_uJ(seed_dir: Path, cmid: int, qtz_bits: int) -> float:
    """Energy (uJ) the seed's MobileNet DW-prediction runs add by re-reading their one input plane from DRAM
    per M tile: (r Cmid - 1) x the DRAM input energy above the compulsory reads (the input once, with halo);
    (r Cmid - 1) is what the MobileNet copy's pred_conv_e formula multiplies E_DRAM,In by."""
    from fusionsim.archon.predictive import storage_index
    from fusionsim.timeloop import read_stats

    r = qtz_bits / 16
    excess = 0.0
    for conv in sorted((seed_dir / "bottlenecks" / "fusion" / "predictions").glob("b*/conv")):
        p = yaml.safe_load((conv / "prob" / "prob.yaml").read_text())["problem"]["instance"]
        res = read_stats(conv / "output" / "timeloop-mapper.stats.txt")
        ds = res.levels[storage_index(res, "dram")].dataspaces["Inputs"]
        h = (p["P"] - 1) * p.get("Hstride", 1) + p["R"]
        w = (p["Q"] - 1) * p.get("Wstride", 1) + p["S"]
        compulsory = min(ds.reads, p["C"] * h * w)
        excess += (r * cmid - 1) * ds.energy_pJ * (1 - compulsory / ds.reads) * 1e-6
    return excess


def test_fusionet_native_within_5pct_of_seed(native: dict) -> None:
    totals, ours_csv, seed_dir = native["fusionet"]
    seed = seed_totals(seed_dir / "result.csv")
    _print_tables("fusionet", totals, seed, ours_csv, seed_dir / "result.csv")
    assert _stale_pe_work_deficit(seed_dir) == 0  # the seed's per-PE inputs reproduce its sparse cycles
    assert _seed_dw_prediction_reread_uJ(seed_dir, cmid=3456, qtz_bits=4) == 0  # its DW predictions read once
    bad = {k: f"{_gap(totals[k], seed[k]):+.2%}" for k in METRICS if abs(_gap(totals[k], seed[k])) > 0.05}
    assert not bad, bad
    for k in ("dense_cycles", "sparse_cycles", "archon_cycles"):  # every layer's cycles equal the seed's
        assert totals[k] == pytest.approx(seed[k], rel=1e-9), k


def test_mobilenetv2_native_vs_seed(native: dict) -> None:
    totals, ours_csv, seed_dir = native["mobilenetv2"]
    seed = seed_totals(seed_dir / "result.csv")
    _print_tables("mobilenetv2", totals, seed, ours_csv, seed_dir / "result.csv")
    # within 5%: cycles on the dense baseline and ARCHON (equal to the seed's), speedup vs dense
    for k in ("dense_cycles", "archon_cycles", "speedup_vs_dense"):
        assert abs(_gap(totals[k], seed[k])) < 0.05, (k, totals[k], seed[k])
    assert totals["dense_cycles"] == seed["dense_cycles"]
    assert totals["archon_cycles"] == seed["archon_cycles"]
    # sparse cycles: exactly the seed's per-PE inputs; the seed's result differs by its stale PW1 files
    deficit = _stale_pe_work_deficit(seed_dir)
    assert deficit < 0
    assert totals["sparse_cycles"] == seed["sparse_cycles"] + deficit
    # energies: same cycles, lower-energy mappings than the seed's Timeloop runs (never higher by > 1%)
    for k in ("dense_energy_uJ", "sparse_energy_uJ", "archon_energy_uJ"):
        assert totals[k] < seed[k] * 1.01, (k, totals[k], seed[k])
    # ARCHON energy: nearly all of the gap is the seed's DW-prediction runs re-reading their input plane per
    # M tile (ours read it once, as the real depthwise and the seed's FusioNet runs do); without that traffic
    # the seed's total is within 5% of ours
    excess = _seed_dw_prediction_reread_uJ(seed_dir, cmid=864, qtz_bits=4)
    print(f"seed DW-prediction input re-reads: {excess:.1f} uJ of the {seed['archon_energy_uJ']:.1f} uJ total")
    assert excess > 0.8 * (seed["archon_energy_uJ"] - totals["archon_energy_uJ"])
    assert abs(_gap(totals["archon_energy_uJ"], seed["archon_energy_uJ"] - excess)) < 0.05


# ------------------------------------------------------------------------------------------ inputs (fast)


def test_seed_edges_file_states_the_seed_runs(timeloop_ref: Path) -> None:
    """The FusioNet comparison's explicit head/tail layers are the problems the seed ran, with its multipliers."""
    from fusionsim.archon.comparisons import load_edges
    from fusionsim.workloads import problem_instance

    edges = load_edges(REPO / "accelerators/archon/networks/fusionet_seed_edges.yaml", "cifar10", 10)
    ht = timeloop_ref / "fusion-timeloop-model/fusionet/cifar10/head_and_tail"
    where = {
        "head": "baseline/head/baseline",
        "tail": "baseline/tail/baseline",
        "head_fused": "fused/fus_head/fusion",
        "tail_fused": "fused/fus_tail/fusion",
    }
    for side, sub in where.items():
        for e in edges[side]:
            seed = yaml.safe_load((ht / sub / e.layer.name / "prob/prob.yaml").read_text())["problem"][
                "instance"
            ]
            ours = problem_instance(e.layer)
            assert {k: ours[k] for k in "CMRSPQ"} == {k: seed[k] for k in "CMRSPQ"}, (side, e.layer.name)
    mult = {(s, e.layer.name): e.multiplier for s, es in edges.items() for e in es}
    assert mult[("tail", "GPW1")] == 4 and mult[("head_fused", "PW1")] == 4
    assert mult[("tail_fused", "PW1")] == 1 and mult[("head", "PW1")] == 1
    assert [e.depthwise_channels for e in edges["head_fused"]] == [None, None, 32]


def test_edges_file_errors_name_the_key(tmp_path: Path) -> None:
    from fusionsim.archon.comparisons import load_edges
    from fusionsim.errors import InputError

    f = tmp_path / "edges.yaml"
    f.write_text("head:\n  - {name: x, type: dense, in_channels: 3}\n")
    with pytest.raises(InputError, match=r"head\[0\]\.type"):
        load_edges(f, "cifar10", 10)
    f.write_text("tails: []\n")
    with pytest.raises(InputError, match="tails"):
        load_edges(f, "cifar10", 10)


def test_pe_work_config_replaces_the_pruned_model(tmp_path: Path) -> None:
    """`sparsity.pe_work` points the sparse job at per-PE files (pattern + per-layer overrides), no prune job."""
    from snakemake.utils import validate

    from fusionsim.workflow.archon_comparison import comparison_plan
    from fusionsim.workflow.archon_jobs import write_sparse_layers_from_pe_work
    from fusionsim.workflow.plan import build_plan

    overlay = {
        "output_dir": str(tmp_path / "out"),
        "networks": ["mobilenetv2"],
        "layers": {"mobilenetv2": ["conv1"]},
        "fusion": {"enabled": True},
        "sparsity": {"pe_work": {"mobilenetv2_seed": {"dir": str(tmp_path), "files": {"b6_decom": "x.csv"}}}},
    }
    cfg = _merge(yaml.safe_load((REPO / "config.yaml").read_text()), overlay)
    validate(cfg, str(REPO / "config.schema.yaml"), set_default=True)
    plan = build_plan(cfg, REPO)
    cp = comparison_plan(plan, cfg, REPO)
    inputs = cp.sparse_inputs("mobilenetv2_seed", "cifar10")
    assert set(inputs) == {"pe_work"}
    names = cp.sparse_layer_names("mobilenetv2_seed", "cifar10")
    files = dict(zip(names, inputs["pe_work"], strict=True))
    assert files["b1_decom"] == str(tmp_path / "1_decomp_raw_80.csv")
    assert files["b16_comp"] == str(tmp_path / "16_comp_raw_80.csv")
    assert files["b6_decom"] == str(tmp_path / "x.csv")
    # cycles: slowest PE per pass, summed, x groups
    (tmp_path / "a.csv").write_text("PE,0,1\n(0- 0),3,1,\n(0- 1),2,4,\n")
    rows = write_sparse_layers_from_pe_work(["l"], [3], [str(tmp_path / "a.csv")], str(tmp_path / "s.csv"))
    assert rows[0]["sparse_c"] == 3 * (3 + 4)
