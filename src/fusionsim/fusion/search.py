"""Exact fusion-tiling search: dynamic programming over stack boundaries.

`Best[i] = min_s Best[s-1] + cost(s, i)`, where `cost(s, i)` is the best tiling and weight caching
of stack `s..i` (fusion.costs). Energy and latency add over stacks, so the scalar DP is exact; a stack
is skipped once even its relaxed cost cannot beat the incumbent. EDP does not add, so for `edp` each
prefix keeps its Pareto set of (energy, cycles) and the product is minimised at the end.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from fusionsim.errors import InputError
from fusionsim.fusion.costs import INF, CostOptions, StackCoster, StackOption
from fusionsim.fusion.plan import BufferLevels, FusionPlan, StackChoice
from fusionsim.fusion.tables import CostTables, LayerShape
from fusionsim.fusion.workload import Workload, build_workload

OBJECTIVES = ("energy", "latency", "edp")


def check_capacity(coster: StackCoster) -> None:
    """InputError when no two adjacent layers fit on chip even with 1x1 output tiles."""
    n = len(coster.w)
    smallest: tuple[int, str, int, int] | None = None
    for k in range(n - 1):
        ev = coster.evaluate(k, k + 1)
        if ev is None:
            continue
        if ev["fits"][0]:
            return
        for level, words in ev["peak"].items():
            over = int(words[0]) - coster.caps[level]
            if over > 0 and (smallest is None or over < smallest[3] - coster.caps[smallest[1]]):
                smallest = (k, level, int(words[0]), int(words[0]))
    if smallest is not None:
        k, level, words, _ = smallest
        raise InputError(f"capacity too small for any fused stack: layers {k}-{k + 1} with a 1x1 output tile "
                         f"need {words} words in {level}, which holds {coster.caps[level]}",
                         key=level, fix=f"give {level} at least {words} words")


def _scalar_dp(coster: StackCoster, n: int, objective: str) -> list[tuple[int, int, StackOption]]:
    best, back = [INF] * n, [None] * n
    for i in range(n):
        for s in range(i + 1):
            prev = best[s - 1] if s else 0.0
            if prev == INF:
                continue
            opts = coster.options(s, i, best[i] - prev)
            if opts and prev + opts[0].key(objective) < best[i]:
                best[i], back[i] = prev + opts[0].key(objective), (s, opts[0])
    if back[n - 1] is None:
        raise InputError("no feasible schedule: every stack is over capacity or lacks table entries")
    out, i = [], n - 1
    while i >= 0:
        s, opt = back[i]
        out.append((s, i, opt))
        i = s - 1
    return out[::-1]


def _edp_dp(coster: StackCoster, n: int) -> list[tuple[int, int, StackOption]]:
    fronts: list[list[tuple[float, float, tuple]]] = []  # per prefix: (energy, cycles, back-pointer)
    for i in range(n):
        cand = []
        for s in range(i + 1):
            prevs = fronts[s - 1] if s else [(0.0, 0.0, None)]
            for opt in coster.options(s, i):
                cand += [(pe + opt.energy_uJ, pc + opt.cycles, (s, opt, p)) for pe, pc, p in [
                    (pe, pc, idx) for idx, (pe, pc, _) in enumerate(prevs)]]
        cand.sort(key=lambda c: (c[0], c[1]))
        front = []
        for c in cand:
            if not front or c[1] < front[-1][1]:
                front.append(c)
        fronts.append(front)
    if not fronts[-1]:
        raise InputError("no feasible schedule: every stack is over capacity or lacks table entries")
    node = min(fronts[-1], key=lambda c: c[0] * c[1])
    out, i = [], n - 1
    while i >= 0:
        s, opt, idx = node[2]
        out.append((s, i, opt))
        i = s - 1
        node = fronts[i][idx] if i >= 0 else None
    return out[::-1]


def _reason(coster: StackCoster, left: tuple, right: tuple, objective: str) -> str:
    s, e = left[0], right[1]
    if not coster.w.layers[right[0]].fusable:
        return f"layer {right[0]} does not read layer {right[0] - 1}'s output as modelled"
    merged = coster.options(s, e) if objective != "edp" else []
    if objective == "edp":
        return "split chosen by the EDP Pareto search"
    if not merged:
        return f"stack {s}-{e} does not fit on chip (or its table widths are missing)"
    extra = merged[0].key(objective) - left[2].key(objective) - right[2].key(objective)
    unit = "uJ" if objective == "energy" else "cycles"
    return f"fusing {s}-{e} would cost {extra:.4g} {unit} more"


def search_exact(workload: Workload, tables: CostTables, levels: BufferLevels, objective: str = "energy",
                 options: CostOptions | None = None) -> FusionPlan:
    """Optimal partition, tiling and weight caching of `workload` for `objective`."""
    if objective not in OBJECTIVES:
        raise InputError(f"unknown objective {objective!r}", key="--objective", fix=" or ".join(OBJECTIVES))
    if objective != "energy" and tables.cycles is None:
        raise InputError(f"the {objective} objective needs cycle tables", file=tables.file("SLC"),
                         key="Cycles", fix="give <TYPE>_cycles.json files or {\"Energy\":..., \"Cycles\":...} tables")
    t0 = time.perf_counter()
    coster = StackCoster(workload, tables, levels, objective, options)
    n = len(workload)
    if n > 1:
        check_capacity(coster)
    chosen = _edp_dp(coster, n) if objective == "edp" else _scalar_dp(coster, n, objective)
    stacks = []
    for idx, (s, e, opt) in enumerate(chosen):
        widths, heights = coster.tile_grid(e, opt.tile)
        reason = _reason(coster, chosen[idx - 1], chosen[idx], objective) if idx else ""
        stacks.append(StackChoice(s, e, widths, list(opt.cached), opt.energy_uJ,
                                  opt.cycles if tables.cycles else None, heights, reason))
    singles = [coster.single(k) for k in range(n)]
    has_cycles = tables.cycles is not None
    plan = FusionPlan(stacks, sum(st.energy_uJ for st in stacks), sum(o.energy_uJ for o in singles), "exact",
                      objective, 0.0,
                      sum(o.cycles for _, _, o in chosen) if has_cycles else None,
                      sum(o.cycles for o in singles) if has_cycles else None, list(workload.notes))
    plan.seconds = time.perf_counter() - t0
    return plan


def search_chain(tables: CostTables, shapes: Sequence[LayerShape], levels: BufferLevels,
                 objective: str = "energy", options: CostOptions | None = None) -> FusionPlan:
    """Exact search on a plain chain of layers (layer i reads layer i-1)."""
    return search_exact(build_workload(shapes), tables, levels, objective, options)
