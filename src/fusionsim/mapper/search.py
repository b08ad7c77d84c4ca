"""The search loop: candidates from the mapspace, evaluated in batches (several processes when threads > 1),
with Timeloop v1.0's termination rules (victory condition, timeout, search size) and a seed for determinism.

Algorithms (mapper YAML `algorithm`):
- exhaustive: every valid factorisation, every permutation and bypass choice, in enumeration order;
- linear-pruned: every factorisation in order, at most `max-permutations-per-if-visit` permutation/bypass
  choices each, taken in order;
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
from fusionsim.mapper.objectives import Score, is_better, score_of
from fusionsim.mapper.space import Factorization, MapSpace
from fusionsim.model import semantics_v1 as sem
from fusionsim.model.evaluate import MappingError, evaluate
from fusionsim.spec.mapper_spec import MapperSpec
from fusionsim.spec.mapping import Mapping

log = logging.getLogger(__name__)

FACTORIZATION_CAP = 300_000  # factorisations kept for one search; beyond this the DFS is sampled
BATCH = 64


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

        return [None if r is None else score_of(r) for r in evaluate_batch(arch, problem, mappings, prices)]
    out: list[Score | None] = []
    for m in mappings:
        try:
            out.append(score_of(evaluate(arch, problem, m, prices)))
        except MappingError:
            out.append(None)
    return out


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
def _factorizations(space: MapSpace, spec: MapperSpec, rng: random.Random) -> tuple[list[Factorization], bool]:
    """Valid factorisations in visiting order; True when the cap cut the enumeration short."""
    randomized = spec.algorithm in ("random-pruned", "hybrid", "random")
    gen = space.factorizations(random.Random(rng.random()) if randomized else None)
    facts = list(itertools.islice(gen, FACTORIZATION_CAP + 1))
    capped = len(facts) > FACTORIZATION_CAP
    facts = facts[:FACTORIZATION_CAP]
    if randomized:
        rng.shuffle(facts)
    if spec.metrics[0] in ("delay", "edp"):
        facts.sort(key=space.cycles_lower_bound)  # stable: the visiting order survives within equal bounds
    return facts, capped


def _choices(space: MapSpace, fact: Factorization, spec: MapperSpec, rng: random.Random) -> list[tuple]:
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
    return out


def _candidates(space: MapSpace, facts: list[Factorization], spec: MapperSpec,
                rng: random.Random) -> Iterator[tuple[int, Mapping]]:
    for fi, fact in enumerate(facts):
        for perms, keeps in _choices(space, fact, spec, rng):
            yield fi, space.build_mapping(fact, perms, keeps)


# ---------------------------------------------------------------------- the loop
def search_mappings(space: MapSpace, prices: sem.LevelPrices, spec: MapperSpec, seed: int = 0, threads: int = 1,
                    progress: Callable[[str], None] | None = None) -> SearchResult:
    """Best mapping of the space under `spec`; raises NoMappingError when nothing valid exists or is found."""
    t0 = time.monotonic()
    rng = random.Random(seed)
    facts, capped = _factorizations(space, spec, rng)
    if not facts:
        raise NoMappingError(
            "no mapping satisfies the constraints: every factorisation overflows a buffer or a fanout "
            f"(deepest level reached: {space.deepest_level_name()})", file=space_files(space),
            key="constraints", fix="relax the factors, permutations or bypass constraints of that level")
    if capped:
        log.warning("mapspace larger than %d factorisations: searching a sample", FACTORIZATION_CAP)
    metrics = spec.metrics
    delay_first = metrics[0] == "delay"
    best: Score | None = None
    best_map: Mapping | None = None
    evaluated = valid = since_best = invalid_run = 0
    stop = "search space exhausted"
    evaluator = _Evaluator(space, prices, threads)
    last_report = t0
    try:
        stream = _candidates(space, facts, spec, rng)
        done = False
        while not done:
            batch = list(itertools.islice(stream, BATCH))
            if not batch:
                break
            if delay_first and best is not None:
                keep = [(fi, m) for fi, m in batch if space.cycles_lower_bound(facts[fi]) <= best.cycles]
                if len(keep) < len(batch):
                    batch, done = keep, True
                    stop = "no unvisited mapping can reach a lower delay"
                if not batch:
                    break
            scores = evaluator([m for _, m in batch])
            for (fi, m), s in zip(batch, scores):
                if delay_first and best is not None and space.cycles_lower_bound(facts[fi]) > best.cycles:
                    done, stop = True, "no unvisited mapping can reach a lower delay"
                    break
                evaluated += 1
                if s is None:
                    invalid_run += 1
                    if spec.timeout and invalid_run >= spec.timeout:
                        done, stop = True, f"{spec.timeout} consecutive invalid mappings (timeout)"
                        break
                    continue
                invalid_run = 0
                valid += 1
                if is_better(s, best, metrics):
                    best, best_map, since_best = s, m, 0
                else:
                    since_best += 1
                if spec.victory_condition and since_best >= spec.victory_condition:
                    done, stop = True, f"{spec.victory_condition} mappings without improvement (victory condition)"
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
    finally:
        evaluator.close()
    if best is None or best_map is None:
        raise NoMappingError(f"no valid mapping found: {evaluated} candidates evaluated, none valid; stopped "
                             f"after {stop}", file=space_files(space), key="timeout",
                             fix="raise the mapper timeout or relax the constraints")
    return SearchResult(best_map, best, evaluated, valid, time.monotonic() - t0, stop, len(facts))


def space_files(space: MapSpace) -> str | None:
    return getattr(space, "source", None)
