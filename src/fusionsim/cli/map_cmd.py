"""`fusionsim map`: search the best mapping of one layer on one arch under mapspace constraints."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("map", help="find the best mapping of one layer (Timeloop v1.0 mapper semantics)")
    p.add_argument("--arch", required=True, type=Path, help="arch YAML (tree or flattened form)")
    p.add_argument("--components", default=None, type=Path, help="folder of compound component class YAMLs")
    p.add_argument("--problem", required=True, type=Path, help="Timeloop problem YAML")
    p.add_argument("--constraints", required=True, nargs="+", type=Path, help="constraint YAMLs (merged)")
    p.add_argument("--mapper", required=True, type=Path, help="mapper settings YAML")
    p.add_argument("--ert", required=True, type=Path, help="Accelergy ERT YAML")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same mapping)")
    p.add_argument("--threads", type=int, default=1,
                   help="worker processes (the result does not depend on it); with --engine timeloop, Timeloop's "
                        "num-threads when the mapper file sets none")
    p.add_argument("--engine", choices=("native", "timeloop"), default="native",
                   help="native model, or the real timeloop-mapper when it is installed")
    p.add_argument("--out", type=Path, default=None, help="folder for mapping.yaml, stats.json and stats.txt")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fusionsim.mapper.api import map_files

    def progress(msg: str) -> None:
        print(f"fusionsim map: {msg}", file=sys.stderr, flush=True)

    res = map_files(args.arch, args.problem, list(args.constraints), args.mapper, args.ert,
                    components=args.components, seed=args.seed, threads=args.threads, engine=args.engine,
                    out_dir=args.out, progress=None if args.quiet else progress)
    if args.json:
        print(json.dumps(res))
    else:
        s = res["stats"]
        print(res["mapping"], end="")
        print(f"energy {s['energy_pJ']:.2f} pJ  cycles {s['cycles']}  utilization {s['utilization']:.3f}  "
              f"evaluated {res['evaluated']}  valid {res['valid']}  {res['seconds']:.2f} s")
    return 0
