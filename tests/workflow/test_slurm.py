"""The small workflow through profiles/slurm on a real single-node SLURM started on localhost for this test."""

from __future__ import annotations

import csv
import json
import subprocess
import tempfile
from pathlib import Path

import pytest

from .conftest import need_mapper, snakemake
from .slurm_cluster import SlurmUnavailable, start_cluster

pytestmark = [pytest.mark.slow, pytest.mark.slurm]


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
    subprocess.run(
        ["sbatch", "--wait", "-o", str(out), "--wrap", "echo hello-from-slurm"],
        env=slurm.env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert "hello-from-slurm" in out.read_text()


def test_small_workflow_through_slurm_profile(slurm, tmp_path: Path) -> None:
    need_mapper()
    work = tmp_path / "work"
    proc = snakemake(work, profile="slurm", env=slurm.env, timeout=1200)
    text = proc.stdout + proc.stderr
    out = work / "results/mobilenetv2/cifar10/eyeriss_like"
    with (out / "res.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows[-1]["layer"] == "total" and float(rows[-1]["PW1/L1_c"]) > 0
    for layer in ("PW2", "b1_conv", "FC1"):
        assert json.loads((out / f"layers/{layer}/full/stats.json").read_text())["energy_pJ"] > 0
    # the three map_layer jobs went to SLURM as one group job: 4 sbatch submissions in all
    submissions = [line for line in text.splitlines() if "has been submitted with SLURM jobid" in line]
    assert sum("group_map_layers" in line for line in submissions) == 1, text[-3000:]
    assert len(submissions) == 4, submissions
    proc = snakemake(work, "-n", profile="slurm", env=slurm.env)
    assert "Nothing to be done" in proc.stdout + proc.stderr
