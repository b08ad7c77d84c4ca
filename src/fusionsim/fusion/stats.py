"""Statistics of a fusion plan from the benchmark's per-entry detail (the seed's SheetsGenerator, spec 6).

Per stack: per-level energy per MAC, total energy, energy per MAC, cycles and MACs, summed over every tile and
every layer of the stack. Unlike the seed's generator (which reads one tile pass, the stack's first layer
folder and swapped roles), each layer is read at its own back-propagated region for every tile, in the role
the plan gives it: the first tile without weight caching, later tiles with the cached types for the plan's
cached layers. A non-square region `a x b` takes `sqrt(v(a) v(b))` of each value, the search's pricing rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fusionsim import atomic_io
from fusionsim.errors import InputError
from fusionsim.frames import csv_text, format_columns
from fusionsim.fusion.costs import ROLES
from fusionsim.fusion.plan import FusionPlan
from fusionsim.fusion.workload import Workload
from fusionsim.tiling.propagate import enumerate_tiles, input_intervals

Detail = dict[str, dict[int, dict[int, dict[str, Any]]]]  # type -> layer number -> tile -> summary


@dataclass
class StackStats:
    """Totals of one stack (or of the layer-by-layer baseline when `label` says so)."""

    label: str
    start: int
    end: int
    levels_pJ: dict[str, float] = field(default_factory=dict)
    macs: float = 0.0
    cycles: float = 0.0

    @property
    def energy_uJ(self) -> float:
        return sum(self.levels_pJ.values()) / 1e6

    def pj_per_mac(self, level: str | None = None) -> float:
        """Energy per MAC of one level (or of all levels)."""
        energy = self.levels_pJ.get(level, 0.0) if level else sum(self.levels_pJ.values())
        return energy / self.macs if self.macs else 0.0

    def add(self, entry: dict[str, Any], scale: float = 1.0) -> None:
        for name, pj in entry["levels_pJ"].items():
            self.levels_pJ[name] = self.levels_pJ.get(name, 0.0) + pj * scale
        self.macs += entry["macs"] * scale
        self.cycles += entry["cycles"] * scale


def _entry(detail: Detail, kind: str, layer: int, width: int) -> dict[str, Any]:
    try:
        return detail[kind][layer + 1][width]
    except KeyError:
        raise InputError(f"no {kind} detail for layer {layer + 1} at tile width {width}", file="costs.json",
                         key=f"{kind}/{layer + 1}/{width}", fix="benchmark that entry") from None


def _rect(detail: Detail, kind: str, layer: int, a: int, b: int) -> dict[str, Any]:
    """An `a x b` region's values: exact for a square, geometric mean of the two squares otherwise."""
    ea = _entry(detail, kind, layer, a)
    if a == b:
        return ea
    eb = _entry(detail, kind, layer, b)
    names = set(ea["levels_pJ"]) | set(eb["levels_pJ"])
    return {"levels_pJ": {n: math.sqrt(ea["levels_pJ"].get(n, 0.0) * eb["levels_pJ"].get(n, 0.0)) for n in names},
            "macs": math.sqrt(ea["macs"] * eb["macs"]), "cycles": math.sqrt(ea["cycles"] * eb["cycles"])}


def _regions(workload: Workload, s: int, e: int, tile: int) -> dict[int, np.ndarray]:
    """Per layer of stack s..e, the width of its region for each 1-D tile of the last layer's output."""
    segs = enumerate_tiles(workload.layers[e].shape.P, tile)
    regions = {e: (np.array([a for a, _ in segs]), np.array([b for _, b in segs]))}
    for k in range(e - 1, s - 1, -1):
        lo = hi = None
        for c, kind in workload.consumers(k):
            if c > e or c not in regions:
                continue
            a, b = input_intervals(*regions[c], workload.layers[c].geom) if kind == "src" else regions[c]
            lo = a if lo is None else np.minimum(lo, a)
            hi = b if hi is None else np.maximum(hi, b)
        if lo is not None:
            regions[k] = (lo, hi)
    return {k: hi - lo for k, (lo, hi) in regions.items()}


def stack_statistics(plan: FusionPlan, workload: Workload, detail: Detail) -> list[StackStats]:
    """One StackStats per stack of `plan` (execution order), then the layer-by-layer baseline."""
    out = []
    for st in plan.stacks:
        row = StackStats(f"({st.start}, {st.end})", st.start, st.end)
        if st.start == st.end:
            row.add(_entry(detail, "SLC", st.start, workload.layers[st.start].shape.P))
            out.append(row)
            continue
        widths = _regions(workload, st.start, st.end, max(st.tile_widths))
        cached = set(st.cached_weights)
        n1 = len(next(iter(widths.values())))
        for k in range(st.start, st.end + 1):
            lay = workload.layers[k]
            if k not in widths:
                continue
            unc, cac = ROLES[(lay.src is not None and lay.src >= st.start, k == st.end)]
            for idx in range(n1 * n1):
                iy, ix = divmod(idx, n1)
                kind = cac if (idx > 0 and k in cached and cac) else unc
                row.add(_rect(detail, kind, k, int(widths[k][ix]), int(widths[k][iy])))
        out.append(row)
    base = StackStats("layer-by-layer", 0, len(workload) - 1)
    for k, lay in enumerate(workload.layers):
        base.add(_entry(detail, "SLC", k, lay.shape.P))
    out.append(base)
    return out


def level_names(rows: Sequence[StackStats]) -> list[str]:
    """Level names in first-seen order (the engine reports them innermost first)."""
    names: list[str] = []
    for r in rows:
        names += [n for n in r.levels_pJ if n not in names]
    return names


def statistics_frame(rows: Sequence[StackStats]) -> pd.DataFrame:
    """Stack, pJ/MAC per level, energy (uJ), pJ/MAC total, cycles, MACs; one row per stack, baseline last."""
    levels = level_names(rows)
    return pd.DataFrame(
        {
            "stack": [r.label for r in rows],
            **{f"{n}_pJ_per_MAC": [r.pj_per_mac(n) for r in rows] for n in levels},
            "energy_uJ": [r.energy_uJ for r in rows],
            "pJ_per_MAC": [r.pj_per_mac() for r in rows],
            "cycles": [r.cycles for r in rows],
            "MACs": [r.macs for r in rows],
        }
    )


def statistics_csv(rows: Sequence[StackStats]) -> str:
    """statistics.csv's text: pJ/MAC to 6 significant digits, energy to 6 decimals, whole cycles and MACs."""
    frame = statistics_frame(rows)
    formats = {c: ".6g" for c in frame.columns if c.endswith("pJ_per_MAC")}
    formats.update({"energy_uJ": ".6f", "cycles": ".0f", "MACs": ".0f"})
    return csv_text(format_columns(frame, formats), float_format=None)


def write_statistics(rows: Sequence[StackStats], path: str | Path) -> None:
    """Write the statistics CSV atomically (overwrites: no append as in the seed)."""
    atomic_io.write_text(path, statistics_csv(rows))
