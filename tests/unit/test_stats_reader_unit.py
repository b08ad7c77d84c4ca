"""Stats reader on a tiny hand-written stats.txt, and its errors on bad input."""

from __future__ import annotations

import pytest

from fusionsim.errors import InputError
from fusionsim.timeloop import parse_stats, read_stats

TINY = """Buffer and Arithmetic Levels
----------------------------
Level 0
-------
=== mac ===

    SPECS
    -----
    Word bits            : 16
    Instances            : 4 (4*1)
    Energy-per-op        : 2.20 pJ

    STATS
    -----
    Utilized instances   : 4
    Cycles               : 10
    Energy (total)       : 88.00 pJ
    Area (total)         : 10.00 um^2

Level 1
-------
=== DRAM ===

    SPECS
    -----
        Technology           : DRAM
        Size                 : -
        Instances            : 1 (1*1)

    MAPPING
    -------
    Loop nest:
      for C in [0:40)

    STATS
    -----
    Cycles               : 10
    Bandwidth throttling : 1.00
    Weights:
        Partition size                           : 40
        Utilized capacity                        : 40
        Utilized instances (max)                 : 1
        Utilized clusters (max)                  : 1
        Scalar reads (per-instance)              : 40
        Scalar updates (per-instance)            : 0
        Scalar fills (per-instance)              : 0
        Temporal reductions (per-instance)       : 0
        Address generations (per-cluster)        : 40
        Energy (per-scalar-access)               : 128.00 pJ
        Energy (per-instance)                    : 5120.00 pJ
        Energy (total)                           : 5120.00 pJ
        Temporal Reduction Energy (per-instance) : 0.00 pJ
        Temporal Reduction Energy (total)        : 0.00 pJ
        Address Generation Energy (per-cluster)  : 0.00 pJ
        Address Generation Energy (total)        : 1.00 pJ
    Outputs:
        Partition size                           : 4
        Utilized capacity                        : 4
        Utilized instances (max)                 : 1
        Utilized clusters (max)                  : 1
        Scalar reads (per-instance)              : 0
        Scalar updates (per-instance)            : 4
        Scalar fills (per-instance)              : 0
        Temporal reductions (per-instance)       : 0
        Address generations (per-cluster)        : 4
        Energy (total)                           : 512.00 pJ

Total topology energy: 5721.00 pJ
Total topology area: 11.00 um^2
Max topology cycles: 10

Summary Stats
-------------
Utilization: 1.00
Cycles: 10
Energy: 0.01 uJ
Area: 0.00 mm^2

MACCs = 40
"""


def test_tiny_stats_closed_form() -> None:
    res = parse_stats(TINY)
    assert [lv.name for lv in res.levels] == ["mac", "DRAM"]
    assert [lv.kind for lv in res.levels] == ["arithmetic", "storage"]
    assert (res.energy_pJ, res.cycles, res.macs, res.utilization) == (5721.0, 10, 40, 1.0)
    assert res.level("mac").energy_pJ == 88.0
    dram = res.level("DRAM")
    assert dram.cycles == 10
    assert dram.dataspaces["Weights"].reads == 40
    assert dram.dataspaces["Weights"].energy_pJ == 5121.0  # access + address generation
    assert dram.dataspaces["Outputs"].updates == 4
    assert dram.energy_pJ == 5633.0
    assert sum(lv.energy_pJ for lv in res.levels) == pytest.approx(res.energy_pJ)
    assert res.to_json()["levels"][1]["dataspaces"]["Weights"]["reads"] == 40


def test_totals_fall_back_to_summary() -> None:
    text = TINY.replace("Total topology energy: 5721.00 pJ\n", "").replace("Max topology cycles: 10\n", "")
    res = parse_stats(text)
    assert res.energy_pJ == pytest.approx(0.01e6) and res.cycles == 10


def test_not_a_stats_file(tmp_path) -> None:
    bad = tmp_path / "stats.txt"
    bad.write_text("hello\n")
    with pytest.raises(InputError) as err:
        read_stats(bad)
    assert str(bad) in err.value.line() and "\n" not in err.value.line()


def test_bad_number_names_key(tmp_path) -> None:
    bad = tmp_path / "stats.txt"
    bad.write_text(
        TINY.replace("Scalar reads (per-instance)              : 40", "Scalar reads (per-instance) : x")
    )
    with pytest.raises(InputError) as err:
        read_stats(bad)
    assert "Scalar reads" in err.value.line()


def test_missing_maccs(tmp_path) -> None:
    bad = tmp_path / "stats.txt"
    bad.write_text(TINY.replace("MACCs = 40", ""))
    with pytest.raises(InputError, match="MACCs"):
        read_stats(bad)
