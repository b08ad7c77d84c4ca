"""The Timeloop v1.0 choices that later versions change, in one place: which ERT entry prices an access, how
a level's scalar counts follow from its tile, and what reduction, address-generation and network energy cost.

A `timeloop_version` switch (v3 per-action pricing, counted first reads) replaces this module's functions."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fusionsim.spec.arch import Arch
from fusionsim.spec.ert import ERT

VERSION = "timeloop-v1.0"


@dataclass(frozen=True)
class LevelPrices:
    """Per-access energies Timeloop v1.0 derives from an ERT."""

    mac_energy: float
    vector_access_energy: tuple[float, ...]  # per storage level, already divided by cluster size
    wire_energy: float


def ert_component_name(key: str) -> str:
    """The level name an ERT table key refers to, as topology.cpp cuts it (`a.b.X[0..7]` -> `X`)."""
    range_pos = key.rfind("..")
    level_pos = key.rfind(".")
    if range_pos != -1 and range_pos == level_pos - 1:
        sub = key[: max(range_pos - 2, 0)]
        return sub[sub.rfind(".") + 1:]
    return key[level_pos + 1:]


def price_levels(arch: Arch, ert: ERT) -> LevelPrices:
    """v1.0: every access of a component costs the maximum energy over all its actions and arguments (idle
    included, floored at 0); a buffer's vector access energy is that maximum over its cluster size."""
    maxima: dict[str, float] = {}
    wire = 0.0
    for key, actions in ert.tables.items():
        name = ert_component_name(key)
        energies = [a.energy_pJ for a in actions if not math.isnan(a.energy_pJ)]
        if name in ("wire", "Wire"):
            wire = max([0.0] + [a.energy_pJ for a in actions if a.action == "transfer_random"])
            continue
        maxima[name] = max([0.0, *energies])  # later tables of the same name overwrite, as in the C++ map
    mac = maxima.get(arch.arithmetic.name, _fallback_mac(arch))
    vae = []
    for lv in arch.storage:
        if lv.name in maxima:
            vae.append(maxima[lv.name] / lv.cluster_size)
        elif lv.vector_access_energy is not None:
            vae.append(lv.vector_access_energy)
        else:
            vae.append(_fallback_buffer(lv.is_dram, lv.word_bits * lv.block_size, lv.size))
    return LevelPrices(mac, tuple(vae), wire)


def _fallback_mac(arch: Arch) -> float:
    """pat-public multiplier energy, used only when the ERT has no entry: (bits/16)^2 pJ."""
    return (arch.arithmetic.word_bits / 16.0) ** 2


def _fallback_buffer(is_dram: bool, width_bits: int, size: int | None) -> float:
    """pat-public defaults: DRAM 200 pJ per 16 bits; SRAM a linear fit in width (rarely used)."""
    if is_dram or size is None:
        return 200.0 * width_bits / 16.0
    return 0.0156 * width_bits + 0.00000052 * width_bits * size


def scalar_counts(read_write: bool, content: int, partition: int, fills: int) -> dict[str, int]:
    """Scalar reads/updates/fills of one dataspace at one level (buffer.cpp ComputeAccesses): the first
    update of each partition element is not preceded by a read."""
    if read_write:
        return {"reads": content - partition, "updates": content, "fills": fills,
                "temporal_reductions": content - partition, "address_generations": content + fills}
    return {"reads": content, "updates": 0, "fills": fills, "temporal_reductions": 0,
            "address_generations": content + fills}


def reduction_energy_per_op() -> float:
    """pat-public AdderEnergy is 0 in v1.0, so temporal and spatial reductions are free."""
    return 0.0

