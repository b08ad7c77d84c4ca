"""Job bodies of the ARCHON comparison that the thin `scripts/` call: fused-block costs, the sparse
adjustment, the per-(network, dataset) tables, the final table and the area table."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from fusionsim.archon.comparisons import VARIANTS
from fusionsim.archon.predictive import (
    FusedBlock,
    FusedBlockCosts,
    OverheadBreakdown,
    PartCost,
    fused_block_costs,
)
from fusionsim.archon.tables import (
    BaselineBlockResults,
    EdgeLayerResult,
    SparseCycles,
    build_network_tables,
    write_final_table,
    write_network_tables,
)
from fusionsim.atomic_io import write_json
from fusionsim.errors import InputError
from fusionsim.frames import records_frame, write_csv, write_markdown
from fusionsim.model.result import EvalResult
from fusionsim.spec.yaml_io import load_json, load_yaml


def _result(path: str | os.PathLike) -> EvalResult:
    """An engine result from a stats.json (EvalResult JSON) or a Timeloop stats.txt."""
    p = Path(path)
    if p.suffix == ".txt":
        from fusionsim.timeloop import read_stats

        return read_stats(p)
    return EvalResult.from_json(json.loads(p.read_text()))


def write_fused_block(decom: str, conv: str, main: str, params: dict[str, Any], out: str) -> FusedBlockCosts:
    """One fused block's seven columns and overhead breakdown (JSON) from its three engine results."""
    p = dict(params)
    variant = VARIANTS[p.pop("variant")]
    block = FusedBlock(**p)
    costs = fused_block_costs(block, _result(decom), _result(conv), _result(main), variant)
    write_json(
        out,
        {
            "block": block.name,
            "columns": costs.row(),
            "overhead": costs.overhead.row(),
            "params": dict(params),
        },
    )
    return costs


def read_fused_block(path: str | os.PathLike) -> FusedBlockCosts:
    """A `write_fused_block` JSON back as `FusedBlockCosts`."""
    d = load_json(path)
    c, o = d["columns"], d["overhead"]
    return FusedBlockCosts(
        block=d["block"],
        pred_decom=PartCost(c["1_pred_decom_e"], int(c["5_pred_decom_c"])),
        pred_conv=PartCost(c["2_pred_conv_e"], int(c["6_pred_conv_c"])),
        main=PartCost(c["3_main_e"], int(c["7_main_c"])),
        overhead=OverheadBreakdown(*(float(v) for v in o.values())),
    )


def loops_from_mapping_yaml(path: str | os.PathLike) -> tuple:
    """Dense mapping loops (outermost first, `fusionsim.sparsity.imbalance.Loop`) of a Timeloop mapping YAML."""
    from fusionsim.sparsity.imbalance import Loop

    data = load_yaml(path)
    loops = []
    for d in data.get("mapping", []):
        if d.get("type") not in ("temporal", "spatial"):
            continue
        factors = dict(tok.split("=") for tok in str(d.get("factors", "")).split())
        perm = d.get("permutation") or ""
        order = list(perm) if isinstance(perm, str) else list(perm)
        order += [k for k in factors if k not in order]
        for dim in reversed(order):  # permutation is innermost first
            f = int(factors.get(dim, 1))
            if f > 1:
                loops.append(Loop(dim, f, d["type"] == "spatial"))
    return tuple(loops)


def write_sparse_layers(
    model: str,
    workload: str,
    dataset: str,
    names: list[str],
    stats: list[str],
    mappings: list[str],
    energy_model: str,
    out: str,
) -> list[dict[str, Any]]:
    """The sparse baseline of a network's bottleneck layers: per layer its weight sparsity, per-PE imbalance
    statistics, `sparse_c` (per group x groups) and `sparse_e_uJ`, from the pruned model and the dense jobs."""
    from fusionsim.sparsity.adjust import SparseEnergyModel, analyze_layer
    from fusionsim.sparsity.weights import read_pruned_model

    layers, kernels = read_pruned_model(model, workload, dataset, match="name")
    by_name = {lw.spec.name: lw for lw in layers}
    rows = []
    for name, st, mp in zip(names, stats, mappings, strict=True):
        lw = by_name.get(name)
        if lw is None:
            raise InputError(f"the pruned model has no layer {name!r}", file=model, key=name)
        emodel = SparseEnergyModel.seed(lw.spec.kind) if energy_model == "seed" else SparseEnergyModel()
        rec, _ = analyze_layer(lw, loops_from_mapping_yaml(mp), _result(st), emodel)
        rec["pruning"] = (getattr(kernels, "provenance", {}) or {}).get("method", "user model")
        rows.append(rec)
    write_csv(records_frame(rows), out)
    return rows


def write_sparse_layers_from_pe_work(
    names: list[str], groups: list[int], files: list[str], out: str
) -> list[dict[str, Any]]:
    """The sparse baseline's cycles from given per-PE non-zero work (`sparsity.pe_work`, e.g. the seed's
    `sparse_baseline/csvs/<k>_<part>_raw_80.csv`): per layer the slowest PE's work summed over passes, x groups
    (one group's grid stands for all, the seed's x G). Same table as `write_sparse_layers` (`sparse_c` per layer);
    the sparse energy is priced from the dense jobs by the tables (`fusion.sigma`)."""
    from fusionsim.sparsity.imbalance import read_pe_work_csv

    rows = []
    for name, g, f in zip(names, groups, files, strict=True):
        grid = read_pe_work_csv(f)
        per_pass = grid.max(axis=0)
        rows.append(
            {
                "layer": name,
                "groups": g,
                "pes": grid.shape[0],
                "passes": grid.shape[1],
                "sparse_macs": int(grid.sum()) * g,
                "sparse_c": int(per_pass.sum()) * g,
                "best_sparse_mac_cycles": int(grid.sum()) // grid.shape[0] * g,
                "pruning": f"pe_work:{Path(f).name}",
            }
        )
    write_csv(records_frame(rows, default_columns=["layer", "sparse_c"]), out)
    return rows


def prune_network(
    workload: str, dataset: str, out: str, sparsity: float, data: str | None, epochs: int, seed: int
) -> dict[str, Any]:
    """Prune a workload's Keras model to `sparsity` (TensorFlow, imported here only) and save `.h5` plus
    `<out>.json` with the pruning label (magnitude-untrained without `data`) and per-layer sparsity."""
    from fusionsim.sparsity.prune import prune_workload
    from fusionsim.sparsity.weights import load_layer_specs

    specs, info = load_layer_specs(workload, dataset)
    res = prune_workload(specs, info, out, sparsity=sparsity, dataset=data, epochs=epochs, seed=seed)
    record = {**res.label, "layer_sparsity": res.layer_sparsity}
    write_json(out + ".json", record)
    return record


def _sparse_cycles(path: str, layer_names: list[str], blocks: list[dict[str, Any]]) -> list[SparseCycles]:
    """Per-block sparse cycles of one group per layer from a `write_sparse_layers` table."""
    with open(path, newline="") as fh:
        rows = {r["layer"]: r for r in csv.DictReader(fh)}
    out = []
    for b in blocks:
        blk, g = b["block"], b["groups"]

        def per_group(role: str, groups: int, _blk: str = blk) -> int:
            r = rows.get(f"{_blk}_{role}")
            if r is None:
                raise InputError(f"no sparse result for {_blk}_{role}", file=path, key=f"{_blk}_{role}")
            return int(float(r["sparse_c"])) // groups

        out.append(SparseCycles(pw1=per_group("decom", g), dw=per_group("conv", 1), pw2=per_group("comp", g)))
    return out


def write_comparison(
    inputs: dict[str, Any], params: dict[str, Any], outdir: str, sigma: float = 0.91, index_bits: int = 10
) -> dict[str, float]:
    """res.csv/.md, res_summary, result.csv/.md and per-block plots of one (network, dataset); returns totals.

    `inputs` as `ComparisonPlan.comparison_inputs` (engine results: stats.json or stats.txt files), `params`
    as `ComparisonPlan.comparison_params`. The fused blocks are priced here (`write_fused_block`, one JSON each
    under `<outdir>/blocks/`: a job per block cost more in process start than the arithmetic), unless
    `inputs["blocks"]` already lists such JSON files."""
    blocks = params["baseline_blocks"]
    sparse = (
        _sparse_cycles(inputs["sparse"], params["baseline_layers"], blocks)
        if inputs.get("sparse")
        else [None] * len(blocks)
    )
    res = [_result(f) for f in inputs["baseline"]]
    baseline = [
        BaselineBlockResults(res[3 * k], res[3 * k + 1], res[3 * k + 2], b["cmid"], b["groups"], sparse[k])
        for k, b in enumerate(blocks)
    ]

    def edge(files: list[str], specs: list[dict[str, Any]]) -> list[EdgeLayerResult]:
        return [
            EdgeLayerResult(s["name"], _result(f), int(s["multiplier"]), s.get("depthwise_channels"))
            for f, s in zip(files, specs, strict=True)
        ]

    block_files = inputs.get("blocks")
    if not block_files:  # the pipeline: price every fused block here, its JSON in <outdir>/blocks/<block>.json
        block_files = []
        parts = zip(inputs["block_decom"], inputs["block_conv"], inputs["block_main"], params["fused_blocks"],
                    strict=True)  # fmt: skip
        for decom, conv, main, bp in parts:
            block_files.append(os.path.join(outdir, "blocks", f"{bp['name']}.json"))
            write_fused_block(decom, conv, main, bp, block_files[-1])
    tables = build_network_tables(
        baseline,
        [read_fused_block(f) for f in block_files],
        edge(inputs["head"], params["head"]),
        edge(inputs["head_fused"], params["head_fused"]),
        edge(inputs["tail"], params["tail"]),
        edge(inputs["tail_fused"], params["tail_fused"]),
        sigma=sigma,
        index_bits=index_bits,
    )
    write_network_tables(tables, outdir, title=params.get("title", ""))
    write_json(os.path.join(outdir, "totals.json"), tables.totals)
    return tables.totals


def write_final(
    totals_files: list[str], outdir: str, references: dict[str, Any] | None = None
) -> list[dict]:
    """final.csv/.md, final_vs_reference.csv/.md and speedup.png from per-(network, dataset) `totals.json`
    files (`<out>/archon/<network>/<dataset>/totals.json`); `references`: network -> {source, dataset totals}
    (`ComparisonPlan.references()`)."""
    totals = {}
    for f in totals_files:
        parts = Path(f).parts
        totals[(parts[-3], parts[-2])] = json.loads(Path(f).read_text())
    refs = {
        net: (r.get("source", ""), r.get("totals") or {})
        for net, r in (references or {}).items()
        if r.get("totals")
    }
    baselines = {net: r["baseline"] for net, r in (references or {}).items() if r.get("baseline")}
    return write_final_table(totals, outdir, refs, baselines)


def write_area(archs: dict[str, str], adders: int, out: str) -> list[tuple[str, str, float]]:
    """Area table (um^2) of the dense baseline and ARCHON from their arches' ART (built with `fusionsim ert`)."""
    from fusionsim.archon.area import archon_area_spec, area_table, baseline_area_spec
    from fusionsim.energy import build_tables

    units: dict[str, dict[str, float]] = {"baseline": {}, "archon": {}}
    pes: dict[str, int] = {}
    for role, arch in archs.items():
        acc = "baseline" if role == "baseline" else "archon"
        t = build_tables(Path(arch), [Path(arch).parent / "components"], None, "native")
        for comp in t.components:
            units[acc].setdefault(comp.name.split(".")[-1].split("[")[0], comp.area_um2)
            if "PE[" in comp.name and role != "overhead":
                pes[acc] = max(pes.get(acc, 0), comp.instances)
    rows = [
        ("baseline", n, a)
        for n, a in area_table(units["baseline"], baseline_area_spec(pes.get("baseline", 72)))
    ]
    rows += [
        ("archon", n, a)
        for n, a in area_table(units["archon"], archon_area_spec(adders, pes.get("archon", 64)))
    ]
    frame = pd.DataFrame(rows, columns=["accelerator", "component", "area_um2"])
    write_csv(frame, out, float_format="%.2f")
    write_markdown(frame.rename(columns={"area_um2": "area (um^2)"}), out.removesuffix(".csv") + ".md",
                   floatfmt=",.2f")
    return rows
