"""How many fusion cost-table entries the exact search can skip (fusion/skip.py), on real pipeline tables.

For each `NET=RESULTS` pair (a pipeline results folder holding fusion_tiling/<net>/layers and
fusion_tiling/<net>/<accel>/costs with full tables): the per-entry lower bounds are checked against every real
entry (a bound above a real entry would make the skipping unsound), the entries skipped by each rule are
counted, and the search on the reduced tables is compared with the search on the full ones (same stacks,
widths and cached layers, energy to 1e-9 relative).

    python benchmarks/bench_fusion_skip.py alexnet=/tmp/run/results [vgg16=...] [--accel simba_like]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fusionsim.fusion import skip
from fusionsim.fusion.benchmark_stage import DRAM_KEEP, load_layer_dir
from fusionsim.fusion.plan import BufferLevels, Level
from fusionsim.fusion.search import search_exact
from fusionsim.fusion.tables import CostTables, load_tables
from fusionsim.fusion.workload import load_workload
from fusionsim.spec.arch import load_arch
from fusionsim.spec.ert import load_ert
from fusionsim.spec.yaml_io import load_yaml_any

ROOT = Path(__file__).resolve().parents[1]


def restrict(tables: CostTables, needed: set[skip.Entry]) -> CostTables:
    """`tables` with only the `needed` entries (every layer row kept, maybe empty)."""

    def cut(tabs: dict) -> dict:
        return {kind: {lay: {w: v for w, v in row.items() if (kind, lay - 1, w) in needed}
                       for lay, row in tab.items()} for kind, tab in tabs.items()}

    return CostTables(cut(tables.energy), cut(tables.cycles) if tables.cycles else None, tables.files)


def same_plan(a, b) -> bool:
    key = [(s.start, s.end, s.tile_widths, s.cached_weights) for s in a.stacks]
    return key == [(s.start, s.end, s.tile_widths, s.cached_weights) for s in b.stacks] and abs(
        a.fused_uJ - b.fused_uJ) <= 1e-9 * abs(b.fused_uJ)


def case(net: str, results: Path, accel: str) -> None:
    adir = ROOT / "accelerators" / accel
    manifest = load_yaml_any(adir / "accelerator.yaml")
    fus = manifest["fusion"]
    levels = BufferLevels(*(Level.parse(fus[k], k) for k in ("weights_level", "inputs_level", "outputs_level")))
    layers_dir = results / "fusion_tiling" / net / "layers"
    workload = load_workload(layers_dir)
    tables = load_tables(results / "fusion_tiling" / net / accel / "costs")
    full = skip.full_entries(workload)
    arch = load_arch(adir / manifest["arch"], adir / manifest["components"])
    ert = load_ert(adir / manifest["ert"])
    problems = {lay.number - 1: lay.problem for lay in load_layer_dir(layers_dir)}
    t0 = time.perf_counter()
    lower = skip.entry_lower_bounds(problems, arch, ert, fus.get("dram", "DRAM"), full, DRAM_KEEP)
    t_lb = time.perf_counter() - t0
    over = [(k, lay, w) for k, tab in lower.energy.items() for lay, row in tab.items() for w, v in row.items()
            if v > tables.energy[k][lay][w] * (1 + 1e-12)]
    ratio = [lower.energy[k][lay][w] / tables.energy[k][lay][w] for k, tab in lower.energy.items()
             for lay, row in tab.items() for w in row]
    print(f"{net}: {len(workload)} layers, {len(full)} entries; lower bounds in {t_lb:.2f} s, "
          f"{len(over)} above their real entry; bound/real median {sorted(ratio)[len(ratio) // 2]:.3f}")
    full_plan = search_exact(workload, tables, levels)
    for label, kwargs in (("unused", {}), ("unused+bound", {"lower": lower, "tables": tables})):
        t0 = time.perf_counter()
        plan = skip.plan_skips(workload, levels, **kwargs)
        secs = time.perf_counter() - t0
        reduced = search_exact(workload, restrict(tables, plan.needed), levels)
        print(f"  {label:<13} needed {len(plan.needed):5d} of {len(full)} ({100 * len(plan.needed) / len(full):.1f} %)"
              f", skipped {plan.counts()} in {secs:.2f} s; plan equal: {same_plan(reduced, full_plan)} "
              f"({reduced.fused_uJ:.6f} vs {full_plan.fused_uJ:.6f} uJ, stacks "
              f"{[(s.start, s.end) for s in reduced.stacks]})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="+", help="NET=RESULTS_DIR")
    ap.add_argument("--accel", default="simba_like")
    args = ap.parse_args()
    for item in args.cases:
        net, _, folder = item.partition("=")
        case(net, Path(folder), args.accel)


if __name__ == "__main__":
    main()
