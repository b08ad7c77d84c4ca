"""Closed-form checks of the native engine on a tiny arch and layer derived by hand (tests/data/tiny):
a 1-D convolution, R3 in the PE register, P2 temporal x P2 spatial at the buffer, M2 at DRAM."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusionsim.model.evaluate import evaluate_files

TINY = Path(__file__).resolve().parent.parent / "data" / "tiny"


@pytest.fixture(scope="module")
def result():
    return evaluate_files(TINY / "arch.yaml", TINY / "conv1d.yaml", TINY / "conv1d_map.yaml", TINY / "ert.yaml")


def counts(res, level: str, ds: str) -> tuple[int, int, int, int]:
    s = res.level(level).dataspaces[ds]
    return s.reads, s.fills, s.updates, s.partition_size


def test_totals(result) -> None:
    assert result.macs == 24  # M2 * R3 * P4
    assert result.cycles == 12  # temporal product 3 * 2 * 2
    assert result.utilization == pytest.approx(24 / (4 * 12))
    assert result.energy_pJ == pytest.approx(48 + 76.8 + 140 + 3072)


def test_sliding_window_and_gradient_reset(result) -> None:
    # Inputs window of 3 slides by 2 (P2 spatial inside): full 3, slab 2, then the M loop moves the window
    # back (direction change -> full 3 again), slab 2: 3+2+3+2 = 10 fills per PE.
    assert counts(result, "RF", "Inputs") == (12, 10, 0, 4)
    # the two PEs see different windows: unicast, 2 x 10 reads of the buffer
    assert counts(result, "GLB", "Inputs") == (20, 6, 0, 6)


def test_multicast_and_read_modify_write(result) -> None:
    # Weights do not depend on P: one multicast to both PEs, refetched once per M.
    assert counts(result, "GLB", "Weights") == (6, 6, 0, 6)
    # Outputs: 12 updates per PE, the first update of each of the 4 partition words is not read.
    assert counts(result, "RF", "Outputs") == (8, 4, 12, 4)
    assert counts(result, "DRAM", "Outputs") == (0, 0, 8, 8)


def test_per_level_energy(result) -> None:
    e = {lv.name: lv.energy_pJ for lv in result.levels}
    assert e["mac"] == pytest.approx(24 * 2.0)
    # RF: max ERT entry 0.6 pJ; (18 + 22 + 24) accesses per PE on 2 PEs
    assert e["RF"] == pytest.approx((18 + 22 + 24) * 0.6 * 2)
    # GLB: block 4 -> ceil per dataspace: 12/4=3, 26/4->7, 16/4=4 vector accesses at 10 pJ
    assert e["GLB"] == pytest.approx((3 + 7 + 4) * 10.0)
    assert e["DRAM"] == pytest.approx(6 * 512.0)
