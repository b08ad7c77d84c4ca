"""What a pipeline run prints: progress instead of every job's inputs, and a short summary at the end.

`ProgressGate` decides which of Snakemake's log records the `fusionsim` logger plugin
(`snakemake_logger_plugin_fusionsim`, selected by `logger: [fusionsim]` in profiles/local) lets through: during a
real run the per-job blocks (inputs, outputs, "Finished jobid", "Select jobs to execute...") are dropped and the
"N of M steps" line is shown at every 10%, while errors, warnings, the job table and everything of a dry run pass
unchanged. `run_summary` is what the Snakefile's `onsuccess:` handler prints.
"""

from __future__ import annotations

import csv
import logging
import sys
from pathlib import Path
from typing import Any

# Snakemake's per-job chatter during a real run (event names of snakemake_interface_logger_plugins.common.LogEvent)
_PER_JOB_EVENTS = {"job_info", "job_started", "job_finished", "group_info", "shellcmd", "resources_info"}
# plain per-job or per-file lines (no event): job selection, and `--report`'s listing of each file and rule script
_PER_JOB_TEXT = ("Select jobs to execute...", "Adding ", "Loading script code for rule ")


class ProgressGate:
    """Filter over Snakemake log records: per-job detail out, progress every `step` percent, the rest unchanged."""

    def __init__(self, dryrun: bool, step: int = 10, printshellcmds: bool = False):
        self.dryrun, self.step, self.printshellcmds = dryrun, max(1, int(step)), printshellcmds
        self._last_bucket = -1

    def keep(self, record: logging.LogRecord) -> bool:
        """Whether the record is printed."""
        if self.dryrun or record.levelno >= logging.WARNING:
            return True
        event = str(getattr(record, "event", "") or "")
        if event == "shellcmd" and self.printshellcmds:
            return True
        if event in _PER_JOB_EVENTS:
            return False
        if event == "progress":
            done, total = int(getattr(record, "done", 0)), int(getattr(record, "total", 0) or 1)
            bucket = done * 100 // total // self.step
            if bucket == self._last_bucket and done < total:
                return False
            self._last_bucket = bucket
            return True
        return not (event == "" and str(record.msg).startswith(_PER_JOB_TEXT))


# ------------------------------------------------------------------------------------------ end-of-run summary


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def fusion_plan_lines(out: Path) -> list[str]:
    """One line per fusion-tiling plan: layer-by-layer vs fused energy, the saving and the stacks
    (from the plan's comparison.csv)."""
    lines = []
    for comp in sorted(out.glob("fusion_tiling/*/*/plan/comparison.csv")):
        net, accel = comp.parts[-4], comp.parts[-3]
        rows = _read_csv(comp)
        lbl = next((r for r in rows if r.get("schedule") == "layer_by_layer"), None)
        fused = next((r for r in rows if str(r.get("schedule", "")).startswith("fused")), None)
        if lbl is None or fused is None:
            continue
        lines.append(
            f"Fusion-tiling plan, {net} on {accel}: {float(fused['energy_uJ']):,.2f} uJ fused vs "
            f"{float(lbl['energy_uJ']):,.2f} uJ layer by layer, saving {float(fused['saving_pct']):.2f}% "
            f"(stacks {fused.get('stacks', '')}; {comp})"
        )
    return lines


def run_summary(out_dir: str | Path, report: str | Path | None = None) -> str:
    """The end-of-run summary: the final table (Markdown), each fusion plan's saving, and where the report and
    tables are. Parts whose stage did not run are left out."""
    out = Path(out_dir)
    parts: list[str] = []
    final_md = out / "report" / "final.md"
    if final_md.is_file():
        parts += ["Final comparison (results/report/final.md):", "", final_md.read_text(encoding="utf-8").strip(), ""]
    summary_md = out / "summary.md"
    if not final_md.is_file() and summary_md.is_file():
        parts += ["Dense layer totals (summary.md):", "", summary_md.read_text(encoding="utf-8").strip(), ""]
    parts += fusion_plan_lines(out)
    where = [p for p in (report, final_md, out / "report" / "final_vs_reference.md", out / "report" / "area.md",
                         out / "summary.md") if p is not None and Path(p).is_file()]
    if where:
        parts.append("Outputs: " + ", ".join(str(p) for p in where))
    return "\n".join(parts).rstrip() + "\n"


def report_argument(argv: list[str]) -> str | None:
    """The `--report FILE` of this Snakemake command line (written right after a successful run with
    `--report-after-run`), or None."""
    for i, arg in enumerate(argv):
        if arg == "--report" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--report="):
            return arg.split("=", 1)[1]
    return None


def print_summary(out_dir: str | Path, **_: Any) -> None:
    """Print `run_summary` (the Snakefile's `onsuccess:` handler), naming the HTML report when one is requested."""
    report = report_argument(sys.argv)
    text = run_summary(out_dir)
    if report:
        text += f"HTML report: {report} (written next, by --report-after-run)\n"
    print(text, end="", flush=True)
