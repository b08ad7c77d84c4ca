"""Wall time of the pipeline on the default config and on the full dense baseline, and Snakemake's overhead.

Runs the real workflow with the snakemake CLI in fresh temporary directories (nothing cached):
  1. the default config.yaml;
  2. the full dense baseline: 4 networks (MobileNetV2, MnasNet, ShuffleNet, FusioNet) x 2 datasets
     (CIFAR-10, CIFAR-100) on the Eyeriss-like accelerator;
then a no-op rerun of (2). Engine time is the sum of the mapper's own `seconds` over the layer jobs that ran
(their run.json); Snakemake's overhead is the rest of the cores' time: wall x cores - engine.

    python benchmarks/bench_pipeline.py [--cores N] [--only default|full]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
FULL = {
    "networks": ["mobilenetv2", "mnasnet", "shufflenet", "fusionet"],
    "datasets": ["cifar10", "cifar100"],
    "accelerators": {"eyeriss_like": {}},
    "fusion": {"enabled": False},
    "fusion_tiling": {"enabled": False},
}


def run(workdir: Path, cores: int, overlay: dict | None) -> tuple[float, str]:
    cmd = [
        SNAKEMAKE,
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--workflow-profile",
        str(ROOT / "profiles/local"),
        "--cores",
        str(cores),
    ]
    if overlay:
        path = workdir.parent / f"{workdir.name}-overlay.yaml"
        path.write_text(yaml.safe_dump(overlay))
        cmd += ["--configfile", str(path)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"snakemake failed:\n{proc.stderr[-4000:]}")
    return wall, proc.stdout + proc.stderr


def report(name: str, workdir: Path, wall: float, cores: int, log: str) -> None:
    runs = [json.loads(p.read_text()) for p in (workdir / "results/cache/layers").glob("*/run.json")]
    engine = sum(r.get("seconds") or 0.0 for r in runs)
    layer_dirs = list((workdir / "results").glob("*/*/*/layers/*/full"))
    jobs = next((int(line.split()[1]) for line in log.splitlines() if line.startswith("total ")), 0)
    busy = wall * cores
    overhead = max(0.0, busy - engine)
    print(
        f"{name}: wall {wall:.1f} s on {cores} cores; {len(layer_dirs)} layer results from {len(runs)} mapper "
        f"jobs ({jobs} Snakemake jobs in all)"
    )
    print(
        f"  engine (mapper) time {engine:.1f} s = {100 * engine / busy:.0f}% of {busy:.0f} core-seconds; "
        f"Snakemake + process overhead {overhead:.1f} s = {100 * overhead / busy:.0f}% "
        f"({overhead / max(1, jobs):.2f} core-s per job)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--only", choices=["default", "full"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fusionsim-bench-") as tmp:
        cases = [("default config (the headline: ARCHON comparison + fusion-tiling plan)", None), ("full dense baseline (4 networks x 2 datasets)", FULL)]
        if args.only:
            cases = [cases[0 if args.only == "default" else 1]]
        for i, (name, overlay) in enumerate(cases):
            work = Path(tmp) / f"case{i}"
            wall, log = run(work, args.cores, overlay)
            report(name, work, wall, args.cores, log)
            if overlay is FULL:
                again, log2 = run(work, args.cores, overlay)
                print(
                    f"  no-op rerun: {again:.1f} s ({'nothing to be done' if 'Nothing to be done' in log2 else 'RAN JOBS'})"
                )


if __name__ == "__main__":
    main()
