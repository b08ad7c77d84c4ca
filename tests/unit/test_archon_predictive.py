"""Closed-form checks of the fused-block cost model on a tiny hand-made layer result."""

from __future__ import annotations

import pytest

from fusionsim.archon.predictive import (
    FUSIONET_STYLE,
    MOBILENET_STYLE,
    FusedBlock,
    OverheadEnergies,
    dataspace_energy_from,
    fused_block_costs,
    fusion_overhead,
    main_computation,
    overhead_action_counts,
    predict_conv,
    predict_decom,
)
from fusionsim.errors import InputError
from fusionsim.model.result import DataspaceStats, EvalResult, LevelStats


def tiny_result() -> EvalResult:
    """mac 100 pJ; psum Outputs 10; weights_spad Weights 40; ifmap_spad Inputs 20; glb Inputs 30 / Outputs 50;
    DRAM Weights 80 / Inputs 60 / Outputs 160 (output tile 16): 550 pJ, 1000 MACs, 480 cycles."""

    def lv(name: str, **ds: float) -> LevelStats:
        spaces = {
            k: DataspaceStats(energy_pJ=v, partition_size=16 if k == "Outputs" else 0) for k, v in ds.items()
        }
        return LevelStats(name, sum(ds.values()), 480, "storage", spaces)

    levels = [
        LevelStats("mac", 100.0, 480, "arithmetic"),
        lv("psum_spad", Outputs=10.0),
        lv("weights_spad", Weights=40.0),
        lv("ifmap_spad", Inputs=20.0),
        lv("DummyBuffer"),
        lv("shared_glb", Inputs=30.0, Outputs=50.0),
        lv("DRAM", Weights=80.0, Inputs=60.0, Outputs=160.0),
    ]
    return EvalResult(550.0, 480, 1.0, 1000, levels)


BLOCK = FusedBlock("b", cin=4, cmid=8, cout=4, p=4, groups=2, prune_factor=0.5, qtz_bits=4, adders=24)


def test_seed_section_lookup_skips_bypassing_levels() -> None:
    res = tiny_result()
    assert dataspace_energy_from(res, "Weights", 4) == 80.0  # DummyBuffer and GLB bypass weights
    assert dataspace_energy_from(res, "Inputs", 4) == 30.0
    assert dataspace_energy_from(res, "Nothing", 0) == 0.0


def test_predict_decom_closed_form() -> None:
    # 550 - .75*160 - .75*(60+30) + 16*128/16 - 7/8*(80+40) - 100 = 285.5 pJ; + 0.22*1000/4 + 0.043*1000
    c = predict_decom(BLOCK, tiny_result(), FUSIONET_STYLE)
    assert c.energy_uJ == pytest.approx(2 * 383.5e-6)
    assert c.cycles == 480 * 2 // 24
    # MobileNet copy: also drops .75 of ifmap-spad inputs and prices additions at r
    m = predict_decom(BLOCK, tiny_result(), MOBILENET_STYLE)
    assert m.energy_uJ == pytest.approx(2 * (270.5 + 55 + 10.75) * 1e-6)


def test_predict_conv_closed_form() -> None:
    # 550 + 7*60 - .75*(60+30+20) - (160+50) + 128 - 105 - 100 = 600.5; + 0.22*1000/Cin + 43
    c = predict_conv(BLOCK, tiny_result(), FUSIONET_STYLE)
    assert c.energy_uJ == pytest.approx(698.5e-6)
    assert c.cycles == 20
    # MobileNet copy: (1-r) on DRAM inputs x Cmid, MACs / 9 taps, additions at r
    m = predict_conv(BLOCK, tiny_result(), MOBILENET_STYLE)
    assert m.energy_uJ == pytest.approx((285.5 + 220 / 9 + 10.75) * 1e-6)


def test_main_drops_weight_dram_traffic() -> None:
    c = main_computation(BLOCK, tiny_result())
    assert (c.energy_uJ, c.cycles) == (pytest.approx(470e-6), 480)


def test_overhead_closed_form_unit_energies() -> None:
    blk = FusedBlock("b", cin=4, cmid=8, cout=4, p=8, groups=2, prune_factor=0.5, adders=24)
    ones = OverheadEnergies(*([1.0] * 9))
    counts = overhead_action_counts(blk, 100, FUSIONET_STYLE.counts)
    assert (counts.pred_glb_writes, counts.binary_decoder_ops) == (12, 38400)
    assert (counts.prediction_buffer_writes, counts.prediction_buffer_reads) == (2, 2401)
    assert (counts.adder_ops, counts.mux_ops) == (1200, 2400)
    o = fusion_overhead(blk, 100, FUSIONET_STYLE, ones)
    # W_f = (4/2)(8/2) 9 4 0.5 = 144 weights x 128 pJ x 16/10 x 64/64 PE passes
    assert o.weight_dram == pytest.approx(29491.2e-6)
    assert o.pred_dram == pytest.approx(8 * 24e-6)
    assert o.pred_buffer == pytest.approx(64 * 2403e-6)
    assert o.total_uJ == pytest.approx(605875.2e-6)


def test_5x5_block_fuses_into_a_5x5_conv() -> None:
    """A block with a 5x5 depthwise kernel (MnasNet) composes 25 taps: fused weights and the MobileNet copy's
    per-output MAC count scale with k^2 (the seed's 9 is the 3x3 case)."""
    from fusionsim.archon.comparisons import main_layer
    from fusionsim.workloads.network import Layer

    b3 = FusedBlock("b", cin=4, cmid=8, cout=4, p=8, groups=2, prune_factor=0.5)
    b5 = FusedBlock("b", cin=4, cmid=8, cout=4, p=8, groups=2, prune_factor=0.5, kernel=5)
    assert (b3.taps, b5.taps) == (9, 25)
    ones = OverheadEnergies(*([1.0] * 9))
    ratio = fusion_overhead(b5, 100, FUSIONET_STYLE, ones).weight_dram
    assert ratio / fusion_overhead(b3, 100, FUSIONET_STYLE, ones).weight_dram == pytest.approx(25 / 9)
    m5 = predict_conv(FusedBlock("b", cin=4, cmid=8, cout=4, p=4, groups=2, kernel=5), tiny_result(), MOBILENET_STYLE)
    assert m5.energy_uJ == pytest.approx((285.5 + 220 / 25 + 10.75) * 1e-6)
    with pytest.raises(InputError, match="kernel"):
        FusedBlock("b", cin=4, cmid=8, cout=4, p=4, kernel=0)

    def layer(role: str, cin: int, cout: int, kernel: int, stride: int = 1) -> Layer:
        return Layer(name=f"b1_{role}", kind="depthwise" if role == "conv" else "pointwise", in_channels=cin,
                     out_channels=cout, kernel=kernel, stride=stride, in_size=16, out_size=16 // stride,
                     groups=1, block="b1", role=role)

    main = main_layer(layer("decom", 24, 144, 1), layer("comp", 144, 40, 1), layer("conv", 144, 144, 5, 2))
    assert (main.kernel, main.in_channels, main.out_channels, main.stride, main.out_size) == (5, 24, 40, 2, 8)


def test_overhead_grows_with_main_cycles_and_prune_factor() -> None:
    a = fusion_overhead(BLOCK, 100).total_uJ
    assert fusion_overhead(BLOCK, 200).total_uJ > a
    denser = FusedBlock("b", cin=4, cmid=8, cout=4, p=4, groups=2, prune_factor=0.9)
    assert fusion_overhead(denser, 100).total_uJ > a


def test_block_costs_sum_columns() -> None:
    r = tiny_result()
    costs = fused_block_costs(BLOCK, r, r, r)
    row = costs.row()
    assert costs.cycles == row["5_pred_decom_c"] + row["6_pred_conv_c"] + row["7_main_c"]
    assert costs.energy_uJ == pytest.approx(
        sum(row[k] for k in ("1_pred_decom_e", "2_pred_conv_e", "3_main_e", "4_overhead_e"))
    )


def test_bad_block_names_the_key() -> None:
    with pytest.raises(InputError, match="b3.cmid"):
        FusedBlock("b3", cin=4, cmid=0, cout=4, p=4)
    with pytest.raises(InputError, match="prune_factor"):
        FusedBlock("b3", cin=4, cmid=8, cout=4, p=4, prune_factor=1.5)
