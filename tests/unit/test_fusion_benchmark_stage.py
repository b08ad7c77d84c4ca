"""Fusion benchmark stage: tile enumeration as the seed, type constraints, dedup by content, table round trip,
network layer sets with residual edges, statistics and plots (no mapper runs here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fusionsim.errors import InputError
from fusionsim.fusion import benchmark_stage as bs
from fusionsim.fusion.plan import BufferLevels, Level
from fusionsim.fusion.search import search_exact
from fusionsim.fusion.stats import stack_statistics, statistics_csv
from fusionsim.fusion.tables import TYPES, load_layers, load_tables
from fusionsim.fusion.workload import build_workload, load_workload
from fusionsim.spec.constraints import load_constraints
from fusionsim.workloads.problem import _shape

ROOT = Path(__file__).resolve().parents[2]
ACCEL = ROOT / "accelerators" / "simba_like"
# the seed's AlexNet_Simba layers: C, M, P, R, stride
ALEXNET = [(3, 96, 55, 11, 4), (96, 256, 27, 5, 1), (256, 384, 13, 3, 1), (384, 384, 13, 3, 1)]


def problem(C: int, M: int, P: int, R: int, stride: int = 1) -> dict:
    inst = {"C": C, "M": M, "P": P, "Q": P, "R": R, "S": R, "N": 1, "Wstride": stride, "Hstride": stride,
            "Wdilation": 1, "Hdilation": 1}
    return {"problem": {"shape": _shape(), "instance": inst}}


def layers_of(spec: list[tuple]) -> list[bs.BenchLayer]:
    return [bs.BenchLayer(i + 1, f"L{i + 1}", problem(*s)) for i, s in enumerate(spec)]


def setup(tmp_path: Path) -> bs.BenchSetup:
    return bs.BenchSetup(ACCEL / "arch.yaml", ACCEL / "ERT.yaml",
                         (ACCEL / "constraints/arch.yaml", ACCEL / "constraints/map.yaml"),
                         ACCEL / "mapper/fast.yaml", ACCEL / "components")


def test_tile_enumeration_matches_seed_benchmarker() -> None:
    layers = layers_of(ALEXNET)
    entries = bs.enumerate_entries(layers)
    # sum over layers of 6*P + 1 runs (SLC only at the full width), spec 3.1
    assert len(entries) == sum(6 * p + 1 for _, _, p, _, _ in ALEXNET) == 652
    assert [e[0] for e in entries[:4]] == ["SLC"] * 4 and [e[1] for e in entries[:4]] == [4, 3, 2, 1]
    assert entries[:4] == [("SLC", 4, 13), ("SLC", 3, 13), ("SLC", 2, 27), ("SLC", 1, 55)]
    lblc = [e for e in entries if e[0] == "LBLC"]
    assert lblc[:13] == [("LBLC", 4, t) for t in range(1, 14)] and lblc[-1] == ("LBLC", 1, 55)
    assert list(dict.fromkeys(e[0] for e in entries)) == list(bs.SEED_TYPE_ORDER)
    assert len(bs.enumerate_entries(layers, slc_all_tiles=True)) == 7 * (55 + 27 + 13 + 13)
    assert bs.tile_widths(13, "LBLC", [2, 13, 40]) == [2, 13]
    assert bs.tile_widths(13, "SLC", [2]) == [13]


def test_tile_problem_keeps_everything_but_p_and_q() -> None:
    base = problem(96, 256, 27, 5)
    tile = bs.tile_problem(base, 15)
    assert tile["problem"]["instance"] == {**base["problem"]["instance"], "P": 15, "Q": 15}
    assert base["problem"]["instance"]["P"] == 27  # not modified in place
    with pytest.raises(InputError, match="wider than the layer"):
        bs.tile_problem(base, 28)
    # the seed's input tile formula: AlexNet layer 1, 19-wide output needs (19-1)*4 + 11 = 83 inputs
    assert bs.input_tile_width(19, 11, 4) == 83 and bs.input_tile_width(13, 3, 1, 1, 1) == 13


@pytest.mark.parametrize("kind", TYPES)
def test_type_constraints_encode_on_chip_flags(kind: str, tmp_path: Path) -> None:
    rule = bs.type_constraints(kind, "DRAM")
    if kind == "SLC":
        assert rule is None
        return
    (target,) = rule["architecture_constraints"]["targets"]
    assert target["target"] == "DRAM" and target["type"] == "datatype"
    flags = dict(zip(("Weights", "Inputs", "Outputs"), bs.ON_CHIP[kind], strict=True))
    assert set(target["keep"]) == {d for d, on in flags.items() if not on}
    assert set(target["bypass"]) == {d for d, on in flags.items() if on}
    # it merges with the accelerator's base constraints (which carry no DRAM rule)
    job = bs.BenchJob("k", problem(8, 8, 4, 3), bs.DRAM_KEEP[kind])
    _, cons = bs.write_job_inputs(job, tmp_path)
    merged = load_constraints([ACCEL / "constraints/arch.yaml", ACCEL / "constraints/map.yaml", cons])
    assert merged.keep.get("DRAM", set()) == set(target["keep"])
    assert merged.bypass.get("DRAM", set()) == set(target["bypass"])


def test_unknown_type_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown dataflow type"):
        bs.enumerate_entries(layers_of(ALEXNET[:1]), ["SLC", "Middle"])


def test_jobs_are_deduplicated_by_content(tmp_path: Path) -> None:
    st = setup(tmp_path)
    same = layers_of([(16, 16, 4, 3), (16, 16, 4, 3), (16, 32, 4, 3)])  # layers 1 and 2 are equal
    jobs = bs.plan_jobs(same, st, ["LBLC", "SLC"])
    entries = bs.enumerate_entries(same, ["LBLC", "SLC"])
    assert sum(len(j.uses) for j in jobs) == len(entries) == 3 * 4 + 3
    assert len(jobs) == 2 * 4 + 2  # layer 2 reuses layer 1's jobs
    shared = [j for j in jobs if len(j.uses) == 2]
    assert all({u[1] for u in j.uses} == {1, 2} for j in shared) and len(shared) == 5
    # WCC and EWCC differ only in the DRAM rule: different jobs; a renamed layer is the same job
    assert len({j.key for j in bs.plan_jobs(same[:1], st, ["WCC", "EWCC"])}) == 8
    renamed = [bs.BenchLayer(1, "other", same[0].problem)]
    assert {j.key for j in bs.plan_jobs(renamed, st, ["LBLC"])} == {j.key for j in bs.plan_jobs(same[:1], st, ["LBLC"])}
    # a different mapper seed (or any accelerator file) changes every key
    other = bs.BenchSetup(**{**st.__dict__, "seed": 1})
    assert not {j.key for j in bs.plan_jobs(same, other, ["LBLC"])} & {j.key for j in jobs}


def fake_results(jobs: list[bs.BenchJob]) -> dict[str, dict]:
    """Deterministic stand-in results: energy and cycles grow with the tile area, DRAM costs what is kept."""
    out = {}
    for job in jobs:
        inst = job.problem["problem"]["instance"]
        macs = inst["P"] * inst["Q"] * inst["C"] * inst["M"] * inst["R"] * inst["S"]
        dram = 0.0 if job.dram_keep is not None and not job.dram_keep else 2.0 * inst["P"] * inst["Q"] * inst["M"]
        levels = {"LMAC": 0.5 * macs, "GlobalBuffer": 0.1 * macs, "DRAM": dram * (len(job.dram_keep or "abc"))}
        out[job.key] = {"key": job.key, "energy_uJ": sum(levels.values()) / 1e6, "cycles": macs / 64,
                        "macs": macs, "levels_pJ": levels}
    return out


def test_tables_round_trip_through_the_search_readers(tmp_path: Path) -> None:
    layers = layers_of([(8, 16, 6, 3), (16, 16, 6, 3)])
    jobs = bs.plan_jobs(layers, setup(tmp_path))
    tables = bs.assemble_tables(layers, jobs, fake_results(jobs))
    bs.write_tables(tables, tmp_path / "costs")
    loaded = load_tables(tmp_path / "costs")
    for kind in TYPES:
        for lay in (1, 2):
            for t, v in tables.table(kind)[lay].items():
                assert loaded.energy[kind][lay][t] == pytest.approx(v, rel=1e-6)
                assert loaded.cycles[kind][lay][t] == pytest.approx(tables.table(kind, "cycles")[lay][t], abs=0.5)
    seed = json.loads((tmp_path / "costs/LBLC.json").read_text())
    assert list(seed) == ["2", "1"] and list(seed["1"]) == [str(t) for t in range(1, 7)]  # seed layout
    assert json.loads((tmp_path / "costs/LBLC/Layer1.json").read_text()) == seed["1"]
    detail = bs.read_costs(tmp_path / "costs/costs.json")
    assert detail["SLC"][2][6]["levels_pJ"]["LMAC"] == pytest.approx(0.5 * 36 * 16 * 16 * 9)
    missing = {k: v for k, v in fake_results(jobs).items() if k != jobs[0].key}
    with pytest.raises(InputError, match=f"no result for job {jobs[0].key}"):
        bs.assemble_tables(layers, jobs, missing)


def test_layer_dir_round_trip_and_plan_statistics(tmp_path: Path) -> None:
    layers = layers_of([(8, 16, 6, 3), (16, 16, 6, 3), (16, 8, 6, 1)])
    layer_set = bs.LayerSet(tuple(layers), (None, 0, 1))
    bs.write_layer_set(layer_set, tmp_path / "layers")
    assert [lay.problem for lay in bs.load_layer_dir(tmp_path / "layers")] == [lay.problem for lay in layers]
    jobs = bs.plan_jobs(layers, setup(tmp_path))
    bs.write_tables(bs.assemble_tables(layers, jobs, fake_results(jobs)), tmp_path / "costs")
    workload = load_workload(tmp_path / "layers")
    levels = BufferLevels(Level("W", 10**6), Level("I", 10**6), Level("O", 10**6))
    plan = search_exact(workload, load_tables(tmp_path / "costs"), levels)
    rows = stack_statistics(plan, workload, bs.read_costs(tmp_path / "costs/costs.json"))
    assert len(rows) == len(plan.stacks) + 1 and rows[-1].label == "layer-by-layer"
    # the fake tables price every level linearly in area, so stats energy equals the plan's stack energies
    for row, st in zip(rows, plan.stacks, strict=False):
        assert row.energy_uJ == pytest.approx(st.energy_uJ, rel=1e-6)
    assert rows[-1].energy_uJ == pytest.approx(plan.layer_by_layer_uJ, rel=1e-6)
    # every output pixel of every layer computed at least once: MACs >= the layer-by-layer MACs
    assert sum(r.macs for r in rows[:-1]) >= rows[-1].macs
    text = statistics_csv(rows)
    head = text.splitlines()[0].split(",")
    assert head[0] == "stack" and head[1] == "LMAC_pJ_per_MAC" and head[-4:] == ["energy_uJ", "pJ_per_MAC", "cycles",
                                                                                  "MACs"]
    paths = bs.write_plan_outputs(plan, workload, tmp_path / "costs/costs.json", tmp_path / "plan", {"seed": 1.0})
    for p in paths.values():
        assert p.stat().st_size > 0
    assert paths["tiling"].read_bytes()[:4] == b"\x89PNG"
    assert json.loads(paths["json"].read_text())["fused_uJ"] == pytest.approx(plan.fused_uJ, rel=1e-5)


def test_resnet18_layer_set_has_residual_edges(tmp_path: Path) -> None:
    ls = bs.network_layer_set(ROOT / "workloads/resnet18.yaml", "imagenet")
    names = [lay.name for lay in ls.layers]
    assert len(names) == 21 and names[0] == "conv1" and names[1] == "pool1"
    assert sum(n.endswith("_downsample") for n in names) == 3
    for block in ("layer1_0", "layer1_1", "layer2_0", "layer2_1", "layer3_0", "layer3_1", "layer4_0", "layer4_1"):
        c1, c2 = names.index(f"{block}_conv1"), names.index(f"{block}_conv2")
        assert ls.srcs[c2] == c1
        (skip,) = ls.adds[c2]
        assert skip == (names.index(f"{block}_downsample") if f"{block}_downsample" in names else ls.srcs[c1])
    ds = ls.layers[names.index("layer2_0_downsample")].problem["problem"]["instance"]
    assert (ds["C"], ds["M"], ds["R"], ds["P"], ds["Wstride"]) == (64, 128, 1, 28, 2)
    bs.write_layer_set(ls, tmp_path / "r18")
    workload = load_workload(tmp_path / "r18")
    assert len(workload) == 21 and workload.layers[3].adds == (1,)
    assert [s.name for s in load_layers(tmp_path / "r18")][:3] == ["conv1_layer01", "pool1_layer02",
                                                                   "layer1_0_conv1_layer03"]


def test_chain_networks_drop_pools_and_fc_and_densify_groups() -> None:
    ls = bs.network_layer_set(ROOT / "workloads/alexnet.yaml", "imagenet")
    inst = [lay.problem["problem"]["instance"] for lay in ls.layers]
    assert [(i["C"], i["M"], i["P"]) for i in inst] == [(3, 96, 55), (96, 256, 27), (256, 384, 13), (384, 384, 13),
                                                        (384, 256, 13)]
    assert ls.srcs == (None, 0, 1, 2, 3) and not ls.adds
    shapes = [bs.BenchLayer(1, "x", lay.problem) for lay in ls.layers]
    assert len(shapes) == 5
    mb = bs.network_layer_set(ROOT / "workloads/mobilenetv2.yaml", "cifar10")
    names = [lay.name for lay in mb.layers]
    assert mb.adds[names.index("b2_comp")] == (names.index("b1_comp"),)


def test_graph_json_must_match_the_layers(tmp_path: Path) -> None:
    layers = layers_of([(8, 16, 6, 3), (16, 16, 6, 3)])
    bs.write_layer_set(bs.LayerSet(tuple(layers), (None, 0)), tmp_path)
    (tmp_path / "graph.json").write_text(json.dumps({"srcs": [None]}))
    with pytest.raises(InputError, match="one layer index or null per layer"):
        load_workload(tmp_path)
    (tmp_path / "graph.json").unlink()
    assert len(build_workload(load_layers(tmp_path))) == len(load_workload(tmp_path)) == 2
    assert yaml.safe_load((tmp_path / "L1_layer01.yaml").read_text()) == layers[0].problem
