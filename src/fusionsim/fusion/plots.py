"""Figures of a fusion plan (matplotlib, Agg backend): each stack's tiling and the energy comparison.

Figures only; the numbers come from the plan (fusion.plan) and the statistics (fusion.stats).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from fusionsim.atomic_io import mkstemp_keep_umask
from fusionsim.fusion.plan import FusionPlan
from fusionsim.fusion.workload import Workload
from fusionsim.tiling.propagate import enumerate_tiles


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    """Save atomically (temp file in the same folder, then rename); the format follows the suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = mkstemp_keep_umask(path, suffix=path.suffix)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def plot_stack_tiling(plan: FusionPlan, workload: Workload, path: str | Path, max_cols: int = 4) -> Path:
    """One panel per stack: its last layer's output map cut into the plan's tiles, numbered in execution
    order; the first tile (which loads every weight) is shaded darker."""
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    n = len(plan.stacks)
    cols = min(max_cols, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, st in zip(axes.flat, plan.stacks, strict=False):
        width = workload.layers[st.end].shape.P
        segs = enumerate_tiles(width, max(st.tile_widths))
        order = 0
        for y0, y1 in segs:
            for x0, x1 in segs:
                ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, edgecolor="black", linewidth=0.6,
                                       facecolor="#4c72b0" if order == 0 else "#a6c8e6"))
                if len(segs) <= 8:
                    ax.text((x0 + x1) / 2, (y0 + y1) / 2, str(order + 1), ha="center", va="center", fontsize=7)
                order += 1
        ax.set_xlim(0, width)
        ax.set_ylim(width, 0)
        ax.set_aspect("equal")
        ax.set_xticks([0, width])
        ax.set_yticks([0, width])
        cached = ",".join(map(str, st.cached_weights)) or "none"
        layers = f"layer {st.start}" if st.start == st.end else f"layers {st.start}-{st.end}"
        ax.set_title(f"{layers}: {order} tile(s) of {max(st.tile_widths)}\ncached: {cached}; "
                     f"{st.energy_uJ:.1f} uJ", fontsize=8)
    fig.suptitle(f"fusion tiling ({plan.variant}, {plan.objective})", fontsize=10)
    path = _save(fig, path)
    plt.close(fig)
    return path


def plot_energy_comparison(plan: FusionPlan, path: str | Path, others: Mapping[str, float] | None = None,
                           stack_labels: Sequence[str] | None = None) -> Path:
    """Bars: layer-by-layer energy, the plan's fused energy split by stack, and any `others` (label -> uJ),
    e.g. the seed variants' results on the same tables."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    labels = ["layer by layer", f"fused ({plan.variant})", *(others or {})]
    ax.bar(0, plan.layer_by_layer_uJ, color="#8c8c8c")
    bottom = 0.0
    cmap = plt.get_cmap("tab20")
    names = stack_labels or [f"({st.start},{st.end})" for st in plan.stacks]
    for i, (st, name) in enumerate(zip(plan.stacks, names, strict=True)):
        ax.bar(1, st.energy_uJ, bottom=bottom, color=cmap(i % 20), label=name if len(plan.stacks) <= 12 else None)
        bottom += st.energy_uJ
    for j, val in enumerate((others or {}).values(), 2):
        ax.bar(j, val, color="#dd8452")
    values = [plan.layer_by_layer_uJ, plan.fused_uJ, *(others or {}).values()]
    for j, val in enumerate(values):
        ax.text(j, val, f"{val:.1f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel("energy (uJ)")
    ax.set_title(f"saving {plan.saving_pct:.2f} % vs layer by layer", fontsize=9)
    if len(plan.stacks) <= 12:
        ax.legend(title="stack", fontsize=7, title_fontsize=7, loc="upper right")
    path = _save(fig, path)
    plt.close(fig)
    return path
