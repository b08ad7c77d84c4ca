"""Wall time of issue 9's full comparison from one snakemake command on 2 cores: FusioNet, MobileNetV2,
MnasNet and ShuffleNet x CIFAR-10/100 x (dense baseline, sparse baseline, ARCHON), default engine and the
accelerators' own mapper budgets, in a fresh temp folder (no cache). Prints the wall time and the final table.

    .venv/bin/python benchmarks/bench_full_comparison.py [--cores 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OVERLAY = """\
networks: [fusionet, mobilenetv2, mnasnet, shufflenet]
datasets: [cifar10, cifar100]
fusion: {enabled: true}
fusion_tiling: {enabled: false}
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--keep", type=Path, default=None, help="run in this folder (kept) instead of a temp one")
    args = ap.parse_args()
    wd = args.keep or Path(tempfile.mkdtemp(prefix="fusionsim-full-"))
    wd.mkdir(parents=True, exist_ok=True)
    (wd / "overlay.yaml").write_text(OVERLAY)
    snakemake = Path(sys.executable).with_name("snakemake")
    cmd = [
        str(snakemake),
        "-s",
        str(REPO / "Snakefile"),
        "--cores",
        str(args.cores),
        "--configfile",
        "overlay.yaml",
        "-q",
    ]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=wd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        print(r.stdout[-4000:], r.stderr[-4000:], sep="\n")
        print(f"FAILED after {wall:.0f} s (folder {wd})")
        return 1
    jobs = len(list((wd / "results" / "cache" / "layers").glob("*/run.json")))
    print(f"full comparison: {wall:.0f} s wall on {args.cores} cores, {jobs} layer jobs (folder {wd})")
    print((wd / "results" / "report" / "final.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
