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
from fusionsim.fusion.plan import BufferLevels, Level
from fusionsim.fusion.search import search_exact
from fusionsim.fusion.tables import TYPES, CostTables, LayerShape
from fusionsim.fusion.workload import build_workload
from fusionsim.spec.arch import load_arch
from fusionsim.spec.ert import load_ert


def roomy(seed: int, levels: BufferLevels) -> BufferLevels:
    """The case's levels, or (every other seed) levels large enough for many stacks to fit and fuse."""
    big = 10 ** (3 + seed % 3)
    return levels if seed % 2 else BufferLevels(Level("W", big), Level("G", big), Level("G", big))


def restrict(tables: CostTables, needed: set[skip.Entry]) -> CostTables:
    def cut(tabs: dict) -> dict:
        return {kind: {lay: {w: v for w, v in row.items() if (kind, lay - 1, w) in needed}
                       for lay, row in tab.items()} for kind, tab in tabs.items()}

    return CostTables(cut(tables.energy), cut(tables.cycles) if tables.cycles else None)


def plan_key(plan) -> tuple:
    return tuple((s.start, s.end, tuple(s.tile_widths), tuple(s.cached_weights)) for s in plan.stacks)


def residual_random_case(seed: int, residual: bool = True):
    """A random residual network: 5 equal-width layers, layer 3 adds layer 0 and layer 4 adds layer 2 (a plain
    chain without `residual`)."""
    rng = random.Random(seed)
    width, chans = rng.randint(4, 7), rng.randint(2, 6)
    shapes = [LayerShape(f"r{i}", Path(f"r{i}.yaml"), chans, chans, width, rng.choice([1, 3])) for i in range(5)]
    energy = {k: {i + 1: {} for i in range(5)} for k in TYPES}
    for i in range(5):
        for w in range(1, width + 1):
            for kind in TYPES:
                energy[kind][i + 1][w] = rng.uniform(0.5, 3) * w * w + rng.uniform(0, 10)
    _, _, levels = random_case(seed, 3)
    return build_workload(shapes, adds={3: [0], 4: [2]} if residual else None), CostTables(energy), levels


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
    objective = ("energy", "latency", "edp")[seed % 3]
    if seed % 2:
        shapes, tables, levels = random_case(seed, 3 + seed % 3)
        workload = build_workload(shapes)
    else:
        workload, tables, levels = residual_random_case(seed, residual=seed % 4 == 0)
        tables.cycles = {k: {lay: {w: v * 3 + 1 for w, v in row.items()} for lay, row in t.items()}
                         for k, t in tables.energy.items()}
    check_same_plan(workload, tables, roomy(seed // 2, levels), objective)


@pytest.mark.parametrize("seed", range(24))
def test_bound_skips_do_not_change_the_plan(seed: int) -> None:
    if seed % 3 == 2:
        shapes, tables, levels = random_case(seed, 3 + seed % 3)
        workload = build_workload(shapes)
    else:
        workload, tables, levels = residual_random_case(seed, residual=seed % 3 == 0)
    levels = roomy(seed // 3, levels)
    rng = random.Random(seed)
    lower = CostTables({k: {lay: {w: v * rng.uniform(0.3, 1.0) for w, v in row.items()} for lay, row in t.items()}
                        for k, t in tables.energy.items()})
    plan = check_same_plan(workload, tables, levels, "energy", lower)
    assert set(plan.skipped.values()) <= {"unused", "bound"}


def test_bounds_at_the_real_entries_skip_every_option_but_the_single_layers() -> None:
    """Lower bounds equal to the real entries and fused types ten times dearer than SLC: every fused option
    costs more than its single layers, so rule *bound* skips every entry some option that fits reads; the
    plan (all single layers) does not change."""
    bound = 0
    for seed in range(8):
        workload, tables, levels = residual_random_case(seed, residual=seed % 2 == 0)
        levels = roomy(seed, levels)
        for kind in TYPES[1:]:
            tables.energy[kind] = {lay: {w: 10 * v for w, v in row.items()} for lay, row in tables.energy[kind].items()}
        plan = check_same_plan(workload, tables, levels, "energy", lower=tables)
        assert plan.needed == skip.baseline_entries(workload)
        bound += plan.counts().get("bound", 0)
    assert bound > 0


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


def test_benchmark_with_bound_skipping_gives_the_full_tables_plan(tmp_path: Path) -> None:
    """AlexNet conv3-conv5 (13x13, 3x3 same convs) at widths 1 and 13, mapped for real: the stage with rule
    *bound* maps fewer tiles, lists the skipped ones, and its tables give the full tables' plan and energy."""
    from fusionsim.fusion.plan import BufferLevels, Level
    from fusionsim.fusion.tables import load_tables
    from fusionsim.fusion.workload import load_workload

    mapper = tmp_path / "mapper.yaml"
    mapper.write_text("mapper: {optimization-metrics: [delay, energy], live-status: false, num-threads: 1, "
                      "timeout: 100, victory-condition: 10, algorithm: random-pruned, "
                      "max-permutations-per-if-visit: 4}\n")
    base = setup(tmp_path)
    quick = bs.BenchSetup(base.arch, base.ert, base.constraints, mapper, base.components)
    layers = layers_of([(256, 384, 13, 3, 1), (384, 384, 13, 3, 1), (384, 256, 13, 3, 1)])
    layer_dir = tmp_path / "layers"
    bs.write_layer_set(bs.LayerSet(tuple(layers), (None, 0, 1)), layer_dir)
    workload = load_workload(layer_dir)
    levels = BufferLevels(Level("PEWeightBuffer", 524288), Level("PEInputBuffer", 65536),
                          Level("PEAccuBuffer", 65536))
    full = bs.run_benchmark(layers, quick, tmp_path / "full", tiles=[1, 13])
    cut = bs.run_benchmark(layers, quick, tmp_path / "cut", tiles=[1, 13], skip="bound", workload=workload,
                           levels=levels)
    assert cut.jobs < full.jobs and cut.skipped and {e[3] for e in cut.skipped} <= {"unused", "bound"}
    assert bs.read_skipped(tmp_path / "cut" / "costs.json") == cut.skipped
    a = search_exact(workload, load_tables(tmp_path / "full"), levels)
    b = search_exact(workload, load_tables(tmp_path / "cut"), levels)
    assert plan_key(a) == plan_key(b) and b.fused_uJ == pytest.approx(a.fused_uJ, rel=1e-9)


def test_cli_bound_skipping_needs_the_energy_objective(tmp_path: Path) -> None:
    import subprocess
    import sys

    layer_dir = tmp_path / "layers"
    bs.write_layer_set(bs.LayerSet(tuple(layers_of([(8, 8, 4, 3, 1)])), (None,)), layer_dir)
    proc = subprocess.run([sys.executable, "-m", "fusionsim", "fusion-benchmark", "--layers", str(layer_dir),
                           "--accelerator", str(ACCEL), "--out", str(tmp_path / "out"), "--skip", "bound",
                           "--objective", "latency"], capture_output=True, text=True)
    assert proc.returncode == 2 and "--skip" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
