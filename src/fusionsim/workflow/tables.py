"""The default run's tables: res.csv per (network, dataset, accelerator) in the seed's layout, the layer
table and the summary across networks, datasets and accelerators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from fusionsim.frames import write_csv, write_markdown
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


def res_rows(layers: list[Layer], costs: list[tuple[float, float]]) -> pd.DataFrame:
    """The seed's result.csv layout: one row per head/tail layer (in PW1/L1), one per block (PW1, DW, PW2), a total.

    A block's layers share its row (first-seen order); the total is the running sum of the rows (`cumsum`:
    added in row order as the seed does, a NaN cost of an invalid sweep point stays NaN)."""
    values = pd.DataFrame(0.0, index=range(len(layers)), columns=RES_COLUMNS[1:])
    for i, (layer, (e, c)) in enumerate(zip(layers, costs, strict=True)):
        role = (layer.role or "decom") if layer.block is not None else "decom"
        values.loc[i, list(ROLE_COLUMNS[role])] = (e, c)
    key = [x.block if x.block is not None else i for i, x in enumerate(layers)]  # head/tail: a row each
    rows = values.groupby(key, sort=False).sum(skipna=False)
    rows.insert(0, "layer", [k if isinstance(k, str) else layers[k].name for k in rows.index])
    total = rows[RES_COLUMNS[1:]].cumsum(skipna=False).iloc[-1] if len(rows) else values.sum()
    rows.loc["total"] = ["total", *total]
    return rows.reset_index(drop=True)


def write_res_csv(layers: list[Layer], stats_files: list[str], dw_levels: list[str], out: str) -> pd.DataFrame:
    """Build and write one (network, dataset, accelerator) res.csv from its per-layer stats.json files."""
    costs = [
        layer_cost(x, json.loads(Path(f).read_text()), dw_levels)
        for x, f in zip(layers, stats_files, strict=True)
    ]
    rows = res_rows(layers, costs)
    write_csv(rows, out, na_rep="nan")
    return rows


def selected_layers(workload: str | Path, dataset: str, names: list[str]) -> list[Layer]:
    """The layers called `names` (in network order) of a workload file on `dataset`."""
    layers = expand_network(load_network(workload), dataset)
    return select_layers(layers, list(names), Path(workload).stem)


def write_network_res(
    workload: str, dataset: str, names: list[str], stats_files: list[str], dw_levels: list[str], out: str
) -> pd.DataFrame:
    """res.csv of one (network, dataset, accelerator): the selected layers' stats in the seed's layout."""
    return write_res_csv(selected_layers(workload, dataset, names), stats_files, dw_levels, out)


def write_layer_table(workload: str, dataset: str, names: list[str], out: str) -> None:
    """The layer table (shapes and Timeloop problem sizes) of one (network, dataset)."""
    write_csv(layer_table(selected_layers(workload, dataset, names)), out)


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


def layer_table(layers: list[Layer]) -> pd.DataFrame:
    """A network's layers on one dataset with their Timeloop problem sizes (`LAYER_TABLE_COLUMNS`)."""
    from fusionsim.workloads import problem_instance

    sizes = [{k: v for k, v in problem_instance(x).items() if k in "CMRSPQ"} for x in layers]
    rows = [{**x.as_dict(), **s} for x, s in zip(layers, sizes, strict=True)]
    frame = pd.DataFrame(rows, columns=LAYER_TABLE_COLUMNS)
    return frame.fillna({"block": "", "role": ""})


SUMMARY_COLUMNS = ["network", "dataset", "accelerator", "energy_uJ", "cycles", "edp_uJ_cycles"]
SUMMARY_MARKDOWN_FORMATS = ("", "", "", ".2f", ".0f", ".4g")  # summary.md: uJ to 2 decimals, whole cycles


def summary_rows(res_files: list[str]) -> pd.DataFrame:
    """One row per res.csv (path `<out>/<net>/<dataset>/<accel>/res.csv`): network totals."""
    totals = [pd.read_csv(f).set_index("layer").loc["total"] for f in res_files]
    frame = pd.DataFrame(
        [Path(f).parts[-4:-1] for f in res_files], columns=SUMMARY_COLUMNS[:3], dtype=object
    )
    frame["energy_uJ"] = [sum(float(t[c]) for c in ("PW1/L1_e", "DW_e", "PW2_e")) for t in totals]
    frame["cycles"] = [sum(float(t[c]) for c in ("PW1/L1_c", "DW_c", "PW2_c")) for t in totals]
    frame["edp_uJ_cycles"] = frame["energy_uJ"] * frame["cycles"]
    return frame


def write_summary(res_files: list[str], csv_out: str, md_out: str) -> pd.DataFrame:
    """The final table across networks, datasets and accelerators, as CSV and Markdown."""
    rows = summary_rows(res_files)
    write_csv(rows, csv_out)
    write_markdown(rows, md_out, floatfmt=SUMMARY_MARKDOWN_FORMATS)
    return rows
