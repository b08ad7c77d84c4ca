"""Sparse adjustment: energy formula, monotone in sparsity, groups, the seed preset."""

from __future__ import annotations

import numpy as np
import pytest

from fusionsim.errors import InputError
from fusionsim.model.result import DataspaceStats, EvalResult, LevelStats
from fusionsim.sparsity.adjust import SparseEnergyModel, adjust_layer, block_columns, sparse_energy_pj
from fusionsim.sparsity.imbalance import Loop, PeWork, partition_nonzero_work

DIMS = ("R", "S", "C", "M")
LOOPS = [Loop("C", 4), Loop("M", 4, True), Loop("C", 4), Loop("P", 2)]


def dense_result() -> EvalResult:
    def lv(name: str, **ds: float) -> LevelStats:
        return LevelStats(
            name, sum(ds.values()), dataspaces={k: DataspaceStats(energy_pJ=v) for k, v in ds.items()}
        )

    levels = [
        LevelStats("mac", 300.0, kind="arithmetic"),
        lv("psum_spad", Outputs=50.0),
        lv("weights_spad", Weights=160.0),
        lv("ifmap_spad", Inputs=100.0),
        lv("shared_glb", Inputs=80.0, Outputs=40.0),
        lv("DRAM", Weights=320.0, Inputs=200.0, Outputs=150.0),
    ]
    return EvalResult(sum(x.energy_pJ for x in levels), 1000, 1.0, 256, levels)


def test_energy_formula() -> None:
    d = dense_result()
    # s=0.5, b/w=10/16: weights (160+320) * 0.5 * 6/16 = 90; inputs 100 * 0.5 = 50
    assert sparse_energy_pj(d, 0.5, SparseEnergyModel()) == pytest.approx(d.energy_pJ - 90 - 50)
    assert sparse_energy_pj(d, 0.0, SparseEnergyModel()) == pytest.approx(d.energy_pJ)


def test_energy_and_cycles_monotone_in_sparsity() -> None:
    rng = np.random.default_rng(1)
    order = rng.permutation(16 * 4)  # zero weights in a fixed order: each mask is a subset of the last
    energies, cycles = [], []
    for zeros in range(0, 64, 8):
        mask = np.ones(64, bool)
        mask[order[:zeros]] = False
        work = partition_nonzero_work(mask.reshape(1, 1, 16, 4), DIMS, LOOPS)
        res = adjust_layer(dense_result(), work)
        assert res.weight_sparsity == pytest.approx(zeros / 64)
        energies.append(res.energy_pj)
        cycles.append(res.cycles)
    assert all(a > b for a, b in zip(energies, energies[1:], strict=False))
    assert all(a >= b for a, b in zip(cycles, cycles[1:], strict=False))
    assert cycles[0] == 16 * 2  # dense: 4 passes x 4 C x 2 P on every PE


def test_groups_and_per_group_work() -> None:
    w1 = PeWork.from_counts(np.array([[2, 1], [1, 2]]), 4)
    w2 = PeWork.from_counts(np.array([[4, 0], [0, 0]]), 4)
    d = dense_result()
    same = adjust_layer(d, w1, groups=3)
    assert same.cycles == 3 * 4 and same.energy_pj == pytest.approx(
        3 * sparse_energy_pj(d, 0.625, SparseEnergyModel())
    )
    each = adjust_layer(d, [w1, w2], groups=2)
    assert each.cycles == 4 + 4 and each.stats.passes == 4
    with pytest.raises(ValueError):
        adjust_layer(d, [w1], groups=2)


def test_seed_preset_and_columns() -> None:
    work = PeWork.from_counts(np.array([[1, 1]]), 4)
    d = dense_result()
    dw = adjust_layer(d, work, energy=SparseEnergyModel.seed("depthwise"))
    pw = adjust_layer(d, work, energy=SparseEnergyModel.seed("pointwise"))
    assert dw.energy_pj == pytest.approx(d.energy_pJ) and dw.weight_sparsity == pytest.approx(0.75)
    assert pw.energy_zero_fraction == 0.91
    cols = block_columns({"PW1": pw, "DW": dw})
    assert list(cols) == ["sparse_PW1_e", "sparse_DW_e", "sparse_PW1_c", "sparse_DW_c"]
    assert cols["sparse_DW_e"] == pytest.approx(d.energy_pJ * 1e-6)


def test_missing_level_is_input_error() -> None:
    with pytest.raises(InputError, match="no level 'DRAM'"):
        sparse_energy_pj(EvalResult(1.0, 1, 1.0, 1, []), 0.5, SparseEnergyModel())
    with pytest.raises(ValueError):
        SparseEnergyModel(zero_fraction=1.5)
