"""A design-space sweep through the real workflow: wall and CPU time, jobs, the Pareto front, incrementality.

The issue's 3 x 3 x 2 sweep of simba_like (pe_count x glb_kib x word_bits, 18 points) on alexnet and resnet18
(ImageNet, every layer) runs with the snakemake CLI (`profiles/local`) in a fresh folder (cold caches), with
the config's other stages off and the fast mapper budget of simba_like/mapper/fast.yaml (timeout 2000, victory
300; pass --timeout/--victory for another). Prints the wall and CPU time (children's user + system: the
machine may be shared), the jobs per rule, points.csv's validity, the Pareto front of each network, and what a
dry run would run after adding one buffer size (only the new points' jobs).

With --fusion the sweep sets `fusion_tiling: true`: every point also runs the exact fusion-tiling search (tile
batches, cost tables, search) on its variant with the config's `fusion_tiling` knobs (delay-first budget,
timeout 2000, victory 300; --tiles picks widths, default all), and the per-point fused saving is printed.

    python benchmarks/bench_sweep.py [--cores 2] [--networks alexnet,resnet18] [--fusion [--tiles 3,7,13]]
                                     [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
GRID = {"pe_count": [4, 8, 16], "glb_kib": [64, 128, 256], "word_bits": [8, 16]}


def overlay(path: Path, networks: list[str], grid: dict, timeout: int, victory: int, fusion: bool = False,
            tiles: str = "all") -> Path:
    data = {
        "networks": ["alexnet"],
        "datasets": ["imagenet"],
        "layers": {"alexnet": ["fc8"]},  # the plain part of the run: one small layer
        "sparsity": {"enabled": False},
        "fusion": {"enabled": False},
        "fusion_tiling": {"enabled": False,
                          "tiles": "all" if tiles == "all" else [int(t) for t in tiles.split(",")]},
        "sweeps": {"bench": {"accelerator": "simba_like", "networks": networks, "datasets": ["imagenet"],
                             "grid": grid, "mapper": {"timeout": timeout, "victory_condition": victory,
                                                      "algorithm": "random-pruned",
                                                      "optimization_metrics": ["energy", "delay"],
                                                      "max_permutations_per_if_visit": 8},
                             "fusion_tiling": fusion}},
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run(work: Path, cfg: Path, cores: int, *args: str) -> str:
    cmd = [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work), "--workflow-profile",
           str(ROOT / "profiles/local"), "--configfile", str(cfg), "--cores", str(cores), *args]
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr


def job_counts(text: str) -> Counter:
    return Counter(m.group(1) for m in re.finditer(r"^\s*(?:local)?rule (\w+):", text, re.M) if m.group(1) != "all")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--networks", default="alexnet,resnet18")
    ap.add_argument("--timeout", type=int, default=2000)
    ap.add_argument("--victory", type=int, default=300)
    ap.add_argument("--fusion", action="store_true", help="fusion_tiling: true (the fused saving per point)")
    ap.add_argument("--tiles", default="all", help="fusion tile widths: all or a comma list (with --fusion)")
    ap.add_argument("--keep", help="run in this folder (kept) instead of a temporary one")
    a = ap.parse_args()
    nets = a.networks.split(",")
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        work = Path(a.keep) if a.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        cfg = overlay(work / "sweep.yaml", nets, GRID, a.timeout, a.victory, a.fusion, a.tiles)
        t0, r0 = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
        text = run(work, cfg, a.cores, "--printshellcmds")
        wall = time.monotonic() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        npts = len(GRID["pe_count"]) * len(GRID["glb_kib"]) * len(GRID["word_bits"])
        fused = f", fusion_tiling (tiles {a.tiles})" if a.fusion else ""
        print(f"sweep {npts} points x {','.join(nets)}{fused} on {a.cores} cores: wall {wall:.1f} s, CPU {cpu:.1f} s")
        logs = sorted((work / ".snakemake/log").glob("*.snakemake.log"), key=lambda f: f.stat().st_mtime)
        print("jobs:", dict(sorted(job_counts(logs[-1].read_text() if logs else text).items())))
        out = work / "results/sweeps/bench"
        pts = pd.read_csv(out / "points.csv")
        print(f"points.csv: {len(pts)} rows, {int(pts['valid'].sum())} valid")
        front = pd.read_csv(out / "pareto.csv")
        cols = [*GRID, "network", "energy_uJ", "cycles", "area_mm2", "edp"]
        with pd.option_context("display.width", 160, "display.max_rows", 200):
            print("Pareto front (energy, cycles, area):")
            print(front[cols].to_string(index=False))
        if a.fusion:
            cols = [*GRID, "network", "energy_uJ", "fusion_lbl_energy_uJ", "fused_energy_uJ", "fused_cycles",
                    "fusion_saving_pct"]
            with pd.option_context("display.width", 160, "display.max_rows", 200):
                print("fused saving per point (fusion_saving_pct vs the search's layer-by-layer energy):")
                print(pts[cols].to_string(index=False))
        grown = {**GRID, "glb_kib": [*GRID["glb_kib"], 512]}
        grown_cfg = overlay(work / "grown.yaml", nets, grown, a.timeout, a.victory, a.fusion, a.tiles)
        dry = job_counts(run(work, grown_cfg, a.cores, "-n"))
        print("after adding glb_kib 512 (dry run):", dict(sorted(dry.items())))


if __name__ == "__main__":
    main()
