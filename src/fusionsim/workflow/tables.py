"""The default run's tables: res.csv per (network, dataset, accelerator) in the seed's layout, the layer
table and the summary across networks, datasets and accelerators."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from fusionsim.atomic_io import write_text
from fusionsim.workflow.plan import select_layers
from fusionsim.workloads import Layer, expand_network, load_network

RES_COLUMNS = ["layer", "PW1/L1_e", "DW_e", "PW2_e", "PW1/L1_c", "DW_c", "PW2_c"]
ROLE_COLUMNS = {"decom": ("PW1/L1_e", "PW1/L1_c"), "conv": ("DW_e", "DW_c"), "comp": ("PW2_e", "PW2_c")}


def layer_cost(
    layer: Layer, stats: dict[str, Any], dw_levels: tuple[str, ...] | list[str]
) -> tuple[float, float]:
    """(energy in uJ, cycles) of a whole layer from one mapper run's stats.

    A grouped layer ran one group: energy and cycles are multiplied by its groups. A depthwise or pooling layer
    ran as C=1: its input energy at `dw_levels` is added (channels - 1) more times (the seed's correction).
    """
    energy_pj = float(stats["energy_pJ"]) * layer.groups
    cycles = float(stats["cycles"]) * layer.groups
    if layer.kind in ("depthwise", "pool") and layer.channels > 1 and dw_levels:
        extra = 0.0
        for level in stats.get("levels", []):
            if level.get("name") in dw_levels:
                extra += float((level.get("dataspaces") or {}).get("Inputs", {}).get("energy_pJ", 0.0))
        energy_pj += (layer.channels - 1) * extra
    return energy_pj * 1e-6, cycles


def res_rows(layers: list[Layer], costs: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """The seed's result.csv layout: one row per head/tail layer (in PW1/L1), one per block (PW1, DW, PW2), a total."""
    rows: list[dict[str, Any]] = []
    by_block: dict[str, dict[str, Any]] = {}
    for layer, (e, c) in zip(layers, costs, strict=True):
        if layer.block is None:
            row = dict.fromkeys(RES_COLUMNS, 0.0)
            row.update({"layer": layer.name, "PW1/L1_e": e, "PW1/L1_c": c})
            rows.append(row)
            continue
        if layer.block not in by_block:
            by_block[layer.block] = dict.fromkeys(RES_COLUMNS, 0.0)
            by_block[layer.block]["layer"] = layer.block
            rows.append(by_block[layer.block])
        ecol, ccol = ROLE_COLUMNS[layer.role or "decom"]
        by_block[layer.block][ecol] += e
        by_block[layer.block][ccol] += c
    total = dict.fromkeys(RES_COLUMNS, 0.0)
    total["layer"] = "total"
    for row in rows:
        for col in RES_COLUMNS[1:]:
            total[col] += row[col]
    return rows + [total]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:.6f}".rstrip("0")
    return str(v)


def rows_to_csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """CSV text of `rows` with `columns` (floats without trailing zeros, integral floats as integers)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_fmt(row.get(c, "")) for c in columns])
    return buf.getvalue()


def write_res_csv(
    layers: list[Layer], stats_files: list[str], dw_levels: list[str], out: str
) -> list[dict[str, Any]]:
    """Build and write one (network, dataset, accelerator) res.csv from its per-layer stats.json files."""
    costs = [
        layer_cost(x, json.loads(Path(f).read_text()), dw_levels)
        for x, f in zip(layers, stats_files, strict=True)
    ]
    rows = res_rows(layers, costs)
    write_text(out, rows_to_csv(rows, RES_COLUMNS))
    return rows


def selected_layers(workload: str | Path, dataset: str, names: list[str]) -> list[Layer]:
    """The layers called `names` (in network order) of a workload file on `dataset`."""
    layers = expand_network(load_network(workload), dataset)
    return select_layers(layers, list(names), Path(workload).stem)


def write_network_res(
    workload: str, dataset: str, names: list[str], stats_files: list[str], dw_levels: list[str], out: str
) -> list[dict[str, Any]]:
    """res.csv of one (network, dataset, accelerator): the selected layers' stats in the seed's layout."""
    return write_res_csv(selected_layers(workload, dataset, names), stats_files, dw_levels, out)


def write_layer_table(workload: str, dataset: str, names: list[str], out: str) -> None:
    """The layer table (shapes and Timeloop problem sizes) of one (network, dataset)."""
    write_text(out, layer_table(selected_layers(workload, dataset, names)))


LAYER_TABLE_COLUMNS = [
    "name",
    "kind",
    "block",
    "role",
    "in_channels",
    "out_channels",
    "kernel",
    "stride",
    "in_size",
    "out_size",
    "groups",
    "channels",
    "residual",
    "C",
    "M",
    "R",
    "S",
    "P",
    "Q",
]


def layer_table(layers: list[Layer]) -> str:
    """CSV of a network's layers on one dataset with their Timeloop problem sizes."""
    from fusionsim.workloads import problem_instance

    rows = []
    for x in layers:
        row = x.as_dict()
        row.update({k: v for k, v in problem_instance(x).items() if k in "CMRSPQ"})
        row["block"] = row["block"] or ""
        row["role"] = row["role"] or ""
        rows.append(row)
    return rows_to_csv(rows, LAYER_TABLE_COLUMNS)


SUMMARY_COLUMNS = ["network", "dataset", "accelerator", "energy_uJ", "cycles", "edp_uJ_cycles"]


def summary_rows(res_files: list[str]) -> list[dict[str, Any]]:
    """One row per res.csv (path `<out>/<net>/<dataset>/<accel>/res.csv`): network totals."""
    rows = []
    for f in res_files:
        parts = Path(f).parts
        net, ds, acc = parts[-4], parts[-3], parts[-2]
        with open(f, newline="") as fh:
            total = [r for r in csv.DictReader(fh) if r["layer"] == "total"][0]
        energy = sum(float(total[c]) for c in ("PW1/L1_e", "DW_e", "PW2_e"))
        cycles = sum(float(total[c]) for c in ("PW1/L1_c", "DW_c", "PW2_c"))
        rows.append(
            {
                "network": net,
                "dataset": ds,
                "accelerator": acc,
                "energy_uJ": energy,
                "cycles": cycles,
                "edp_uJ_cycles": energy * cycles,
            }
        )
    return rows


def write_summary(res_files: list[str], csv_out: str, md_out: str) -> list[dict[str, Any]]:
    """The final table across networks, datasets and accelerators, as CSV and Markdown."""
    rows = summary_rows(res_files)
    write_text(csv_out, rows_to_csv(rows, SUMMARY_COLUMNS))
    lines = ["| " + " | ".join(SUMMARY_COLUMNS) + " |", "|" + "---|" * len(SUMMARY_COLUMNS)]
    for r in rows:
        cells = [
            r["network"],
            r["dataset"],
            r["accelerator"],
            f"{r['energy_uJ']:.2f}",
            f"{r['cycles']:.0f}",
            f"{r['edp_uJ_cycles']:.4g}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    write_text(md_out, "\n".join(lines) + "\n")
    return rows
