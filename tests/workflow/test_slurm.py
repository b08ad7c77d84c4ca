"""The README's SLURM command, exactly as written (no extra --cores), on a real single-node SLURM started on
localhost for this test (2 CPUs, 4 GB: a small node). Prints the submitted jobs with their TRES and the
wall time against the same run through the local profile."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from .conftest import ROOT, need_mapper
from .slurm_cluster import SlurmUnavailable, start_cluster

pytestmark = [pytest.mark.slow, pytest.mark.slurm]
pytest.importorskip("snakemake_executor_plugin_slurm", reason="the SLURM executor plugin is the `slurm` extra")

# what a clone holds beside the code the run needs (symlinked into a throwaway clone)
CLONE_ENTRIES = ("Snakefile", "rules", "scripts", "profiles", "config.yaml", "config.schema.yaml", "accelerators",
                 "workloads", "envs", "src", ".test")


def readme_slurm_command() -> list[str]:
    """The README's SLURM command line (the one with `profiles/slurm`), comment dropped."""
    lines = [ln for ln in (ROOT / "README.md").read_text().splitlines() if "profiles/slurm" in ln
             and "snakemake" in ln and not ln.lstrip().startswith(("#", "|", "-", "`"))]
    assert len(lines) == 1, f"expected one SLURM command in README.md, found {lines}"
    return shlex.split(lines[0].split("#", 1)[0])


def _clone(tmp: Path) -> Path:
    """A folder that looks like a fresh clone with its .venv: every entry a symlink to this checkout."""
    clone = tmp / "clone"
    clone.mkdir(parents=True)
    for name in CLONE_ENTRIES:
        (clone / name).symlink_to(ROOT / name)
    (clone / ".venv/bin").mkdir(parents=True)
    (clone / ".venv/bin/snakemake").symlink_to(Path(sys.executable).parent / "snakemake")
    return clone


@pytest.fixture(scope="module")
def slurm():
    """A running test cluster (skipped with the reason when SLURM cannot start here)."""
    root = Path(tempfile.mkdtemp(prefix="fusionsim-slurm-"))
    try:
        cluster = start_cluster(root)
    except SlurmUnavailable as exc:
        pytest.skip(f"SLURM cannot start here: {exc}")
    yield cluster
    cluster.stop()


def test_cluster_runs_a_job(slurm, tmp_path: Path) -> None:
    out = tmp_path / "hello.out"
    subprocess.run(["sbatch", "--wait", "-o", str(out), "--wrap", "echo hello-from-slurm"], env=slurm.env,
                   check=True, capture_output=True, timeout=120)
    assert "hello-from-slurm" in out.read_text()


def _tres(job_ids: list[str], env: dict[str, str]) -> list[tuple[str, str, str]]:
    """(job id, job name, TRES) of finished jobs, from slurmctld's memory (MinJobAge=3600 keeps them)."""
    rows = []
    for jid in job_ids:
        text = subprocess.run(["scontrol", "show", "job", "-o", jid], env=env, capture_output=True, text=True,
                              timeout=30).stdout
        name = re.search(r"Comment=(\S+)", text) or re.search(r"JobName=(\S+)", text)
        tres = re.search(r"\bTRES=(\S+)", text)
        rows.append((jid, name.group(1) if name else "?", tres.group(1) if tres else "?"))
    return rows


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc, time.perf_counter() - start


@pytest.mark.parametrize("config", ["small", "default"])
def test_readme_slurm_command(slurm, tmp_path: Path, config: str) -> None:
    """The README's command in a clone; `small` overlays .test/config.yaml as the README shows for overlays."""
    need_mapper()
    if config == "default" and not os.environ.get("FUSIONSIM_SLURM_DEFAULT"):
        pytest.skip("the default config on SLURM takes ~10+ min on 2 cores: set FUSIONSIM_SLURM_DEFAULT=1")
    clone = _clone(tmp_path)
    cmd = readme_slurm_command()
    assert "--cores" not in cmd and "-c" not in cmd
    overlay = ["--configfile", ".test/config.yaml"] if config == "small" else []
    proc, wall = _run([*cmd, *overlay], clone, slurm.env, timeout=3600)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-5000:]
    ids = re.findall(r"has been submitted with SLURM jobid (\d+)", text)
    rows = _tres(ids, slurm.env)
    print(f"\n{config} config: {' '.join(cmd + overlay)}: {len(ids)} SLURM jobs, wall {wall:.1f} s")
    for jid, name, tres in rows:
        print(f"  job {jid:>5} {name:<40} TRES={tres}")
    # no job asks for more than the 2-CPU, 4000 MB node has (group jobs: one member's needs, not the sum)
    for _, name, tres in rows:
        cpu = int(re.search(r"cpu=(\d+)", tres).group(1)) if "cpu=" in tres else 0
        mem = re.search(r"mem=(\d+)([MG])", tres)
        mem_mb = int(mem.group(1)) * (1024 if mem and mem.group(2) == "G" else 1) if mem else 0
        assert cpu <= 2 and mem_mb <= 4000, (name, tres)
    assert "Unable to guess SLURM account" not in text and "invalid option" not in text
    if config == "small":
        out = clone / "results/mobilenetv2/cifar10/eyeriss_like"
        with (out / "res.csv").open() as fh:
            table = list(csv.DictReader(fh))
        assert table[-1]["layer"] == "total" and float(table[-1]["PW1/L1_c"]) > 0
        for layer in ("PW2", "b1_conv", "FC1"):
            assert json.loads((out / f"layers/{layer}/full/stats.json").read_text())["energy_pJ"] > 0
        submissions = [ln for ln in text.splitlines() if "has been submitted with SLURM jobid" in ln]
        assert sum("group_map_layers" in ln for ln in submissions) == 1, submissions
    # the same command through the local profile, for the wall-time comparison
    local = [c.replace("profiles/slurm", "profiles/local") for c in cmd]
    local_clone = _clone(tmp_path / "local")
    lproc, lwall = _run([*local, "--cores", "2", *overlay], local_clone, os.environ.copy(), timeout=3600)
    assert lproc.returncode == 0, (lproc.stdout + lproc.stderr)[-3000:]
    print(f"{config} config through profiles/local --cores 2: wall {lwall:.1f} s (SLURM {wall:.1f} s)")
    proc, _ = _run([*cmd, *overlay, "-n"], clone, slurm.env, timeout=600)
    assert "Nothing to be done" in proc.stdout + proc.stderr
