"""Engine throughput: model evaluations per second for one typical layer, one at a time (scalar engine) and
in batches (vectorised engine), on distinct random mappings so that no cache hides the work.
Targets (issue 4): >= 2,000/s one at a time and >= 20,000/s batched, on one core.
usage: python benchmarks/bench_engine.py [N]"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from fusionsim.model.batch import encode, evaluate_batch
from fusionsim.model.evaluate import MappingError, evaluate
from fusionsim.model.nest_analysis import _multicast_groups, _temporal_deltas
from fusionsim.model.random_mapping import random_mapping
from fusionsim.model.semantics_v1 import price_levels
from fusionsim.spec.arch import load_arch
from fusionsim.spec.ert import load_ert
from fusionsim.spec.mapping import load_mapping
from fusionsim.spec.problem import load_problem

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT.parent / "shared/timeloop-reference/fusion-timeloop-model/fusionet/cifar10/bottlenecks/baseline/b3/comp"


def main(n: int = 4000) -> None:
    if CASE.exists():
        out = CASE / "output"
        arch = load_arch(out / "timeloop-mapper.flattened_architecture.yaml")
        problem = load_problem(next(CASE.glob("prob/*.yaml")))
        ert = load_ert(out / "timeloop-mapper.ERT.yaml")
        ref = load_mapping(out / "timeloop-mapper.map.txt", arch, problem)
        keep = [lv.keep for lv in ref.levels]
        label = f"Eyeriss-like baseline, {CASE.parent.name}/{CASE.name} ({problem.macs} MACs)"
    else:
        tiny = ROOT / "tests/data/tiny"
        arch, problem, ert = load_arch(tiny / "arch.yaml"), load_problem(tiny / "conv1d.yaml"), load_ert(tiny / "ert.yaml")
        keep, label = None, "tiny test arch (../shared absent)"
    prices = price_levels(arch, ert)
    rng = random.Random(0)
    weights = [1] * (len(arch.storage) - 2) + [4, 8]
    maps = [random_mapping(arch, problem, rng, keep=keep, level_weights=weights) for _ in range(n)]
    print(f"layer: {label}; {n} distinct random mappings")

    print("CPU time of this process, best of 3 (a busy machine inflates wall time, not CPU time)")

    def scalar() -> int:
        _multicast_groups.cache_clear()
        _temporal_deltas.cache_clear()
        valid = 0
        for m in maps:
            try:
                evaluate(arch, problem, m, prices)
                valid += 1
            except MappingError:
                pass
        return valid

    dt, valid = best_of(3, scalar)
    print(f"scalar engine : {n / dt:10,.0f} evaluations/s  ({valid} valid, full per-level result each)")
    for bs in (1000, 4000):
        batches = [maps[i:i + bs] for i in range(0, n, bs)]
        t_enc, arrays = best_of(1, lambda: [encode(b, arch, problem) for b in batches])  # noqa: B023
        t_eval, _ = best_of(3, lambda: [evaluate_batch(arch, problem, a, prices) for a in arrays])  # noqa: B023
        print(f"batch of {bs:>4}: {n / t_eval:10,.0f} evaluations/s  (encoding Mapping objects: "
              f"{n / t_enc:,.0f}/s; the mapper builds the arrays directly)")


def best_of(k: int, fn):
    """(smallest CPU seconds over k runs, last return value)."""
    best, out = float("inf"), None
    for _ in range(k):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4000)
