"""Result of evaluating one layer under one mapping: the structure both engines (native and the Timeloop
stats reader) return and the `evaluate --json` contract prints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class DataspaceStats:
    """Per-instance access counts of one dataspace at one storage level, as Timeloop prints them."""

    reads: int = 0
    fills: int = 0
    updates: int = 0
    temporal_reductions: int = 0
    address_generations: int = 0
    utilized_capacity: int = 0
    utilized_instances: int = 0
    utilized_clusters: int = 0
    partition_size: int = 0
    energy_pJ: float = 0.0  # all instances


@dataclass
class LevelStats:
    """One storage level (or the arithmetic level, which has no dataspaces)."""

    name: str
    energy_pJ: float
    cycles: int = 0
    kind: str = "storage"  # "storage" | "arithmetic" | "network"
    dataspaces: dict[str, DataspaceStats] = field(default_factory=dict)


@dataclass
class EvalResult:
    """Totals plus per-level detail; `levels` lists the arithmetic level first, then storage inner to outer,
    then networks (non-zero energy only in custom arches)."""

    energy_pJ: float
    cycles: int
    utilization: float
    macs: int
    levels: list[LevelStats] = field(default_factory=list)

    @property
    def edp(self) -> float:
        return self.energy_pJ * self.cycles

    def level(self, name: str) -> LevelStats:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(name)

    def to_json(self) -> dict:
        """The `fusionsim evaluate --json` object (contract: keep keys stable)."""
        return {
            "energy_pJ": self.energy_pJ,
            "cycles": int(self.cycles),
            "utilization": self.utilization,
            "macs": int(self.macs),
            "edp": self.edp,
            "levels": [
                {
                    "name": lv.name,
                    "kind": lv.kind,
                    "energy_pJ": lv.energy_pJ,
                    "cycles": int(lv.cycles),
                    "dataspaces": {ds: asdict(s) for ds, s in lv.dataspaces.items()},
                }
                for lv in self.levels
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> EvalResult:
        levels = [
            LevelStats(
                name=lv["name"],
                energy_pJ=lv["energy_pJ"],
                cycles=lv.get("cycles", 0),
                kind=lv.get("kind", "storage"),
                dataspaces={k: DataspaceStats(**v) for k, v in lv.get("dataspaces", {}).items()},
            )
            for lv in data["levels"]
        ]
        return cls(data["energy_pJ"], int(data["cycles"]), data["utilization"], int(data["macs"]), levels)
