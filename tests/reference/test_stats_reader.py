"""The stats reader on every reference stats.txt: level energies add up to Timeloop's total."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusionsim.timeloop import read_stats


def _stats_files(root: Path) -> list[Path]:
    return sorted(root.rglob("timeloop-*.stats.txt"))


def test_every_reference_stats_file(timeloop_ref: Path) -> None:
    files = _stats_files(timeloop_ref)
    assert len(files) > 200, f"expected the >200 reference runs under {timeloop_ref}"
    worst = (0.0, None)
    for path in files:
        res = read_stats(path)
        assert res.levels[0].kind == "arithmetic", path
        storage = [lv for lv in res.levels if lv.kind == "storage"]
        assert storage and storage[-1].name == "DRAM", path
        assert res.cycles > 0 and res.macs > 0 and 0.0 < res.utilization <= 1.0, path
        total = sum(lv.energy_pJ for lv in res.levels)
        # the stats print 2 decimals per dataspace energy: allow that rounding
        tol = 0.006 * (1 + sum(len(lv.dataspaces) for lv in res.levels))
        assert total == pytest.approx(res.energy_pJ, abs=tol), path
        rel = abs(total - res.energy_pJ) / res.energy_pJ
        if rel >= worst[0]:
            worst = (rel, path)
        for lv in storage:
            for ds in lv.dataspaces.values():
                assert ds.utilized_instances >= 1 and ds.partition_size >= ds.utilized_capacity >= 0, path
    print(f"\n{len(files)} stats files; worst relative gap sum(levels) vs total: {worst[0]:.2e} ({worst[1]})")


def test_known_values(timeloop_ref: Path) -> None:
    """Hand-read values of fusionet b1 decom prediction run."""
    path = (
        timeloop_ref
        / "fusion-timeloop-model/fusionet/cifar10/bottlenecks/fusion/predictions/b1/decom/output"
        / "timeloop-mapper.stats.txt"
    )
    res = read_stats(path)
    assert [lv.name for lv in res.levels if lv.kind != "network"] == [
        "mac",
        "psum_spad",
        "weights_spad",
        "ifmap_spad",
        "DummyBuffer",
        "shared_glb",
        "DRAM",
    ]
    assert res.energy_pJ == pytest.approx(125244616.70)
    assert res.cycles == 75776 and res.macs == 4849664 and res.utilization == 1.0
    assert res.level("mac").energy_pJ == pytest.approx(10669260.80)
    psum = res.level("psum_spad").dataspaces["Outputs"]
    assert (psum.reads, psum.updates, psum.fills, psum.temporal_reductions) == (66304, 75776, 9472, 66304)
    assert (psum.address_generations, psum.utilized_capacity, psum.partition_size) == (85248, 4, 9472)
    assert psum.utilized_instances == 64 and psum.utilized_clusters == 64
    assert psum.energy_pJ == pytest.approx(2298740.74)
    dram = res.level("DRAM")
    assert set(dram.dataspaces) == {"Weights", "Inputs", "Outputs"}
    assert dram.dataspaces["Outputs"].partition_size == 606208
    assert "Weights" not in res.level("shared_glb").dataspaces
    assert res.level("DummyBuffer").dataspaces == {}
    assert res.levels[-1].kind == "network"
