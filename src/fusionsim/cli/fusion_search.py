"""`fusionsim fusion-search`: best fusion partition, tiling and weight caching from per-tile cost tables."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fusionsim.errors import InputError
from fusionsim.fusion.costs import StackCoster
from fusionsim.fusion.deepfrack_compat import VARIANTS, search_seed
from fusionsim.fusion.plan import BufferLevels, FusionPlan, Level
from fusionsim.fusion.search import OBJECTIVES, check_capacity, search_exact
from fusionsim.fusion.tables import load_tables, validate_tables
from fusionsim.fusion.workload import is_chain, load_workload


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("fusion-search", help=__doc__.split(": ", 1)[1],
                              description=__doc__.split(": ", 1)[1])
    p.add_argument("--costs", required=True, help="folder with <TYPE>.json cost tables (SLC, Start, ... OutWCC)")
    p.add_argument("--layers", required=True,
                   help="folder with one Timeloop problem YAML per layer, numbered, and optionally graph.json "
                        "with residual/branch edges (srcs, adds; a chain without it)")
    p.add_argument("--weights-level", required=True, metavar="NAME:WORDS", help="level holding cached weights")
    p.add_argument("--inputs-level", required=True, metavar="NAME:WORDS", help="level holding input tiles")
    p.add_argument("--outputs-level", required=True, metavar="NAME:WORDS", help="level holding output tiles")
    p.add_argument("--variant", choices=("exact", *VARIANTS), default="exact",
                   help="exact (ours, default) or a reproduction of the seed's core")
    p.add_argument("--objective", choices=OBJECTIVES, default="energy",
                   help="what to minimise (the seed variants only minimise energy)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(run=run)


def plan_from_args(args: argparse.Namespace) -> FusionPlan:
    """Load the inputs named on the command line and run the chosen search."""
    levels = BufferLevels(Level.parse(args.weights_level, "--weights-level"),
                          Level.parse(args.inputs_level, "--inputs-level"),
                          Level.parse(args.outputs_level, "--outputs-level"))
    workload = load_workload(args.layers)
    shapes = [lay.shape for lay in workload.layers]
    tables = load_tables(args.costs)
    validate_tables(tables, shapes)
    if args.variant == "exact":
        return search_exact(workload, tables, levels, args.objective)
    if args.objective != "energy":
        raise InputError(f"{args.variant} only minimises energy", key="--objective", fix="use --variant exact")
    if not is_chain(workload):
        raise InputError(f"{args.variant} searches chains only; graph.json has skip or branch edges",
                         file=Path(args.layers) / "graph.json", fix="use --variant exact")
    if len(shapes) > 1:
        check_capacity(StackCoster(workload, tables, levels))
    return search_seed(tables, shapes, levels, args.variant)


def run(args: argparse.Namespace) -> int:
    plan = plan_from_args(args)
    if args.json:
        json.dump(plan.to_json(), sys.stdout)
        sys.stdout.write("\n")
        return 0
    for st in plan.stacks:
        cached = ", ".join(map(str, st.cached_weights)) or "none"
        tiles = f"{len(st.tile_widths)} tile(s), widths {sorted(set(st.tile_widths), reverse=True)}"
        print(f"stack ({st.start}, {st.end}): {st.energy_uJ:.2f} uJ, {tiles}, cached weights: {cached}")
    print(f"fused {plan.fused_uJ:.2f} uJ vs layer-by-layer {plan.layer_by_layer_uJ:.2f} uJ "
          f"({plan.saving_pct:.3f} % saving), {plan.variant}, {plan.seconds:.3f} s")
    for note in plan.notes:
        print(f"note: {note}")
    return 0
