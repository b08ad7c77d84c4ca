"""Conformance of the native engine with Timeloop v1.0 on generated inputs outside the reference family.

Each folder of tests/data/timeloop_oracle/ holds one differential-fuzzing case: a tree-form arch, a problem
(CNN-Layer with strides/dilations, a matrix multiply, or a shape with its own projections and coefficients),
a v1.0 mapping YAML and an ERT, plus the output of a local `timeloop-model` v1.0 build on exactly these files
(`timeloop-model.stats.txt`), or, for a mapping Timeloop rejects, its error line (`timeloop-error.txt`).
`features.txt` names what the case exercises (strides, dilation, multi-level spatial runs, X/Y splits, bypass
chains, block and cluster sizes, throttled bandwidth, network energy, ...). Every number Timeloop prints with
integer precision must match exactly; energies to the printed 2 decimals. Needs neither Timeloop nor ../shared.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fusionsim.model.evaluate import MappingError, evaluate_files
from fusionsim.timeloop.stats_reader import read_stats

DATA = Path(__file__).resolve().parent.parent / "data" / "timeloop_oracle"
CASES = sorted(p for p in DATA.iterdir() if p.is_dir()) if DATA.is_dir() else []

_COUNTS = ("reads", "fills", "updates", "temporal_reductions", "address_generations", "utilized_capacity",
           "utilized_instances", "utilized_clusters", "partition_size")


@pytest.fixture(autouse=True)
def _timeloop_fallback_energies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The `fallback_energy` cases have ERTs without some components on purpose: price them as v1.0 does
    (`fusionsim --missing-ert timeloop-v1.0`; the default is now an error)."""
    monkeypatch.setenv("FUSIONSIM_MISSING_ERT", "timeloop-v1.0")


def _close(ours: float, printed: float, terms: int = 1) -> bool:
    """`printed` is a sum of `terms` values Timeloop printed with 2 decimals."""
    return abs(ours - printed) <= 0.005 * terms + 1e-9 * abs(printed)


def _run(case: Path):
    return evaluate_files(case / "arch.yaml", case / "prob.yaml", case / "map.yaml", case / "ert.yaml")


def test_the_oracle_set_is_present_and_diverse() -> None:
    assert 20 <= len(CASES) <= 40
    feats = set()
    for c in CASES:
        feats |= set((c / "features.txt").read_text().split())
    for f in ("stride", "dilation", "multi_level_spatial", "xy_split", "bypass_chain", "block", "cluster",
              "shape_mm", "shape_weird", "throttled", "invalid"):
        assert f in feats, f


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_matches_timeloop_v1(case: Path) -> None:
    err = case / "timeloop-error.txt"
    if err.exists():
        with pytest.raises(MappingError):
            _run(case)
        return
    ours = _run(case)
    ref = read_stats(case / "timeloop-model.stats.txt")
    assert ours.macs == ref.macs
    assert ours.cycles == ref.cycles
    assert _close(ours.energy_pJ, ref.energy_pJ)
    assert abs(ours.utilization - ref.utilization) <= 0.005 + 1e-9
    bad = []
    for lv in ref.levels:
        if lv.kind == "network":
            mine = next((x.energy_pJ for x in ours.levels if x.name == lv.name), 0.0)
            if not _close(mine, lv.energy_pJ, 9):
                bad.append(f"{lv.name}: energy {mine} vs {lv.energy_pJ}")
            continue
        m = ours.level(lv.name)
        if not _close(m.energy_pJ, lv.energy_pJ, max(1, len(lv.dataspaces))):
            bad.append(f"{lv.name}: energy {m.energy_pJ} vs {lv.energy_pJ}")
        if lv.kind == "storage" and m.cycles != lv.cycles:
            bad.append(f"{lv.name}: cycles {m.cycles} vs {lv.cycles}")
        for ds, s in lv.dataspaces.items():
            md = m.dataspaces[ds]
            if not _close(md.energy_pJ, s.energy_pJ, 3):
                bad.append(f"{lv.name}.{ds}: energy {md.energy_pJ} vs {s.energy_pJ}")
            for f in _COUNTS:
                if getattr(md, f) != getattr(s, f):
                    bad.append(f"{lv.name}.{ds}.{f}: {getattr(md, f)} vs {getattr(s, f)}")
    assert not bad, "\n".join(bad)
