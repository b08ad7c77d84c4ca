"""Conformance of the native engine with real Timeloop v1.0: every shared reference case's own mapping,
evaluated with the case's ERT and flattened arch, against the case's stats.txt (totals, per level, per
dataspace counts). Prints the worst cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusionsim.model.evaluate import evaluate_files
from fusionsim.timeloop.stats_reader import read_stats


def _cases(root: Path) -> list[Path]:
    out = []
    for stats in sorted(root.rglob("output/timeloop-mapper.stats.txt")):
        case = stats.parent.parent
        if list(case.glob("prob/*.yaml")) and (stats.parent / "timeloop-mapper.map.txt").exists():
            out.append(case)
    return out


def _evaluate(case: Path):
    out = case / "output"
    prob = sorted(case.glob("prob/*.yaml"))[0]
    ours = evaluate_files(out / "timeloop-mapper.flattened_architecture.yaml", prob,
                          out / "timeloop-mapper.map.txt", out / "timeloop-mapper.ERT.yaml")
    return ours, read_stats(out / "timeloop-mapper.stats.txt")


def test_every_reference_case_matches_timeloop(timeloop_ref: Path) -> None:
    cases = _cases(timeloop_ref)
    assert len(cases) > 200, f"expected the 221 reference cases, found {len(cases)}"
    rows = []
    count_mismatches = []
    for case in cases:
        ours, ref = _evaluate(case)
        err = abs(ours.energy_pJ - ref.energy_pJ) / ref.energy_pJ
        lvl_err = 0.0
        for lv in ref.levels:
            if lv.kind == "network":
                assert lv.energy_pJ == 0.0, "reference networks never cost energy in v1.0 runs"
                continue
            mine = ours.level(lv.name)
            if lv.energy_pJ > 0:
                lvl_err = max(lvl_err, abs(mine.energy_pJ - lv.energy_pJ) / lv.energy_pJ)
            else:
                lvl_err = max(lvl_err, abs(mine.energy_pJ))
            for ds, s in lv.dataspaces.items():
                m = mine.dataspaces[ds]
                for f in ("reads", "fills", "updates", "temporal_reductions", "utilized_capacity",
                          "utilized_instances", "partition_size"):
                    if getattr(m, f) != getattr(s, f):
                        count_mismatches.append(f"{case.relative_to(timeloop_ref)} {lv.name}.{ds}.{f}: "
                                                f"{getattr(m, f)} vs {getattr(s, f)}")
        rows.append((err, lvl_err, ours.cycles, ref.cycles, case.relative_to(timeloop_ref)))
    rows.sort(key=lambda r: -max(r[0], r[1]))
    print("\nworst cases (total energy error, worst per-level error, cycles ours/Timeloop):")
    for err, lerr, c, rc, case in rows[:10]:
        print(f"  {err:9.5%}  {lerr:9.5%}  {c:>9} / {rc:<9} {case}")
    within_half = sum(r[0] <= 0.005 and r[2] == r[3] for r in rows)
    print(f"{within_half}/{len(rows)} within 0.5% total energy with exact cycles; "
          f"{len(count_mismatches)} per-dataspace count mismatches")
    assert all(r[2] == r[3] for r in rows), "cycles must match exactly"
    assert within_half / len(rows) >= 0.95
    assert max(r[0] for r in rows) <= 0.02
    assert max(r[1] for r in rows) <= 0.01
    assert not count_mismatches, "\n".join(count_mismatches[:20])


@pytest.mark.parametrize("rel", ["fusionet/cifar10/bottlenecks/baseline/b1/conv",
                                 "fusionet/cifar10/bottlenecks/baseline/b1/comp"])
def test_worked_examples_of_the_reading_guide(timeloop_ref: Path, rel: str) -> None:
    """The two hand-derived examples of the reading guide, number by number."""
    ours, ref = _evaluate(timeloop_ref / "fusion-timeloop-model" / rel)
    assert ours.macs == ref.macs
    assert ours.cycles == ref.cycles
    assert ours.energy_pJ == pytest.approx(ref.energy_pJ, rel=1e-9)
    if rel.endswith("conv"):
        glb = ours.level("shared_glb").dataspaces
        assert glb["Inputs"].utilized_capacity == 340 and glb["Inputs"].reads == 3264
        assert ours.level("ifmap_spad").dataspaces["Inputs"].partition_size == 115
        assert ours.level("DRAM").dataspaces["Weights"].reads == 540


def test_tree_form_arch_with_components_gives_the_same_numbers(timeloop_ref: Path) -> None:
    """The v0.3 tree-form arch (with its components/ folder) evaluates like the flattened file that ran."""
    acc = timeloop_ref / "fusion-timeloop-model/accelerator/baseline"
    cases = [c for c in _cases(timeloop_ref) if "baseline" in c.parts][:40]
    assert cases
    for case in cases:
        out = case / "output"
        prob = sorted(case.glob("prob/*.yaml"))[0]
        flat = evaluate_files(out / "timeloop-mapper.flattened_architecture.yaml", prob,
                              out / "timeloop-mapper.map.txt", out / "timeloop-mapper.ERT.yaml")
        tree = evaluate_files(acc / "arch.yaml", prob, out / "timeloop-mapper.map.txt",
                              out / "timeloop-mapper.ERT.yaml", components=acc / "components")
        assert (tree.energy_pJ, tree.cycles) == (flat.energy_pJ, flat.cycles), case
