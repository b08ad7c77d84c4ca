"""Wall time of the fusion benchmark stage for AlexNet on the Simba-like accelerator (native engine).

usage: .venv/bin/python benchmarks/bench_fusion_benchmark.py [--layers seed|workload] [--mapper fast|default]
                                                              [--workers N]
`--layers seed` (default) uses the seed's 4 AlexNet_Simba layers from ../shared when present (652 table entries,
as the seed's Benchmarker); `workload` uses workloads/alexnet.yaml (5 convs, 731 entries). Runs from scratch
in a temporary folder (no resume), then times the exact search on the tables it produced.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from fusionsim.fusion import benchmark_stage as bs
from fusionsim.fusion.plan import BufferLevels, Level
from fusionsim.fusion.search import search_exact
from fusionsim.fusion.tables import load_tables

ROOT = Path(__file__).resolve().parents[1]
ACCEL = ROOT / "accelerators" / "simba_like"
SEED = ROOT.parent / "shared/deepfrack-reference/Examples/AlexNet_Simba/AlexNet"
LEVELS = BufferLevels(Level("PEWeightBuffer", 524288), Level("PEInputBuffer", 65536), Level("PEAccuBuffer", 65536))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", choices=("seed", "workload"), default="seed")
    ap.add_argument("--mapper", choices=("fast", "default"), default="fast")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    setup = bs.BenchSetup(ACCEL / "arch.yaml", ACCEL / "ERT.yaml",
                          (ACCEL / "constraints/arch.yaml", ACCEL / "constraints/map.yaml"),
                          ACCEL / f"mapper/{args.mapper}.yaml", ACCEL / "components")
    with tempfile.TemporaryDirectory() as tmp:
        if args.layers == "seed" and SEED.is_dir():
            layer_dir = SEED
        else:
            layer_dir = Path(tmp) / "layers"
            bs.write_layer_set(bs.network_layer_set(ROOT / "workloads/alexnet.yaml", "imagenet"), layer_dir)
        layers = bs.load_layer_dir(layer_dir)
        entries = len(bs.enumerate_entries(layers))
        t0 = time.perf_counter()
        tables = bs.run_benchmark(layers, setup, Path(tmp) / "costs", workers=args.workers, keep_runs=False)
        bench_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        plan = search_exact(bs.load_layer_set(layer_dir), load_tables(Path(tmp) / "costs"), LEVELS)
        search_s = time.perf_counter() - t1
    print(json.dumps({"network": f"alexnet ({args.layers}, {len(layers)} layers)", "mapper": args.mapper,
                      "workers": args.workers, "entries": entries, "jobs": tables.jobs,
                      "benchmark_s": round(bench_s, 2), "per_job_s": round(bench_s * args.workers / tables.jobs, 3),
                      "search_s": round(search_s, 3), "fused_uJ": round(plan.fused_uJ, 2),
                      "layer_by_layer_uJ": round(plan.layer_by_layer_uJ, 2)}))


if __name__ == "__main__":
    main()
