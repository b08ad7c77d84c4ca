"""Issue 9 through the pipeline: the ARCHON comparison's tables, a real reduced snakemake run, the report.

(a) Seed reproduction at package level: the same function the `write_comparison` rule runs
    (`fusionsim.workflow.archon_jobs.write_comparison`) and the `fused_block` rule runs (`write_fused_block`) are fed
    the seed's own Timeloop stats.txt files (read by the stats reader) in place of the layer jobs' stats.json;
    every cell of res.csv and result.csv is compared with the seed's (1%, or half a printed unit).
(b) Native engine + mapper, smoke level (the reduced run below, FusioNet vs its ShuffleNet baseline, small
    mapper budget, our pruned model): prints our final table beside the seed's and the gaps. The 5% bar with the
    seed's mapper budgets and per-PE sparse inputs is tests/workflow/test_archon_native.py.
(c) The comparison runs from one snakemake command (reduced config, ~1.5 min on 2 cores).
(d) `snakemake --report` renders in headless Chromium and the page shows the final table.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fusionsim.archon.tables import FINAL_COLUMNS, read_sparse_cycles
from fusionsim.workflow.archon_jobs import write_comparison, write_fused_block

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
STATS = "output/timeloop-mapper.stats.txt"
# the seed's network lists, head/tail scalings and §6 totals (shared with tests/reference/test_archon_reference.py)
_SEED = yaml.safe_load((REPO / "tests" / "data" / "seed_archon_networks.yaml").read_text())
SEED, SEED_FINAL = _SEED["networks"], {net: tuple(v) for net, v in _SEED["final"].items()}


def _read(path: Path) -> list[list[str]]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def _seed_inputs(root: Path, net: str, tmp: Path) -> tuple[dict, dict]:
    """The write_comparison rule's inputs and params, with the seed's stats.txt files as the layer jobs."""
    s = SEED[net]
    b = root / net / "cifar10" / "bottlenecks"
    ht = root / net / "cifar10" / "head_and_tail"
    n_base = len(s["base_cin"])
    baseline = [
        str(b / "baseline" / f"b{k + 1}" / part / STATS)
        for k in range(n_base)
        for part in ("decom", "conv", "comp")
    ]
    # sparse cycles: the seed's per-PE model output (sparse_bl_res.csv), in the adjust rule's table layout
    cyc = read_sparse_cycles(b / "results" / "sparse_bl_res.csv", s["base_groups"], s["base_cin"])
    sparse = tmp / f"{net}_sparse_layers.csv"
    g = s["base_groups"]
    lines = ["layer,sparse_c"]
    for k, c in enumerate(cyc):
        lines += [f"b{k + 1}_decom,{c.pw1 * g}", f"b{k + 1}_conv,{c.dw}", f"b{k + 1}_comp,{c.pw2 * g}"]
    sparse.write_text("\n".join(lines) + "\n")
    blocks = []
    for k in range(len(s["cin"])):
        pred = b / "fusion" / "predictions" / f"b{k + 1}"
        out = tmp / net / f"b{k + 1}.json"
        params = dict(
            name=f"b{k + 1}",
            cin=s["cin"][k],
            cmid=s["cmid"][k],
            cout=s["cout"][k],
            p=s["p"][k],
            stride=s["strides"].get(k + 1, 1),
            groups=s["groups"],
            prune_factor=s["prune"],
            qtz_bits=4,
            adders=24,
            variant=s["variant"],
        )
        write_fused_block(
            str(pred / "decom" / STATS),
            str(pred / "conv" / STATS),
            str(b / "fusion" / "main_computations" / f"b{k + 1}" / STATS),
            params,
            str(out),
        )
        blocks.append(str(out))

    def edge(part: str, sub: str, spec: list) -> tuple[list[str], list[dict]]:
        files = [str(ht / part / sub / name / STATS) for name, _, _ in spec]
        return files, [{"name": n, "multiplier": m, "depthwise_channels": d} for n, m, d in spec]

    head, head_p = edge("baseline/head", "baseline", s["head"])
    headf, headf_p = edge("fused/fus_head", "fusion", s["head_fused"])
    tail, tail_p = edge("baseline/tail", "baseline", s["tail"])
    tailf, tailf_p = edge("fused/fus_tail", "fusion", s["tail_fused"])
    inputs = dict(
        baseline=baseline,
        head=head,
        tail=tail,
        head_fused=headf,
        tail_fused=tailf,
        blocks=blocks,
        sparse=str(sparse),
    )
    params = dict(
        title=f"{net} cifar10 (seed stats)",
        baseline_blocks=[
            {"block": f"b{k + 1}", "cmid": s["base_cmid"][k], "groups": s["base_groups"]}
            for k in range(n_base)
        ],
        baseline_layers=[f"b{k + 1}_{p}" for k in range(n_base) for p in ("decom", "conv", "comp")],
        head=head_p,
        tail=tail_p,
        head_fused=headf_p,
        tail_fused=tailf_p,
    )
    return inputs, params


SWAP = {"sparse_PW2_C": "sparse_DW_c", "sparse_DW_C": "sparse_PW2_c"}


def _col(seed_col: str, swapped: bool) -> str:
    head, _, tail = seed_col.partition("_")
    col = tail if head.isdigit() else seed_col
    if col in SWAP:
        return SWAP[col] if swapped else col.replace("_C", "_c")
    return col.replace("_C", "_c")


@pytest.mark.parametrize("net", ["fusionet", "mobilenet"])
def test_a_seed_stats_through_pipeline_tables(timeloop_ref: Path, tmp_path: Path, net: str) -> None:
    root = timeloop_ref / "fusion-timeloop-model"
    inputs, params = _seed_inputs(root, net, tmp_path)
    out = tmp_path / "out" / net
    write_comparison(inputs, params, str(out))
    s = SEED[net]
    n, worst, bad = 0, (0.0, ""), []

    def cell(what: str, ours: float, seed: float) -> None:
        nonlocal n, worst
        n += 1
        err = abs(ours - seed)
        rel = err / abs(seed) if seed else (0.0 if err < 1e-9 else float("inf"))
        if err > 0.005 and rel > worst[0]:
            worst = (rel, f"{what}: ours {ours:.6g} seed {seed:.6g}")
        if err > max(0.01 * abs(seed), 0.005):
            bad.append(f"{what}: ours {ours:.6g} seed {seed:.6g}")

    ours_res = {
        r[0]: dict(zip(_read(out / "res.csv")[0], r, strict=True)) for r in _read(out / "res.csv")[1:]
    }
    seed_res = _read(root / net / "cifar10" / "bottlenecks" / "results" / "res.csv")
    for line in seed_res[1:]:
        if line and line[0] in ours_res:
            swapped = s["swap_total"] if line[0] == "total" else s["swap_blocks"]
            for col, val in zip(seed_res[0][1:], line[1:], strict=True):
                cell(f"res {line[0]} {col}", float(ours_res[line[0]][_col(col, swapped)]), float(val))
    ours_result = _read(out / "result.csv")
    seed_result = _read(root / net / "cifar10" / "result.csv")
    assert len(ours_result) == len(seed_result)
    for o, sd in zip(ours_result[1:], seed_result[1:], strict=True):
        assert o[0] == sd[1]
        is_block = o[0].startswith("b") and o[0][1:].isdigit()
        ours_row = dict(zip(ours_result[0], o, strict=True))
        for col, val in zip(seed_result[0][2:], sd[2:], strict=True):
            our = col
            if is_block and s["swap_blocks"] and col in ("sparse_PW2_c", "sparse_DW_c"):
                our = "sparse_DW_c" if col == "sparse_PW2_c" else "sparse_PW2_c"
            cell(f"result {o[0]} {col}", float(ours_row[our]), float(val))
    print(
        f"\n{net}: {n} cells of res.csv + result.csv via the pipeline's table function; "
        f"max relative error {worst[0]:.4%} ({worst[1]})"
    )
    print((out / "result.md").read_text())
    assert not bad, "\n".join(bad[:20])
    assert n > 600


# ------------------------------------------------------------------------------------------ real runs

REDUCED = """\
networks: [fusionet]
datasets: [cifar10]
layers: {fusionet: [conv1]}
mapper: {timeout: 200, victory_condition: 20}
fusion: {enabled: true}
fusion_tiling: {enabled: false}
"""


def _snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = [
        str(SNAKEMAKE),
        "-s",
        str(REPO / "Snakefile"),
        "--cores",
        "2",
        "--configfile",
        "overlay.yaml",
        *args,
    ]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def reduced_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("tensorflow_model_optimization", reason="pruning needs the optional TensorFlow stack")
    wd = tmp_path_factory.mktemp("archon_run")
    (wd / "overlay.yaml").write_text(REDUCED)
    r = _snakemake(wd, "-q")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return wd


def test_c_comparison_runs_from_one_command(reduced_run: Path) -> None:
    out = reduced_run / "results"
    for f in (
        "report/final.csv",
        "report/final.md",
        "report/speedup.png",
        "report/area.csv",
        "archon/fusionet/cifar10/res.csv",
        "archon/fusionet/cifar10/result.csv",
        "archon/fusionet/cifar10/block_energy.png",
        "sparsity/shufflenet/cifar10/sparse_layers.csv",
    ):
        assert (out / f).stat().st_size > 0, f
    label = json.loads((out / "sparsity/shufflenet/cifar10/pruned.h5.json").read_text())
    assert label["method"] == "magnitude-untrained"
    rows = list(csv.DictReader(open(out / "report/final.csv")))
    assert [r["network"] for r in rows] == ["fusionet"]
    assert float(rows[0]["speedup_vs_dense"]) > 1.0
    # the comparisons file's published totals (the seed's section 6) against ours, one row per total
    ref = {r["total"]: r for r in csv.DictReader(open(out / "report/final_vs_reference.csv"))}
    assert set(ref) == set(FINAL_COLUMNS[2:10]) and {r["network"] for r in ref.values()} == {"fusionet"}
    assert float(ref["dense_cycles"]["reference"]) == SEED_FINAL["fusionet"][0]
    assert float(ref["dense_cycles"]["ours"]) == float(rows[0]["dense_cycles"])
    again = _snakemake(reduced_run, "-n", "-q")
    assert (
        again.returncode == 0
        and "Nothing to be done" in (again.stdout + again.stderr)
        or "total" not in again.stdout
    )


def test_b_native_end_to_end_vs_seed(reduced_run: Path) -> None:
    """FusioNet (vs its ShuffleNet baseline) with the native engine and a small mapper budget; gaps printed."""
    out = reduced_run / "results"
    ours = next(csv.DictReader(open(out / "report/final.csv")))
    seed = SEED_FINAL["fusionet"]
    keys = FINAL_COLUMNS[2:10]  # cycles, speedups and energies of the final table
    print("\n| fusionet cifar10 | ours (native) | seed | gap |\n|---|---|---|---|")
    gaps = {}
    for k, sv in zip(keys, seed, strict=True):
        ov = float(ours[k])
        gaps[k] = ov / sv - 1
        print(f"| {k} | {ov:.6g} | {sv:.6g} | {gaps[k]:+.2%} |")
    summ = {
        r["accelerator"]: r for r in csv.DictReader(open(out / "archon/fusionet/cifar10/res_summary.csv"))
    }
    # bottleneck-only totals (the seed's res.csv summary): fusion 604660 / 5184.78, sparse 589456, dense 2195136
    print(
        f"bottlenecks: fusion {summ['fusion']['cycles']} cycles (seed 604660), dense {summ['dense']['cycles']} "
        f"(seed 2195136), sparse {summ['sparse']['cycles']} (seed 589456, our own pruned model)"
    )
    assert float(summ["fusion"]["cycles"]) == pytest.approx(604660, rel=0.05)
    assert float(summ["dense"]["cycles"]) == pytest.approx(2195136, rel=0.05)
    assert float(summ["fusion"]["energy_uJ"]) == pytest.approx(5184.78, rel=0.05)
    assert abs(gaps["dense_cycles"]) < 0.05 and abs(gaps["speedup_vs_dense"]) < 0.10


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_d_report_renders_in_headless_chromium(reduced_run: Path, tmp_path: Path) -> None:
    r = _snakemake(reduced_run, "--report", "report.html", timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    html = reduced_run / "report.html"
    assert html.stat().st_size > 10_000
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (.ci/setup_chromium.sh installs it)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'prof'}",
    ]
    dom = subprocess.run(
        [browser, *flags, "--virtual-time-budget=10000", "--dump-dom", html.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    final = next(csv.DictReader(open(reduced_run / "results/report/final.csv")))
    assert "Final comparison" in dom.stdout
    assert "speedup_vs_dense" in dom.stdout and final["speedup_vs_dense"] in dom.stdout
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *flags, "--window-size=1400,1000", f"--screenshot={shot}", html.as_uri()],
        capture_output=True,
        timeout=180,
    )
    assert shot.exists() and shot.stat().st_size > 5_000



def test_e_report_front_page_shows_the_final_table_first_unobstructed(reduced_run: Path, tmp_path: Path) -> None:
    """The report as `make report` builds it (profiles/local: scripts/report.css), at 1400 px: the final table's
    header row is on the first screen and no other element is drawn over it (hit tests at every header cell and
    bounding boxes against the rule graph)."""
    from .report_probe import BrowserStartError, chromium, overlaps, probe_report

    r = _snakemake(reduced_run, "--profile", str(REPO / "profiles/local"), "--report", "front.html", timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed (.ci/setup_chromium.sh installs it)")
    shot = tmp_path / "front.png"
    try:
        found = probe_report(browser, reduced_run / "front.html", tmp_path, "speedup_vs_dense", 1400, 900, shot)
    except BrowserStartError as exc:  # the browser itself cannot start here (missing libraries, no pipe)
        pytest.skip(f"headless chromium cannot start: {exc}")
    assert shot.stat().st_size > 5_000
    width, height = found["viewport"]
    assert width == 1400 and found["found"] and found["graph"], found
    left, top, right, bottom = found["row"]
    assert 0 <= top and bottom <= height, f"header row at y={top}..{bottom}, first screen is 0..{height}"
    shown = [c for c in found["cells"] if c["onscreen"]]
    assert len(shown) == len(found["cells"]), found["cells"]  # every column fits the window (headers wrap)
    hidden = [c for c in shown if not c["inTable"]]
    assert not hidden, f"drawn over the header row: {hidden}"
    for other in found["others"]:
        assert not overlaps(found["row"], other["box"]), f"{other} overlaps the header row {found['row']}"
