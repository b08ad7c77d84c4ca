"""`fusionsim fusion-benchmark`: per-layer, per-tile, per-dataflow-type cost tables for the fusion search."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fusionsim.errors import InputError
from fusionsim.fusion import benchmark_stage as bs
from fusionsim.fusion.tables import TYPES
from fusionsim.spec.yaml_io import load_yaml_any
from fusionsim.sweeps.params import fusion_section


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("fusion-benchmark", help=__doc__.split(": ", 1)[1],
                              description=__doc__.split(": ", 1)[1])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--layers", help="folder with one Timeloop problem YAML per layer, numbered in order")
    src.add_argument("--network", help="network definition workloads/<net>.yaml (needs --dataset)")
    p.add_argument("--dataset", help="dataset of --network (its input size)")
    p.add_argument("--accelerator", help="accelerator folder with accelerator.yaml (arch, ert, constraints, mapper)")
    p.add_argument("--arch", help="arch YAML (overrides the accelerator's)")
    p.add_argument("--components", help="compound component folder (overrides the accelerator's)")
    p.add_argument("--ert", help="ERT YAML (overrides the accelerator's)")
    p.add_argument("--constraints", nargs="+", help="base constraint YAMLs, without a DRAM keep/bypass rule")
    p.add_argument("--mapper", help="mapper YAML (overrides the accelerator's)")
    p.add_argument("--dram", help="outermost level whose keep/bypass encodes the type (default: the manifest's "
                                  "fusion.dram, else DRAM)")
    p.add_argument("--types", default=",".join(bs.SEED_TYPE_ORDER), help="comma-separated dataflow types")
    p.add_argument("--tiles", default="all", help="'all' (1..P, the seed) or comma-separated tile widths")
    p.add_argument("--slc-all-tiles", action="store_true", help="benchmark every width for SLC too")
    p.add_argument("--engine", choices=("native", "timeloop"), default="native")
    p.add_argument("--seed", type=int, default=0, help="mapper seed")
    p.add_argument("--workers", type=int, default=1, help="jobs run in parallel processes")
    p.add_argument("--out", required=True, help="output folder for the tables (runs/ keeps every job, resumable)")
    p.add_argument("--plan", action="store_true", help="also run the exact search and write plan.json, plan.log, "
                                                       "statistics.csv, tiling.png, energy.png under OUT/plan/")
    p.add_argument("--weights-level", metavar="NAME:WORDS", help="for --plan (default: the manifest's fusion section)")
    p.add_argument("--inputs-level", metavar="NAME:WORDS")
    p.add_argument("--outputs-level", metavar="NAME:WORDS")
    p.add_argument("--objective", choices=("energy", "latency", "edp"), default="energy")
    p.add_argument("--skip", choices=("unused", "bound"),
                   help="leave out the entries the exact search cannot use (docs/fusion-search.md): 'unused' (no "
                        "stack option that fits on chip reads them) or 'bound' (also those whose options a lower "
                        "bound rules out; maps the full-width SLC/LBLC/ELBLC entries first; --objective energy). "
                        "Needs the buffer levels as --plan does")
    p.add_argument("--dry-run", action="store_true", help="print the job count and exit")
    p.set_defaults(run=run)


def _manifest(folder: str | None) -> tuple[dict, Path | None]:
    if folder is None:
        return {}, None
    root = Path(folder)
    path = root / "accelerator.yaml"
    if not path.exists():
        raise InputError("no accelerator manifest", file=path, fix="point --accelerator at accelerators/<name>")
    raw = load_yaml_any(path)
    if not isinstance(raw, dict):
        raise InputError("expected a YAML mapping at the top level", file=path, fix="see accelerators/*/accelerator.yaml")
    for key in ("arch", "ert", "components", "technology"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise InputError(f"must be a string, got {type(raw[key]).__name__}", file=path, key=key,
                             fix="see accelerators/*/accelerator.yaml")
    for key in ("layer_kinds", "fusion"):
        if raw.get(key) is not None and not isinstance(raw[key], dict):
            raise InputError(f"must be a mapping, got {type(raw[key]).__name__}", file=path, key=key,
                             fix="see accelerators/*/accelerator.yaml")
    kinds = raw.get("layer_kinds") or {}
    if kinds.get("default") is not None and not isinstance(kinds["default"], dict):
        raise InputError("must be a mapping of constraints/mapper", file=path, key="layer_kinds.default",
                         fix="see accelerators/*/accelerator.yaml")
    default = kinds.get("default") or {}
    cons = default.get("constraints", [])
    if not isinstance(cons, list) or not all(isinstance(c, str) for c in cons):
        raise InputError("must be a list of file names", file=path, key="layer_kinds.default.constraints",
                         fix="see accelerators/*/accelerator.yaml")
    if default.get("mapper") is not None and not isinstance(default["mapper"], str):
        raise InputError("must be a file name", file=path, key="layer_kinds.default.mapper",
                         fix="see accelerators/*/accelerator.yaml")
    return raw, root


def _build_ert(arch: Path, components: Path | None, technology: str | None, out: Path) -> Path:
    """The ERT of an accelerator that ships none, built from its arch (as the pipeline's rule build_ert does,
    at the manifest's technology, else 45 nm) into `out`."""
    from fusionsim.energy.ert import build_tables, write_tables

    tables = build_tables(arch, components, technology or "45nm", "native")
    ert, _ = write_tables(tables, out)
    print(f"fusion-benchmark: no ERT in the manifest, built {ert} from {arch}", file=sys.stderr)
    return ert


def setup_from_args(args: argparse.Namespace, build_ert: bool = True) -> tuple[bs.BenchSetup, dict]:
    """The BenchSetup named by the arguments (explicit files override the manifest's) and its fusion section.

    With `build_ert=False` an accelerator that ships no ERT gets `<out>/ert/ERT.yaml` as its path, not yet
    written (the caller builds it with `ensure_ert` once every input is validated)."""
    raw, root = _manifest(args.accelerator)
    kinds = (raw.get("layer_kinds") or {}).get("default") or {}

    def pick(value: str | None, manifest_value: str | None, what: str) -> Path | None:
        if value:
            return Path(value)
        if manifest_value and root is not None:
            return root / manifest_value
        if what:
            raise InputError(f"no {what} given", key=f"--{what}", fix=f"pass --{what} or --accelerator")
        return None

    cons = [Path(c) for c in args.constraints] if args.constraints else (
        [root / c for c in kinds.get("constraints", [])] if root is not None else [])
    if not cons:
        raise InputError("no base constraints", key="--constraints", fix="pass --constraints or --accelerator")
    # templated level sizes rendered at the manifest's parameter defaults (fusionsim.sweeps.params)
    fusion = fusion_section(root / "accelerator.yaml") if root is not None else {}
    arch = pick(args.arch, raw.get("arch"), "arch")
    components = pick(args.components, raw.get("components"), "")
    if not args.ert and not raw.get("ert") and root is not None:
        ert = Path(args.out) / "ert" / "ERT.yaml"
        if build_ert:
            ert = _build_ert(arch, components, raw.get("technology"), Path(args.out) / "ert")
    else:
        ert = pick(args.ert, raw.get("ert"), "ert")
    setup = bs.BenchSetup(arch=arch, ert=ert,
                          constraints=tuple(cons), mapper=pick(args.mapper, kinds.get("mapper"), "mapper"),
                          components=components,
                          dram=args.dram or fusion.get("dram", "DRAM"), engine=args.engine, seed=args.seed)
    return setup, fusion


MAX_TILE = 1 << 16
"""Widest tile accepted by --tiles (a tile is at most a layer's output width)."""


def _tiles(text: str) -> list[int] | None:
    if text == "all":
        return None
    try:
        widths = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        raise InputError(f"expected 'all' or comma-separated widths, got {text!r}", key="--tiles",
                         fix="pass e.g. --tiles 1,2,4 or --tiles all") from None
    bad = [w for w in widths if not 1 <= w <= MAX_TILE]
    if bad or not widths:
        raise InputError(f"tile widths must be 1..{MAX_TILE}, got {text!r}", key="--tiles",
                         fix="pass e.g. --tiles 1,2,4 or --tiles all")
    return widths


def run(args: argparse.Namespace) -> int:
    types = [t.strip() for t in args.types.split(",") if t.strip()]
    for t in types:
        if t not in TYPES:
            raise InputError(f"unknown dataflow type {t!r}", key="--types", fix=f"use {', '.join(TYPES)}")
    tiles = _tiles(args.tiles)
    setup, fusion = setup_from_args(args, build_ert=False)
    out = Path(args.out)
    layer_set = None
    if args.layers:
        layers = bs.load_layer_dir(args.layers)
        layer_dir = Path(args.layers)
    else:
        if not args.dataset:
            raise InputError("--network needs --dataset", key="--dataset")
        layer_set = bs.network_layer_set(args.network, args.dataset)
        layer_dir = out / "layers"
        layers = list(layer_set.layers)
    # every input is validated: only now write anything under --out
    if not args.ert and setup.ert == out / "ert" / "ERT.yaml":
        raw, _ = _manifest(args.accelerator)
        _build_ert(setup.arch, setup.components, raw.get("technology"), out / "ert")
    if layer_set is not None:
        bs.write_layer_set(layer_set, layer_dir)
    if args.dry_run:
        jobs = bs.plan_jobs(layers, setup, types, tiles, args.slc_all_tiles)
        entries = sum(len(j.uses) for j in jobs)
        print(json.dumps({"layers": len(layers), "entries": entries, "jobs": len(jobs)}))
        return 0

    def progress(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            print(f"fusion-benchmark: {done}/{total} jobs", file=sys.stderr)

    skip: dict = {}
    if args.skip:
        from fusionsim.fusion.workload import load_workload

        if args.skip == "bound" and args.objective != "energy":
            raise InputError("the bound rule keeps the energy optimum only", key="--skip",
                             fix="use --skip unused with --objective latency or edp")
        skip = {"skip": args.skip, "workload": load_workload(layer_dir), "levels": _levels(args, fusion)}
    tables = bs.run_benchmark(layers, setup, out, types, tiles, args.workers, True, args.slc_all_tiles, progress,
                              **skip)
    summary = {"out": str(out), "layers": len(layers), "jobs": tables.jobs, "seconds": round(tables.seconds, 3)}
    if tables.skipped:
        summary["skipped"] = len(tables.skipped)
    if args.plan:
        summary["plan"] = _plan(args, fusion, layer_dir, out)
    print(json.dumps(summary))
    return 0


def _levels(args: argparse.Namespace, fusion: dict) -> object:
    """The search's buffer levels: the flags, else the manifest's fusion section."""
    from fusionsim.fusion.plan import BufferLevels, Level

    def level(value: str | None, key: str) -> Level:
        text = value or fusion.get(key.replace("-", "_"))
        if not text:
            raise InputError("no buffer level for --plan", key=f"--{key}",
                             fix=f"pass --{key} NAME:WORDS or add fusion.{key.replace('-', '_')} to the manifest")
        return Level.parse(str(text), f"--{key}")

    return BufferLevels(level(args.weights_level, "weights-level"), level(args.inputs_level, "inputs-level"),
                        level(args.outputs_level, "outputs-level"))


def _plan(args: argparse.Namespace, fusion: dict, layer_dir: Path, out: Path) -> dict:
    from fusionsim.fusion.search import search_exact
    from fusionsim.fusion.skip import describe
    from fusionsim.fusion.tables import load_tables
    from fusionsim.fusion.workload import load_workload

    levels = _levels(args, fusion)
    workload = load_workload(layer_dir)
    tables = load_tables(out)
    plan = search_exact(workload, tables, levels, args.objective)
    skipped = bs.read_skipped(out / "costs.json")
    plan.notes += describe(skipped, len(skipped) + sum(len(r) for t in tables.energy.values() for r in t.values()))
    paths = bs.write_plan_outputs(plan, workload, out / "costs.json", out / "plan")
    return {"fused_uJ": round(plan.fused_uJ, 3), "layer_by_layer_uJ": round(plan.layer_by_layer_uJ, 3),
            "saving_pct": round(plan.saving_pct, 3), "files": {k: str(v) for k, v in paths.items()}}
