"""The sweep's tables: points.csv (one row per point, network and dataset), pareto.csv (the rows no other row
beats on energy, cycles and area, per network and dataset) and pareto.png."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fusionsim.atomic_io import write_text
from fusionsim.spec.yaml_io import load_yaml_any

OBJECTIVES = ("energy_uJ", "cycles", "area_mm2")
RANGE = re.compile(r"\[(\d+)\.\.(\d+)\]")


def area_mm2(art_file: str | Path) -> float:
    """Total area of an accelerator from its ART (per-instance um^2): each entry times its instance count,
    the product of the `[a..b]` ranges in its name (`System.ws.PE[0..15].LMAC[0..63]` counts 1024)."""
    art = load_yaml_any(Path(art_file)) or {}
    total = 0.0
    for entry in (art.get("ART") or {}).get("tables") or []:
        count = math.prod(int(b) - int(a) + 1 for a, b in RANGE.findall(str(entry["name"])))
        total += float(entry.get("area") or 0.0) * count
    return total * 1e-6


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Rows of `values` (n x k, all minimised) that no other row dominates (<= everywhere, < somewhere)."""
    v = np.asarray(values, dtype=float)
    le = (v[:, None, :] <= v[None, :, :]).all(axis=2)  # le[i, j]: row i is <= row j everywhere
    lt = (v[:, None, :] < v[None, :, :]).any(axis=2)
    dominated = (le & lt).any(axis=0)
    return ~dominated


def pareto_front(points: pd.DataFrame, group: tuple[str, ...] = ("network", "dataset")) -> pd.DataFrame:
    """The valid rows of `points` that are non-dominated on OBJECTIVES within each group, in input order."""
    valid = points[points["valid"].astype(bool)]
    keep = []
    for _, rows in valid.groupby(list(group), sort=False):
        keep += list(rows.index[pareto_mask(rows[list(OBJECTIVES)].to_numpy())])
    return points.loc[sorted(keep)]


FUSED_COLUMNS = ["fusion_lbl_energy_uJ", "fused_energy_uJ", "fused_cycles", "fusion_saving_pct"]


def fused_columns(comparison: str | Path) -> dict[str, float]:
    """The fused-saving columns of one row from its fusion search's comparison.csv (layer-by-layer, fused)."""
    frame = pd.read_csv(comparison)
    lbl = frame[frame["schedule"] == "layer_by_layer"].iloc[0]
    fused = frame[frame["schedule"] != "layer_by_layer"].iloc[0]
    return dict(zip(FUSED_COLUMNS, (float(lbl["energy_uJ"]), float(fused["energy_uJ"]), float(fused["cycles"]),
                                    float(fused["saving_pct"])), strict=True))


def points_table(rows: list[dict[str, Any]], point_files: list[str], art_files: dict[str, str],
                 parameters: list[str], fused_files: list[str] | None = None) -> pd.DataFrame:
    """points.csv's frame: the parameter columns, point, network, dataset, energy, cycles, area, EDP, validity;
    with `fused_files` (each row's fusion-search comparison.csv) also FUSED_COLUMNS."""
    areas = {pid: area_mm2(f) for pid, f in art_files.items()}
    out = []
    for k, (row, f) in enumerate(zip(rows, point_files, strict=True)):
        res = json.loads(Path(f).read_text())
        energy = res["energy_uJ"] if res["valid"] else math.nan
        cycles = res["cycles"] if res["valid"] else math.nan
        out.append({
            **{p: row["values"][p] for p in parameters},
            "point": row["point"],
            "network": row["network"],
            "dataset": row["dataset"],
            "energy_uJ": energy,
            "cycles": cycles,
            "area_mm2": areas[row["point"]],
            "edp": energy * cycles,
            "valid": bool(res["valid"]),
            "invalid_reason": "; ".join(res.get("invalid_layers") or []),
            **(fused_columns(fused_files[k]) if fused_files else {}),
        })
    columns = [*parameters, "point", "network", "dataset", "energy_uJ", "cycles", "area_mm2", "edp",
               *(FUSED_COLUMNS if fused_files else []), "valid", "invalid_reason"]
    return pd.DataFrame(out, columns=columns)


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, float_format="%.10g", lineterminator="\n")


def plot_pareto(points: pd.DataFrame, front: pd.DataFrame, title: str, out: str | Path) -> None:
    """Energy vs cycles per (network, dataset), area as colour, the Pareto rows ringed in red; PNG atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(points.groupby(["network", "dataset"], sort=False))
    fig, axes = plt.subplots(1, max(len(groups), 1), figsize=(5.2 * max(len(groups), 1), 4.2), squeeze=False)
    valid = points[points["valid"].astype(bool)]
    vmin, vmax = (valid["area_mm2"].min(), valid["area_mm2"].max()) if len(valid) else (0.0, 1.0)
    for ax, ((net, ds), rows) in zip(axes[0], groups, strict=False):
        ok = rows[rows["valid"].astype(bool)]
        sc = ax.scatter(ok["cycles"], ok["energy_uJ"], c=ok["area_mm2"], cmap="viridis", vmin=vmin, vmax=vmax,
                        s=36, zorder=2)
        mine = front[(front["network"] == net) & (front["dataset"] == ds)].sort_values("cycles")
        ax.scatter(mine["cycles"], mine["energy_uJ"], facecolors="none", edgecolors="red", s=110, linewidths=1.5,
                   label=f"Pareto front ({len(mine)})", zorder=3)
        bad = len(rows) - len(ok)
        ax.set_title(f"{net} / {ds}" + (f" ({bad} invalid)" if bad else ""))
        ax.set_xlabel("cycles")
        ax.set_ylabel("energy (uJ)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend(loc="best", fontsize=8)
        fig.colorbar(sc, ax=ax, label="area (mm$^2$)")
    fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    tmp = Path(out).with_name(f".{Path(out).name}.tmp")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(buf.getvalue())
    tmp.replace(out)


def write_sweep_tables(*, sweep: str, rows: list[dict[str, Any]], point_files: list[str],
                       art_files: dict[str, str], parameters: list[str], outputs: dict[str, str],
                       fused_files: list[str] | None = None) -> pd.DataFrame:
    """Write points.csv, pareto.csv and pareto.png of one sweep; returns the Pareto rows."""
    points = points_table(rows, point_files, art_files, parameters, fused_files)
    front = pareto_front(points)
    write_text(outputs["points"], _csv(points))
    write_text(outputs["pareto"], _csv(front))
    plot_pareto(points, front, f"sweep {sweep}: energy vs cycles (colour: area)", outputs["plot"])
    return front
