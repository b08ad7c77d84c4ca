"""Mapper wall time and objective for a few representative layers, single process (threads=1), against the
mapping Timeloop's mapper found for the same layer. Target (issue 6): median under 10 s per layer on one core.
Then the energy-first settings (accelerators/simba_like, mapper/fast.yaml: energy then delay, random-pruned,
victory 300) on the DeepFrack AlexNet_Simba layers 1-4 (full tile), with the exhaustive optimum of that
constrained mapspace for comparison (tests/unit/test_mapper_energy_first.py explains it).
usage: python benchmarks/bench_mapper.py [SEED]"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import yaml

from fusionsim.mapper.api import map_files
from fusionsim.mapper.objectives import objective_ratio, score_of
from fusionsim.model.result import EvalResult
from fusionsim.timeloop import read_stats

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT.parent / "shared/timeloop-reference/fusion-timeloop-model"
ALEXNET = ROOT.parent / "shared/deepfrack-reference/Examples/AlexNet_Simba/AlexNet"
SIMBA = ROOT / "accelerators/simba_like"
# total energy (uJ) of the best mapping in the whole mapspace (exhaustive sweep), arch.yaml + map.yaml
ALEXNET_EXHAUSTIVE_UJ = {1: 356.75, 2: 5635.63, 3: 6257.64, 4: 9369.77}
# (case, mapper settings): a pointwise, a depthwise, a fused 3x3, a wide depthwise, a head and a tail layer.
LAYERS = [
    ("fusionet/cifar10/bottlenecks/baseline/b1/comp", "fusionet/cifar10/bottlenecks/baseline/mapper"),
    ("fusionet/cifar10/bottlenecks/baseline/b6/conv", "fusionet/cifar10/bottlenecks/baseline/dw_mapper"),
    ("fusionet/cifar10/bottlenecks/baseline/b10/decom", "fusionet/cifar10/bottlenecks/baseline/mapper"),
    ("fusionet/cifar10/bottlenecks/fusion/main_computations/b5",
     "fusionet/cifar10/bottlenecks/fusion/main_computations/mapper"),
    ("fusionet/cifar10/bottlenecks/fusion/predictions/b1/conv",
     "fusionet/cifar10/bottlenecks/fusion/predictions/dw_mapper"),
    ("fusionet/cifar10/head_and_tail/fused/fus_head/fusion/PW2", "fusionet/cifar10/head_and_tail/fused/fus_head/fusion/mapper"),
    ("fusionet/cifar10/head_and_tail/baseline/tail/baseline/conv2",
     "fusionet/cifar10/head_and_tail/baseline/tail/baseline/mapper"),
]


def main(seed: int = 1) -> None:
    if not REF.exists():
        print(f"reference cases not found at {REF}; nothing to benchmark")
        return
    times = []
    print(f"{'layer':<58} {'seconds':>8} {'evals':>6} {'cycles':>8} {'energy uJ':>10} {'vs Timeloop':>11}")
    for case_rel, mapper_rel in LAYERS:
        case, mapper = REF / case_rel, REF / mapper_rel / "mapper.yaml"
        out = case / "output"
        metrics = yaml.safe_load(mapper.read_text())["mapper"].get("optimization-metrics", ["edp"])
        t0 = time.perf_counter()
        res = map_files(out / "timeloop-mapper.flattened_architecture.yaml", next(case.glob("prob/*.yaml")),
                        sorted(case.glob("constraints/*.yaml")), mapper, out / "timeloop-mapper.ERT.yaml",
                        seed=seed, threads=1)
        dt = time.perf_counter() - t0
        times.append(dt)
        s = res["stats"]
        ref = score_of(read_stats(out / "timeloop-mapper.stats.txt"))
        ratio = objective_ratio(score_of(EvalResult.from_json(s)), ref, metrics)
        print(f"{case_rel:<58} {dt:8.2f} {res['evaluated']:6d} {s['cycles']:8d} {s['energy_pJ'] / 1e6:10.3f} "
              f"{ratio:10.3f}x")
    print(f"median {statistics.median(times):.2f} s, max {max(times):.2f} s per layer (target: median < 10 s)")
    energy_first(seed)


def energy_first(seed: int = 1) -> None:
    if not ALEXNET.exists():
        print(f"AlexNet_Simba layers not found at {ALEXNET}; energy-first part skipped")
        return
    print(f"\n{'AlexNet_Simba, energy first (fast.yaml)':<40} {'seconds':>8} {'evals':>6} {'energy uJ':>10} "
          f"{'DRAM uJ':>9} {'vs exhaustive':>13}")
    for layer in (1, 2, 3, 4):
        t0 = time.perf_counter()
        res = map_files(SIMBA / "arch.yaml", ALEXNET / f"AlexNet_layer0{layer}.yaml",
                        [SIMBA / "constraints/arch.yaml", SIMBA / "constraints/map.yaml"], SIMBA / "mapper/fast.yaml",
                        SIMBA / "ERT.yaml", components=SIMBA / "components", seed=seed, threads=1)
        dt = time.perf_counter() - t0
        s = res["stats"]
        dram = next(lv["energy_pJ"] for lv in s["levels"] if lv["name"] == "DRAM")
        print(f"{'layer ' + str(layer):<40} {dt:8.2f} {res['evaluated']:6d} {s['energy_pJ'] / 1e6:10.1f} "
              f"{dram / 1e6:9.1f} {s['energy_pJ'] / 1e6 / ALEXNET_EXHAUSTIVE_UJ[layer]:12.4f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
