"""Closed-form checks of the comparison tables, the area model and the plots."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusionsim.archon.area import archon_area_spec, area_csv, area_table, baseline_area_spec
from fusionsim.archon.predictive import FusedBlockCosts, OverheadBreakdown, PartCost
from fusionsim.archon.tables import (
    FINAL_TABLE_COLUMNS,
    REFERENCE_COLUMNS,
    RES_COLUMNS,
    RESULT_COLUMNS,
    NamedLayer,
    SparseCycles,
    dense_block,
    final_rows,
    head_tail_layer,
    network_totals,
    number,
    res_rows,
    res_summary,
    result_rows,
    sparse_block,
    sparse_pointwise_energy_uJ,
    table_frame,
    write_table,
)
from fusionsim.errors import InputError
from fusionsim.frames import csv_text, markdown_text
from fusionsim.model.result import DataspaceStats, EvalResult, LevelStats


def layer(total_pJ: float, cycles: int) -> EvalResult:
    """A result whose weights spad W=2e5, ifmap spad In=1e5, GLB In=3e5, DRAM W=1e5 / In=2e5 pJ."""

    def lv(name: str, **ds: float) -> LevelStats:
        return LevelStats(
            name, sum(ds.values()), cycles, "storage", {k: DataspaceStats(energy_pJ=v) for k, v in ds.items()}
        )

    return EvalResult(
        total_pJ,
        cycles,
        1.0,
        1000,
        [
            LevelStats("mac", 1e5, cycles, "arithmetic"),
            lv("weights_spad", Weights=2e5),
            lv("ifmap_spad", Inputs=1e5),
            lv("shared_glb", Inputs=3e5),
            lv("DRAM", Weights=1e5, Inputs=2e5),
        ],
    )


def fused(e: float, c: int) -> FusedBlockCosts:
    return FusedBlockCosts(
        "b", PartCost(e, c), PartCost(e, c), PartCost(e, c), OverheadBreakdown(e, *[0.0] * 8)
    )


def test_dense_block_closed_form() -> None:
    b = dense_block(layer(1e6, 100), layer(2e6, 50), layer(3e6, 70), cmid=11, groups=3)
    assert (b.pw1.energy_uJ, b.pw1.cycles) == (pytest.approx(3.0), 300)
    assert (b.pw2.energy_uJ, b.pw2.cycles) == (pytest.approx(9.0), 210)
    # DW: 2 uJ + 10 x (GLB 0.3 + DRAM 0.2 uJ) of input reads
    assert (b.dw.energy_uJ, b.dw.cycles) == (pytest.approx(7.0), 50)


def test_sparse_energy_closed_form() -> None:
    # 1 uJ - .91 x (0.1 + 0.2) x 6/16 - .91 x 0.1
    assert sparse_pointwise_energy_uJ(layer(1e6, 1)) == pytest.approx(1 - 0.91 * 0.3 * 0.375 - 0.091)
    assert sparse_pointwise_energy_uJ(layer(1e6, 1), sigma=0.0) == pytest.approx(1.0)
    s = sparse_block(layer(1e6, 100), layer(2e6, 50), layer(3e6, 70), 11, 3, SparseCycles(10, 20, 30))
    assert (s.pw1.cycles, s.dw.cycles, s.pw2.cycles) == (30, 20, 90)
    assert s.dw.energy_uJ == pytest.approx(7.0)


def test_head_tail_layer() -> None:
    assert head_tail_layer(layer(1e6, 10), 4).energy_uJ == pytest.approx(4.0)
    assert head_tail_layer(layer(1e6, 10), 4).cycles == 40
    assert head_tail_layer(layer(1e6, 10), 1, depthwise_channels=3).energy_uJ == pytest.approx(1.6)


def test_res_result_and_final_tables() -> None:
    d = dense_block(layer(1e6, 100), layer(1e6, 100), layer(1e6, 100), cmid=1)
    rows = res_rows([d, d], [d], [fused(1.0, 10)] * 3)
    assert [r["block"] for r in rows] == ["1", "2", "3", "total"]
    assert rows[2]["PW1_e"] == 0 and rows[1]["sparse_PW1_c"] == 0  # missing blocks are zeros
    total = rows[-1]
    assert total["PW1_c"] == 200 and total["main_c"] == 30 and total["overhead_e"] == 3.0
    summ = {s["accelerator"]: s for s in res_summary(rows)}
    assert summ["fusion"]["cycles"] == 90 and summ["dense"]["cycles"] == 600
    assert summ["dense"]["speedup"] == pytest.approx(600 / 90)
    head = [NamedLayer("conv1", PartCost(2.0, 5))]
    res = result_rows(
        head, [NamedLayer("conv1", PartCost(3.0, 7))], rows, [], [NamedLayer("FC1", PartCost(1.0, 1))]
    )
    assert [r["layer"] for r in res] == ["conv1", "b1", "b2", "b3", "FC1"]
    assert res[0]["sparse_PW1/L1_e"] == 2.0 and res[0]["main_c"] == 7 and res[-1]["PW1/L1_e"] == 0.0
    t = network_totals(res)
    assert t["dense_cycles"] == 605 and t["sparse_cycles"] == 305 and t["fusion_cycles"] == 98
    fin = final_rows({("net", "cifar10"): t})
    assert fin[0]["speedup_vs_dense"] == pytest.approx(605 / 98)
    assert set(fin[0]) == set(FINAL_TABLE_COLUMNS)
    with pytest.raises(InputError):
        final_rows({("net", "x"): {**t, "fusion_cycles": 0}})
    assert csv_text(table_frame(rows, RES_COLUMNS), number).splitlines()[0].startswith("block,PW1_e,DW_e")
    assert markdown_text(table_frame(res, RESULT_COLUMNS), number).count("\n") == len(res) + 2


def test_final_table_against_published_totals(tmp_path) -> None:
    """final_vs_reference lists ours, the reference and the gap for each total a comparison states."""
    import csv

    from fusionsim.archon.comparisons import load_comparisons
    from fusionsim.archon.tables import write_final_table

    totals = {("net", "cifar10"): {"dense_cycles": 1000.0, "sparse_cycles": 500.0, "fusion_cycles": 250.0,
                                   "dense_energy_uJ": 10.0, "sparse_energy_uJ": 8.0, "fusion_energy_uJ": 5.0},
              ("net", "cifar100"): {"dense_cycles": 1000.0, "sparse_cycles": 500.0, "fusion_cycles": 250.0,
                                    "dense_energy_uJ": 10.0, "sparse_energy_uJ": 8.0, "fusion_energy_uJ": 5.0}}
    refs = {"net": ("paper", {"cifar10": {"archon_cycles": 200.0, "speedup_vs_dense": 4.0}})}
    write_final_table(totals, tmp_path, refs)
    rows = list(csv.DictReader(open(tmp_path / "final_vs_reference.csv")))
    assert [(r["dataset"], r["total"]) for r in rows] == [("cifar10", "archon_cycles"), ("cifar10", "speedup_vs_dense")]
    assert float(rows[0]["gap_pct"]) == pytest.approx(25.0) and float(rows[1]["gap_pct"]) == pytest.approx(0.0)
    assert rows[0]["source"] == "paper" and (tmp_path / "final_vs_reference.md").exists()
    write_final_table(totals, tmp_path)  # no references: header only
    assert (tmp_path / "final_vs_reference.csv").read_text().strip() == ",".join(REFERENCE_COLUMNS)
    # the comparisons file's `reference:` is checked key by key
    base = "x:\n  baseline: shufflenet\n  fused: fusionet\n  variant: fusionet\n  prune_factor: 0.01\n"
    f = tmp_path / "comparisons.yaml"
    for bad, key in (("{cifar10: {archon_cyc: 1}}", "x.reference.cifar10.archon_cyc"),
                     ("{cifar10: {archon_cycles: -1}}", "x.reference.cifar10.archon_cycles"),
                     ("[1, 2]", "x.reference")):
        f.write_text(base + f"  reference: {bad}\n")
        with pytest.raises(InputError, match=key.replace(".", r"\.")):
            load_comparisons(f, Path(__file__).resolve().parents[2] / "workloads")


def test_write_table_and_plots(tmp_path) -> None:
    from fusionsim.archon.plots import plot_block_energy, plot_block_speedup, plot_network_speedup

    d = dense_block(layer(1e6, 100), layer(1e6, 100), layer(1e6, 100), cmid=1)
    rows = res_rows([d, d], [d, d], [fused(1.0, 10)] * 2)
    write_table(rows, RES_COLUMNS, tmp_path / "res.csv")
    assert (tmp_path / "res.csv").read_text().count("\n") == 4 and (tmp_path / "res.md").exists()
    fin = final_rows({("n", "d"): network_totals(result_rows([], [], rows, [], []))})
    for f in (
        plot_block_energy(rows, tmp_path / "e.png"),
        plot_block_speedup(rows, tmp_path / "s.png"),
        plot_network_speedup(fin, tmp_path / "n.png"),
    ):
        assert f.read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob(".*tmp*"))


def test_area_model_closed_form() -> None:
    base = area_table(
        {"shared_glb": 1000.0, "mac": 1.0, "ifmap_spad": 2.0, "weights_spad": 3.0, "psum_spad": 4.0},
        baseline_area_spec(),
    )
    assert dict(base)["total"] == pytest.approx(1000 + 72 * 10)
    units = dict.fromkeys(archon_area_spec().global_components + archon_area_spec().pe_components, 1.0)
    arch = dict(area_table(units, archon_area_spec(adders=24)))
    assert arch["binary_decoder"] == 192 and arch["bit_masks_and"] == 48 and arch["pred_glb"] == 1.0
    # shared_glb + decoder (pred_glb left out) + 64 PEs x (mac, 2 spads, buffer + 6 + 6 + 48 + 6 + 24)
    assert arch["total"] == pytest.approx(1 + 192 + 64 * (4 + 6 + 6 + 48 + 6 + 24))
    assert area_csv([("total", 1.234)]) == "total,1.23\n"
    with pytest.raises(InputError, match="mac"):
        area_table({"shared_glb": 1.0}, baseline_area_spec())
