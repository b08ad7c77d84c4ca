"""A results folder reused from a checkout at another place (a moved repository, a second copy, a cluster node
mounting it elsewhere) reruns nothing: no param or input path Snakemake compares holds the checkout's absolute
location (fusionsim.workflow.paths), and the content keys stay the same."""

from __future__ import annotations

import shutil
from pathlib import Path

from .conftest import ROOT, need_mapper, snakemake, write_overlay

# what a checkout needs to run the workflow (the package itself comes from the environment, as for any run)
PARTS = ("Snakefile", "config.yaml", "config.schema.yaml", ".test", "rules", "scripts", "profiles", "envs",
         "accelerators", "workloads")


def copy_checkout(dest: Path) -> Path:
    """The workflow files of this repository under `dest`, modification times kept (as `mv` or a second mount
    would): only the location differs."""
    dest.mkdir(parents=True)
    for part in PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__", "results", ".snakemake"))
        else:
            shutil.copy2(src, dest / part)
    return dest


def planned_jobs(proc) -> list[str]:
    """Rule names of the jobs a dry run lists (the `rule x:` headers; `all` included)."""
    text = proc.stdout + proc.stderr
    return [line.split()[-1].rstrip(":") for line in text.splitlines() if line.strip().startswith(("rule ", "localrule "))]


def test_second_checkout_reruns_nothing_and_keeps_keys(tmp_path: Path) -> None:
    need_mapper()
    work = tmp_path / "work"
    work.mkdir()
    overlay = write_overlay(tmp_path / "two_layers.yaml", {"layers": {"mobilenetv2": ["PW2", "b1_conv"]}})
    first = copy_checkout(tmp_path / "checkout_a")
    snakemake(work, overlays=[overlay], root=first)
    keys = sorted(p.name for p in (work / "results/cache/layers").iterdir())
    assert len(keys) == 2

    second = copy_checkout(tmp_path / "elsewhere" / "checkout_b")
    proc = snakemake(work, "-n", overlays=[overlay], root=second)
    assert planned_jobs(proc) == [], proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr

    # the cache still hits from the second checkout: a real run does no work and the keys are the same
    snakemake(work, overlays=[overlay], root=second)
    assert sorted(p.name for p in (work / "results/cache/layers").iterdir()) == keys

    # an edited workload (moved out of `input:`) still reruns its jobs: its hash is a param
    wl = second / "workloads/mobilenetv2.yaml"
    wl.write_text(wl.read_text() + "\n# edited\n")
    rerun = planned_jobs(snakemake(work, "-n", overlays=[overlay], root=second))
    assert "write_layer_table" in rerun and "aggregate_res" in rerun and "map_layer_batch" not in rerun
