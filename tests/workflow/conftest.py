"""Helpers for the workflow tests: run the real Snakefile via the CLI in a temporary working directory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def need_mapper() -> None:
    """Skip when the mapper package API is not in this checkout yet (the pipeline's layer jobs call it)."""
    try:
        import fusionsim.mapper.api  # noqa: F401
    except ModuleNotFoundError:
        pytest.skip("fusionsim.mapper.api is not built yet: the layer jobs have no mapper to call")


def snakemake(
    workdir: Path,
    *args: str,
    overlays: list[Path] | None = None,
    profile: str = "local",
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: int = 900,
    root: Path = ROOT,
) -> subprocess.CompletedProcess:
    """Run `snakemake` on the Snakefile of checkout `root` (the repository's) in `workdir` with its
    .test/config.yaml plus `overlays`."""
    configs = [str(root / ".test/config.yaml"), *(str(p) for p in overlays or [])]
    cmd = [
        SNAKEMAKE,
        "--snakefile",
        str(root / "Snakefile"),
        "--directory",
        str(workdir),
        "--workflow-profile",
        str(root / "profiles" / profile),
        "--configfile",
        *configs,
        "--cores",
        "2",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env or os.environ.copy(), timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def dry_run_jobs(workdir: Path, overlays: list[Path] | None = None) -> dict[str, list[dict[str, str]]]:
    """Jobs a dry run would execute: rule name -> list of wildcard dicts (parsed from `snakemake -n`)."""
    proc = snakemake(workdir, "-n", overlays=overlays)
    text = proc.stdout + proc.stderr
    jobs: dict[str, list[dict[str, str]]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line.strip())
        if m:
            current = m.group(1)
            jobs.setdefault(current, []).append({})
            continue
        m = re.match(r"^wildcards: (.*)$", line.strip())
        if m and current:
            jobs[current][-1] = dict(kv.split("=", 1) for kv in m.group(1).split(", "))
    jobs.pop("all", None)
    return jobs


def write_overlay(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def two_accelerators(tmp_path: Path) -> Path:
    """An accelerators folder holding the baseline under two names (eyeriss_like and eyeriss_b)."""
    accels = tmp_path / "accelerators"
    for name in ("eyeriss_like", "eyeriss_b"):
        shutil.copytree(ROOT / "accelerators/eyeriss_like", accels / name)
    return accels
