"""The README's first command as a new user runs it: `make run` in a fresh clone beside ../shared.

Clones this repository's HEAD into a temporary folder (with a `shared` link beside it when ../shared exists),
runs `make run` there and prints: wall time (set-up included), the number of console lines, the last 40 lines,
and whether the headline outputs exist (final table, fusion plan, HTML report).

    python benchmarks/bench_make_run.py [--keep DIR]

The venv set-up reuses pip's cache when the machine has one (a first install on a new machine downloads
TensorFlow and takes longer); the figure printed says how long the set-up part took.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = ("results/report/final.md", "results/fusion_tiling/alexnet/simba_like/plan/comparison.csv",
            "results/report.html")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="clone into this (new) folder and keep it")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="fusionsim-make-run-"))
    base.mkdir(parents=True, exist_ok=True)
    shared = ROOT.parent / "shared"
    if shared.exists() and not (base / "shared").exists():
        (base / "shared").symlink_to(shared)
    clone = base / "main"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    t0 = time.perf_counter()
    # one stream, as a terminal shows it (the end-of-run summary is on stdout, Snakemake's progress on stderr)
    proc = subprocess.run(["make", "run"], cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    wall = time.perf_counter() - t0
    console = proc.stdout.splitlines()
    set_up = next((i for i, line in enumerate(console) if "snakemake --profile" in line), None)
    elapsed = next((m.group(1) for line in console if (m := re.search(r"Elapsed time: (\S+)", line))), "n/a")
    print(f"make run: exit {proc.returncode}, wall {wall:.1f} s (Snakemake's own 'Elapsed time' {elapsed}; "
          f"the rest is the venv set-up and the report)")
    print(f"console: {len(console)} lines ({set_up if set_up is not None else '?'} of them the set-up's)")
    for name in HEADLINE:
        path = clone / name
        print(f"  {name}: {'present' if path.exists() and path.stat().st_size > 0 else 'MISSING'}")
    print("last 40 console lines:")
    for line in console[-40:]:
        print(f"  | {line}")
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)
    raise SystemExit(0 if proc.returncode == 0 else 1)


if __name__ == "__main__":
    main()
