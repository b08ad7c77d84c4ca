"""Optimisation metrics of the mapper and their lexicographic order (Timeloop v1.0 mapper-thread.hpp names):
energy (pJ), delay (cycles), edp (pJ x cycles) and last-level-accesses (words moved at the outermost level)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from fusionsim.model.result import EvalResult


class Objective(str, Enum):
    ENERGY = "energy"
    DELAY = "delay"
    EDP = "edp"
    LAST_LEVEL_ACCESSES = "last-level-accesses"


@dataclass(frozen=True, order=True)
class Score:
    """The numbers the metrics are computed from; small enough to send back from worker processes."""

    energy_pj: float
    cycles: int
    last_level_accesses: int

    def cost(self, metric: Objective | str) -> float:
        m = Objective(metric)
        if m is Objective.ENERGY:
            return self.energy_pj
        if m is Objective.DELAY:
            return float(self.cycles)
        if m is Objective.EDP:
            return self.energy_pj * self.cycles
        return float(self.last_level_accesses)


def score_of(res: EvalResult) -> Score:
    """Score of an evaluation: last-level accesses = reads + updates + fills of the outermost storage level."""
    outer = [lv for lv in res.levels if lv.kind == "storage"][-1]
    lla = sum(s.reads + s.updates + s.fills for s in outer.dataspaces.values())
    return Score(float(res.energy_pJ), int(res.cycles), int(lla))


def sort_key(score: Score, metrics: tuple[str, ...]) -> tuple[float, ...]:
    """Lexicographic key: the first metric decides, later ones break exact ties (smaller is better)."""
    return tuple(score.cost(m) for m in metrics)


def is_better(candidate: Score, incumbent: Score | None, metrics: tuple[str, ...]) -> bool:
    """Strictly better in lexicographic order (equal keeps the incumbent, as Timeloop does)."""
    return incumbent is None or sort_key(candidate, metrics) < sort_key(incumbent, metrics)


def objective_ratio(candidate: Score, reference: Score, metrics: tuple[str, ...] | list[str]) -> float:
    """candidate / reference on the first metric, or on the second when the first ties (how a mapping is
    compared with a reference mapper's under a lexicographic objective such as [delay, energy])."""
    r = candidate.cost(metrics[0]) / reference.cost(metrics[0])
    if abs(r - 1) < 1e-9 and len(metrics) > 1:
        r = candidate.cost(metrics[1]) / reference.cost(metrics[1])
    return r
