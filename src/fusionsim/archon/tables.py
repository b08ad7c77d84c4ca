"""The three-accelerator comparison tables: per-block `res.csv`, per-network `result.csv`, the final table.

Dense baseline (Eyeriss-like), sparse baseline (same runs, pruned weights) and ARCHON (fused blocks) are
priced per layer from engine results (`EvalResult`), combined per block, then per network (head, bottleneck
blocks, tail) and across networks. Energies in uJ, cycles in engine cycles, as the seed reports them.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from fusionsim.archon.predictive import (
    PJ_PER_UJ,
    FusedBlockCosts,
    PartCost,
    dataspace_energy_from,
    level_dataspace_energy,
    storage_index,
)
from fusionsim.errors import InputError
from fusionsim.frames import write_csv, write_markdown
from fusionsim.model.result import EvalResult

DENSE_COLUMNS = ["PW1_e", "DW_e", "PW2_e", "PW1_c", "DW_c", "PW2_c"]
SPARSE_COLUMNS = [f"sparse_{c}" for c in DENSE_COLUMNS]
FUSED_COLUMNS = [
    "pred_decom_e",
    "pred_conv_e",
    "main_e",
    "overhead_e",
    "pred_decom_c",
    "pred_conv_c",
    "main_c",
]
RES_COLUMNS = ["block", *DENSE_COLUMNS, *SPARSE_COLUMNS, *FUSED_COLUMNS]
RESULT_COLUMNS = [
    "layer",
    "PW1/L1_e",
    "DW_e",
    "PW2_e",
    "PW1/L1_c",
    "DW_c",
    "PW2_c",
    "sparse_PW1/L1_e",
    "sparse_DW_e",
    "sparse_PW2_e",
    "sparse_PW1_c",
    "sparse_DW_c",
    "sparse_PW2_c",
    *FUSED_COLUMNS,
]
FINAL_COLUMNS = [
    "network",
    "dataset",
    "dense_cycles",
    "sparse_cycles",
    "archon_cycles",
    "speedup_vs_dense",
    "speedup_vs_sparse",
    "dense_energy_uJ",
    "sparse_energy_uJ",
    "archon_energy_uJ",
    "energy_ratio_dense",
    "energy_ratio_sparse",
]
# final.csv/.md: each row also names the compact baseline network the dense and sparse columns ran
# (e.g. fusionet's baseline is shufflenet)
FINAL_TABLE_COLUMNS = ["network", "dataset", "baseline", *FINAL_COLUMNS[2:]]
REFERENCE_METRICS = tuple(FINAL_COLUMNS[2:])  # totals a comparison may state published values for
REFERENCE_COLUMNS = ["network", "dataset", "total", "ours", "reference", "gap_pct", "source"]


@dataclass(frozen=True)
class BaselineBlock:
    """One bottleneck block on a baseline accelerator: expand (PW1), depthwise (DW), project (PW2)."""

    pw1: PartCost
    dw: PartCost
    pw2: PartCost

    def row(self, prefix: str = "") -> dict[str, float]:
        return {
            f"{prefix}PW1_e": self.pw1.energy_uJ,
            f"{prefix}DW_e": self.dw.energy_uJ,
            f"{prefix}PW2_e": self.pw2.energy_uJ,
            f"{prefix}PW1_c": self.pw1.cycles,
            f"{prefix}DW_c": self.dw.cycles,
            f"{prefix}PW2_c": self.pw2.cycles,
        }

    @property
    def energy_uJ(self) -> float:
        return self.pw1.energy_uJ + self.dw.energy_uJ + self.pw2.energy_uJ

    @property
    def cycles(self) -> int:
        return self.pw1.cycles + self.dw.cycles + self.pw2.cycles


@dataclass(frozen=True)
class SparseCycles:
    """Slowest-PE-per-pass MAC cycles of one group of each layer (the sparse model's output, an input here)."""

    pw1: int
    dw: int
    pw2: int


def depthwise_energy_uJ(conv: EvalResult, channels: int) -> float:
    """Energy of a depthwise layer simulated as one input channel broadcast to all filters: GLB and DRAM input
    reads are scaled up to `channels` input channels."""
    glb, dram = storage_index(conv, "glb"), storage_index(conv, "dram")
    extra = dataspace_energy_from(conv, "Inputs", glb) + dataspace_energy_from(conv, "Inputs", dram)
    return (conv.energy_pJ + (channels - 1) * extra) / PJ_PER_UJ


def dense_block(
    decom: EvalResult, conv: EvalResult, comp: EvalResult, cmid: int, groups: int = 1
) -> BaselineBlock:
    """Dense-baseline block costs (bl_res.csv): PW layers simulate one of `groups` groups."""
    return BaselineBlock(
        pw1=PartCost(groups * decom.energy_pJ / PJ_PER_UJ, groups * decom.cycles),
        dw=PartCost(depthwise_energy_uJ(conv, cmid), int(conv.cycles)),
        pw2=PartCost(groups * comp.energy_pJ / PJ_PER_UJ, groups * comp.cycles),
    )


def sparse_pointwise_energy_uJ(
    result: EvalResult,
    sigma: float = 0.91,
    index_bits: int = 10,
    word_bits: int = 16,
    weights_spad: str = "weights_spad",
    ifmap_spad: str = "ifmap_spad",
) -> float:
    """Sparse-Eyeriss energy of one pointwise group from its dense result: a fraction `sigma` of weight traffic
    at DRAM and the weight spad is re-priced at index_bits/word_bits (compressed format) and a fraction `sigma`
    of ifmap-spad input reads is skipped."""
    saving = 1 - index_bits / word_bits
    dram_w = dataspace_energy_from(result, "Weights", storage_index(result, "dram"))
    e = result.energy_pJ
    e -= sigma * dram_w * saving
    e -= sigma * level_dataspace_energy(result, weights_spad, "Weights") * saving
    e -= sigma * level_dataspace_energy(result, ifmap_spad, "Inputs")
    return e / PJ_PER_UJ


def sparse_block(
    decom: EvalResult,
    conv: EvalResult,
    comp: EvalResult,
    cmid: int,
    groups: int,
    cycles: SparseCycles,
    sigma: float = 0.91,
    index_bits: int = 10,
) -> BaselineBlock:
    """Sparse-baseline block (sprase_bl_summary.csv): cycles from the per-PE imbalance model (per group, x G
    for PW), energies from the dense results; the DW keeps its dense energy (no sparsity)."""
    return BaselineBlock(
        pw1=PartCost(groups * sparse_pointwise_energy_uJ(decom, sigma, index_bits), groups * cycles.pw1),
        dw=PartCost(depthwise_energy_uJ(conv, cmid), int(cycles.dw)),
        pw2=PartCost(groups * sparse_pointwise_energy_uJ(comp, sigma, index_bits), groups * cycles.pw2),
    )


def head_tail_layer(
    result: EvalResult, multiplier: int = 1, depthwise_channels: int | None = None
) -> PartCost:
    """A head/tail layer: `multiplier` groups of the simulated one; a depthwise layer (simulated with one input
    channel) gets its GLB-side input reads scaled to `depthwise_channels`."""
    e = result.energy_pJ
    if depthwise_channels is not None:
        e += (depthwise_channels - 1) * dataspace_energy_from(result, "Inputs", storage_index(result, "glb"))
    return PartCost(multiplier * e / PJ_PER_UJ, multiplier * int(result.cycles))


# --- tables -----------------------------------------------------------------------------------------------


def _blocks_len(*seqs: Sequence) -> int:
    return max((len(s) for s in seqs), default=0)


def res_rows(
    dense: Sequence[BaselineBlock],
    sparse: Sequence[BaselineBlock],
    fused: Sequence[FusedBlockCosts],
) -> list[dict[str, float | str]]:
    """Per-block rows (block index 1..N); networks with fewer blocks get zeros, then a `total` row."""
    n = _blocks_len(dense, sparse, fused)
    rows: list[dict[str, float | str]] = []
    zero_dense = BaselineBlock(PartCost(0.0, 0), PartCost(0.0, 0), PartCost(0.0, 0))
    for k in range(n):
        row: dict[str, float | str] = {"block": str(k + 1)}
        row.update((dense[k] if k < len(dense) else zero_dense).row())
        row.update((sparse[k] if k < len(sparse) else zero_dense).row("sparse_"))
        if k < len(fused):
            row.update({_strip(c): v for c, v in fused[k].row().items()})
        else:
            row.update(dict.fromkeys(FUSED_COLUMNS, 0.0))
        rows.append(row)
    total: dict[str, float | str] = {"block": "total"}
    for col in RES_COLUMNS[1:]:
        total[col] = sum(float(r[col]) for r in rows)
    rows.append(total)
    return rows


def _strip(col: str) -> str:
    """`1_pred_decom_e` -> `pred_decom_e`."""
    head, _, tail = col.partition("_")
    return tail if head.isdigit() else col


def res_summary(rows: Sequence[dict]) -> list[dict[str, float | str]]:
    """The bottleneck summary under the seed's res.csv: cycles and energy per accelerator and the ratio
    baseline / fusion ("speedup")."""
    total = next(r for r in rows if r["block"] == "total")
    t = bottleneck_totals(total)
    out = []
    for acc in ("fusion", "sparse", "dense"):
        c, e = t[f"{acc}_cycles"], t[f"{acc}_energy_uJ"]
        out.append(
            {
                "accelerator": acc,
                "cycles": c,
                "speedup": c / t["fusion_cycles"] if t["fusion_cycles"] else 0.0,
                "energy_uJ": e,
                "energy_ratio": e / t["fusion_energy_uJ"] if t["fusion_energy_uJ"] else 0.0,
            }
        )
    return out


def bottleneck_totals(row: dict) -> dict[str, float]:
    """Cycles and energy per accelerator from a row holding the res/result columns (or their sums)."""

    def g(*names: str) -> float:
        return sum(float(row.get(n, 0.0) or 0.0) for n in names)

    return {
        "dense_cycles": g("PW1_c", "PW1/L1_c", "DW_c", "PW2_c"),
        "dense_energy_uJ": g("PW1_e", "PW1/L1_e", "DW_e", "PW2_e"),
        "sparse_cycles": g("sparse_PW1_c", "sparse_DW_c", "sparse_PW2_c"),
        "sparse_energy_uJ": g("sparse_PW1_e", "sparse_PW1/L1_e", "sparse_DW_e", "sparse_PW2_e"),
        "fusion_cycles": g("pred_decom_c", "pred_conv_c", "main_c"),
        "fusion_energy_uJ": g("pred_decom_e", "pred_conv_e", "main_e", "overhead_e"),
    }


@dataclass(frozen=True)
class NamedLayer:
    """A head or tail layer's cost on one accelerator."""

    name: str
    cost: PartCost


def result_rows(
    head_dense: Sequence[NamedLayer],
    head_fused: Sequence[NamedLayer],
    blocks: Sequence[dict],
    tail_dense: Sequence[NamedLayer],
    tail_fused: Sequence[NamedLayer],
) -> list[dict[str, float | str]]:
    """The per-network table: head layers, blocks `b1..bN` (rows of `res_rows` without the total), tail.

    Head/tail layers are not sparsified (the dense cost goes in both dense and sparse columns); the fused
    network's head/tail go in `main_*`; baseline and fused head/tail rows are aligned by position."""
    out: list[dict[str, float | str]] = []
    out += _edge_rows(head_dense, head_fused)
    for r in blocks:
        if r["block"] == "total":
            continue
        row: dict[str, float | str] = {"layer": f"b{r['block']}"}
        for col in RESULT_COLUMNS[1:]:
            row[col] = r[col.replace("/L1", "")]
        out.append(row)
    out += _edge_rows(tail_dense, tail_fused)
    return out


def _edge_rows(dense: Sequence[NamedLayer], fused: Sequence[NamedLayer]) -> list[dict[str, float | str]]:
    rows = []
    for k in range(_blocks_len(dense, fused)):
        row: dict[str, float | str] = dict.fromkeys(RESULT_COLUMNS[1:], 0.0)
        d = dense[k] if k < len(dense) else None
        f = fused[k] if k < len(fused) else None
        row = {"layer": (d or f).name, **row}  # type: ignore[union-attr]
        if d is not None:
            row["PW1/L1_e"] = row["sparse_PW1/L1_e"] = d.cost.energy_uJ
            row["PW1/L1_c"] = row["sparse_PW1_c"] = d.cost.cycles
        if f is not None:
            row["main_e"] = f.cost.energy_uJ
            row["main_c"] = f.cost.cycles
        rows.append(row)
    return rows


def network_totals(rows: Sequence[dict]) -> dict[str, float]:
    """Network totals on the three accelerators: sums over all rows of a `result_rows` table."""
    acc: dict[str, float] = {}
    for r in rows:
        for k, v in bottleneck_totals(r).items():
            acc[k] = acc.get(k, 0.0) + v
    return acc


def final_rows(
    totals: dict[tuple[str, str], dict[str, float]], baselines: dict[str, str] | None = None
) -> list[dict[str, float | str]]:
    """The final comparison: per (network, dataset) cycles and energy on dense, sparse and ARCHON, speedups
    (baseline cycles / ARCHON cycles) and energy ratios (baseline energy / ARCHON energy); `baselines` names each
    network's compact baseline workload (the dense and sparse columns' network)."""
    out = []
    for (net, ds), t in totals.items():
        fc, fe = t["fusion_cycles"], t["fusion_energy_uJ"]
        if fc <= 0 or fe <= 0:
            raise InputError("ARCHON totals are zero", key=f"{net}/{ds}", fix="check the fused block results")
        out.append(
            {
                "network": net,
                "dataset": ds,
                "baseline": (baselines or {}).get(net, ""),
                "dense_cycles": t["dense_cycles"],
                "sparse_cycles": t["sparse_cycles"],
                "archon_cycles": fc,
                "speedup_vs_dense": t["dense_cycles"] / fc,
                "speedup_vs_sparse": t["sparse_cycles"] / fc,
                "dense_energy_uJ": t["dense_energy_uJ"],
                "sparse_energy_uJ": t["sparse_energy_uJ"],
                "archon_energy_uJ": fe,
                "energy_ratio_dense": t["dense_energy_uJ"] / fe,
                "energy_ratio_sparse": t["sparse_energy_uJ"] / fe,
            }
        )
    return out


# --- writers ---------------------------------------------------------------------------------------------


def number(v: float) -> str:
    """The comparison tables' number format (CSV and Markdown): integral as an integer, 6 significant digits
    from 1e6 up, else 4 decimals."""
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:.6g}" if abs(v) >= 1e6 else f"{v:.4f}"


def table_frame(rows: Sequence[dict], columns: Sequence[str]) -> pd.DataFrame:
    """`rows` (dicts) as a DataFrame with exactly `columns`."""
    return pd.DataFrame(list(rows), columns=list(columns))


def write_table(rows: Sequence[dict], columns: Sequence[str], csv_path: str | os.PathLike) -> None:
    """Write `rows` as CSV at `csv_path` and Markdown beside it (`.md`), atomically, numbers as `number`."""
    frame = table_frame(rows, columns)
    write_csv(frame, csv_path, float_format=number, na_rep="nan")
    write_markdown(frame, os.fspath(csv_path).removesuffix(".csv") + ".md", float_format=number, na_rep="nan")


def read_sparse_cycles(path: str | os.PathLike, groups: int, cin: Sequence[int]) -> list[SparseCycles]:
    """Per-block sparse cycles from a seed-format `sparse_bl_res.csv` (three rows per block; the DW row has
    R=3; PW1 is the row whose input channels C are the block's Cin/G). An *input* for reproducing the seed's
    tables until the sparse module computes it."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_block: dict[int, list[dict]] = {}
    for r in rows:
        try:
            by_block.setdefault(int(r["Block"]), []).append(r)
        except (KeyError, ValueError) as exc:
            raise InputError("bad or missing 'Block' column", file=path, key="Block") from exc
    out = []
    for k in sorted(by_block):
        group = by_block[k]
        dw = [r for r in group if int(r["R"]) > 1]
        pws = [r for r in group if int(r["R"]) == 1]
        if len(dw) != 1 or len(pws) != 2:
            raise InputError(f"block {k}: expected one DW and two PW rows", file=path, key=f"Block {k}")
        c_in = cin[k - 1] // groups if k - 1 < len(cin) else None
        pw1 = next((r for r in pws if int(r["C"]) == c_in), pws[0])
        pw2 = pws[1] if pw1 is pws[0] else pws[0]
        out.append(
            SparseCycles(
                pw1=int(float(pw1["Sparse MAC Cycles"])),
                dw=int(float(dw[0]["Sparse MAC Cycles"])),
                pw2=int(float(pw2["Sparse MAC Cycles"])),
            )
        )
    return out


# --- one network end to end (what a pipeline rule calls) ---------------------------------------------------


@dataclass(frozen=True)
class BaselineBlockResults:
    """Engine results of one baseline bottleneck block (one group of each PW layer) and its shape."""

    decom: EvalResult
    conv: EvalResult
    comp: EvalResult
    cmid: int
    groups: int = 1
    sparse_cycles: SparseCycles | None = None  # from the sparse model; None -> no sparse columns (zeros)


@dataclass(frozen=True)
class EdgeLayerResult:
    """A head/tail layer's engine result and how the seed scales it."""

    name: str
    result: EvalResult
    multiplier: int = 1
    depthwise_channels: int | None = None


@dataclass(frozen=True)
class NetworkTables:
    res: list[dict]
    summary: list[dict]
    result: list[dict]
    totals: dict[str, float]


def build_network_tables(
    baseline: Sequence[BaselineBlockResults],
    fused: Sequence[FusedBlockCosts],
    head: Sequence[EdgeLayerResult] = (),
    head_fused: Sequence[EdgeLayerResult] = (),
    tail: Sequence[EdgeLayerResult] = (),
    tail_fused: Sequence[EdgeLayerResult] = (),
    sigma: float = 0.91,
    index_bits: int = 10,
) -> NetworkTables:
    """res.csv rows, its summary, result.csv rows and network totals of one (network, dataset)."""
    zero = SparseCycles(0, 0, 0)
    dense = [dense_block(b.decom, b.conv, b.comp, b.cmid, b.groups) for b in baseline]
    sparse = [
        sparse_block(b.decom, b.conv, b.comp, b.cmid, b.groups, b.sparse_cycles, sigma, index_bits)
        if b.sparse_cycles is not None
        else sparse_block(b.decom, b.conv, b.comp, b.cmid, b.groups, zero, 0.0, index_bits)
        for b in baseline
    ]
    rows = res_rows(dense, sparse, fused)

    def edge(layers: Sequence[EdgeLayerResult]) -> list[NamedLayer]:
        return [
            NamedLayer(x.name, head_tail_layer(x.result, x.multiplier, x.depthwise_channels)) for x in layers
        ]

    result = result_rows(edge(head), edge(head_fused), rows, edge(tail), edge(tail_fused))
    return NetworkTables(rows, res_summary(rows), result, network_totals(result))


def write_network_tables(tables: NetworkTables, outdir: str | os.PathLike, title: str = "") -> None:
    """res.csv/.md, res_summary.csv/.md, result.csv/.md and the per-block plots under `outdir`."""
    from fusionsim.archon.plots import plot_block_energy, plot_block_speedup

    out = os.fspath(outdir)
    write_table(tables.res, RES_COLUMNS, os.path.join(out, "res.csv"))
    write_table(
        tables.summary,
        ["accelerator", "cycles", "speedup", "energy_uJ", "energy_ratio"],
        os.path.join(out, "res_summary.csv"),
    )
    write_table(tables.result, RESULT_COLUMNS, os.path.join(out, "result.csv"))
    plot_block_energy(tables.res, os.path.join(out, "block_energy.png"), title)
    plot_block_speedup(tables.res, os.path.join(out, "block_speedup.png"), title)


def reference_rows(
    rows: Sequence[dict], references: dict[str, tuple[str, dict[str, dict[str, float]]]]
) -> list[dict[str, float | str]]:
    """One row per (network, dataset, total) that has a published value: ours, the reference, ours/ref - 1 in %.

    `references`: network -> (source, dataset -> {total: value})."""
    out = []
    for r in rows:
        source, per_ds = references.get(str(r["network"]), ("", {}))
        for metric, ref in per_ds.get(str(r["dataset"]), {}).items():
            ours = float(r[metric])
            out.append({"network": r["network"], "dataset": r["dataset"], "total": metric, "ours": ours,
                        "reference": ref, "gap_pct": 100.0 * (ours / ref - 1.0), "source": source})
    return out


def write_final_table(
    totals: dict[tuple[str, str], dict[str, float]],
    outdir: str | os.PathLike,
    references: dict[str, tuple[str, dict[str, dict[str, float]]]] | None = None,
    baselines: dict[str, str] | None = None,
) -> list[dict]:
    """final.csv/.md, final_vs_reference.csv/.md (published totals the comparisons file states; header only
    without any) and the network speedup plot under `outdir`; returns the final rows."""
    from fusionsim.archon.plots import plot_network_speedup

    rows = final_rows(totals, baselines)
    write_table(rows, FINAL_TABLE_COLUMNS, os.path.join(os.fspath(outdir), "final.csv"))
    write_table(reference_rows(rows, references or {}), REFERENCE_COLUMNS,
                os.path.join(os.fspath(outdir), "final_vs_reference.csv"))
    plot_network_speedup(rows, os.path.join(os.fspath(outdir), "speedup.png"))
    return rows
