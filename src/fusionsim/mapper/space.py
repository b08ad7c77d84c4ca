"""The mapspace of one layer on one arch under constraints, as Timeloop v1.0's `Uber` mapspace defines it:
index factorisations over the tiling levels (per storage level a temporal level and, where the fanout is > 1,
a spatial level just inside it), loop permutations, spatial X/Y splits and keep/bypass choices.

Factorisations are enumerated depth-first from the innermost tiling level outwards, so a buffer whose tile
(summed over the dataspaces it must keep) overflows, or a spatial level whose X or Y fanout is exceeded, cuts
off every factorisation of the outer levels at once. Permutations only order the non-unit loops (unit loops
are dropped from the nest), the user's permutation prefix is innermost, and the X/Y split never changes the
cost (only labels), so one legal split is picked per factorisation."""

from __future__ import annotations

import functools
import itertools
import logging
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fusionsim.errors import InputError
from fusionsim.mapper.factor import divisors
from fusionsim.model import semantics_v1
from fusionsim.spec.arch import Arch
from fusionsim.spec.constraints import Constraints, validate_constraints
from fusionsim.spec.mapping import LevelMapping, Loop, Mapping
from fusionsim.spec.problem import Problem

log = logging.getLogger(__name__)

Factorization = tuple[tuple[int, ...], ...]  # [tiling level][dim] -> factor
MEMO_CAP = 2_000_000  # entries of the pure-function caches of one space before they are dropped
RANDOM_NODE_TRIES = 48  # children tried per node in a random dive when a level has more combinations
SHARED_MEMOS = 4  # memo dicts kept for spaces of equal structure (`MapSpace.memo_key`), least recent dropped
_SHARED_MEMOS: dict[tuple, dict[tuple, Any]] = {}


@dataclass(frozen=True)
class TilingLevel:
    """One tiling level: the temporal or spatial loops of one storage level."""

    storage: int
    spatial: bool
    name: str
    fanout_x: int = 1
    fanout_y: int = 1
    prefix: tuple[int, ...] = ()  # user permutation prefix (dim indices), innermost first
    split: int | None = None
    canonical: bool = False  # loop order not searched (innermost temporal level, as Timeloop)


@dataclass
class MapSpace:
    """Everything the search needs to enumerate, build and prune candidate mappings."""

    arch: Arch
    problem: Problem
    levels: list[TilingLevel]
    fixed: list[dict[int, int]]  # per tiling level: dim -> fixed factor
    maxf: list[dict[int, int]]  # per tiling level: dim -> max factor
    keep_forced: list[frozenset[str]]  # per storage level: dataspaces always kept
    keep_free: list[tuple[str, ...]]  # per storage level: dataspaces whose keep/bypass is searched
    min_utilization: float = 0.0
    temporal_of: list[int] = field(default_factory=list)  # storage level -> index of its temporal level
    source: str | None = None  # the constraint files, for error messages
    deepest: int = -1  # deepest tiling level the enumeration reached (diagnostics)
    prices: Any = None  # the engine's LevelPrices, set by the search (orders the energy-first stream)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, arch: Arch, problem: Problem, cons: Constraints) -> MapSpace:
        """Resolve the constraints against the arch and problem (names, `0` factors, clamping)."""
        names = arch.level_names()
        spatial_names = {lv.name for i, lv in enumerate(arch.storage) if arch.fanout(i) > 1}
        validate_constraints(cons, names, problem.dims, problem.dataspace_names(), spatial_names)
        dims = problem.dims
        levels: list[TilingLevel] = []
        fixed: list[dict[int, int]] = []
        maxf: list[dict[int, int]] = []
        temporal_of: list[int] = []
        for i, lv in enumerate(arch.storage):
            fx, fy = arch.fanout_xy(i)
            for spatial in ((True, False) if fx * fy > 1 else (False,)):
                lc = cons.level("spatial" if spatial else "temporal", lv.name)
                prefix = tuple(dims.index(d) for d in lc.permutation)
                canonical = (not spatial and not levels) and not prefix
                levels.append(TilingLevel(i, spatial, lv.name, fx, fy, prefix, lc.split if spatial else None,
                                          canonical))
                f: dict[int, int] = {}
                for d, v in lc.factors.items():
                    b = problem.bound(d)
                    if v == 0:
                        v = b
                    elif v > b:
                        log.warning("constraint %s=%d at %s exceeds the problem bound; using %d", d, v, lv.name, b)
                        v = b
                    f[dims.index(d)] = v
                fixed.append(f)
                maxf.append({dims.index(d): v for d, v in lc.max_factors.items()})
                if not spatial:
                    temporal_of.append(len(levels) - 1)
        # Timeloop: a fixed factor that does not divide what is left becomes a free variable (with a warning).
        for di, d in enumerate(dims):
            partial = 1
            for li, f in enumerate(fixed):
                if di in f:
                    if problem.bound(d) % (f[di] * partial) == 0:
                        partial *= f[di]
                    else:
                        log.warning("constraint %s=%d at %s does not divide %d with the factors already fixed; "
                                    "treating it as free (as Timeloop v1.0)", d, f[di], levels[li].name,
                                    problem.bound(d))
                        del f[di]
        ds_names = problem.dataspace_names()
        keep_forced, keep_free = [], []
        for i, lv in enumerate(arch.storage):
            forced, free = semantics_v1.mapper_keep_bits(ds_names, cons.keep.get(lv.name, set()),
                                                         cons.bypass.get(lv.name, set()),
                                                         outermost=i == len(arch.storage) - 1)
            keep_forced.append(forced)
            keep_free.append(free)
        space = cls(arch, problem, levels, fixed, maxf, keep_forced, keep_free,
                    float(cons.min_utilization or 0.0), temporal_of)
        space.source = ", ".join(cons.files) or None
        space._check_closed_dims()
        return space

    def deepest_level_name(self) -> str:
        """Where the enumeration got stuck: the tiling level no candidate could pass."""
        if self.deepest < 0:
            return "none"
        if self.deepest >= len(self.levels):
            return "all levels fit; the minimum utilization or the leftover factors failed"
        lv = self.levels[self.deepest]
        return f"{lv.name} ({'spatial' if lv.spatial else 'temporal'})"

    def _check_closed_dims(self) -> None:
        """A dimension fixed at every tiling level must multiply to its bound, else nothing can be valid."""
        for di, d in enumerate(self.problem.dims):
            if all(di in f for f in self.fixed):
                prod = math.prod(f[di] for f in self.fixed)
                if prod != self.problem.bound(d):
                    raise InputError(f"the constraints fix {d} at every level to a product of {prod}, but the "
                                     f"problem bound is {self.problem.bound(d)}: no mapping can satisfy them",
                                     file=self.source, key=f"factors.{d}", fix=f"leave {d} free at one level or use 0 (the whole "
                                                             "dimension)")

    # ------------------------------------------------------------------ tiles
    def tile_words(self, extents: list[int], ds: int) -> int:
        """Words of dataspace `ds` in a tile whose problem-space extents are `extents` (bounding box)."""
        n = 1
        for terms in self.problem.dataspaces[ds].projection:
            n *= sum(abs(c) * (extents[d] - 1) for c, d in terms) + 1
        return n

    def _fits(self, storage: int, extents: list[int], keep: frozenset[str]) -> bool:
        cap = self._caps[storage]
        if cap is None:
            return True
        key = (storage, tuple(extents), keep)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._fits_uncached(cap, extents, keep)
        return hit

    def _fits_uncached(self, cap: int, extents: list[int], keep: frozenset[str]) -> bool:
        used = 0
        for j, ds in enumerate(self.problem.dataspaces):
            if ds.name in keep:
                used += self._tile_words_cached(extents, j)
                if used > cap:
                    return False
        return True

    # ------------------------------------------------------------------ factorisations
    def _options(self, li: int, rem: list[int], later_fixed: list[list[int]], last_free: list[int]) -> list[list[int]]:
        """Per dimension, the factors level `li` may take given what is left to factor (memoised: the random
        dives of a large space revisit the same nodes many times; callers must not modify the lists)."""
        key = ("options", li, tuple(rem))
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._options_uncached(li, rem, later_fixed, last_free)
        return hit

    def _options_uncached(self, li: int, rem: list[int], later_fixed: list[list[int]],
                          last_free: list[int]) -> list[list[int]]:
        opts = []
        for di in range(len(self.problem.dims)):
            r = rem[di]
            if di in self.fixed[li]:
                opts.append([self.fixed[li][di]] if r % self.fixed[li][di] == 0 else [])
                continue
            need = later_fixed[li][di]
            if last_free[di] == li:
                f = r // need if r % need == 0 else 0
                cand = [f] if f >= 1 else []
            else:
                cand = [f for f in _divisors(r) if (r // f) % need == 0]
            mx = self.maxf[li].get(di)
            if mx is not None:
                cand = [f for f in cand if f <= mx]
            opts.append(cand)
        return opts

    def _prep(self) -> tuple[list[list[int]], list[int]]:
        if "prep" not in self._memo:
            self._memo["prep"] = self._prep_uncached()
        return self._memo["prep"]

    def _prep_uncached(self) -> tuple[list[list[int]], list[int]]:
        nd, nl = len(self.problem.dims), len(self.levels)
        later_fixed = [[1] * nd for _ in range(nl)]
        for li in range(nl - 2, -1, -1):
            for di in range(nd):
                f = self.fixed[li + 1].get(di, 1)
                later_fixed[li][di] = later_fixed[li + 1][di] * f
        last_free = [-1] * nd
        for li in range(nl):
            for di in range(nd):
                if di not in self.fixed[li]:
                    last_free[di] = li
        return later_fixed, last_free

    def spatial_assignments(self) -> list[tuple[tuple[int, ...], ...]]:
        """Every legal choice of the spatial factors (one tuple per spatial level, inner to outer): X/Y fanouts
        respected and, per dimension, compatible with the bound and the fixed temporal factors."""
        nd = len(self.problem.dims)
        sp = [li for li, lv in enumerate(self.levels) if lv.spatial]
        rem0 = []
        for di in range(nd):
            fixed_t = math.prod(f.get(di, 1) for f, lv in zip(self.fixed, self.levels) if not lv.spatial)
            rem0.append(self.problem.bounds[di] // fixed_t if self.problem.bounds[di] % fixed_t == 0 else 0)
        out: list[tuple[tuple[int, ...], ...]] = []

        def level_combos(li: int, rem: list[int]) -> Iterator[tuple[int, ...]]:
            lvl = self.levels[li]
            cap = lvl.fanout_x * lvl.fanout_y
            opts = []
            for di in range(nd):
                if rem[di] == 0:
                    return
                if di in self.fixed[li]:
                    f = self.fixed[li][di]
                    opts.append([f] if rem[di] % f == 0 else [])
                else:
                    mx = min(cap, self.maxf[li].get(di, cap))
                    opts.append([f for f in _divisors(rem[di]) if f <= mx])

            def rec(di: int, prod: int, acc: list[int]) -> Iterator[tuple[int, ...]]:
                if di == nd:
                    combo = tuple(acc)
                    if self.spatial_axes(li, combo) is not None:
                        yield combo
                    return
                for f in opts[di]:
                    if prod * f <= cap:
                        acc.append(f)
                        yield from rec(di + 1, prod * f, acc)
                        acc.pop()

            yield from rec(0, 1, [])

        def rec_levels(k: int, rem: list[int], acc: list[tuple[int, ...]]) -> None:
            if k == len(sp):
                out.append(tuple(acc))
                return
            for combo in level_combos(sp[k], rem):
                rec_levels(k + 1, [r // c for r, c in zip(rem, combo)], [*acc, combo])

        rec_levels(0, rem0, [])
        return out

    def spatial_product(self, assignment: tuple[tuple[int, ...], ...]) -> int:
        return math.prod(math.prod(c) for c in assignment)

    def factorizations(self, rng: random.Random | None = None,
                       spatial: tuple[tuple[int, ...], ...] | None = None) -> Iterator[Factorization]:
        """Every factorisation that fits the buffers (forced-kept dataspaces) and the X/Y fanouts, depth-first
        from the innermost level; with `rng` the branches are visited in a random order; with `spatial` the
        spatial levels take those factors (from `spatial_assignments`)."""
        preset: dict[int, tuple[int, ...]] = {}
        if spatial is not None:
            preset = dict(zip([li for li, lv in enumerate(self.levels) if lv.spatial], spatial))
        later_fixed, last_free = self._prep()
        nd, nl = len(self.problem.dims), len(self.levels)
        bounds = list(self.problem.bounds)

        memo = self._memo
        ones = (1,) * nd

        def child(li: int, rem: tuple[int, ...], combo: tuple[int, ...]) -> tuple[int, ...] | None:
            """What is left to factor after level `li` takes `combo`, or None when it breaks a fanout or a buffer
            (the extents so far are bounds // rem, so a node is fully described by (li, rem): memoised)."""
            key = ("child", li, rem, combo)
            if key in memo:
                return memo[key]
            if len(memo) > MEMO_CAP:  # a pure cache: dropping it changes nothing but speed
                memo.clear()
            lvl = self.levels[li]
            out: tuple[int, ...] | None = tuple(rem[d] // combo[d] for d in range(nd))
            if lvl.spatial:
                if math.prod(combo) > lvl.fanout_x * lvl.fanout_y or self.spatial_axes(li, combo) is None:
                    out = None
            elif not self._fits(lvl.storage, [bounds[d] // out[d] for d in range(nd)],
                                self.keep_forced[lvl.storage]):
                out = None
            memo[key] = out
            return out

        def rec(li: int, rem: tuple[int, ...], acc: list[tuple[int, ...]]) -> Iterator[Factorization]:
            if li > self.deepest:
                self.deepest = li
            if li == nl:
                if rem == ones and self._utilization_ok(acc):
                    yield tuple(acc)
                return
            node = memo.get(("node", li, rem))
            if node is None:
                opts = self._options(li, list(rem), later_fixed, last_free)
                node = memo[("node", li, rem)] = (opts, any(not o for o in opts), math.prod(len(o) for o in opts))
            opts, dead, total = node
            if dead:
                return
            combos: Iterator[tuple[int, ...]] | list[tuple[int, ...]]
            if li in preset:
                want = preset[li]
                combos = [want] if all(w in o for w, o in zip(want, opts)) else []
            else:
                combos = itertools.product(*opts)
            if rng is not None and li not in preset:
                if total <= RANDOM_NODE_TRIES:
                    combos = list(combos)
                    rng.shuffle(combos)
                else:  # sample without materialising a huge product (random dives stay cheap)
                    picks = rng.sample(range(total), RANDOM_NODE_TRIES)
                    combos = [_unrank(i, opts) for i in picks]
            for combo in combos:
                nxt = child(li, rem, combo)
                if nxt is None:
                    continue
                acc.append(combo)
                yield from rec(li + 1, nxt, acc)
                acc.pop()

        yield from rec(0, tuple(bounds), [])

    def sample_factorization(self, rng: random.Random, spatial: tuple[tuple[int, ...], ...]) -> Factorization | None:
        """One random valid factorisation with these spatial factors: a randomised depth-first dive that
        backtracks on dead ends and stops at the first leaf (None if the assignment has no valid completion)."""
        it = self.factorizations(rng, spatial=spatial)
        return next(it, None)

    def valid_factorization(self, fact: Factorization) -> bool:
        """The checks the enumeration applies, for a factorisation built another way (local search moves)."""
        nd = len(self.problem.dims)
        for di in range(nd):
            if math.prod(f[di] for f in fact) != self.problem.bounds[di]:
                return False
        ext = [1] * nd
        for li, lvl in enumerate(self.levels):
            combo = fact[li]
            if any(combo[d] != v for d, v in self.fixed[li].items()):
                return False
            if any(combo[d] > v for d, v in self.maxf[li].items()):
                return False
            ext = [e * c for e, c in zip(ext, combo)]
            if lvl.spatial:
                if math.prod(combo) > lvl.fanout_x * lvl.fanout_y or self.spatial_axes(li, combo) is None:
                    return False
            elif not self._fits(lvl.storage, ext, self.keep_forced[lvl.storage]):
                return False
        return self._utilization_ok(fact)

    def legal_orders(self, t: int, fact: Factorization, previous: tuple[int, ...]) -> list[tuple[int, ...]]:
        """Orders of temporal level `t` (ordinal in `temporal_of`) for `fact` that keep `previous`'s relative
        order: the user prefix first, a newly non-unit dimension tried at every free position."""
        li = self.temporal_of[t]
        lvl, f = self.levels[li], fact[li]
        head = [d for d in lvl.prefix if f[d] > 1]
        rest = [d for d in previous if f[d] > 1 and d not in head]
        new = [d for d in range(len(f)) if f[d] > 1 and d not in head and d not in rest]
        if lvl.canonical:
            return [tuple(head + sorted(rest + new))]
        orders = [rest]
        for d in new:
            orders = [o[:i] + [d] + o[i:] for o in orders for i in range(len(o) + 1)]
        return [tuple(head + o) for o in orders]

    def free_head(self, t: int, fact: Factorization) -> int:
        """Number of leading loops of temporal level `t` fixed by the user permutation prefix."""
        li = self.temporal_of[t]
        return sum(1 for d in self.levels[li].prefix if fact[li][d] > 1)

    def _utilization_ok(self, fact: list[tuple[int, ...]] | Factorization) -> bool:
        if self.min_utilization <= 0:
            return True
        used = math.prod(math.prod(f) for f, lv in zip(fact, self.levels) if lv.spatial)
        return used / self.arch.arithmetic.instances >= self.min_utilization

    # ------------------------------------------------------------------ spatial X/Y
    def spatial_axes(self, li: int, factors: tuple[int, ...]) -> tuple[list[int], list[int]] | None:
        """A legal (X dims, Y dims) split of the non-unit spatial loops of level `li`, or None (memoised; callers
        must not modify the lists)."""
        key = ("axes", li, tuple(factors))
        if key not in self._memo:
            self._memo[key] = self._spatial_axes_uncached(li, factors)
        return self._memo[key]

    def _spatial_axes_uncached(self, li: int, factors: tuple[int, ...]) -> tuple[list[int], list[int]] | None:
        lvl = self.levels[li]
        nd = len(factors)
        nonunit = [d for d in range(nd) if factors[d] > 1]
        fx, fy = lvl.fanout_x, lvl.fanout_y

        def ok(xs: list[int], ys: list[int]) -> bool:
            return math.prod(factors[d] for d in xs) <= fx and math.prod(factors[d] for d in ys) <= fy

        if lvl.split is not None:
            prefix = list(lvl.prefix)
            free = [d for d in range(nd) if d not in prefix]
            x_fixed = [d for d in prefix[: lvl.split] if factors[d] > 1]
            y_fixed = [d for d in prefix[lvl.split:] if factors[d] > 1]
            kx = max(0, lvl.split - len(prefix))
            ky = len(free) - kx
            free_nu = [d for d in free if factors[d] > 1]
            for r in range(len(free_nu) + 1):
                for xs in itertools.combinations(free_nu, r):
                    ys = [d for d in free_nu if d not in xs]
                    if r <= kx and len(ys) <= ky and ok(x_fixed + list(xs), y_fixed + ys):
                        return x_fixed + list(xs), y_fixed + ys
            return None
        if lvl.prefix or fx > 1 and fy > 1:
            order = [d for d in lvl.prefix if factors[d] > 1]
            free_nu = [d for d in nonunit if d not in order]
        else:
            order, free_nu = nonunit, []
        for j in range(len(order) + 1):
            if j < len(order):
                xs, ys = order[:j], order[j:] + free_nu
                if ok(xs, ys):
                    return xs, ys
            else:
                for r in range(len(free_nu) + 1):
                    for extra in itertools.combinations(free_nu, r):
                        xs = order + list(extra)
                        ys = [d for d in free_nu if d not in extra]
                        if ok(xs, ys):
                            return xs, ys
        return None

    # ------------------------------------------------------------------ permutations and bypass
    def permutation_choices(self, fact: Factorization) -> list[list[tuple[int, ...]]]:
        """Per temporal tiling level, the orders (innermost first) of its non-unit loops."""
        out = []
        for li in self.temporal_of:
            lvl, f = self.levels[li], fact[li]
            nonunit = [d for d in range(len(f)) if f[d] > 1]
            head = [d for d in lvl.prefix if f[d] > 1]
            rest = [d for d in nonunit if d not in head]
            if lvl.canonical or len(rest) <= 1:
                out.append([tuple(head + rest)])
            else:
                out.append([tuple(head + list(p)) for p in itertools.permutations(rest)])
        return out

    def bypass_choices(self, fact: Factorization) -> list[tuple[frozenset[str], ...]]:
        """Keep sets per storage level for every combination of the unconstrained keep/bypass bits that fits."""
        per_level: list[list[frozenset[str]]] = []
        ext = [1] * len(self.problem.dims)
        for si in range(len(self.arch.storage)):
            for li, lvl in enumerate(self.levels):
                if lvl.storage == si:
                    ext = [e * f for e, f in zip(ext, fact[li])]
            base = self.keep_forced[si]
            opts = []
            for r in range(len(self.keep_free[si]) + 1):
                for extra in itertools.combinations(self.keep_free[si], r):
                    keep = base | frozenset(extra)
                    if self._fits(si, ext, keep):
                        opts.append(keep)
            per_level.append(opts)
        return [tuple(c) for c in itertools.product(*per_level)]

    def outer_traffic(self, fact: Factorization,
                      outermost_only: bool = False) -> tuple[float, dict[int, tuple[int, ...]]]:
        """Estimated words moved out of each dataspace's backing level for `fact` under the best loop orders of
        the temporal levels above the innermost child, and those orders ({temporal ordinal: order}).

        A dataspace's backing level is the outermost level that holds it: DRAM, or for one kept off DRAM (a
        `datatype` bypass at the outermost level) the outermost inner level that may keep it; its words are
        weighted by that level's per-word price relative to DRAM's (`backing_weights`), so a dataspace kept on
        chip counts what it really moves and one kept nowhere counts nothing. Its child is the outermost level
        below the backing one that may keep it (forced or free keep bit, the largest tile that fits alone; else
        the innermost level). Its tile is refetched once per iteration of the
        temporal loops above it from the innermost relevant one outwards (irrelevant loops inside it give reuse),
        times the relevant spatial factors above it (irrelevant ones multicast); a read-write dataspace counts
        its updates and its reads after the first pass. Sliding windows are not discounted, so the input term can
        overestimate: this orders the energy-first search (most reuse first); it is not a proof and never prunes."""
        nd, ns, nl = len(self.problem.dims), len(self.arch.storage), len(self.levels)
        exts: list[list[int]] = []
        ext = [1] * nd
        for li, lvl in enumerate(self.levels):
            ext = [e * f for e, f in zip(ext, fact[li])]
            if not lvl.spatial:
                exts.append(ext)
        rel = self._relevant_sets
        backing, weights = self.backing_weights
        if outermost_only:
            weights = tuple(w if b == ns - 1 else 0.0 for b, w in zip(backing, weights))
        child, tiles = [], []
        for j, ds in enumerate(self.problem.dataspaces):
            c, words = 0, None
            for si in range(backing[j] - 1, -1, -1):
                if ds.name in self.keep_forced[si] or ds.name in self.keep_free[si]:
                    cap = self.arch.storage[si].effective_size
                    w = self._tile_words_cached(exts[si], j)
                    if cap is None or w <= cap:
                        c, words = si, w
                        break
            child.append(c)
            tiles.append(words if words is not None else self._tile_words_cached(exts[0], j))
        first_t = min(child)
        choices = self.permutation_choices(fact)
        free_t = [t for t in range(first_t, ns) if len(choices[t]) > 1]
        while free_t and math.prod(len(choices[t]) for t in free_t) > 24:
            free_t.pop(0)  # keep the search of orders small: inner levels take their first order
        base = {t: choices[t][0] for t in range(first_t, ns)}
        totals = self._total_words
        spatial_mult, above = [], []
        for j in range(len(tiles)):
            m, ts = 1, []
            for li in range(self.temporal_of[child[j]] + 1, nl):
                if self.levels[li].spatial:
                    m *= math.prod(fact[li][d] for d in rel[j])
                else:
                    ts.append(self.levels[li].storage)
            spatial_mult.append(m)
            above.append(ts)
        best: tuple[float, dict[int, tuple[int, ...]]] | None = None
        for combo in itertools.product(*(choices[t] for t in free_t)):
            orders = dict(base)
            orders.update(zip(free_t, combo))
            total = 0.0
            for j, ds in enumerate(self.problem.dataspaces):
                if weights[j] == 0.0:
                    continue  # no level backs it, or only DRAM words count
                count, seen_rel, r = spatial_mult[j], False, rel[j]
                for t in above[j]:
                    f = fact[self.temporal_of[t]]
                    for d in orders[t]:
                        if seen_rel or d in r:
                            seen_rel = True
                            count *= f[d]
                words = tiles[j] * count
                if ds.read_write:
                    words = 2 * words - totals[j]
                total += words * weights[j]
            if best is None or total < best[0]:
                best = (total, {t: orders[t] for t in free_t})
        assert best is not None
        return best

    @property
    def backing_weights(self) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """Per dataspace: the storage level that backs it (the outermost that keeps it, or may) and its words'
        price relative to the outermost level's (1.0 at DRAM or when unpriced; 0.0 when no level may keep it)."""
        key = ("backing", id(self.prices))
        if key not in self._memo:
            self._memo[key] = self._backing_weights()
        return self._memo[key]

    def _backing_weights(self) -> tuple[tuple[int, ...], tuple[float, ...]]:
        ns = len(self.arch.storage)
        prices = self.prices

        def word_price(si: int) -> float:
            return prices.vector_access_energy[si] / max(1, self.arch.storage[si].block_size)

        backing, weights = [], []
        for ds in self.problem.dataspaces:
            levels = [si for si in range(ns) if ds.name in self.keep_forced[si] or ds.name in self.keep_free[si]]
            b = max(levels) if levels else ns - 1
            backing.append(b)
            if not levels:
                weights.append(0.0)
            elif b == ns - 1:
                weights.append(1.0)
            elif prices is None:
                weights.append(1.0)
            else:
                outer = word_price(ns - 1)
                weights.append(word_price(b) / outer if outer > 0 else 1.0)
        return tuple(backing), tuple(weights)

    def _tile_words_cached(self, ext: list[int], ds: int) -> int:
        key = (tuple(ext), ds)
        w = self._tile_cache.get(key)
        if w is None:
            w = self._tile_cache[key] = self.tile_words(ext, ds)
        return w

    @functools.cached_property
    def _caps(self) -> list[int | None]:
        return [lv.effective_size for lv in self.arch.storage]

    @functools.cached_property
    def _memo(self) -> dict[tuple, Any]:
        """Pure-function caches (fits, options, spatial axes, enumerated tiers): same answers, no change to any
        random stream. Spaces equal in everything these caches read share one dict (`memo_key`): the fusion
        benchmark maps one tile under six DRAM keep/bypass rules, which differ only at the unbounded outermost
        level, so the five later searches reuse the first one's enumeration."""
        key = self.memo_key()
        memo = _SHARED_MEMOS.pop(key, None)
        if memo is None:
            memo = {}
            if len(_SHARED_MEMOS) >= SHARED_MEMOS:
                _SHARED_MEMOS.pop(next(iter(_SHARED_MEMOS)))
        _SHARED_MEMOS[key] = memo  # most recently used last
        return memo

    def memo_key(self) -> tuple:
        """Everything the memoised functions read: the problem (bounds and projections), the tiling levels with
        their fixed and maximum factors, the storage capacities, the forced keep sets of the levels that have a
        capacity (an unbounded level's keep set never decides a fit), the minimum utilisation and PE count."""
        caps = self._caps
        return (
            self.problem.dims, self.problem.bounds,
            tuple((ds.name, ds.projection, ds.read_write) for ds in self.problem.dataspaces),
            tuple(self.levels), tuple(tuple(sorted(f.items())) for f in self.fixed),
            tuple(tuple(sorted(f.items())) for f in self.maxf), tuple(caps),
            tuple(k if c is not None else None for k, c in zip(self.keep_forced, caps)),
            self.min_utilization, self.arch.arithmetic.instances, tuple(self.temporal_of),
        )

    @functools.cached_property
    def _tile_cache(self) -> dict[tuple[tuple[int, ...], int], int]:
        return self._memo.setdefault("tile words", {})

    @functools.cached_property
    def _total_words(self) -> list[int]:
        return [self.tile_words(list(self.problem.bounds), j) for j in range(len(self.problem.dataspaces))]

    @functools.cached_property
    def _relevant_sets(self) -> tuple[frozenset[int], ...]:
        return tuple(frozenset(d for terms in ds.projection for _, d in terms) for ds in self.problem.dataspaces)

    def cycles_lower_bound(self, fact: Factorization) -> int:
        """Compute cycles (product of temporal factors): the delay when no level is bandwidth-bound."""
        return math.prod(math.prod(f) for f, lv in zip(fact, self.levels) if not lv.spatial)

    # ------------------------------------------------------------------ mapping
    def build_mapping(self, fact: Factorization, perms: tuple[tuple[int, ...], ...],
                      keeps: tuple[frozenset[str], ...]) -> Mapping:
        """The Mapping of one point of the space (perms per temporal level, keep sets per storage level)."""
        dims = self.problem.dims
        temporal: dict[int, tuple[Loop, ...]] = {}
        spatial: dict[int, tuple[Loop, ...]] = {}
        ti = 0
        memo = self._memo
        for li, lvl in enumerate(self.levels):
            f = fact[li]
            if lvl.spatial:
                key = ("sloops", li, f)
                loops = memo.get(key)
                if loops is None:
                    axes = self.spatial_axes(li, f)
                    assert axes is not None
                    xs, ys = axes
                    loops = memo[key] = tuple(Loop(dims[d], f[d], True, "X") for d in xs) + tuple(
                        Loop(dims[d], f[d], True, "Y") for d in ys)
                spatial[lvl.storage] = loops
            else:
                key = ("tloops", f, perms[ti])
                loops = memo.get(key)
                if loops is None:
                    loops = memo[key] = tuple(Loop(dims[d], f[d]) for d in perms[ti])
                temporal[lvl.storage] = loops
                ti += 1
        levels = tuple(
            LevelMapping(lv.name, temporal.get(i, ()), spatial.get(i, ()), keeps[i])
            for i, lv in enumerate(self.arch.storage))
        return Mapping(levels)


def _unrank(index: int, opts: list[list[int]]) -> tuple[int, ...]:
    """The `index`-th element of itertools.product(*opts)."""
    out = []
    for o in reversed(opts):
        index, r = divmod(index, len(o))
        out.append(o[r])
    return tuple(reversed(out))


def _divisors(n: int) -> tuple[int, ...]:
    return divisors(n)
