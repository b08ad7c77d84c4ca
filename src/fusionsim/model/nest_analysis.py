"""Per-level, per-dataspace tile sizes and access counts of a loop nest, as Timeloop v1.0's nest analysis and
tile collapse compute them (nest-analysis.cpp, tiling.cpp), in closed form.

Timeloop simulates iterations #0 and #1 of every temporal loop (#1 weighted by n-1) and keeps, per loop, the
last working-set box; the delta a child level receives is the new box minus the last one, with a sliding-window
slab only when exactly one dimension moves and the slide keeps its direction (RESET_ON_GRADIENT_CHANGE). The
sequence of child boxes is a binary counter over the temporal loops above the child, so the weighted delta sum
follows a short recursion memoised on the gradient state (`_delta_sum`), instead of a simulation."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import lru_cache

from fusionsim.spec.arch import Arch
from fusionsim.spec.mapping import Mapping
from fusionsim.spec.problem import Problem

# Gradient states: None = no gradient; (p, sign) = sliding along dataspace dimension p.
_ZERO = None


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


@dataclass
class NestResult:
    tiles: list[list[TileStats]]  # [storage level][dataspace]
    compute_cycles: int
    macs: int
    arith_utilized: int


Proj = tuple[tuple[tuple[int, int], ...], ...]  # per dataspace dimension: (coefficient, problem dim) terms


@lru_cache(maxsize=1 << 16)
def _box_widths(proj: Proj, extents: tuple[int, ...]) -> tuple[int, ...]:
    """Bounding-box widths of a dataspace tile for the given problem-space extents."""
    return tuple(sum(abs(c) * (extents[d] - 1) for c, d in terms) + 1 for terms in proj)


def analyse_nest(arch: Arch, problem: Problem, mapping: Mapping) -> NestResult:
    """Collapsed, masked tiles for every storage level and dataspace."""
    nd = len(problem.dims)
    nlev = len(mapping.levels)
    dim_index = {d: i for i, d in enumerate(problem.dims)}
    # one pass inner to outer: loop scales (product of the bounds inside over the same dim), mold extents at
    # each level's outermost loop and master spatial loop, and per-level loop signatures
    run = [1] * nd
    extents: list[tuple[int, ...]] = []
    master_extents: list[tuple[int, ...] | None] = []
    spatial_sigs: list[tuple[tuple[int, int, int], ...]] = []
    temporal_sigs: list[list[tuple[int, int, int]]] = []
    compute_cycles = arith_ui = 1
    for lv in mapping.levels:
        sig = []
        for lp in lv.spatial:
            d = dim_index[lp.dim]
            sig.append((d, lp.bound, run[d]))
            run[d] *= lp.bound
            arith_ui *= lp.bound
        spatial_sigs.append(tuple(sig))
        master_extents.append(tuple(run) if sig else None)
        tsig = []
        for lp in lv.temporal:
            d = dim_index[lp.dim]
            if lp.bound > 1:
                tsig.append((d, lp.bound, run[d]))
            run[d] *= lp.bound
            compute_cycles *= lp.bound
        temporal_sigs.append(tsig)
        extents.append(tuple(run))
    fanouts = [math.prod(b for _, b, _ in sig) for sig in spatial_sigs]

    tiles: list[list[TileStats]] = []
    for k in range(nlev):
        replication = math.prod(fanouts[k + 1:])
        above_sig = tuple(x for j in range(k, nlev) for x in temporal_sigs[j])
        spatial_sig = spatial_sigs[k]
        row = []
        for ds in range(len(problem.dataspaces)):
            t = TileStats(replication=replication)
            proj = problem.projections[ds]
            t.size = math.prod(_box_widths(proj, extents[k]))
            if k == 0:
                total = compute_cycles
            elif problem.dataspaces[ds].name not in mapping.levels[k - 1].keep:
                # the child bypasses ds: masking replaces these accesses by the child's content, keeping only
                # which multicast factors are nonzero (all of them, as a real delta sum is >= 1)
                total = 1
            else:
                total = _temporal_deltas(proj, _box_widths(proj, extents[k - 1]), above_sig)
            if spatial_sig:
                groups = _multicast_groups(proj, spatial_sig)
                t.fanout = fanouts[k]
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
            den = math.prod(_box_widths(problem.projections[ds], me)) if me is not None else col[k].size
            part = part * col[k].size // den
            col[k].partition = part
        # fills from the next level's deliveries (before masking)
        for k in range(nlev - 1):
            outer = col[k + 1]
            col[k].fills = sum(a // outer.scatter[m] for m, a in outer.accesses.items() if a)
        # bypass masking, inner to outer
        name = problem.dataspaces[ds].name
        for k in range(nlev):
            if name in mapping.levels[k].keep or col[k].size == 0:
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


def _move(proj: Proj, offset: dict[int, int]) -> tuple[int, ...]:
    """Translation of a dataspace box for a problem-space offset {dim: amount}."""
    return tuple(sum(c * offset.get(d, 0) for c, d in terms) for terms in proj)


@lru_cache(maxsize=1 << 16)
def _multicast_groups(proj: Proj, spatial: tuple[tuple[int, int, int], ...]) -> dict[int, int]:
    """Children of a spatial run grouped by identical delta boxes: {multicast factor: number of groups}.
    `spatial` lists (dim, bound, scale) of the run's loops; a child's delta is child 0's translated by its
    projected offset, so equal projected offsets mean equal deltas."""
    counts: dict[tuple[int, ...], int] = {}
    for idx in itertools.product(*(range(b) for _, b, _ in spatial)):
        off: dict[int, int] = {}
        for (d, _, sc), i in zip(spatial, idx):
            off[d] = off.get(d, 0) + i * sc
        key = _move(proj, off)
        counts[key] = counts.get(key, 0) + 1
    groups: dict[int, int] = {}
    for m in counts.values():
        groups[m] = groups.get(m, 0) + 1
    return groups


@lru_cache(maxsize=1 << 10)
def _columns(proj: Proj, nd: int) -> tuple[tuple[int, ...], ...]:
    """Per problem dimension, its coefficient in each dataspace dimension."""
    cols = [[0] * len(proj) for _ in range(nd)]
    for p, terms in enumerate(proj):
        for c, d in terms:
            cols[d][p] += c
    return tuple(tuple(c) for c in cols)


@lru_cache(maxsize=1 << 16)
def _temporal_deltas(proj: Proj, widths: tuple[int, ...], above: tuple[tuple[int, int, int], ...]) -> int:
    """Words delivered to one child instance over the whole run: Σ over simulated iterations of |delta|.
    `above` lists (dim, bound, scale) of the temporal loops (bound > 1) above the child, innermost first."""
    tile = math.prod(widths)
    if not above:
        return tile
    nd = 1 + max(max(d for d, _, _ in above), max(d for terms in proj for _, d in terms))
    cols = _columns(proj, nd)
    npd = len(proj)
    back = [0] * npd  # projected offset of the inner loops at iteration #1, undone on a carry
    trans = []
    for d, _, sc in above:
        col = cols[d]
        move = tuple(col[p] * sc - back[p] for p in range(npd))
        trans.append(_transition(move, widths, tile))
        for p in range(npd):
            back[p] += col[p] * sc
    return tile + _delta_sum(tuple(trans), tuple(b for _, b, _ in above), tile)


def _transition(move: tuple[int, ...], widths: tuple[int, ...], tile: int) -> tuple[int, object, bool]:
    """Box difference of a translated box: (delta size, gradient, is_zero_delta_without_gradient)."""
    nz = [p for p, v in enumerate(move) if v]
    if not nz:
        return 0, _ZERO, True
    if len(nz) >= 2 or abs(move[nz[0]]) >= widths[nz[0]]:
        return tile, _ZERO, False
    p = nz[0]
    return tile // widths[p] * abs(move[p]), (p, 1 if move[p] > 0 else -1), False


def _delta_sum(trans: tuple, bounds: tuple[int, ...], tile: int) -> int:
    """Weighted delta sum of the binary-counter leaf sequence under the gradient-reset rule: the subtree of
    loop j is iteration #0 of the loops inside it, the carry of loop j, then iteration #1 weighted n_j - 1."""
    memo: dict[tuple[int, object], tuple[int, object]] = {}

    def apply(j: int, state: object) -> tuple[int, object]:
        size, grad, empty = trans[j]
        if state is _ZERO:
            return size, grad
        if grad is _ZERO and empty:
            return 0, _ZERO
        if grad == state:
            return size, grad
        return tile, _ZERO

    def subtree(j: int, state: object) -> tuple[int, object]:
        if j < 0:
            return 0, state
        key = (j, state)
        if key in memo:
            return memo[key]
        a, sa = subtree(j - 1, state)
        d, sb = apply(j, sa)
        c, sc = subtree(j - 1, sb)
        memo[key] = out = (a + (bounds[j] - 1) * (d + c), sc)
        return out

    return subtree(len(bounds) - 1, _ZERO)[0]
