"""fusionsim.console: the local profile's progress gate over Snakemake's log records, and the end-of-run summary."""

from __future__ import annotations

import logging
from pathlib import Path

from fusionsim.console import ProgressGate, report_argument, run_summary


def record(msg: str = "", level: int = logging.INFO, **extra) -> logging.LogRecord:
    rec = logging.LogRecord("snakemake", level, __file__, 1, msg, None, None)
    rec.__dict__.update(extra)
    return rec


def test_real_run_drops_per_job_blocks_and_thins_progress() -> None:
    gate = ProgressGate(dryrun=False, step=10)
    assert not gate.keep(record(event="job_info"))
    assert not gate.keep(record("Finished jobid: 3", event="job_finished"))
    assert not gate.keep(record("Execute 2 jobs...", event="job_started"))
    assert not gate.keep(record("Select jobs to execute..."))
    assert gate.keep(record("Job stats: ...", event="run_info"))
    assert gate.keep(record("Building DAG of jobs..."))
    assert gate.keep(record("Error in rule map_layer", level=logging.ERROR, event="job_error"))
    shown = [d for d in range(1, 473) if gate.keep(record(event="progress", done=d, total=472))]
    assert len(shown) == 11 and shown[-1] == 472  # the first step, then every 10%, and the end


def test_dry_run_keeps_everything() -> None:
    gate = ProgressGate(dryrun=True)
    assert gate.keep(record(event="job_info")) and gate.keep(record("Select jobs to execute..."))


def test_summary_prints_final_table_fusion_plan_and_paths(tmp_path: Path) -> None:
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "final.md").write_text("| network | dataset |\n|---|---|\n| fusionet | cifar10 |\n")
    plan = tmp_path / "fusion_tiling" / "alexnet" / "simba_like" / "plan"
    plan.mkdir(parents=True)
    (plan / "comparison.csv").write_text(
        "schedule,energy_uJ,cycles,saving_pct,stacks\nlayer_by_layer,3879.96,100,0,(0,0) (1,1)\n"
        "\"fused (exact, energy)\",3680.8,90,5.13,(0,1)\n"
    )
    text = run_summary(tmp_path)
    assert "| fusionet | cifar10 |" in text
    assert "alexnet on simba_like: 3,680.80 uJ fused vs 3,879.96 uJ layer by layer, saving 5.13%" in text
    assert str(tmp_path / "report" / "final.md") in text
    assert run_summary(tmp_path / "nothing").strip() == ""


def test_report_argument() -> None:
    assert report_argument(["snakemake", "--report", "results/report.html", "--report-after-run"]) == (
        "results/report.html"
    )
    assert report_argument(["snakemake", "--report=r.html"]) == "r.html"
    assert report_argument(["snakemake", "-n"]) is None
