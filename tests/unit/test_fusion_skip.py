"""Skipped cost-table entries (fusion/skip.py): the search on the reduced tables finds the plan of the full ones;
per-entry lower bounds stay below what the real mapper finds."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from tests.unit.test_fusion_benchmark_stage import ACCEL, layers_of, setup
from tests.unit.test_fusion_search import random_case

from fusionsim.fusion import benchmark_stage as bs
from fusionsim.fusion import skip
from fusionsim.fusion.search import search_exact
from fusionsim.fusion.tables import TYPES, CostTables, LayerShape
from fusionsim.fusion.workload import build_workload
from fusionsim.spec.arch import load_arch
from fusionsim.spec.ert import load_ert


def restrict(tables: CostTables, needed: set[skip.Entry]) -> CostTables:
    def cut(tabs: dict) -> dict:
        return {kind: {lay: {w: v for w, v in row.items() if (kind, lay - 1, w) in needed}
                       for lay, row in tab.items()} for kind, tab in tabs.items()}

    return CostTables(cut(tables.energy), cut(tables.cycles) if tables.cycles else None)


def plan_key(plan) -> tuple:
    return tuple((s.start, s.end, tuple(s.tile_widths), tuple(s.cached_weights)) for s in plan.stacks)


def residual_random_case(seed: int):
    """A random residual network: 5 equal-width layers, layer 3 adds layer 0 and layer 4 adds layer 2."""
    rng = random.Random(seed)
    width, chans = rng.randint(4, 7), rng.randint(2, 6)
    shapes = [LayerShape(f"r{i}", Path(f"r{i}.yaml"), chans, chans, width, rng.choice([1, 3])) for i in range(5)]
    energy = {k: {i + 1: {} for i in range(5)} for k in TYPES}
    for i in range(5):
        for w in range(1, width + 1):
            for kind in TYPES:
                energy[kind][i + 1][w] = rng.uniform(0.5, 3) * w * w + rng.uniform(0, 10)
    _, _, levels = random_case(seed, 3)
    return build_workload(shapes, adds={3: [0], 4: [2]}), CostTables(energy), levels


def check_same_plan(workload, tables, levels, objective, lower=None) -> skip.SkipPlan:
    plan = skip.plan_skips(workload, levels, lower=lower, tables=tables if lower else None, objective=objective)
    assert plan.needed >= skip.baseline_entries(workload)
    full = search_exact(workload, tables, levels, objective)
    reduced = search_exact(workload, restrict(tables, plan.needed), levels, objective)
    assert plan_key(reduced) == plan_key(full)
    assert reduced.fused_uJ == pytest.approx(full.fused_uJ, rel=1e-9)
    return plan


@pytest.mark.parametrize("seed", range(24))
def test_unused_entries_do_not_change_the_plan(seed: int) -> None:
    shapes, tables, levels = random_case(seed, 3 + seed % 3)
    objective = ("energy", "latency", "edp")[seed % 3]
    check_same_plan(build_workload(shapes), tables, levels, objective)


@pytest.mark.parametrize("seed", range(24))
def test_bound_skips_do_not_change_the_plan(seed: int) -> None:
    if seed % 2:
        workload, tables, levels = residual_random_case(seed)
    else:
        shapes, tables, levels = random_case(seed, 3 + seed % 3)
        workload = build_workload(shapes)
    rng = random.Random(seed)
    lower = CostTables({k: {lay: {w: v * rng.uniform(0.3, 1.0) for w, v in row.items()} for lay, row in t.items()}
                        for k, t in tables.energy.items()})
    plan = check_same_plan(workload, tables, levels, "energy", lower)
    assert set(plan.skipped.values()) <= {"unused", "bound"}


def test_bounds_at_the_real_entries_skip_every_option_but_the_single_layers() -> None:
    """Lower bounds equal to the real entries and a stack always dearer than its layers: only the baseline
    and the entries of options that tie or win are kept, and the plan does not change."""
    shapes, tables, levels = random_case(3, 4)
    workload = build_workload(shapes)
    plan = check_same_plan(workload, tables, levels, "energy", lower=tables)
    assert "bound" in plan.counts() or "unused" in plan.counts()


def test_describe_lists_ranges_per_type_and_layer() -> None:
    lines = skip.describe([["Start", 2, 1, "unused"], ["Start", 2, 2, "unused"], ["Start", 2, 5, "unused"],
                           ["WCC", 1, 3, "bound"]], 10)
    assert lines[0].startswith("4 of 10 table entries not computed")
    assert any("Start layer 2: 1-2,5" in x for x in lines)
    assert any("skipped 1 (bound" in x and "WCC layer 1: 3" in x for x in lines)


def test_lower_bounds_are_below_the_mapper_results(tmp_path: Path) -> None:
    """Real tiles of AlexNet's conv5 (every type, widths 1 and 2) mapped by our mapper: each one's energy is at
    least its MAC + unavoidable DRAM lower bound, and the DRAM part of the bound is below the DRAM energy."""
    layers = layers_of([(384, 256, 13, 3, 1)])
    jobs = bs.plan_jobs(layers, setup(tmp_path), tiles=[1, 2])
    arch = load_arch(ACCEL / "arch.yaml", ACCEL / "components")
    ert = load_ert(ACCEL / "ERT.yaml")
    mac, per_word = skip.dram_prices(arch, ert, "DRAM")
    from fusionsim.spec.problem import parse_problem

    for job in jobs:
        res = bs.run_job(job, setup(tmp_path))
        prob = parse_problem(job.problem)
        lower = skip.entry_lower_bound(prob, job.dram_keep, mac, per_word)
        assert 0 < lower <= res["energy_uJ"]
        dram_only = lower - prob.macs * mac * 1e-6
        assert dram_only <= res["levels_pJ"].get("DRAM", 0.0) * 1e-6 * (1 + 1e-12)
