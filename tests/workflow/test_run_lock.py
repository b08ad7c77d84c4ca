"""Two runs with the same absolute output_dir from two working folders: the second refuses with one line
before any job runs, and the first finishes untouched. Also: an output_dir containing '=' works."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.workflow.conftest import ROOT, SNAKEMAKE, need_mapper, snakemake, write_overlay

from fusionsim.run_lock import LOCK_NAME


def _cmd(workdir: Path, overlay: Path) -> list[str]:
    return [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir), "--workflow-profile",
            str(ROOT / "profiles" / "local"), "--configfile", str(ROOT / ".test/config.yaml"), str(overlay),
            "--cores", "2"]


def test_second_run_on_same_output_dir_refuses(tmp_path: Path) -> None:
    need_mapper()
    out = tmp_path / "shared" / "res=ults"  # absolute, shared by both clones; '=' must not break collect_layers
    a, b = tmp_path / "clone_a", tmp_path / "clone_b"
    for d in (a, b):
        d.mkdir()
    # The first run maps four networks, so it is still busy while the second starts (Snakemake takes 5-20 s to
    # start). The second maps one network with --forceall: it always has jobs, so it reaches onstart (where the
    # lock is taken) quickly even when the first has already written some of its outputs.
    overlay = write_overlay(tmp_path / "over.yaml", {
        "output_dir": str(out), "networks": ["mobilenetv2", "fusionet", "mnasnet", "shufflenet"]})
    small = write_overlay(tmp_path / "small.yaml", {"output_dir": str(out), "networks": ["mobilenetv2"]})
    start = time.perf_counter()
    first = subprocess.Popen(_cmd(a, overlay), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = out / LOCK_NAME
    while not (lock.exists() and lock.read_text().strip()) and first.poll() is None:
        time.sleep(0.2)
    assert first.poll() is None, "the first run ended before the second could start"
    second = subprocess.run([*_cmd(b, small), "--forceall"], capture_output=True, text=True, timeout=300)
    refused_after = time.perf_counter() - start
    stdout, stderr = first.communicate(timeout=900)
    lines = [ln for ln in second.stderr.splitlines() if "error" in ln.lower()]
    print(f"\nsecond run: exit {second.returncode} after {refused_after:.1f} s: {lines}")
    print(f"first run: exit {first.returncode} in {time.perf_counter() - start:.1f} s")
    assert second.returncode == 2, second.stderr[-2000:]
    assert len(lines) == 1 and "in use by" in lines[0] and str(out) in lines[0] and "output_dir" in lines[0]
    assert "Traceback" not in second.stderr
    assert first.returncode == 0, stderr[-3000:]
    stats = sorted(out.rglob("layers/*/full/stats.json"))
    assert len(stats) > 3 and all(p.stat().st_size > 0 for p in stats)
    # outputs keep the umask (0644 under the default 022), not mkstemp's 0600
    mask = os.umask(0o022)
    os.umask(mask)
    if mask == 0o022:
        assert all(p.stat().st_mode & 0o777 == 0o644 for p in stats)
    # the lock is released when the run ends: a rerun in the other clone starts (and has nothing to do)
    snakemake(b, overlays=[overlay])
