"""Shared test fixtures: where ../shared is, and skip markers for tests that need it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
TIMELOOP_REF = SHARED / "timeloop-reference"
DEEPFRACK_REF = SHARED / "deepfrack-reference"


def need_shared(path: Path = SHARED) -> Path:
    """Return `path`, or skip the calling test with a message when the shared material is absent."""
    if not path.exists():
        pytest.skip(f"shared reference material not found at {path} (clone the repo beside ../shared)")
    return path


@pytest.fixture
def timeloop_ref() -> Path:
    return need_shared(TIMELOOP_REF)


@pytest.fixture
def deepfrack_ref() -> Path:
    return need_shared(DEEPFRACK_REF)


def pytest_configure(config: pytest.Config) -> None:
    """Snakemake's SLURM executor plugin runs `scontrol show config` whenever Snakemake starts; with SLURM
    installed but no controller running (CI installs SLURM, and the SLURM tests start their own cluster with its
    own SLURM_CONF), each call waits ~9 s for the controller. An empty SLURM_CONF makes it fail at once."""
    if "SLURM_CONF" not in os.environ:
        fd, empty = tempfile.mkstemp(prefix="fusionsim-no-slurm-", suffix=".conf")
        os.close(fd)
        os.environ["SLURM_CONF"] = empty
