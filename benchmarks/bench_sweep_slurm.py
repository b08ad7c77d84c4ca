"""A 100-point sweep through `profiles/slurm` on a throwaway local SLURM: submitted cluster jobs and wall time.

simba_like over pe_count (5 values) x glb_kib (10) x word_bits (2) on AlexNet fc8 (one layer, ImageNet) with the
fast mapper budget, the config's other stages off; starts a single-node SLURM with
tests/workflow/slurm_cluster.py (root, slurm-wlm and munge; stopped at the end, by pid). profiles/slurm groups
the 100 `sweep_map_batch` jobs (one per point: one layer each) 25 to a SLURM job (`group-components: {map_layers: 25}`); `build_ert`,
`sweep_point` and `sweep_tables` are local rules. Prints the SLURM jobs submitted (by rule or group), the wall
time, the valid points and the Pareto front size.

    python benchmarks/bench_sweep_slurm.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
GRID = {"pe_count": [2, 4, 8, 16, 32], "glb_kib": [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192],
        "word_bits": [8, 16]}


def main() -> None:
    from tests.workflow.slurm_cluster import start_cluster

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", help="run in this folder (kept) instead of a temporary one")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sweep-slurm-") as tmp:
        work = Path(a.keep) if a.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        cfg = work / "sweep100.yaml"
        cfg.write_text(yaml.safe_dump({
            "networks": ["alexnet"], "datasets": ["imagenet"], "layers": {"alexnet": ["fc8"]},
            "sparsity": {"enabled": False}, "fusion": {"enabled": False}, "fusion_tiling": {"enabled": False},
            "sweeps": {"s100": {"accelerator": "simba_like", "networks": ["alexnet"], "datasets": ["imagenet"],
                                "layers": {"alexnet": ["fc8"]}, "grid": GRID,
                                "mapper": {"timeout": 2000, "victory_condition": 300}}},
        }, sort_keys=False))
        cluster = start_cluster(Path(tempfile.mkdtemp(prefix="fusionsim-slurm-")))
        try:
            env = {**cluster.env, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
            cmd = [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work),
                   "--workflow-profile", str(ROOT / "profiles/slurm"), "--configfile", str(cfg)]
            t0 = time.monotonic()
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=7200)
            wall = time.monotonic() - t0
        finally:
            cluster.stop()
        text = proc.stdout + proc.stderr
        if proc.returncode != 0:
            sys.exit(f"snakemake failed ({proc.returncode}):\n{text[-5000:]}")
        subs = [ln for ln in text.splitlines() if "has been submitted with SLURM jobid" in ln]
        kinds = Counter(m.group(1) if (m := re.search(r"slurm_logs/(group_\w+|rule_\w+)", ln)) else "?" for ln in subs)
        pts = pd.read_csv(work / "results/sweeps/s100/points.csv")
        front = pd.read_csv(work / "results/sweeps/s100/pareto.csv")
        print(f"100-point sweep via profiles/slurm: {len(subs)} SLURM jobs submitted {dict(kinds)}, "
              f"wall {wall:.1f} s")
        print(f"points.csv: {len(pts)} rows, {int(pts['valid'].sum())} valid; Pareto front {len(front)} rows")
        cols = [*GRID, "energy_uJ", "cycles", "area_mm2"]
        print(front[cols].to_string(index=False))


if __name__ == "__main__":
    main()
