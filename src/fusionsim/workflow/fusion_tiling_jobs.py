"""Job bodies of the fusion-tiling stage: the layer folder, a batch of tile jobs, the cost tables and the
search with its report."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from fusionsim.atomic_io import write_json
from fusionsim.frames import write_csv
from fusionsim.workflow.fusion_tiling import FUSION_BATCH_FORMAT, FUSION_LEVELS, fusion_layer_set
from fusionsim.workflow.jobs import write_yaml


def write_fusion_layers(workload: str, dataset: str, names: list[str], folder: str) -> list[Path]:
    """The stage's layer folder (one problem YAML per layer, graph.json), written whole into a scratch
    folder and renamed into place."""
    from fusionsim.fusion.benchmark_stage import write_layer_set

    target = Path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".layers-", dir=target.parent))
    try:
        paths = write_layer_set(fusion_layer_set(workload, dataset, names), scratch)
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(scratch, target)
        return [target / p.name for p in paths]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_fusion_tile_batch(
    *,
    tiles: list[dict[str, Any]],
    mapper: dict[str, Any],
    arch: str,
    ert: str,
    constraints: list[str],
    components: str | None,
    dram: str,
    engine: str,
    seed: int,
    store: str,
    out: str,
    threads: int = 1,
) -> dict[str, Any]:
    """One batch job: every tile (`{key, problem, dram_keep}`) mapped in this process, equal tile problems back
    to back (they share the mapspace memo); each tile's files go to `store/<key>/` as a `benchmark_stage.run_job`
    folder (without fsync: an unreadable result.json is simply recomputed) and a tile whose result.json is
    already there is reused. Writes `out` (every tile's result, keyed) last, atomically."""
    from fusionsim import atomic_io
    from fusionsim.fusion import benchmark_stage as bs

    t0 = time.monotonic()
    jobs = [bs.BenchJob(t["key"], t["problem"], None if t["dram_keep"] is None else tuple(t["dram_keep"]))
            for t in tiles]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="fusion-batch-") as tmp:
        write_yaml(Path(tmp) / "mapper.yaml", mapper)
        setup = bs.BenchSetup(
            arch=Path(arch),
            ert=Path(ert),
            constraints=tuple(Path(c) for c in constraints),
            mapper=Path(tmp) / "mapper.yaml",
            components=Path(components) if components else None,
            dram=dram,
            engine=engine,
            seed=seed,
        )
        reused = sum(bs.read_result(Path(store) / j.key / "result.json", j.key) is not None for j in jobs)
        with atomic_io.without_fsync():
            results = bs.run_jobs(jobs, setup, store, workers=threads)
    for key, res in results.items():
        res.pop("mapping", None)  # the tile store keeps it (mapping.yaml)
        res["store"] = f"{store}/{key}"
    body = {"format": FUSION_BATCH_FORMAT, "tiles": len(jobs), "reused": reused, "seconds": round(time.monotonic() - t0, 3),
            "results": {j.key: results[j.key] for j in jobs}}  # fmt: skip
    write_json(out, body)
    return body


def read_tile_results(files: list[str]) -> dict[str, dict[str, Any]]:
    """Tile results by key from batch results.json files (or single tiles' result.json files)."""
    found: dict[str, dict[str, Any]] = {}
    for f in files:
        res = json.loads(Path(f).read_text())
        if res.get("format") == FUSION_BATCH_FORMAT:
            found.update(res["results"])
        else:
            found[res["key"]] = res
    return found


def write_fusion_costs(
    layers_dir: str,
    results: list[str],
    uses: dict[str, list[list[Any]]],
    out_dir: str,
    skipped: list[list[Any]] | None = None,
) -> Any:
    """The cost tables of one (network, accelerator) from its batch jobs' results.json files: the seed's
    `<TYPE>.json`, `<TYPE>_cycles.json`, `<TYPE>/Layer<k>.json`, and our costs.json (written last). `skipped`
    entries (not mapped) are listed in costs.json; every table keeps a row per layer."""
    from fusionsim.fusion import benchmark_stage as bs

    found = read_tile_results(results)
    jobs = [bs.BenchJob(k, {}, None, tuple(tuple(u) for u in us)) for k, us in uses.items()]
    tables = bs.assemble_tables(bs.load_layer_dir(layers_dir), jobs, found)
    tables.seconds = sum(float(found[k].get("seconds") or 0.0) for k in uses)
    tables.skipped = [list(e) for e in skipped or []]
    for kind in dict.fromkeys(e[0] for e in tables.skipped):
        for lay in tables.layers:
            tables.entries.setdefault(kind, {}).setdefault(lay.number, {})
    bs.write_tables(tables, out_dir)
    return tables


COMPARISON_COLUMNS = ["schedule", "energy_uJ", "cycles", "saving_pct", "stacks"]


def run_fusion_search(
    *, layers_dir: str, costs_dir: str, levels: dict[str, str], objective: str, variant: str, out_dir: str
) -> Any:
    """The search of one (network, accelerator) on its tables, and its report: plan.json, plan.log,
    statistics.csv, tiling.png, energy.png and comparison.csv (fused vs layer-by-layer)."""
    from fusionsim.fusion import benchmark_stage as bs
    from fusionsim.fusion.costs import StackCoster
    from fusionsim.fusion.deepfrack_compat import search_seed
    from fusionsim.fusion.plan import BufferLevels, Level
    from fusionsim.fusion.search import check_capacity, search_exact
    from fusionsim.fusion.tables import load_tables, validate_tables
    from fusionsim.fusion.workload import load_workload

    buffers = BufferLevels(*(Level.parse(levels[k], f"fusion.{k}") for k in FUSION_LEVELS))
    workload = load_workload(layers_dir)
    shapes = [lay.shape for lay in workload.layers]
    tables = load_tables(costs_dir)
    validate_tables(tables, shapes)
    if variant == "exact":
        plan = search_exact(workload, tables, buffers, objective)
        skipped = bs.read_skipped(Path(costs_dir) / "costs.json")
        if skipped:
            from fusionsim.fusion.skip import describe

            total = len(skipped) + sum(len(r) for t in tables.energy.values() for r in t.values())
            plan.notes += describe(skipped, total)
    else:
        if len(shapes) > 1:
            check_capacity(StackCoster(workload, tables, buffers))
        plan = search_seed(tables, shapes, buffers, variant)
    bs.write_plan_outputs(plan, workload, Path(costs_dir) / "costs.json", out_dir)
    stacks = " ".join(f"({s.start},{s.end})" for s in plan.stacks)
    rows = [
        {
            "schedule": "layer_by_layer",
            "energy_uJ": plan.layer_by_layer_uJ,
            "cycles": plan.layer_by_layer_cycles,
            "saving_pct": 0.0,
            "stacks": " ".join(f"({k},{k})" for k in range(len(shapes))),
        },
        {
            "schedule": f"fused ({plan.variant}, {plan.objective})",
            "energy_uJ": plan.fused_uJ,
            "cycles": plan.fused_cycles,
            "saving_pct": plan.saving_pct,
            "stacks": stacks,
        },
    ]
    frame = pd.DataFrame(rows, columns=COMPARISON_COLUMNS).astype({"cycles": float})  # None: no cycles, ""
    write_csv(frame, Path(out_dir) / "comparison.csv")
    return plan
