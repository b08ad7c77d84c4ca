"""Stack costs of the exact search: every tiling of a stack's output, with the best weight caching.

Model (all from the per-type, per-layer, per-width tables): the last layer's output is cut into a
grid of `t`-wide tiles (edge tiles narrower), each tile's region is back-propagated through the stack
with halos, padding and pooling (tiling.propagate), and every layer runs once per tile on its region.
Tiles run row-major; the first tile loads all weights, later tiles use the weight-cached tables for the
layers whose weights stay on chip. A non-square region `a x b` is priced as `sqrt(E(a) E(b))` (exact
when a table scales with area or is constant); sums over a grid then factor as `(sum_i sqrt E(w_i))^2`.
Capacity (words, `<=`): per layer the on-chip input/output tile regions (roles as in the seed), every
live residual tensor and all cached weights must fit their levels; choosing the cached layers under the
weight capacity is a 0/1 knapsack, solved exactly on a Pareto list. Residual tensors crossing a stack
boundary are written to and read from DRAM and that traffic is added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fusionsim.fusion.plan import BufferLevels
from fusionsim.fusion.tables import CostTables
from fusionsim.fusion.workload import Workload
from fusionsim.tiling.propagate import enumerate_tiles, input_intervals

INF = float("inf")
ROLES = {(False, False): ("Start", "OutWCC"), (True, False): ("LBLC", "WCC"),
         (True, True): ("ELBLC", "EWCC"), (False, True): ("SLC", None)}
FLAGS = {"Start": (False, True), "LBLC": (True, True), "ELBLC": (True, False), "SLC": (False, False)}


@dataclass(frozen=True)
class CostOptions:
    """Knobs of the exact model that the tables do not give."""

    dram_pj_per_word: float | None = None  # None: derived from ELBLC - LBLC at full width
    dram_words_per_cycle: float = 8.0


@dataclass(frozen=True)
class StackOption:
    """One way to run a stack: its tile width, cached layers and totals."""

    energy_uJ: float
    cycles: float
    tile: int
    cached: tuple[int, ...]

    def key(self, objective: str) -> float:
        return {"energy": self.energy_uJ, "latency": self.cycles}.get(objective, self.energy_uJ * self.cycles)


def derive_dram_pj_per_word(tables: CostTables, workload: Workload) -> float | None:
    """DRAM write energy per word implied by the tables: (ELBLC - LBLC) / output words at full width."""
    vals = []
    for idx, lay in enumerate(workload.layers):
        p = lay.shape.P
        try:
            diff = tables.energy["ELBLC"][idx + 1][p] - tables.energy["LBLC"][idx + 1][p]
        except KeyError:
            continue
        if diff > 0:
            vals.append(diff * 1e6 / (p * p * lay.shape.M))
    return float(np.median(vals)) if vals else None


def pareto_knapsack(items: list[tuple[int, tuple[float, ...], int]], avail: int) -> list[tuple[int, tuple, tuple]]:
    """All non-dominated (words, gains, chosen layers) subsets of `items` within `avail` words."""
    states: list[tuple[int, tuple, tuple]] = [(0, (0.0,) * (len(items[0][1]) if items else 1), ())]
    for words, gains, layer in items:
        grown = [(w + words, tuple(a + b for a, b in zip(g, gains, strict=True)), c + (layer,))
                 for w, g, c in states if w + words <= avail]
        states = _prune(states + grown)
    return states


def _prune(states: list[tuple[int, tuple, tuple]]) -> list[tuple[int, tuple, tuple]]:
    states.sort(key=lambda st: (st[0], tuple(-x for x in st[1])))
    if len(states[0][1]) == 1:
        out, top = [], -INF
        for st in states:
            if st[1][0] > top:
                out.append(st)
                top = st[1][0]
        return out
    out = []
    for st in states:  # fewer words first: a kept state dominates when its gains are all >=
        if not any(all(a >= b for a, b in zip(o[1], st[1], strict=True)) for o in out):
            out.append(st)
    return out


class StackCoster:
    """Costs stacks of one workload over one set of tables and buffer levels."""

    def __init__(self, workload: Workload, tables: CostTables, levels: BufferLevels, objective: str = "energy",
                 options: CostOptions | None = None):
        self.w, self.t, self.lv, self.objective = workload, tables, levels, objective
        self.opt = options or CostOptions()
        self.metrics = ("energy", "cycles") if tables.cycles else ("energy",)
        pj = self.opt.dram_pj_per_word
        self.dram_uj_per_word = (pj if pj is not None else derive_dram_pj_per_word(tables, workload) or 0.0) * 1e-6
        self.caps = levels.capacities()
        self._roots: dict[tuple[str, str, int], np.ndarray] = {}
        self.consumers = [workload.consumers(k) for k in range(len(workload))]
        self._grids: dict[int, tuple] = {}

    # -- table look-ups -------------------------------------------------------------------------
    def _root(self, metric: str, kind: str, layer: int) -> np.ndarray:
        """sqrt of the table row as an array indexed by width (NaN where the table has no entry)."""
        key = (metric, kind, layer)
        if key not in self._roots:
            table = (self.t.energy if metric == "energy" else self.t.cycles)[kind].get(layer + 1, {})
            arr = np.full(self.w.layers[layer].shape.P + 1, np.nan)
            for width, val in table.items():
                if 0 < width < arr.size:
                    arr[width] = math.sqrt(val)
            self._roots[key] = arr
        return self._roots[key]

    def single(self, k: int) -> StackOption:
        """Layer k alone: the full-layer SLC entry, plus DRAM reads of residual operands."""
        p = self.w.layers[k].shape.P
        extra = sum(p * p * self.w.layers[a].shape.M for a in self.w.layers[k].adds)
        energy = self.t.value("SLC", k, p) + extra * self.dram_uj_per_word
        cycles = self.t.value("SLC", k, p, "cycles") if self.t.cycles else 0.0
        return StackOption(energy, cycles + extra / self.opt.dram_words_per_cycle, p, ())

    # -- multi-layer stacks ---------------------------------------------------------------------
    def _valid(self, s: int, e: int) -> bool:
        for k in range(s, e + 1):
            lay = self.w.layers[k]
            if k > s and lay.src is not None and lay.src >= s and not lay.fusable:
                return False
            if k < e and not any(c <= e for c, _ in self.consumers[k]):
                return False
        return True

    def _regions(self, s: int, e: int, starts: np.ndarray, stops: np.ndarray) -> dict[int, tuple]:
        regions = {e: (starts, stops)}
        for k in range(e - 1, s - 1, -1):
            lo, hi = None, None
            for c, kind in self.consumers[k]:
                if c > e or c not in regions:
                    continue
                if kind == "src":
                    a, b = input_intervals(*regions[c], self.w.layers[c].geom)
                else:
                    a, b = regions[c]
                lo = a if lo is None else np.minimum(lo, a)
                hi = b if hi is None else np.maximum(hi, b)
            regions[k] = (lo, hi)
        return regions

    def _grid(self, width: int) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
        """All tile widths 1..width and their tiles' intervals, concatenated (cached per width)."""
        if width not in self._grids:
            tiles = list(range(1, width + 1))
            segs = [enumerate_tiles(width, t) for t in tiles]
            offsets = np.cumsum([0] + [len(g) for g in segs[:-1]])
            starts = np.array([a for g in segs for a, _ in g])
            stops = np.array([b for g in segs for _, b in g])
            self._grids[width] = (tiles, offsets, starts, stops)
        return self._grids[width]

    def layout(self, s: int, e: int) -> dict | None:
        """Table-free part of stack (s, e): per tile width its tiles' region widths per layer, peak words per
        level and whether it fits (None for an invalid stack)."""
        if not self._valid(s, e):
            return None
        tiles, offsets, starts, stops = self._grid(self.w.layers[e].shape.P)
        regions = self._regions(s, e, starts, stops)
        widths = {k: hi - lo for k, (lo, hi) in regions.items()}
        ntile = len(tiles)
        need: dict[str, list[np.ndarray]] = {}
        for k in range(s, e + 1):
            src = self.w.layers[k].src
            self._add_need(need, s, e, k, widths, offsets, src is not None and src >= s)
        peak = {lv: np.max(np.vstack(v), axis=0) for lv, v in need.items()}
        fits = np.ones(ntile, dtype=bool)
        for level, words in peak.items():
            fits &= words <= self.caps[level]
        avail = self.lv.weights.words - peak.get(self.lv.weights.name, np.zeros(ntile, dtype=np.int64))
        fits &= avail >= 0
        return dict(tiles=tiles, offsets=offsets, widths=widths, peak=peak, fits=fits, avail=avail)

    def evaluate(self, s: int, e: int) -> dict | None:
        """Per-tile-width arrays of stack (s, e): base costs, caching gains, peak words per level."""
        geo = self.layout(s, e)
        if geo is None:
            return None
        tiles, offsets, widths = geo["tiles"], geo["offsets"], geo["widths"]
        ntile = len(tiles)
        base = {m: np.zeros(ntile) for m in self.metrics}
        gains: list[tuple[int, dict[str, np.ndarray], int]] = []
        for k in range(s, e + 1):
            lay = self.w.layers[k]
            in_chip = lay.src is not None and lay.src >= s
            unc, cac = ROLES[(in_chip, k == e)]
            wk = widths[k]
            per_metric: dict[str, np.ndarray] = {}
            for m in self.metrics:
                su = np.add.reduceat(self._root(m, unc, k)[wk], offsets) ** 2
                base[m] += su
                if cac is not None:
                    first = wk[offsets]
                    u0, c0 = self._root(m, unc, k)[first] ** 2, self._root(m, cac, k)[first] ** 2
                    per_metric[m] = su - (u0 - c0 + np.add.reduceat(self._root(m, cac, k)[wk], offsets) ** 2)
            if per_metric:
                gains.append((lay.shape.weight_words, per_metric, k))
        spill = self._spill_words(s, e, widths, offsets)
        base_e = base["energy"] + spill * self.dram_uj_per_word
        base_c = base.get("cycles", np.zeros(ntile)) + spill / self.opt.dram_words_per_cycle
        priced = np.isfinite(base_e) & np.isfinite(base_c)
        return dict(tiles=tiles, base_e=base_e, base_c=base_c, gains=gains, fits=geo["fits"], priced=priced,
                    avail=geo["avail"], peak=geo["peak"])

    def options(self, s: int, e: int, cutoff: float = INF) -> list[StackOption]:
        """Best option of stack (s, e) for scalar objectives, the (energy, cycles) Pareto set for EDP."""
        if s == e:
            return [self.single(s)]
        ev = self.evaluate(s, e)
        if ev is None:
            return []
        return self._choose(ev["tiles"], ev["base_e"], ev["base_c"], ev["gains"], ev["fits"] & ev["priced"],
                            ev["avail"], cutoff)

    def _add_need(self, need, s, e, k, widths, offsets, in_chip) -> None:
        """Words each level must hold while layer k runs (worst tile), appended per layer."""
        lay, lv = self.w.layers[k], self.lv
        role = ROLES[(in_chip, k == e)][0]
        holds_in, holds_out = FLAGS[role]
        total: dict[str, np.ndarray] = {}

        def put(level: str, words: np.ndarray) -> None:
            total[level] = total.get(level, 0) + words

        def peak(j: int) -> np.ndarray:
            return np.maximum.reduceat(widths[j].astype(np.int64) ** 2, offsets) * self.w.layers[j].shape.M

        if holds_in:
            put(lv.inputs.name, peak(lay.src))
        if holds_out:
            put(lv.outputs.name, peak(k))
        for p in range(s, k):  # residual and branch tensors still waiting for a consumer
            if p == lay.src and holds_in:
                continue
            if any(c > k or (c == k and kind == "add") for c, kind in self.consumers[p] if c <= e):
                put(lv.outputs.name, peak(p))
        for level, words in total.items():
            need.setdefault(level, []).append(np.asarray(words, dtype=np.int64))

    def _spill_words(self, s, e, widths, offsets) -> np.ndarray:
        """DRAM words moved for tensors that cross the stack boundary outside the role tables."""
        words = np.zeros(len(offsets))
        for k in range(s, e):  # outputs of inner layers needed after the stack are written out once
            if any(c > e for c, _ in self.consumers[k]):
                words += self.w.layers[k].shape.P ** 2 * self.w.layers[k].shape.M
        for c in range(s, e + 1):  # residual operands produced before the stack are read per tile
            for p in self.w.layers[c].adds:
                if p < s:
                    words += np.add.reduceat(widths[c].astype(float), offsets) ** 2 * self.w.layers[p].shape.M
        return words

    def _choose(self, tiles, base_e, base_c, gains, feasible, avail, cutoff) -> list[StackOption]:
        obj = self.objective
        if obj in ("energy", "latency"):
            metric = "energy" if obj == "energy" else "cycles"
            base = base_e if obj == "energy" else base_c
            pos = [np.where(np.isfinite(g[metric]) & (g[metric] > 0), g[metric], 0.0) for _, g, _ in gains]
            lower = np.where(feasible, base - (np.sum(pos, axis=0) if pos else 0.0), INF)
            best: StackOption | None = None
            bound = cutoff
            for i in np.argsort(lower, kind="stable"):
                if not lower[i] < bound:
                    break
                items = [(w, (float(g[metric][i]),), k) for w, g, k in gains
                         if np.isfinite(g[metric][i]) and g[metric][i] > 0 and w <= avail[i]]
                opt = self._option(tiles[i], i, base_e, base_c, gains, self._knapsack_max(items, int(avail[i])))
                if opt.key(obj) < bound:
                    best, bound = opt, opt.key(obj)
            return [best] if best else []
        found: list[StackOption] = []
        for i in np.flatnonzero(feasible):
            items = [(w, (float(g["energy"][i]), float(g["cycles"][i])), k) for w, g, k in gains
                     if np.isfinite(g["energy"][i]) and np.isfinite(g["cycles"][i]) and w <= avail[i]
                     and (g["energy"][i] > 0 or g["cycles"][i] > 0)]
            for _, _, chosen in pareto_knapsack(items, int(avail[i])):
                found.append(self._option(tiles[i], i, base_e, base_c, gains, chosen))
        return pareto_options(found)

    @staticmethod
    def _knapsack_max(items, avail) -> tuple[int, ...]:
        if sum(w for w, _, _ in items) <= avail:
            return tuple(k for _, _, k in items)
        return max(pareto_knapsack(items, avail), key=lambda st: st[1][0])[2] if items else ()

    def _option(self, tile, i, base_e, base_c, gains, chosen) -> StackOption:
        energy, cycles = float(base_e[i]), float(base_c[i])
        for _, g, k in gains:
            if k in chosen:
                energy -= float(g["energy"][i])
                cycles -= float(g["cycles"][i]) if "cycles" in g else 0.0
        return StackOption(energy, cycles, tile, tuple(sorted(chosen)))

    def tile_grid(self, e: int, tile: int) -> tuple[list[int], list[int]]:
        """Per-tile widths and heights of the last layer's output, row-major execution order."""
        axis = [b - a for a, b in enumerate_tiles(self.w.layers[e].shape.P, tile)]
        return [x for _ in axis for x in axis], [y for y in axis for _ in axis]


def pareto_options(options: list[StackOption]) -> list[StackOption]:
    """Options not dominated in (energy, cycles)."""
    out: list[StackOption] = []
    for opt in sorted(options, key=lambda o: (o.energy_uJ, o.cycles, o.tile)):
        if not out or opt.cycles < out[-1].cycles:
            out.append(opt)
    return out


