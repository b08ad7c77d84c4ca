"""Figures of the ARCHON comparison (matplotlib, Agg backend): no computation beyond picking columns."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ENERGY_PARTS = (
    ("pred_decom_e", "PW1 prediction"),
    ("pred_conv_e", "DW prediction"),
    ("main_e", "main fused conv"),
    ("overhead_e", "fusion overhead"),
)


def _save(fig, path: str | os.PathLike) -> Path:
    """Save next to a temp name then rename, so a killed job leaves no half-written image."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _block_rows(rows: Sequence[dict]) -> list[dict]:
    return [r for r in rows if str(r.get("block", "")) not in ("total", "")]


def plot_block_energy(rows: Sequence[dict], path: str | os.PathLike, title: str = "") -> Path:
    """Per-block stacked ARCHON energy (uJ) next to the dense and sparse baselines' block energy.

    `rows`: `tables.res_rows` output (the `total` row is skipped)."""
    blocks = _block_rows(rows)
    x = list(range(len(blocks)))
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(blocks) + 2), 4))
    w = 0.28
    bottom = [0.0] * len(blocks)
    for col, label in ENERGY_PARTS:
        vals = [float(r[col]) for r in blocks]
        ax.bar([i + w for i in x], vals, w, bottom=bottom, label=f"ARCHON: {label}")
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    dense = [float(r["PW1_e"]) + float(r["DW_e"]) + float(r["PW2_e"]) for r in blocks]
    sparse = [float(r["sparse_PW1_e"]) + float(r["sparse_DW_e"]) + float(r["sparse_PW2_e"]) for r in blocks]
    ax.bar([i - w for i in x], dense, w, color="0.35", label="dense baseline")
    ax.bar(x, sparse, w, color="0.7", label="sparse baseline")
    ax.set_xticks(x, [str(r["block"]) for r in blocks])
    ax.set_xlabel("block")
    ax.set_ylabel("energy (uJ)")
    ax.set_title(title or "Per-block energy")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def plot_block_speedup(rows: Sequence[dict], path: str | os.PathLike, title: str = "") -> Path:
    """Per-block speedup of ARCHON over the dense and sparse baselines (baseline cycles / ARCHON cycles);
    blocks missing on either side are skipped."""
    pairs = []
    for r in _block_rows(rows):
        fused = float(r["pred_decom_c"]) + float(r["pred_conv_c"]) + float(r["main_c"])
        dense = float(r["PW1_c"]) + float(r["DW_c"]) + float(r["PW2_c"])
        sparse = float(r["sparse_PW1_c"]) + float(r["sparse_DW_c"]) + float(r["sparse_PW2_c"])
        if fused > 0 and dense > 0:
            pairs.append((str(r["block"]), dense / fused, sparse / fused))
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(pairs) + 2), 3.5))
    x = list(range(len(pairs)))
    ax.bar([i - 0.2 for i in x], [p[1] for p in pairs], 0.4, label="vs dense")
    ax.bar([i + 0.2 for i in x], [p[2] for p in pairs], 0.4, label="vs sparse")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(x, [p[0] for p in pairs])
    ax.set_xlabel("block")
    ax.set_ylabel("speedup (x)")
    ax.set_title(title or "ARCHON per-block speedup")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_network_speedup(final: Sequence[dict], path: str | os.PathLike) -> Path:
    """Network speedups and energy ratios of ARCHON over both baselines (`tables.final_rows` output)."""
    labels = [f"{r['network']}\n{r['dataset']}" for r in final]
    x = list(range(len(final)))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(max(8, 1.4 * len(final) + 4), 3.5))
    for ax, keys, ylabel in (
        (a1, ("speedup_vs_dense", "speedup_vs_sparse"), "speedup (x)"),
        (a2, ("energy_ratio_dense", "energy_ratio_sparse"), "baseline / ARCHON energy"),
    ):
        ax.bar([i - 0.2 for i in x], [float(r[keys[0]]) for r in final], 0.4, label="vs dense")
        ax.bar([i + 0.2 for i in x], [float(r[keys[1]]) for r in final], 0.4, label="vs sparse")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    return _save(fig, path)
