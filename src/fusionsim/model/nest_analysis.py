"""Per-level, per-dataspace tile sizes and access counts of a loop nest, as Timeloop v1.0's nest analysis and
tile collapse compute them (nest-analysis.cpp, tiling.cpp), in closed form.

Timeloop simulates iterations #0 and #1 of every temporal loop (#1 weighted by n-1) and keeps, per loop, the
last working-set box; the delta a child level receives is the new box minus the last one, with a sliding-window
slab only when exactly one dimension moves and the slide keeps its direction (RESET_ON_GRADIENT_CHANGE). The
sequence of child boxes is a binary counter over the temporal loops above the child, so the weighted delta sum
follows a short recursion memoised on the gradient state (`_delta_sum`), instead of a simulation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from fusionsim.spec.arch import Arch
from fusionsim.spec.mapping import Mapping
from fusionsim.spec.problem import Problem

# Gradient states: None = no gradient; (p, sign) = sliding along dataspace dimension p.
_ZERO = None


@dataclass
class LoopInfo:
    dim: int
    bound: int
    spatial: bool
    level: int


@dataclass
class TileStats:
    """One (storage level, dataspace) after tile collapse and bypass masking (per instance)."""

    size: int = 0
    partition: int = 0
    content: int = 0  # content accesses: words the level delivers to its children
    fills: int = 0
    replication: int = 1
    accesses: dict[int, int] = field(default_factory=dict)  # multicast factor -> accesses
    scatter: dict[int, int] = field(default_factory=dict)  # multicast factor -> scatter factor
    fanout: int = 1
    kept: bool = True


@dataclass
class NestResult:
    tiles: list[list[TileStats]]  # [storage level][dataspace]
    compute_cycles: int
    macs: int
    arith_utilized: int


def build_loops(mapping: Mapping, problem: Problem) -> list[LoopInfo]:
    """The loop nest innermost first: per storage level its spatial loops, then its temporal loops."""
    loops: list[LoopInfo] = []
    for k, lv in enumerate(mapping.levels):
        for lp in lv.spatial:
            loops.append(LoopInfo(problem.dims.index(lp.dim), lp.bound, True, k))
        for lp in lv.temporal:
            loops.append(LoopInfo(problem.dims.index(lp.dim), lp.bound, False, k))
    return loops


def _box_widths(problem: Problem, ds: int, extents: list[int]) -> tuple[int, ...]:
    return tuple(sum(abs(c) * (extents[d] - 1) for c, d in terms) + 1 for terms in problem.dataspaces[ds].projection)


def analyse_nest(arch: Arch, problem: Problem, mapping: Mapping) -> NestResult:
    """Collapsed, masked tiles for every storage level and dataspace."""
    nd = len(problem.dims)
    nlev = len(mapping.levels)
    loops = build_loops(mapping, problem)
    # scale of each loop: product of bounds of the loops strictly inside it over the same dimension
    run = [1] * nd
    scales = []
    for lp in loops:
        scales.append(run[lp.dim])
        run[lp.dim] *= lp.bound
    # mold extents at each level's outermost loop, and at its master spatial loop
    extents: list[list[int]] = []
    master_extents: list[list[int] | None] = []
    cur = [1] * nd
    for k in range(nlev):
        lv_loops = [lp for lp in loops if lp.level == k]
        sp = [lp for lp in lv_loops if lp.spatial]
        for lp in sp:
            cur[lp.dim] *= lp.bound
        master_extents.append(list(cur) if sp else None)
        for lp in lv_loops:
            if not lp.spatial:
                cur[lp.dim] *= lp.bound
        extents.append(list(cur))
    compute_cycles = math.prod(lp.bound for lp in loops if not lp.spatial)
    arith_ui = math.prod(lp.bound for lp in loops if lp.spatial)
    temporal_idx = [i for i, lp in enumerate(loops) if not lp.spatial]

    tiles: list[list[TileStats]] = []
    for k in range(nlev):
        spatial_k = [(i, lp) for i, lp in enumerate(loops) if lp.level == k and lp.spatial]
        replication = math.prod(lp.bound for lp in loops if lp.spatial and lp.level > k)
        above = [i for i in temporal_idx if loops[i].level >= k]
        row = []
        for ds in range(len(problem.dataspaces)):
            t = TileStats(replication=replication)
            t.size = math.prod(_box_widths(problem, ds, extents[k]))
            if k == 0:
                total = compute_cycles
            else:
                total = _temporal_deltas(problem, ds, extents[k - 1], loops, scales, above)
            if spatial_k:
                groups = _multicast_groups(problem, ds, spatial_k, scales, nd)
                t.fanout = math.prod(lp.bound for _, lp in spatial_k)
                for m, count in groups.items():
                    t.accesses[m] = total * count
                    t.scatter[m] = count
            else:
                t.accesses[1] = total
                t.scatter[1] = 1
            t.content = sum(t.accesses.values())
            row.append(t)
        tiles.append(row)

    nds = len(problem.dataspaces)
    for ds in range(nds):
        col = [tiles[k][ds] for k in range(nlev)]
        # partition sizes, outer to inner
        part = col[-1].size
        col[-1].partition = part
        for k in range(nlev - 2, -1, -1):
            me = master_extents[k + 1]
            den = math.prod(_box_widths(problem, ds, me)) if me is not None else col[k].size
            part = part * col[k].size // den
            col[k].partition = part
        # fills from the next level's deliveries (before masking)
        for k in range(nlev - 1):
            outer = col[k + 1]
            col[k].fills = sum(a // outer.scatter[m] for m, a in outer.accesses.items() if a)
        # bypass masking, inner to outer
        name = problem.dataspaces[ds].name
        for k in range(nlev):
            kept = name in mapping.levels[k].keep
            col[k].kept = kept
            if kept or col[k].size == 0:
                continue
            if k == nlev - 1:
                col[k].size = col[k].partition = col[k].content = col[k].fills = 0
                col[k].accesses, col[k].scatter = {}, {}
                continue
            outer = col[k + 1]
            new_acc, new_sc, content = {}, {}, 0
            for m, a in outer.accesses.items():
                if a:
                    sc = outer.scatter[m]
                    new_acc[m] = col[k].content * sc
                    new_sc[m] = sc
                    content += col[k].content * sc
            outer.accesses, outer.scatter, outer.content = new_acc, new_sc, content
            col[k].size = col[k].partition = col[k].content = col[k].fills = 0
    return NestResult(tiles, compute_cycles, compute_cycles * arith_ui, arith_ui)


def _project(problem: Problem, ds: int, offsets: np.ndarray) -> np.ndarray:
    """Project problem-space offsets (..., nd) onto the dataspace's dimensions (..., ndim_ds)."""
    proj = problem.dataspaces[ds].projection
    mat = np.zeros((len(proj), len(problem.dims)), dtype=np.int64)
    for p, terms in enumerate(proj):
        for c, d in terms:
            mat[p, d] += c
    return offsets @ mat.T


def _multicast_groups(problem: Problem, ds: int, spatial: list, scales: list[int], nd: int) -> dict[int, int]:
    """Children of a spatial run grouped by identical delta boxes: {multicast factor: number of groups}."""
    bounds = [lp.bound for _, lp in spatial]
    grid = np.indices(bounds).reshape(len(bounds), -1).T  # children x loops
    offsets = np.zeros((grid.shape[0], nd), dtype=np.int64)
    for j, (i, lp) in enumerate(spatial):
        offsets[:, lp.dim] += grid[:, j] * scales[i]
    projected = _project(problem, ds, offsets)
    _, counts = np.unique(projected, axis=0, return_counts=True)
    sizes, n = np.unique(counts, return_counts=True)
    return {int(s): int(c) for s, c in zip(sizes, n)}


def _temporal_deltas(problem: Problem, ds: int, child_extents: list[int], loops: list[LoopInfo],
                     scales: list[int], above: list[int]) -> int:
    """Words delivered to one child instance over the whole run: Σ over simulated iterations of |delta|."""
    widths = _box_widths(problem, ds, child_extents)
    tile = math.prod(widths)
    active = [i for i in above if loops[i].bound > 1]
    if not active:
        return tile
    nd = len(problem.dims)
    # translation of the child box (in dataspace coordinates) for a carry at each active loop
    offs = np.zeros((len(active), nd), dtype=np.int64)
    for j, i in enumerate(active):
        offs[j, loops[i].dim] += scales[i]
        for i2 in active[:j]:
            offs[j, loops[i2].dim] -= scales[i2]
    moves = _project(problem, ds, offs)
    trans = []
    for j in range(len(active)):
        trans.append(_transition(tuple(int(x) for x in moves[j]), widths, tile))
    bounds = tuple(loops[i].bound for i in active)
    return tile + _delta_sum(tuple(trans), bounds, tile)


def _transition(move: tuple[int, ...], widths: tuple[int, ...], tile: int) -> tuple[int, object, bool]:
    """Box difference of a translated box: (delta size, gradient, is_zero_delta_without_gradient)."""
    nz = [p for p, v in enumerate(move) if v]
    if not nz:
        return 0, _ZERO, True
    if any(abs(move[p]) >= widths[p] for p in nz) or len(nz) >= 2:
        return tile, _ZERO, False
    p = nz[0]
    return tile // widths[p] * abs(move[p]), (p, 1 if move[p] > 0 else -1), False


def _delta_sum(trans: tuple, bounds: tuple[int, ...], tile: int) -> int:
    """Weighted delta sum of the binary-counter leaf sequence with the gradient-reset rule (memoised)."""

    @cache
    def apply(j: int, state: object) -> tuple[int, object]:
        size, grad, empty = trans[j]
        if state is _ZERO:
            return size, grad
        if grad is _ZERO and empty:
            return 0, _ZERO
        if grad == state:
            return size, grad
        return tile, _ZERO

    @cache
    def subtree(j: int, state: object) -> tuple[int, object]:
        if j < 0:
            return 0, state
        a, sa = subtree(j - 1, state)
        d, sb = apply(j, sa)
        c, sc = subtree(j - 1, sb)
        return a + (bounds[j] - 1) * (d + c), sc

    return subtree(len(bounds) - 1, _ZERO)[0]
