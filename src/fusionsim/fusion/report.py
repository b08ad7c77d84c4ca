"""Outputs of a fusion search: the plan as JSON and as a readable log (written atomically)."""

from __future__ import annotations

import json
from pathlib import Path

from fusionsim.atomic_io import write_text
from fusionsim.fusion.plan import FusionPlan


def format_log(plan: FusionPlan) -> str:
    """Readable log: each stack with its tiles in execution order, cached weights and cost."""
    lines = [f"fusion search ({plan.variant}, objective {plan.objective})"]
    for j, st in enumerate(plan.stacks, 1):
        lines.append(f"Stack {j}: layers {st.start}-{st.end}, {st.energy_uJ:.2f} uJ"
                     + (f", {st.cycles:.0f} cycles" if st.cycles is not None else ""))
        heights = st.tile_heights or st.tile_widths
        order = ", ".join(f"{w}x{h}" for w, h in zip(st.tile_widths, heights, strict=True))
        lines.append(f"  tiles (row-major order): {order}")
        lines.append(f"  cached weights: {', '.join(f'layer {k}' for k in st.cached_weights) or 'none'}")
        if st.reason:
            lines.append(f"  boundary before it: {st.reason}")
    lines.append(f"fused: {plan.fused_uJ:.2f} uJ; layer by layer: {plan.layer_by_layer_uJ:.2f} uJ; "
                 f"saving {plan.saving_pct:.3f} %")
    if plan.fused_cycles is not None:
        lines.append(f"cycles: fused {plan.fused_cycles:.0f}; layer by layer {plan.layer_by_layer_cycles:.0f}")
    lines += [f"note: {n}" for n in plan.notes]
    lines.append(f"search time: {plan.seconds:.3f} s")
    return "\n".join(lines) + "\n"


def write_plan(plan: FusionPlan, json_path: str | Path, log_path: str | Path | None = None) -> None:
    """Write the plan's JSON (the CLI contract) and, optionally, its log."""
    write_text(json_path, json.dumps(plan.to_json(), indent=2) + "\n")
    if log_path is not None:
        write_text(log_path, format_log(plan))
