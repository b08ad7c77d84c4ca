"""Inputs and results of the fusion search: buffer levels, chosen stacks and the whole plan."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from fusionsim.errors import InputError


@dataclass(frozen=True)
class Level:
    """An on-chip storage level by name and capacity in words."""

    name: str
    words: int

    @classmethod
    def parse(cls, text: str, option: str = "--level") -> Level:
        """Parse `NAME:WORDS` (WORDS may be an integer expression such as 4096*128)."""
        name, sep, words = text.rpartition(":")
        try:
            value = int(words) if words.isdigit() else _product(words)
        except ValueError:
            value = None
        if not sep or not name or value is None:
            raise InputError(f"expected NAME:WORDS, got {text!r}", key=option, fix=f"e.g. {option} GlobalBuffer:65536")
        if value <= 0:
            raise InputError(f"capacity must be positive, got {value} words", key=option,
                             fix="give the level's capacity in words")
        return cls(name, value)


def _product(text: str) -> int:
    out = 1
    for part in text.split("*"):
        out *= int(part.strip())
    return out


@dataclass(frozen=True)
class BufferLevels:
    """The levels that hold cached weights, input tiles and output tiles (they may be the same level)."""

    weights: Level
    inputs: Level
    outputs: Level

    def capacities(self) -> dict[str, int]:
        """Capacity per distinct level name."""
        return {lv.name: lv.words for lv in (self.weights, self.inputs, self.outputs)}


@dataclass
class StackChoice:
    """One fused stack `layers[start..end]`: its tiling, cached weights and cost."""

    start: int
    end: int
    tile_widths: list[int]
    cached_weights: list[int]
    energy_uJ: float
    cycles: float | None = None
    tile_heights: list[int] | None = None
    reason: str = ""

    def to_json(self) -> dict:
        out = {"layers": [self.start, self.end], "tile_widths": self.tile_widths,
               "cached_weights": self.cached_weights, "energy_uJ": round(self.energy_uJ, 6)}
        if self.tile_heights is not None and self.tile_heights != self.tile_widths:
            out["tile_heights"] = self.tile_heights
        if self.cycles is not None:
            out["cycles"] = round(self.cycles, 3)
        if self.reason:
            out["boundary_reason"] = self.reason
        return out


@dataclass
class FusionPlan:
    """The chosen partition with per-stack choices, against layer-by-layer scheduling."""

    stacks: list[StackChoice]
    fused_uJ: float
    layer_by_layer_uJ: float
    variant: str
    objective: str = "energy"
    seconds: float = 0.0
    fused_cycles: float | None = None
    layer_by_layer_cycles: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def saving_pct(self) -> float:
        base = self.layer_by_layer_uJ
        return 100.0 * (base - self.fused_uJ) / base if base else 0.0

    def to_json(self) -> dict:
        out = {"stacks": [s.to_json() for s in self.stacks], "fused_uJ": round(self.fused_uJ, 6),
               "layer_by_layer_uJ": round(self.layer_by_layer_uJ, 6), "saving_pct": round(self.saving_pct, 6),
               "seconds": round(self.seconds, 6), "variant": self.variant, "objective": self.objective}
        if self.fused_cycles is not None:
            out["fused_cycles"] = self.fused_cycles
            out["layer_by_layer_cycles"] = self.layer_by_layer_cycles
        if self.notes:
            out["notes"] = self.notes
        return out

    def as_dict(self) -> dict:
        return asdict(self)
