"""Per-PE imbalance: a hand-computed example, brute force on random nests, parsers and CSV round trip."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from fusionsim.errors import InputError
from fusionsim.sparsity.imbalance import (
    Loop,
    PeWork,
    loops_from_factors,
    loops_from_map_txt,
    partition_nonzero_work,
    read_loops,
    read_pe_work_csv,
    write_pe_work_csv,
)

DIMS = ("R", "S", "C", "M")


def test_hand_computed_example() -> None:
    # C=4, M=2; M split over 2 PEs, C in 2 passes of 2, and P=3 output pixels inside each PE.
    w = np.zeros((1, 1, 4, 2), bool)
    w[0, 0, :, 0] = [1, 1, 0, 1]  # PE0: pass0 c0,c1 -> 2 weights, pass1 c2,c3 -> 1
    w[0, 0, :, 1] = [0, 0, 1, 1]  # PE1: pass0 -> 0, pass1 -> 2
    loops = [Loop("C", 2), Loop("M", 2, True), Loop("C", 2), Loop("P", 3)]
    work = partition_nonzero_work(w, DIMS, loops)
    assert work.nonzero.tolist() == [[6, 3], [0, 6]]  # x3 output pixels
    assert work.dense.tolist() == [[6, 6], [6, 6]]
    assert work.sparse_cycles() == 6 + 6  # slowest PE per pass
    st = work.stats()
    assert (st.pes, st.passes, st.macs_per_pass) == (2, 2, 6)
    assert (st.dense_macs, st.sparse_macs, st.dense_mac_cycles) == (24, 15, 12)
    assert st.best_sparse_mac_cycles == 7  # floor(15 / 2), as the seed reports it
    assert st.pe_utilization == pytest.approx(15 / (2 * 12))
    assert st.pass_imbalance_max == pytest.approx(6 / 3)  # pass 0: max 6, mean 3


def _brute(mask: np.ndarray, loops: list[Loop], sizes: dict[str, int]) -> np.ndarray:
    """Walk every loop index; count in-range MACs with a non-zero weight per (PE, pass)."""
    last_sp = max((i for i, lp in enumerate(loops) if lp.spatial), default=-1)
    pe_ids = [i for i, lp in enumerate(loops[: last_sp + 1]) if lp.spatial]
    pass_ids = [i for i, lp in enumerate(loops[: last_sp + 1]) if not lp.spatial]
    pes = math.prod(loops[i].factor for i in pe_ids)
    passes = math.prod(loops[i].factor for i in pass_ids)
    grid = np.zeros((pes, passes), np.int64)
    for idx in itertools.product(*(range(lp.factor) for lp in loops)):
        val = {d: 0 for d in sizes}
        for lp, i in zip(loops, idx, strict=True):
            val[lp.dim] = val[lp.dim] * lp.factor + i
        if any(val[d] >= sizes[d] for d in sizes):
            continue
        if not mask[val["R"], val["S"], val["C"], val["M"]]:
            continue
        pe = (
            np.ravel_multi_index([idx[i] for i in pe_ids], [loops[i].factor for i in pe_ids]) if pe_ids else 0
        )
        ps = (
            np.ravel_multi_index([idx[i] for i in pass_ids], [loops[i].factor for i in pass_ids])
            if pass_ids
            else 0
        )
        grid[pe, ps] += 1
    return grid


@pytest.mark.parametrize("seed", range(6))
def test_partition_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = {"R": 3, "S": 1, "C": 5, "M": 6, "P": 3, "Q": 2}
    mask = rng.random((3, 1, 5, 6)) < 0.4
    # random nest; C=5 and M=6 get imperfect factors (2x3=6 >= 5), P=3 imperfect (2x2)
    loops = [
        Loop("M", 2),
        Loop("C", 2, bool(seed % 2)),
        Loop("P", 2),
        Loop("M", 3, True),
        Loop("Q", 2, seed > 2),
        Loop("C", 3),
        Loop("R", 3),
        Loop("P", 2),
    ]
    rng.shuffle(loops)
    work = partition_nonzero_work(mask, DIMS, loops, sizes={"P": 3, "Q": 2})
    assert np.array_equal(work.nonzero, _brute(mask, loops, sizes))
    assert np.array_equal(work.dense, _brute(np.ones_like(mask), loops, sizes))


def test_mapping_must_cover_the_layer() -> None:
    with pytest.raises(ValueError, match="covers C=2"):
        partition_nonzero_work(np.ones((1, 1, 4, 2), bool), DIMS, [Loop("C", 2)])


def test_no_spatial_loop_is_one_pe() -> None:
    work = partition_nonzero_work(np.ones((1, 1, 4, 1), bool), DIMS, [Loop("C", 4)])
    assert work.nonzero.tolist() == [[4]]


def test_loops_from_map_txt() -> None:
    text = """
DRAM [ Weights:576 ]
| for Q in [0:4)
shared_glb [ Inputs:2048 ]
|   for P in [0:32)
|     for Q in [0:8) (Spatial-X)
DummyBuffer [ ]
|       for Q in [0:1)
|         for M in [0:9) (Spatial-Y)
weights_spad [ Weights:64 ]
|             for C in [0:8)
psum_spad [ Outputs:8 ]
|               for M in [0:8)
"""
    loops = loops_from_map_txt(text)
    assert loops == (
        Loop("Q", 4),
        Loop("P", 32),
        Loop("Q", 8, True),
        Loop("M", 9, True),
        Loop("C", 8),
        Loop("M", 8),
    )
    work = partition_nonzero_work(np.ones((1, 1, 8, 72), bool), DIMS, loops)
    assert (work.pes, work.passes, int(work.dense.max())) == (72, 128, 64)  # seed's b1 decomp row


def test_loops_from_factors_puts_the_rest_outside() -> None:
    loops = loops_from_factors({"C": 8, "M": 72, "P": 32, "Q": 32}, {"Q": 8, "M": 9}, {"C": 8, "M": 8})
    assert loops == (
        Loop("P", 32),
        Loop("Q", 4),
        Loop("Q", 8, True),
        Loop("M", 9, True),
        Loop("C", 8),
        Loop("M", 8),
    )


def test_read_loops_forms(tmp_path) -> None:
    (tmp_path / "a.yaml").write_text(
        "loops:\n  - {dim: M, factor: 2, spatial: true}\n  - {dim: C, factor: 3}\n"
    )
    assert read_loops(tmp_path / "a.yaml") == (Loop("M", 2, True), Loop("C", 3))
    (tmp_path / "b.yaml").write_text("spatial: {M: 2}\ninner: {C: 3}\n")
    assert read_loops(tmp_path / "b.yaml", {"C": 6, "M": 2}) == (
        Loop("C", 2),
        Loop("M", 2, True),
        Loop("C", 3),
    )
    (tmp_path / "c.yaml").write_text("foo: 1\n")
    with pytest.raises(InputError, match="c.yaml"):
        read_loops(tmp_path / "c.yaml")


def test_pe_csv_round_trip(tmp_path) -> None:
    grid = np.array([[1, 2, 3], [4, 5, 6]])
    write_pe_work_csv(tmp_path / "w.csv", grid)
    assert np.array_equal(read_pe_work_csv(tmp_path / "w.csv"), grid)
    (tmp_path / "seed.csv").write_text("PE,0,1,\n(0- 0),3,4,\n(0- 1),5,0,\n")  # seed layout, trailing commas
    assert read_pe_work_csv(tmp_path / "seed.csv").tolist() == [[3, 4], [5, 0]]
    (tmp_path / "bad.csv").write_text("x,0\n")
    with pytest.raises(InputError, match="bad.csv"):
        read_pe_work_csv(tmp_path / "bad.csv")


def test_pework_rejects_work_above_slots() -> None:
    with pytest.raises(ValueError):
        PeWork(np.array([[3]]), np.array([[2]]))
    both = PeWork.concat_passes([PeWork.from_counts(np.array([[1], [2]]), 4)] * 2)
    assert both.nonzero.tolist() == [[1, 1], [2, 2]] and both.sparse_cycles() == 4
