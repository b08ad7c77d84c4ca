"""The search loop: candidates from the mapspace, evaluated in batches (several processes when threads > 1),
with Timeloop v1.0's termination rules (victory condition, timeout, search size) and a seed for determinism.

Algorithms (mapper YAML `algorithm`):
- exhaustive: every valid factorisation, every permutation and bypass choice, in enumeration order;
- linear-pruned: every factorisation in order (in the reuse-estimate order of the random algorithms when the
  first metric is not delay), at most `max-permutations-per-if-visit` permutation/bypass choices each, taken
  in order;
- random-pruned: factorisations in a seeded random order, up to that many random choices each;
- hybrid: seeded random factorisations, choices in order.

Pruning before evaluation: factorisations that overflow a buffer or a fanout never reach the model (see
`space.py`), and when delay is the first metric the factorisations are visited by increasing compute cycles (a
lower bound of the delay), so the search stops as soon as no unvisited one can beat the incumbent: the delay
optimum is then exact and every mapping at that delay has been compared on the later metrics.
The result depends only on the inputs and the seed, never on the number of processes."""

from __future__ import annotations

import importlib.util
import itertools
import logging
import math
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from fusionsim.errors import InputError
from fusionsim.mapper.factor import primes
from fusionsim.mapper.objectives import Score, is_better, score_of, sort_key
from fusionsim.mapper.space import Factorization, MapSpace
from fusionsim.model import semantics_v1 as sem
from fusionsim.model.evaluate import MappingError, evaluate
from fusionsim.spec.mapper_spec import MapperSpec
from fusionsim.spec.mapping import Mapping

log = logging.getLogger(__name__)

FACTORIZATION_CAP = 300_000  # factorisations kept for one search; beyond this the DFS is sampled
BATCH = 128
ENUMERATE_TIER = 30000  # a tier this small is enumerated and shuffled; a larger one is sampled
REFINE_STARTS = 3  # local-search starting points (best distinct factorisations of the main search)
REUSE_POOL = 20000  # energy-first, large space: random dives sorted by the reuse estimate


class NoMappingError(InputError):
    """No valid mapping: contradictory constraints, or nothing valid found before the search gave up."""


@dataclass
class SearchResult:
    mapping: Mapping
    score: Score
    evaluated: int
    valid: int
    seconds: float
    stop_reason: str
    factorizations: int


# ---------------------------------------------------------------------- evaluation (in-process or workers)
_WORKER: dict = {}


def _init_worker(arch, problem, prices) -> None:  # noqa: ANN001 - pickled state
    _WORKER.update(arch=arch, problem=problem, prices=prices)


def _eval_chunk(mappings: list[Mapping]) -> list[Score | None]:
    return _evaluate_all(_WORKER["arch"], _WORKER["problem"], mappings, _WORKER["prices"])


def _evaluate_all(arch, problem, mappings: list[Mapping], prices: sem.LevelPrices) -> list[Score | None]:  # noqa: ANN001
    """Scores of a batch (None = invalid); uses the engine's batch API when it exists."""
    if importlib.util.find_spec("fusionsim.model.batch") is not None:
        from fusionsim.model.batch import evaluate_batch  # type: ignore[import-not-found]

        try:
            br = evaluate_batch(arch, problem, _encode(arch, problem, mappings), prices)
        except NotImplementedError:  # an engine path that needs Mapping objects (e.g. legacy network energy)
            br = evaluate_batch(arch, problem, mappings, prices)
        return [Score(float(e), int(c), int(a)) if ok else None
                for e, c, a, ok in zip(br.energy_pJ, br.cycles, br.last_level_accesses, br.valid)]
    out: list[Score | None] = []
    for m in mappings:
        try:
            out.append(score_of(evaluate(arch, problem, m, prices)))
        except MappingError:
            out.append(None)
    return out


_ROWS: dict = {}  # (id(arch), id(problem)) -> (arch, problem, {level key: encoded rows}); one entry kept


def _encode(arch, problem, mappings: list[Mapping]):  # noqa: ANN001, ANN202
    """`model.batch.encode` with the rows of each level memoised: the mapspace shares its loop tuples between
    mappings (`MapSpace.build_mapping`), so a level is keyed by the identity of its loop tuples (pinned in the
    cache, so an id is never reused while cached) and its keep set. Same arrays as `encode`."""
    import numpy as np

    from fusionsim.model.batch import LoopArrays

    key = (id(arch), id(problem))
    entry = _ROWS.get(key)
    if entry is None or len(entry[2]) > 200_000:
        _ROWS.clear()
        entry = _ROWS[key] = (arch, problem, {})
    cache = entry[2]
    d = len(problem.dims)
    index = {name: i for i, name in enumerate(problem.dims)}
    ds_names = problem.dataspace_names()
    rows = []
    for m in mappings:
        for j, lv in enumerate(m.levels):
            k = (j, id(lv.temporal), id(lv.spatial), lv.keep)
            row = cache.get(k)
            if row is None:
                enc = []
                for loops in (lv.temporal, lv.spatial):
                    used = [index[lp.dim] for lp in loops]
                    enc.append(used + [x for x in range(d) if x not in used])
                    enc.append([lp.bound for lp in loops] + [1] * (d - len(loops)))
                row = cache[k] = (enc, [n in lv.keep for n in ds_names], lv.temporal, lv.spatial)
            rows.append(row)
    b, nk = len(mappings), len(arch.storage)
    arr = np.array([r[0] for r in rows], np.int64).reshape(b, nk, 4, d)
    keep = np.array([r[1] for r in rows], bool).reshape(b, nk, len(ds_names))
    return LoopArrays(np.ascontiguousarray(arr[:, :, 0]), np.ascontiguousarray(arr[:, :, 1]),
                      np.ascontiguousarray(arr[:, :, 2]), np.ascontiguousarray(arr[:, :, 3]), keep)


class _Evaluator:
    """Evaluates batches in order, in this process or in a pool of `threads` worker processes."""

    def __init__(self, space: MapSpace, prices: sem.LevelPrices, threads: int):
        self.space, self.prices, self.threads = space, prices, threads
        self.pool = None
        if threads > 1:
            self.pool = ProcessPoolExecutor(threads, initializer=_init_worker,
                                            initargs=(space.arch, space.problem, prices))

    def __call__(self, mappings: list[Mapping]) -> list[Score | None]:
        if self.pool is None or len(mappings) < 2 * self.threads:
            return _evaluate_all(self.space.arch, self.space.problem, mappings, self.prices)
        n = math.ceil(len(mappings) / self.threads)
        chunks = [mappings[i:i + n] for i in range(0, len(mappings), n)]
        return [s for part in self.pool.map(_eval_chunk, chunks) for s in part]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


# ---------------------------------------------------------------------- candidates
def _factorizations(space: MapSpace, spec: MapperSpec, rng: random.Random,
                    hints: dict[Factorization, dict[int, tuple[int, ...]]] | None = None) -> Iterator[Factorization]:
    """Valid factorisations in visiting order. When delay (or edp) leads, spatial assignments are grouped in
    tiers of equal parallelism, visited by decreasing parallelism, so compute cycles (the delay lower bound)
    never decrease along the stream. Random algorithms visit a small tier in a shuffled order and sample a
    large one by independent random dives (no repeats), so a victory condition does not trap the search in
    one corner of the tier."""
    randomized = spec.algorithm in ("random-pruned", "hybrid", "random")
    if spec.algorithm == "linear-pruned" and spec.metrics[0] != "delay":
        # Enumeration order is arbitrary for energy: under a small victory condition it stopped in a poor
        # corner (up to 3.2x Timeloop's linear-pruned result on the mapper oracle set); the reuse-estimate
        # order finds the good region first. Choices per factorisation stay in order.
        randomized = True
    dfs_rng = random.Random(rng.random()) if randomized else None
    if randomized and spec.metrics[0] != "delay":
        yield from _reuse_first(space, spec, rng, dfs_rng, hints)
        return
    if spec.metrics[0] not in ("delay", "edp"):
        groups = [None]
    else:
        groups = space.spatial_assignments()
    tiers: dict[int, list] = {}
    for g in groups:
        tiers.setdefault(0 if g is None else space.spatial_product(g), []).append(g)
    for product in sorted(tiers, reverse=True):
        tier = tiers[product]
        if not randomized:
            for g in tier:
                yield from itertools.islice(space.factorizations(None, spatial=g), FACTORIZATION_CAP)
            continue
        first = list(_tier_head(space, product, tier))
        if len(first) <= ENUMERATE_TIER:
            rng.shuffle(first)
            yield from first
            continue
        seen: set[Factorization] = set()
        live = list(tier)
        misses = 0
        while live and misses < 200 and len(seen) < FACTORIZATION_CAP:
            g = live[rng.randrange(len(live))]
            f = space.factorizations(dfs_rng, spatial=g)
            fact = next(f, None)
            if fact is None:
                live.remove(g)
                continue
            if fact in seen:
                misses += 1
                continue
            misses = 0
            seen.add(fact)
            yield fact


def _tier_head(space: MapSpace, product: int, tier: list) -> tuple[Factorization, ...]:
    """The first ENUMERATE_TIER + 1 factorisations of a tier in enumeration order (no randomness), memoised in
    the space's shared memo: spaces of equal structure enumerate it once."""
    key = ("tier head", product, tuple(tier))
    hit = space._memo.get(key)
    if hit is None:
        facts = tuple(itertools.islice((f for g in tier for f in space.factorizations(None, spatial=g)),
                                       ENUMERATE_TIER + 1))
        hit = space._memo[key] = (facts, space.deepest)
    space.deepest = max(space.deepest, hit[1])  # the diagnostics of a space that finds nothing
    return hit[0]


def _reuse_key(space: MapSpace, spec: MapperSpec, prices: tuple[float, float], fact: Factorization,
               hints: dict[Factorization, dict[int, tuple[int, ...]]]) -> float:
    """Ordering key of the energy/edp/last-level-accesses-first search (smaller first): the outermost level's
    estimated traffic (`MapSpace.outer_traffic`), priced and plus the MAC energy for energy and edp, times the
    compute cycles for edp. Records the estimate's best outer loop orders in `hints`."""
    metric = spec.metrics[0]
    words, order = space.outer_traffic(fact, outermost_only=metric == "last-level-accesses")
    hints[fact] = order
    if metric == "last-level-accesses":
        return words
    energy = prices[0] + prices[1] * words
    return energy * space.cycles_lower_bound(fact) if metric == "edp" else energy


def _reuse_first(space: MapSpace, spec: MapperSpec, rng: random.Random, dfs_rng: random.Random | None,
                 hints: dict[Factorization, dict[int, tuple[int, ...]]] | None) -> Iterator[Factorization]:
    """Factorisations for a metric other than delay (random algorithms). A pool (the whole space when it has
    up to ENUMERATE_TIER factorisations, else random dives, as many as the budget warrants: `_pool_size`; a
    dive that dead-ends is retried, 200 misses in a row end it) is visited alternately in `_reuse_key` order
    (most outer-level reuse first) and in a seeded random order, skipping repeats: the estimate's best picks
    come first, and where the estimate misleads (a level other than the outermost dominates) the search still
    sees as many random factorisations as half its budget. Beyond the pool, random dives continue."""
    hints = {} if hints is None else hints
    outer = len(space.arch.storage) - 1
    lv = space.arch.storage[outer]
    word_price = space.prices.vector_access_energy[outer] / max(1, lv.block_size) if space.prices else 1.0
    macs = math.prod(space.problem.bounds)
    prices = (space.prices.mac_energy * macs if space.prices else 0.0, word_price)
    pool = list(itertools.islice(space.factorizations(None), ENUMERATE_TIER + 1))
    exhaustive = len(pool) <= ENUMERATE_TIER
    seen: set[Factorization] = set(pool) if exhaustive else set()
    if not exhaustive:
        size = _pool_size(spec)
        pool = []
        for fact in _fresh_dives(space, dfs_rng, seen, lambda: len(pool) >= size):
            pool.append(fact)
    rng.shuffle(pool)
    ranked = sorted(pool, key=lambda f: _reuse_key(space, spec, prices, f, hints))
    done: set[Factorization] = set()
    for pair in zip(ranked, pool):
        for fact in pair:
            if fact not in done:
                done.add(fact)
                yield fact
    if exhaustive:
        return
    for fact in _fresh_dives(space, dfs_rng, seen, lambda: len(seen) >= FACTORIZATION_CAP):
        _reuse_key(space, spec, prices, fact, hints)
        yield fact


def _fresh_dives(
    space: MapSpace, rng: random.Random, seen: set[Factorization], done: Callable[[], bool]
) -> Iterator[Factorization]:
    """Random factorisation dives not in `seen` (added to it as they come), until `done()` before a dive or 200
    dives in a row find nothing new."""
    misses = 0
    while misses < 200 and not done():
        fact = next(space.factorizations(rng, spatial=None), None)
        if fact is None or fact in seen:
            misses += 1
            continue
        misses = 0
        seen.add(fact)
        yield fact


def _pool_size(spec: MapperSpec) -> int:
    """Random dives sorted by the reuse estimate in a space too large to enumerate: 10 per valid mapping the
    victory condition allows without improvement (Timeloop's threads together), within [500, REUSE_POOL]."""
    budget = spec.victory_condition * spec.num_threads if spec.victory_condition else REUSE_POOL
    return max(500, min(REUSE_POOL, 10 * budget))


def _choices(space: MapSpace, fact: Factorization, spec: MapperSpec, rng: random.Random,
             orders: dict[int, tuple[int, ...]] | None = None) -> list[tuple]:
    """(permutations, keep sets) pairs to try for one factorisation."""
    perms = space.permutation_choices(fact)
    keeps = space.bypass_choices(fact)
    n_perm = math.prod(len(p) for p in perms)
    total = n_perm * len(keeps)
    limit = total if spec.algorithm == "exhaustive" else min(total, spec.max_permutations_per_if_visit)
    if spec.algorithm in ("random-pruned", "random") and limit < total:
        picks = sorted(rng.sample(range(total), limit))
    else:
        picks = range(limit)
    out = []
    for idx in picks:
        k, p = divmod(idx, n_perm)
        sel = []
        for choice in perms:
            p, r = divmod(p, len(choice))
            sel.append(choice[r])
        out.append((tuple(sel), keeps[k]))
    if orders and out:
        # the reuse estimate's best outer orders first (the first pick's other orders and keep sets)
        first = (tuple(orders.get(t, o) for t, o in enumerate(out[0][0])), out[0][1])
        if first != out[0]:
            out = [first] + [c for c in out if c != first][: max(0, len(out) - 1)]
    return out


Point = tuple[Factorization, tuple[tuple[int, ...], ...], tuple[frozenset[str], ...]]


def _candidates(space: MapSpace, facts: Iterator[Factorization], spec: MapperSpec, rng: random.Random,
                counter: list[int], hints: dict[Factorization, dict[int, tuple[int, ...]]] | None = None
                ) -> Iterator[tuple[Point, Mapping]]:
    for fact in facts:
        counter[0] += 1
        order = hints.pop(fact, None) if hints is not None else None
        for perms, keeps in _choices(space, fact, spec, rng, order):
            yield (fact, perms, keeps), space.build_mapping(fact, perms, keeps)


def _primes(n: int) -> list[int]:
    return primes(n)


def _neighbours(space: MapSpace, point: Point) -> list[Point]:
    """Points one move away: a prime factor of one dimension moved to another tiling level (the new loop tried
    at every legal position), two free loops of one level swapped, or one free keep/bypass bit flipped."""
    fact, perms, keeps = point
    nd = len(space.problem.dims)
    nl = len(space.levels)
    out: list[Point] = []
    for d in range(nd):
        for a in range(nl):
            if fact[a][d] == 1 or d in space.fixed[a]:
                continue
            for p in _primes(fact[a][d]):
                for b in range(nl):
                    if b == a or d in space.fixed[b]:
                        continue
                    new = [list(x) for x in fact]
                    new[a][d] //= p
                    new[b][d] *= p
                    nf = tuple(tuple(x) for x in new)
                    if not space.valid_factorization(nf):
                        continue
                    per_level = [space.legal_orders(t, nf, perms[t]) for t in range(len(perms))]
                    for combo in itertools.product(*per_level):
                        out.append((nf, tuple(combo), keeps))
    for t, order in enumerate(perms):
        if space.levels[space.temporal_of[t]].canonical:
            continue
        head = space.free_head(t, fact)
        for i in range(head, len(order)):
            for j in range(i + 1, len(order)):
                o = list(order)
                o[i], o[j] = o[j], o[i]
                out.append((fact, perms[:t] + (tuple(o),) + perms[t + 1:], keeps))
    for si, free in enumerate(space.keep_free):
        for ds in free:
            k = keeps[si] ^ frozenset([ds])
            out.append((fact, perms, keeps[:si] + (k,) + keeps[si + 1:]))
    return out


def _remember(top: list[tuple[tuple, Point]], pt: Point, s: Score, metrics: tuple[str, ...]) -> None:
    """Keep the REFINE_STARTS best points with distinct factorisations (key carries the score)."""
    key = (sort_key(s, metrics), s.energy_pj, s.cycles, s.last_level_accesses)
    for i, (k, p) in enumerate(top):
        if p[0] == pt[0]:
            if key < k:
                top[i] = (key, pt)
            return
    top.append((key, pt))
    if len(top) > REFINE_STARTS:
        top.sort(key=lambda e: e[0])
        top.pop()


def _score_of_key(key: tuple) -> Score:
    return Score(key[1], key[2], key[3])


def _refine(space: MapSpace, start: Point, score: Score, evaluator: _Evaluator, metrics: tuple[str, ...],
            seen: set[Point], max_rounds: int = 60) -> tuple[Point, Score, int, int]:
    """Steepest-descent local search from `start`; returns the local optimum, its score and the counts."""
    cur, cur_s = start, score
    evaluated = valid = 0
    for _ in range(max_rounds):
        nbrs = [n for n in dict.fromkeys(_neighbours(space, cur)) if n not in seen]
        if not nbrs:
            break
        seen.update(nbrs)
        scores = evaluator([space.build_mapping(*n) for n in nbrs])
        evaluated += len(nbrs)
        step = None
        for n, s in zip(nbrs, scores):
            if s is None:
                continue
            valid += 1
            if is_better(s, cur_s if step is None else step[1], metrics):
                step = (n, s)
        if step is None:
            break
        cur, cur_s = step
    return cur, cur_s, evaluated, valid


# ---------------------------------------------------------------------- the loop
def search_mappings(space: MapSpace, prices: sem.LevelPrices, spec: MapperSpec, seed: int = 0, threads: int = 1,
                    progress: Callable[[str], None] | None = None) -> SearchResult:
    """Best mapping of the space under `spec`; raises NoMappingError when nothing valid exists or is found."""
    t0 = time.monotonic()
    rng = random.Random(seed)
    n_facts = [0]
    # Timeloop runs num-threads independent searchers, each with its own victory condition and timeout; the
    # budget of that ensemble is emulated in one ordered stream, so the answer never depends on `threads`.
    victory = spec.victory_condition * spec.num_threads
    timeout = spec.timeout * spec.num_threads
    metrics = spec.metrics
    delay_first = metrics[0] == "delay"
    best: Score | None = None
    best_map: Mapping | None = None
    evaluated = valid = since_best = invalid_run = 0
    top: list[tuple[tuple, Point]] = []
    stop = "search space exhausted"
    evaluator = _Evaluator(space, prices, threads)
    last_report = t0
    try:
        hints: dict[Factorization, dict[int, tuple[int, ...]]] = {}
        space.prices = prices
        stream = _candidates(space, _factorizations(space, spec, rng, hints), spec, rng, n_facts, hints)
        done = False
        while not done:
            batch = list(itertools.islice(stream, BATCH))
            if not batch:
                break
            if delay_first and best is not None:
                keep = [(pt, m) for pt, m in batch if space.cycles_lower_bound(pt[0]) <= best.cycles]
                if len(keep) < len(batch):
                    batch, done = keep, True
                    stop = "no unvisited mapping can reach a lower delay"
                if not batch:
                    break
            scores = evaluator([m for _, m in batch])
            for (pt, m), s in zip(batch, scores):
                if delay_first and best is not None and space.cycles_lower_bound(pt[0]) > best.cycles:
                    done, stop = True, "no unvisited mapping can reach a lower delay"
                    break
                evaluated += 1
                if s is None:
                    invalid_run += 1
                    if timeout and invalid_run >= timeout:
                        done, stop = True, f"{timeout} consecutive invalid mappings (timeout)"
                        break
                    continue
                invalid_run = 0
                valid += 1
                _remember(top, pt, s, metrics)
                if is_better(s, best, metrics):
                    best, best_map, since_best = s, m, 0
                else:
                    since_best += 1
                if victory and since_best >= victory:
                    done, stop = True, f"{victory} mappings without improvement (victory condition)"
                    break
                if spec.search_size and valid >= spec.search_size:
                    done, stop = True, f"{spec.search_size} valid mappings evaluated (search size)"
                    break
            now = time.monotonic()
            if progress is not None and now - last_report > 2.0:
                last_report = now
                msg = f"{evaluated} evaluated, {valid} valid"
                if best is not None:
                    msg += f", best {best.cycles} cycles {best.energy_pj:.6g} pJ"
                progress(msg)
        # local search from the best few distinct factorisations found
        seen: set[Point] = {pt for _, pt in top}
        for _, pt in sorted(top, key=lambda e: e[0])[:REFINE_STARTS]:
            sc = next(s for s_key, p in top if p == pt for s in [_score_of_key(s_key)])
            pt2, s2, n_eval, n_valid = _refine(space, pt, sc, evaluator, metrics, seen)
            evaluated += n_eval
            valid += n_valid
            if is_better(s2, best, metrics):
                best, best_map = s2, space.build_mapping(*pt2)
                stop += "; improved by local search"
    finally:
        evaluator.close()
    if n_facts[0] == 0:
        raise NoMappingError(
            "no mapping satisfies the constraints: every factorisation overflows a buffer or a fanout "
            f"(deepest level reached: {space.deepest_level_name()})", file=space_files(space),
            key="constraints", fix="relax the factors, permutations or bypass constraints of that level")
    if best is None or best_map is None:
        raise NoMappingError(f"no valid mapping found: {evaluated} candidates evaluated, none valid; stopped "
                             f"after {stop}", file=space_files(space), key="timeout",
                             fix="raise the mapper timeout or relax the constraints")
    return SearchResult(best_map, best, evaluated, valid, time.monotonic() - t0, stop, n_facts[0])


def space_files(space: MapSpace) -> str | None:
    return getattr(space, "source", None)
