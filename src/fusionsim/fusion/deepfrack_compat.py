"""The seed's two core variants, `deepfrack-fast` and `deepfrack-simple`, reproduced with their quirks.

Written from the behaviour described in the spec (sections 5.1-5.3, 5.6) and checked against the
shipped AlexNet_Simba results. Quirks kept on purpose: uniform tile lists only (divisors >= 2 of the
last layer's width), the first ("sacrificial") tile never weight-cached, tiles clamped to benchmarked
widths, only the last cached layer's weights counted, `>=` capacity test with numpy's outer broadcast
of the role flags, a stale input/output size in the cached pass's end-layer check, the end layer of
the cached pass priced at the sacrificial width, and the first infeasible sacrificial pass aborting the
caching loop. Fast skips single-tile lists and subtracts cached weights from shared levels; simple
accepts single-tile lists and caches only when the weight level is separate from both tile levels.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from fusionsim.errors import InputError
from fusionsim.fusion.plan import BufferLevels, FusionPlan, StackChoice
from fusionsim.fusion.tables import CostTables, LayerShape
from fusionsim.tiling.propagate import needed_input_width

INF = float("inf")
FLAGS = {"SLC": (0, 0, 0), "LBLC": (0, 1, 1), "ELBLC": (0, 1, 0), "WCC": (1, 1, 1), "EWCC": (1, 1, 0),
         "OutWCC": (1, 0, 1), "Start": (0, 0, 1)}
VARIANTS = ("deepfrack-fast", "deepfrack-simple")


def seed_tilings(width: int) -> list[list[int]]:
    """The seed's candidate tile lists for an output width: `[d] * (width // d) ** 2` per divisor d >= 2."""
    return [[d] * (width // d) ** 2 for d in range(2, width + 1) if width % d == 0]


class SeedCore:
    """Stack costing and partition DP of one seed variant over one set of tables."""

    def __init__(self, tables: CostTables, shapes: Sequence[LayerShape], levels: BufferLevels, variant: str):
        if variant not in VARIANTS:
            raise InputError(f"unknown seed variant {variant!r}", key="--variant", fix=" or ".join(VARIANTS))
        self.t, self.shapes, self.lv, self.fast = tables, list(shapes), levels, variant == "deepfrack-fast"
        names = (levels.weights.name, levels.inputs.name, levels.outputs.name)
        self.mask = [[int(a == b) for b in names] for a in names]

    def _get(self, kind: str, layer: int, width: int) -> float:
        return self.t.value(kind, layer, width)

    def propagate(self, s: int, e: int, tile: int) -> dict[int, int]:
        """Per-layer output tile widths, clamped down to widths the LBLC table has (spec 5.1)."""
        widths, tau = {}, tile
        row_of = self.t.energy["LBLC"]
        for layer in range(e, s - 1, -1):
            row = row_of.get(layer + 1, {})
            while tau not in row:
                tau -= 1
                if tau < 1:
                    raise InputError(f"no tile width at or below {tile} for layer {layer + 1}",
                                     file=self.t.file("LBLC"), key=str(layer + 1))
            widths[layer] = tau
            sh = self.shapes[layer]
            tau = needed_input_width(tau, sh.R, sh.stride, sh.dilation)
        return widths

    def infeasible(self, role: str, inputs: int, outputs: int, cap: Sequence[int]) -> bool:
        """The seed's capacity test: numpy outer broadcast of (mask . [0, I, O]) by the role flags, `>=`."""
        need = [row[1] * inputs + row[2] * outputs for row in self.mask]
        flags = FLAGS[role]
        hit_need = 1 in flags and any(n >= c for n, c in zip(need, cap, strict=True))
        hit_zero = 0 in flags and any(c <= 0 for c in cap)
        return hit_need or hit_zero

    def _words(self, layer: int, width: int) -> int:
        return width * width * self.shapes[layer].M

    def _sacrificial(self, s: int, e: int, big: dict[int, int], cap: list[int]) -> float:
        if self.infeasible("Start", 0, self._words(s, big[s]), cap):
            return INF
        cur = self._get("Start", s, big[s])
        for layer in range(s + 1, e):
            if self.infeasible("LBLC", self._words(layer - 1, big[layer - 1]), self._words(layer, big[layer]), cap):
                return INF
            cur += self._get("LBLC", layer, big[layer])
        if self.infeasible("ELBLC", self._words(e - 1, big[e - 1]), 0, cap):
            return INF
        return cur + self._get("ELBLC", e, big[e])

    def _cached_pass(self, s: int, e: int, tile: int, big: dict[int, int], wcp: str, cap: list[int]) -> float:
        """One tile after the first: cached layers use OutWCC/WCC/EWCC; INF when a check fails."""
        u = self.propagate(s, e, tile)
        m = e - s + 1
        ins, outs = 0, self._words(s, u[s])
        role = "OutWCC" if wcp[0] == "1" else "Start"
        if self.infeasible(role, ins, outs, cap):
            return INF
        tmp = self._get(role, s, u[s])
        for i in range(1, m - 1):
            layer = s + i
            outs, ins = self._words(layer, u[layer]), self._words(layer - 1, u[layer - 1])
            role = "WCC" if wcp[i] == "1" else "LBLC"
            if self.infeasible(role, ins, outs, cap):
                return INF
            tmp += self._get(role, layer, u[layer])
        if wcp[m - 1] == "1":
            if self.infeasible("EWCC", self._words(e - 1, u[e - 1]), 0, cap):
                return INF
            return tmp + self._get("EWCC", e, u[e])
        if self.infeasible("ELBLC", ins, outs, cap):  # (sic) sizes left over from the previous layer
            return INF
        return tmp + self._get("ELBLC", e, big[e])  # (sic) sacrificial width

    def _patterns(self, m: int):
        club = math.ceil(m / 20)
        q = math.ceil(m / club)
        for code in range(2**q):
            bits = format(code, f"0{q}b")
            yield "".join(bits[a] * min(club, m - a * club) for a in range(q))

    def stack_cost(self, s: int, e: int) -> tuple[float, list[int], str | None]:
        """Best (energy, tile list, weight-caching pattern or None) of stack (s, e)."""
        if s == e:
            width = self.shapes[s].P
            return self._get("SLC", s, width), [width], None
        m = e - s + 1
        ws, lv = self.lv.weights.words, self.lv
        best: tuple[float, list[int], str | None] = (INF, [], None)
        for tiles in seed_tilings(self.shapes[e].P):
            big = self.propagate(s, e, tiles[0])
            best_ans, best_wcp = INF, None
            for wcp in self._patterns(m):
                cached = 0
                for i in range(m):
                    if wcp[i] == "1":
                        cached = self.shapes[s + i].weight_words  # (sic) '=' not '+='
                cur = 0.0
                separate = lv.weights.name not in (lv.inputs.name, lv.outputs.name)
                if cached <= ws and (self.fast or separate):
                    if self.fast:
                        cap = [ws - cached, lv.inputs.words - (cached if lv.inputs.name == lv.weights.name else 0),
                               lv.outputs.words - (cached if lv.outputs.name == lv.weights.name else 0)]
                    else:
                        cap = [ws - cached, lv.inputs.words, lv.outputs.words]
                    cur = self._sacrificial(s, e, big, cap)
                    if cur == INF:
                        break
                    rest = tiles[1:]
                    if self.fast:
                        if len(set(rest)) != 1:
                            continue
                        cur += len(rest) * self._cached_pass(s, e, rest[0], big, wcp, cap)
                    else:
                        for tile in rest:
                            cur += self._cached_pass(s, e, tile, big, wcp, cap)
                            if cur == INF:
                                break
                if cur == 0:
                    cur = INF
                if cur < best_ans:
                    best_ans, best_wcp = cur, wcp
            if best_ans < best[0]:
                best = (best_ans, tiles, None if best_wcp == "0" * m else best_wcp)
        return best

    def search(self) -> FusionPlan:
        """All stacks costed, then the seed's partition DP (ties keep the smallest start)."""
        t0 = time.perf_counter()
        n = len(self.shapes)
        cost = {(s, e): self.stack_cost(s, e) for e in range(n) for s in range(e + 1)}
        best, back = [INF] * n, [0] * n
        for i in range(n):
            for s in range(i + 1):
                val = cost[(s, i)][0] + (best[s - 1] if s > 0 else 0.0)
                if val < best[i]:
                    best[i], back[i] = val, s
        stacks, i = [], n - 1
        while i >= 0:
            s = back[i]
            energy, tiles, wcp = cost[(s, i)]
            cached = [s + k for k, bit in enumerate(wcp or "") if bit == "1"]
            stacks.append(StackChoice(s, i, list(tiles), cached, energy))
            i = s - 1
        stacks.reverse()
        baseline = 0.0
        for idx, sh in enumerate(self.shapes):
            baseline += self._get("SLC", idx, sh.P)
        variant = "deepfrack-fast" if self.fast else "deepfrack-simple"
        return FusionPlan(stacks, best[n - 1], baseline, variant, "energy", time.perf_counter() - t0)


def search_seed(tables: CostTables, shapes: Sequence[LayerShape], levels: BufferLevels, variant: str) -> FusionPlan:
    """Run one seed variant end to end."""
    return SeedCore(tables, shapes, levels, variant).search()
