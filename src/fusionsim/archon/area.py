"""The seed's area model: an accelerator's area from per-component unit areas (um^2) and how many of each.

Global components count once (times a multiplier, e.g. ARCHON's binary decoder is replicated per adder);
per-PE components count `n_pes` times (times their own multiplier). Unit areas come from an area table (ART)
of the arch; `DummyBuffer` and `DRAM` are never counted, and ARCHON leaves out its prediction GLB.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from fusionsim.errors import InputError
from fusionsim.frames import csv_text

ALWAYS_EXCLUDED = ("DummyBuffer", "DRAM")


@dataclass(frozen=True)
class AreaSpec:
    """Which components an accelerator's area sums, and how many of each."""

    name: str
    n_pes: int
    global_components: tuple[str, ...]
    pe_components: tuple[str, ...]
    multipliers: Mapping[str, float] = field(default_factory=dict)
    listed_not_counted: tuple[str, ...] = ()  # shown in the table, left out of the total


def archon_area_spec(adders: int = 24, n_pes: int = 64) -> AreaSpec:
    """ARCHON: main arch plus the overhead units; `adders` = 6 per PE x 4 in the seed."""
    return AreaSpec(
        name="archon",
        n_pes=n_pes,
        global_components=("shared_glb", "binary_decoder", "pred_glb"),
        pe_components=(
            "mac",
            "ifmap_spad",
            "psum_spad",
            "prediction_buffer",
            "adders",
            "adder_fifo",
            "bit_masks_and",
            "mux_",
            "mux",
        ),
        multipliers={
            "binary_decoder": 8 * adders,
            "bit_masks_and": 2 * adders,
            "mux": adders,
            "mux_": 6,
            "adders": 6,
            "adder_fifo": 6,
        },
        listed_not_counted=("pred_glb",),
    )


def baseline_area_spec(n_pes: int = 72) -> AreaSpec:
    """The dense Eyeriss-like baseline."""
    return AreaSpec(
        name="baseline",
        n_pes=n_pes,
        global_components=("shared_glb",),
        pe_components=("mac", "ifmap_spad", "weights_spad", "psum_spad"),
    )


def area_table(unit_areas_um2: Mapping[str, float], spec: AreaSpec) -> list[tuple[str, float]]:
    """Rows (component, area um^2 after its multiplier) plus a final ("total", um^2) row.

    Per-PE rows are for one PE; the total counts them `n_pes` times."""
    rows: list[tuple[str, float]] = []
    total = 0.0
    for comp in (*spec.global_components, *spec.pe_components):
        if comp in ALWAYS_EXCLUDED:
            continue
        if comp not in unit_areas_um2:
            raise InputError(
                "no area for this component", key=comp, fix=f"add it to the area table of '{spec.name}'"
            )
        area = float(unit_areas_um2[comp]) * float(spec.multipliers.get(comp, 1))
        rows.append((comp, area))
        if comp in spec.listed_not_counted:
            continue
        total += area * (spec.n_pes if comp in spec.pe_components else 1)
    rows.append(("total", total))
    return rows


def area_csv(rows: list[tuple[str, float]]) -> str:
    """The seed's `<accel>_area.csv` layout: `component,area` lines, 2 decimals."""
    return csv_text(pd.DataFrame(rows, columns=["component", "area"]), float_format="%.2f", header=False)
