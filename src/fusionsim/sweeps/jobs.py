"""Job bodies of the sweep stage: one layer on one variant (an invalid point is a result, not a failure) and
one (point, network, dataset) total."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from fusionsim.atomic_io import write_json, write_text
from fusionsim.frames import write_csv
from fusionsim.workflow.jobs import run_map_job, write_yaml
from fusionsim.workflow.keys import model_version
from fusionsim.workflow.tables import layer_cost, res_rows, selected_layers


def run_sweep_map_job(*, outputs: dict[str, str], key: str, **kwargs: Any) -> dict[str, Any]:
    """`workflow.run_map_job`, except that a layer no mapping fits (NoMappingError) writes an invalid result:
    stats.json `{"valid": false, "reason": ...}`, so the sweep reports the point instead of stopping."""
    from fusionsim.mapper.search import NoMappingError

    try:
        return run_map_job(outputs=outputs, key=key, **kwargs)
    except NoMappingError as err:
        reason = err.line()
    Path(outputs["stats_json"]).parent.mkdir(parents=True, exist_ok=True)
    write_yaml(outputs["problem"], kwargs["problem"])
    write_yaml(outputs["mapper"], kwargs["mapper"])
    write_text(outputs["mapping"], f"# no valid mapping: {reason}\n")
    write_text(outputs["stats_txt"], f"no valid mapping: {reason}\n")
    write_json(outputs["stats_json"], {"valid": False, "reason": reason})
    record = {"key": key, "valid": 0, "reason": reason, "model_version": model_version()}
    write_json(outputs["run"], record)
    return record


def write_point(workload: str, dataset: str, names: list[str], stats_files: list[str], dw_levels: list[str],
                res_out: str, point_out: str) -> dict[str, Any]:
    """res.csv (the seed's layout, as rule aggregate_res writes it) and point.json (totals, validity) of one
    point on one (network, dataset). A layer without a valid mapping makes the point invalid: its cells are nan."""
    layers = selected_layers(workload, dataset, names)
    costs, invalid = [], []
    for layer, f in zip(layers, stats_files, strict=True):
        stats = json.loads(Path(f).read_text())
        if stats.get("valid") is False:
            invalid.append(f"{layer.name}: {stats.get('reason', '')}")
            costs.append((math.nan, math.nan))
        else:
            costs.append(layer_cost(layer, stats, dw_levels))
    rows = res_rows(layers, costs)
    write_csv(rows, res_out, na_rep="nan")
    total = rows.iloc[-1]
    body = {
        "valid": not invalid,
        "invalid_layers": invalid,
        "energy_uJ": None if invalid else sum(total[c] for c in ("PW1/L1_e", "DW_e", "PW2_e")),
        "cycles": None if invalid else sum(total[c] for c in ("PW1/L1_c", "DW_c", "PW2_c")),
        "layers": len(layers),
    }
    write_json(point_out, body)
    return body
