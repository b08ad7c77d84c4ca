"""The fusion-tiling stage in the real workflow: tile jobs shared by content, cost tables the search CLI reads, the
plan's files, a no-op rerun, and an objective edit that reruns only the search."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fusionsim.sweeps.params import fusion_section

from .conftest import ROOT, dry_run_jobs, need_mapper, snakemake, write_overlay

pytestmark = pytest.mark.slow

NET, ACCEL = "alexnet", "simba_like"
SEVEN = ["SLC", "Start", "LBLC", "ELBLC", "WCC", "EWCC", "OutWCC"]


def _overlay(path: Path, types: list[str], objective: str = "energy") -> Path:
    return write_overlay(
        path,
        {
            "fusion_tiling": {
                "enabled": True,
                "networks": [NET],
                "datasets": ["imagenet"],
                "accelerators": [ACCEL],
                "layers": {NET: ["conv4", "conv5"]},  # 13x13 each, numbered 1 and 2 in the layer folder
                "types": types,
                "tiles": [6, 13],
                "objective": objective,
                "variant": "exact",
                "mapper": {
                    "optimization_metrics": ["delay", "energy"],
                    "timeout": 200,
                    "victory_condition": 20,
                    "max_permutations_per_if_visit": 4,
                },
            }
        },
    )


def test_fusion_tiling_tables_plan_noop_and_objective_rerun(tmp_path: Path) -> None:
    need_mapper()
    t0 = time.time()
    work = tmp_path / "work"
    out = work / "results"
    costs = out / "fusion_tiling" / NET / ACCEL / "costs"
    plan_dir = out / "fusion_tiling" / NET / ACCEL / "plan"

    # two types: only the tables are built (the search reads all seven); SLC runs the full layer only
    two = _overlay(tmp_path / "two.yaml", ["SLC", "Start"])
    jobs = dry_run_jobs(work, overlays=[two])
    # batches: per layer, width 6 (Start) and width 13 (Start, SLC)
    assert len(jobs["benchmark_fusion_tiles"]) == 2 * 2
    assert "search_fusion_plan" not in jobs
    snakemake(work, overlays=[two])
    start = json.loads((costs / "Start.json").read_text())
    # the seed's layout: layers descending, tile widths ascending
    assert list(start) == ["2", "1"] and all(list(row) == ["6", "13"] for row in start.values())
    assert list(json.loads((costs / "SLC.json").read_text())["1"]) == ["13"]
    assert not plan_dir.exists()

    # all seven: new batches (more tiles each), but the tiles already in the tile store are not mapped again.
    # Of the 26 entries (2 SLC + 6 types x 2 layers x 2 widths), 13 are read by no stack option that fits on
    # chip (fusion/skip.py): layer 2 (the last) never runs as Start/OutWCC/WCC, layer 1 never as EWCC/WCC...
    seven = _overlay(tmp_path / "seven.yaml", SEVEN)
    jobs = dry_run_jobs(work, overlays=[seven])
    counts = {rule: len(v) for rule, v in jobs.items()}
    assert counts["benchmark_fusion_tiles"] == 2 * 2, counts
    assert counts["collect_fusion_costs"] == 1 and counts["search_fusion_plan"] == 1
    seven_batches = {j["batch"] for j in jobs["benchmark_fusion_tiles"]}
    snakemake(work, overlays=[seven])
    t_run = time.time() - t0
    folder = out / "cache" / "fusion_batches"
    seven_runs = [json.loads((folder / b / "results.json").read_text()) for b in seven_batches]
    assert sum(b["tiles"] for b in seven_runs) == 13
    assert sum(b["reused"] for b in seven_runs) == 4  # Start and SLC of layer 1, SLC of layer 2
    assert len(list((out / "cache" / "fusion_tiles").glob("*/result.json"))) == 13 + 2  # + layer 2's Start

    # our costs.json has every entry with cycles, MACs and per-level energy; the tables load into the CLI
    ours = json.loads((costs / "costs.json").read_text())
    assert ours["format"] == "fusionsim-fusion-costs/1" and set(ours["entries"]) == set(SEVEN)
    assert len(ours["skipped"]) == 13 and ["Start", 2, 13, "unused"] in ours["skipped"]
    assert ours["entries"]["Start"]["2"] == {}
    entry = ours["entries"]["Start"]["1"]["6"]
    assert (
        entry["energy_uJ"] > 0 and entry["cycles"] > 0 and entry["macs"] > 0 and "DRAM" in entry["levels_pJ"]
    )
    fusion = fusion_section(ROOT / "accelerators" / ACCEL / "accelerator.yaml")  # templates rendered
    cli = subprocess.run(
        [sys.executable, "-m", "fusionsim", "fusion-search", "--costs", str(costs),
         "--layers", str(out / "fusion_tiling" / NET / "layers"),
         "--weights-level", fusion["weights_level"], "--inputs-level", fusion["inputs_level"],
         "--outputs-level", fusion["outputs_level"], "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    searched = json.loads(cli.stdout)

    # the plan files; the pipeline's exact search equals the CLI's on these tables
    for name in ("plan.json", "plan.log", "statistics.csv", "tiling.png", "energy.png", "comparison.csv"):
        assert (plan_dir / name).stat().st_size > 0, name
    plan = json.loads((plan_dir / "plan.json").read_text())
    assert plan["fused_uJ"] == pytest.approx(searched["fused_uJ"], rel=1e-9)
    assert plan["layer_by_layer_uJ"] == pytest.approx(searched["layer_by_layer_uJ"], rel=1e-9)
    assert plan["fused_uJ"] <= plan["layer_by_layer_uJ"] + 1e-9
    log = (plan_dir / "plan.log").read_text()
    assert "13 of 26 table entries not computed" in log and "Start layer 2: 6,13" in log, log
    with open(plan_dir / "comparison.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["schedule"] for r in rows] == ["layer_by_layer", "fused (exact, energy)"]
    assert float(rows[1]["energy_uJ"]) == pytest.approx(plan["fused_uJ"], rel=1e-6)

    # a second run does nothing; one more width reruns only its block's batches; a new objective only the search
    assert dry_run_jobs(work, overlays=[seven]) == {}
    # the HTML report's front page shows the plan's comparison under the final table (report_workflow.rst)
    snakemake(work, "--report", "report.html", overlays=[seven])
    front = (work / "report.html").read_text()
    assert f"Fusion-tiling plan, {NET} on {ACCEL} (comparison.csv)" in front and "fused (exact, energy)" in front
    wider = yaml.safe_load(seven.read_text())
    wider["fusion_tiling"]["tiles"] = [6, 7, 13]
    jobs = dry_run_jobs(work, overlays=[write_overlay(tmp_path / "wider.yaml", wider)])
    assert len(jobs["benchmark_fusion_tiles"]) == 2 and len(jobs["collect_fusion_costs"]) == 1, jobs
    latency = _overlay(tmp_path / "latency.yaml", SEVEN, objective="latency")
    jobs = dry_run_jobs(work, overlays=[latency])
    assert jobs == {"search_fusion_plan": [{"net": NET, "accel": ACCEL}]}, jobs
    print(f"fusion-tiling runs {t_run:.1f} s, whole test {time.time() - t0:.1f} s")  # speed: benchmarks/


def test_fusion_tiling_on_an_accelerator_without_an_ert(tmp_path: Path) -> None:
    """An accelerator that ships no ERT (the .test mini_systolic array, given a `fusion:` section) runs the stage:
    rule build_ert builds its ERT first, the tile jobs read it, and their keys are known before it exists."""
    need_mapper()
    import shutil

    accels = tmp_path / "accelerators"
    shutil.copytree(ROOT / "accelerators" / "eyeriss_like", accels / "eyeriss_like")
    shutil.copytree(ROOT / ".test/accelerators/mini_systolic", accels / "mini_systolic")
    manifest = accels / "mini_systolic" / "accelerator.yaml"
    manifest.write_text(
        manifest.read_text()
        + "fusion: {dram: DRAM, weights_level: Scratchpad:8192, inputs_level: Scratchpad:8192,"
        + " outputs_level: Scratchpad:8192}\n"  # the 2048 x 64-bit scratchpad in 16-bit words
    )
    overlay = write_overlay(
        tmp_path / "systolic.yaml",
        {
            "accelerators_dir": str(accels),
            "fusion_tiling": {
                "enabled": True, "networks": [NET], "datasets": ["imagenet"], "accelerators": ["mini_systolic"],
                "layers": {NET: ["conv4", "conv5"]}, "types": SEVEN, "tiles": [13],
                "mapper": {"timeout": 100, "victory_condition": 10, "max_permutations_per_if_visit": 4},
            },
        },
    )  # fmt: skip
    work = tmp_path / "work"
    jobs = dry_run_jobs(work, overlays=[overlay])
    assert jobs["build_ert"] == [{"accel": "mini_systolic"}], jobs.get("build_ert")
    assert len(jobs["benchmark_fusion_tiles"]) > 0 and len(jobs["search_fusion_plan"]) == 1
    snakemake(work, overlays=[overlay])
    out = work / "results"
    assert (out / "ert" / "mini_systolic" / "ERT.yaml").is_file()
    plan = json.loads((out / "fusion_tiling" / NET / "mini_systolic" / "plan" / "plan.json").read_text())
    assert 0 < plan["fused_uJ"] <= plan["layer_by_layer_uJ"] + 1e-9
    assert dry_run_jobs(work, overlays=[overlay]) == {}  # the built ERT's key does not change once it exists
