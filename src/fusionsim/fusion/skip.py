"""Which cost-table entries the exact search can use, so the benchmark stage need not map the others.

Two sound rules, both keeping the exact search's plan and energy unchanged:

* **unused**: an entry `(type, layer, width)` that no feasible stack option reads. A stack option (stack
  `s..e`, output tile width `t`) reads the role types of each layer at the widths of its back-propagated tile
  regions; whether it fits on chip depends only on shapes and buffer levels, never on the tables, so the
  entries read only by options over capacity (or by invalid stacks) can never be priced. Always kept: SLC at
  full width (the layer-by-layer baseline) and LBLC/ELBLC at full width (the DRAM energy per word the search
  derives from them).
* **bound** (energy objective): an option whose lower bound exceeds the layer-by-layer cost of the same layers
  (`sum of single(k)`, from the SLC entries) is never in an optimal plan (replacing it by single layers is
  strictly cheaper), nor the best option of its stack when that stack is chosen. The bound is the search's own
  relaxation (every profitable layer cached, capacity ignored) evaluated on per-entry lower bounds
  (`entry_lower_bounds`: MAC energy plus the DRAM traffic the type cannot avoid, priced as the engine prices
  it); the search prices a stack monotonically in its entries, so this is <= the option's real cost.

An entry is skipped when every option reading it is ruled out; `plan.log` lists the skipped entries.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fusionsim.fusion.costs import ROLES, CostOptions, StackCoster
from fusionsim.fusion.plan import BufferLevels
from fusionsim.fusion.tables import TYPES, CostTables
from fusionsim.fusion.workload import Workload
from fusionsim.tiling.problem import tile_problem

Entry = tuple[str, int, int]  # (type, layer index 0-based, tile width)
REL_MARGIN = 1e-9  # an option is ruled out only when its bound exceeds the single layers by this much


@dataclass
class SkipPlan:
    """The entries the search needs, and every other entry of the full tables with the reason it is skipped."""

    needed: set[Entry] = field(default_factory=set)
    skipped: dict[Entry, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for why in self.skipped.values():
            out[why] = out.get(why, 0) + 1
        return out


def baseline_entries(workload: Workload) -> set[Entry]:
    """Entries every search needs: SLC, LBLC and ELBLC at each layer's full width."""
    return {(kind, k, lay.shape.P) for k, lay in enumerate(workload.layers) for kind in ("SLC", "LBLC", "ELBLC")}


def full_entries(workload: Workload, slc_all_tiles: bool = False) -> set[Entry]:
    """Every entry of the seed's tables: six types at every width, SLC at full width (or every width)."""
    out = set()
    for k, lay in enumerate(workload.layers):
        p = lay.shape.P
        for kind in TYPES:
            widths = range(1, p + 1) if kind != "SLC" or slc_all_tiles else (p,)
            out |= {(kind, k, w) for w in widths}
    return out


def _reads(coster: StackCoster, s: int, e: int, lay: dict, keep: np.ndarray) -> set[Entry]:
    """Entries read by the options of stack (s, e) selected by the boolean mask `keep` (per tile width)."""
    offsets = lay["offsets"]
    counts = np.diff(np.append(offsets, len(lay["widths"][e])))
    mask = np.repeat(keep, counts)
    out: set[Entry] = set()
    if not mask.any():
        return out
    for k in range(s, e + 1):
        src = coster.w.layers[k].src
        unc, cac = ROLES[(src is not None and src >= s, k == e)]
        ws = np.unique(lay["widths"][k][mask])
        for kind in (unc, cac):
            if kind is not None:
                out |= {(kind, k, int(w)) for w in ws}
    return out


def plan_skips(workload: Workload, levels: BufferLevels, lower: CostTables | None = None,
               tables: CostTables | None = None, objective: str = "energy", slc_all_tiles: bool = False,
               options: CostOptions | None = None) -> SkipPlan:
    """The needed entries of the exact search for `workload` and `levels` (rule *unused*), and, with `lower`
    (per-entry lower bounds) and `tables` (holding at least `baseline_entries`), rule *bound* for `energy`."""
    geometry = StackCoster(workload, CostTables({t: {} for t in TYPES}), levels, objective, options)
    use_bound = lower is not None and tables is not None and objective == "energy"
    if use_bound:
        real = StackCoster(workload, tables, levels, objective, options)
        dram = CostOptions(real.dram_uj_per_word * 1e6, real.opt.dram_words_per_cycle)
        bounder = StackCoster(workload, lower, levels, objective, dram)
        singles = [real.single(k).energy_uJ for k in range(len(workload))]
    plan = SkipPlan(needed=set(baseline_entries(workload)))
    fitting: set[Entry] = set()
    n = len(workload)
    for s in range(n):
        for e in range(s + 1, n):
            lay = geometry.layout(s, e)
            if lay is None:
                continue
            fits = lay["fits"]
            fitting |= _reads(geometry, s, e, lay, fits)
            keep = fits
            if use_bound:
                ev = bounder.evaluate(s, e)
                pos = [np.where(g["energy"] > 0, g["energy"], 0.0) for _, g, _ in ev["gains"]]
                bound = ev["base_e"] - (np.sum(pos, axis=0) if pos else 0.0)
                upper = sum(singles[s:e + 1])
                keep = fits & ~(bound > upper * (1 + REL_MARGIN))
            plan.needed |= _reads(geometry, s, e, lay, keep)
    for entry in full_entries(workload, slc_all_tiles) - plan.needed:
        plan.skipped[entry] = "bound" if entry in fitting else "unused"
    return plan


# ------------------------------------------------------------------------------------ per-entry lower bounds


def _touched(problem: Any, ds: int) -> int:
    """Distinct points of dataspace `ds` the problem's operations touch (0 when the projection is not separable)."""
    seen: set[int] = set()
    size = 1
    for terms in problem.dataspaces[ds].projection:
        dims = {d for _, d in terms}
        if dims & seen:
            return 0
        seen |= dims
        axis = {0}
        for coef, d in terms:
            axis = {a + coef * i for a in axis for i in range(problem.bounds[d])}
        size *= len(axis)
    return size


def entry_lower_bound(problem: Any, keep: Sequence[str] | None, mac_pj: float, dram_pj_per_word: float) -> float:
    """Lower bound (uJ) of the energy of any mapping of `problem` whose outermost level keeps `keep` (None:
    everything): every MAC is priced, and each kept dataspace moves each touched word over DRAM at least once."""
    total = problem.macs * mac_pj * math.prod(
        d for d, s in zip(problem.densities, problem.dataspaces, strict=True) if not s.read_write)
    for ds, space in enumerate(problem.dataspaces):
        if keep is None or space.name in keep:
            total += _touched(problem, ds) * dram_pj_per_word * (problem.densities[ds] >= 1.0)
    return total * 1e-6


def dram_prices(arch: Any, ert: Any, dram: str) -> tuple[float, float]:
    """(pJ per MAC, lowest pJ per word moved at the DRAM level) as the engine prices them (Timeloop v1.0)."""
    from fusionsim.model import semantics_v1 as sem

    prices = sem.price_levels(arch, ert)
    names = [lv.name for lv in arch.storage]
    k = names.index(dram) if dram in names else len(names) - 1
    return prices.mac_energy, prices.vector_access_energy[k] / arch.storage[k].block_size


def entry_lower_bounds(problems: dict[int, dict], arch: Any, ert: Any, dram: str,
                       entries: Iterable[Entry], keeps: dict[str, tuple[str, ...] | None]) -> CostTables:
    """Lower-bound tables (uJ) for `entries` of layers `problems` (0-based index -> Timeloop problem dict)."""
    from fusionsim.spec.problem import parse_problem

    mac, per_word = dram_prices(arch, ert, dram)
    energy: dict[str, dict[int, dict[int, float]]] = {t: {} for t in TYPES}
    parsed: dict[tuple[int, int], Any] = {}
    for kind, k, w in entries:
        if (k, w) not in parsed:
            parsed[(k, w)] = parse_problem(tile_problem(problems[k], w))
        energy[kind].setdefault(k + 1, {})[w] = entry_lower_bound(parsed[(k, w)], keeps[kind], mac, per_word)
    return CostTables(energy)


# ------------------------------------------------------------------------------------------------ the pipeline


def layer_set_workload(layer_set: Any) -> Workload:
    """The search workload of a `benchmark_stage.LayerSet` (as `load_workload` reads it once written)."""
    from pathlib import Path

    from fusionsim.fusion.tables import layer_shape
    from fusionsim.fusion.workload import build_workload

    shapes = [layer_shape(lay.problem, Path(lay.name)) for lay in layer_set.layers]
    return build_workload(shapes, list(layer_set.srcs), {int(k): list(v) for k, v in layer_set.adds.items()})


def unused_entries(layer_set: Any, levels: BufferLevels, entries: Iterable[tuple[str, int, int]]
                   ) -> dict[tuple[str, int, int], str]:
    """Of `entries` (type, 1-based layer number, width), those rule *unused* skips, with the reason."""
    return skipped_entries(layer_set_workload(layer_set), levels, entries)


def skipped_entries(workload: Workload, levels: BufferLevels, entries: Iterable[tuple[str, int, int]],
                    lower: CostTables | None = None, tables: CostTables | None = None
                    ) -> dict[tuple[str, int, int], str]:
    """Of `entries` (type, 1-based layer number, width), those skipped by rule *unused* (and, given `lower`
    and the baseline `tables`, by rule *bound*), with the reason."""
    plan = plan_skips(workload, levels, lower=lower, tables=tables)
    return {(kind, num, w): plan.skipped[(kind, num - 1, w)] for kind, num, w in entries
            if (kind, num - 1, w) in plan.skipped}


REASONS = {
    "unused": "no stack option that fits on chip reads them",
    "bound": "every option reading them costs more than its layers alone (MAC + unavoidable DRAM lower bound)",
}


def _ranges(values: Sequence[int]) -> str:
    out, vals = [], sorted(values)
    start = prev = vals[0]
    for v in [*vals[1:], None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if v is not None:
            start = prev = v
    return ",".join(out)


def describe(skipped: Iterable[Sequence[Any]], total: int) -> list[str]:
    """Readable lines for the plan log: per reason, how many entries and, per type and layer, which widths."""
    by: dict[str, dict[tuple[str, int], list[int]]] = {}
    count = 0
    for kind, num, width, why in skipped:
        by.setdefault(why, {}).setdefault((kind, int(num)), []).append(int(width))
        count += 1
    if not count:
        return []
    lines = [f"{count} of {total} table entries not computed (the plan is the one of the full tables)"]
    for why, rows in sorted(by.items()):
        n = sum(len(v) for v in rows.values())
        parts = "; ".join(f"{kind} layer {num}: {_ranges(ws)}" for (kind, num), ws in sorted(rows.items()))
        lines.append(f"skipped {n} ({why}: {REASONS.get(why, why)}): {parts}")
    return lines
