"""`fusionsim evaluate`: one layer, one mapping, one arch -> energy, cycles, per-level detail."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate one mapping of one layer (native Timeloop v1.0 model)")
    p.add_argument("--arch", required=True, help="arch YAML (tree or flattened form)")
    p.add_argument("--components", default=None, help="folder of compound component class YAMLs")
    p.add_argument("--problem", required=True, help="Timeloop problem YAML")
    p.add_argument("--mapping", required=True, help="mapping YAML or Timeloop map.txt")
    p.add_argument("--ert", required=True, help="Accelergy ERT YAML")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fusionsim.model.evaluate import evaluate_files

    res = evaluate_files(args.arch, args.problem, args.mapping, args.ert, args.components)
    if args.json:
        print(json.dumps(res.to_json()))
    else:
        print(f"energy {res.energy_pJ:.2f} pJ  cycles {res.cycles}  utilization {res.utilization:.3f}  "
              f"MACs {res.macs}  pJ/MAC {res.energy_pJ / res.macs:.3f}")
        for lv in res.levels:
            print(f"  {lv.name:<20} {lv.energy_pJ:>16.2f} pJ")
    return 0
