"""The Timeloop v1.0 choices that later versions change, in one place: which ERT entry prices an access, how
a level's scalar counts follow from its tile, and what reduction, address-generation and network energy cost.

A `timeloop_version` switch (v3 per-action pricing, counted first reads) replaces this module's functions."""

from __future__ import annotations

import logging
import math
import os
import struct
from dataclasses import dataclass

from fusionsim.errors import InputError
from fusionsim.spec.arch import Arch
from fusionsim.spec.ert import ERT

VERSION = "timeloop-v1.0"
log = logging.getLogger(__name__)


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


def price_levels(arch: Arch, ert: ERT, missing: str | None = None) -> LevelPrices:
    """v1.0: every access of a component costs the maximum energy over all its actions and arguments (idle
    included, floored at 0); a buffer's vector access energy is that maximum over its cluster size."""
    policy = missing or missing_ert_policy()
    maxima: dict[str, float] = {}
    empty: set[str] = set()
    wire = 0.0
    for key, actions in ert.tables.items():
        name = ert_component_name(key)
        energies = [a.energy_pJ for a in actions if not math.isnan(a.energy_pJ)]
        if name in ("wire", "Wire"):
            wire = max([0.0] + [a.energy_pJ for a in actions if a.action == "transfer_random"])
            continue
        if energies:
            empty.discard(name)
        else:  # v1.0 prices a table without energies at 0
            empty.add(name)
        maxima[name] = max([0.0, *energies])  # later tables of the same name overwrite, as in the C++ map
    for name in sorted(empty & {arch.arithmetic.name, *(lv.name for lv in arch.storage)}):
        _missing(name, ert, policy, "0 pJ")
    if arch.arithmetic.name in maxima:
        mac = maxima[arch.arithmetic.name]
    else:
        if arch.arithmetic.attributes.get("energy") is None:  # an explicit `energy` is not a fallback
            _missing(arch.arithmetic.name, ert, policy, "(bits/16)^2 pJ")
        mac = _fallback_mac(arch)
    vae = []
    for lv in arch.storage:
        if lv.name in maxima:
            vae.append(maxima[lv.name] / lv.cluster_size)
        elif lv.vector_access_energy is not None:  # set explicitly in the arch: not a fallback
            vae.append(lv.vector_access_energy)
        else:
            _missing(lv.name, ert, policy, "pat-public's default buffer energy")
            vae.append(_fallback_buffer(lv.is_dram, lv.word_bits, lv.block_size, lv.cluster_size, lv.size))
    return LevelPrices(mac, tuple(vae), wire)


MISSING_ERT_ENV = "FUSIONSIM_MISSING_ERT"
"""Environment variable (set by `fusionsim --missing-ert`) choosing what a component without ERT energies
does: `error` (default) or `timeloop-v1.0` (Timeloop v1.0's silent fallback, here with a warning)."""
MISSING_ERT_POLICIES = ("error", "timeloop-v1.0")


def missing_ert_policy() -> str:
    """The policy for components without ERT energies: `error` unless FUSIONSIM_MISSING_ERT says otherwise."""
    value = os.environ.get(MISSING_ERT_ENV, "error") or "error"
    if value not in MISSING_ERT_POLICIES:
        raise InputError(f"unknown value {value!r}", key=MISSING_ERT_ENV, fix="use error or timeloop-v1.0")
    return value


def _missing(component: str, ert: ERT, policy: str, fallback: str) -> None:
    """A component has no ERT table (or no action with an energy): an error, or v1.0's fallback with a warning."""
    if policy == "error":
        raise InputError(
            f"no energies for component '{component}' (no table, or no action with an energy)",
            file=ert.file or None, key=component,
            fix="regenerate the ERT for this arch (fusionsim ert), or pass --missing-ert timeloop-v1.0 "
            "for Timeloop v1.0's default energies",
        )
    log.warning("%s: no ERT energies for component '%s': using %s (Timeloop v1.0 fallback)",
                ert.file or "ERT", component, fallback)


# ------------------------------------------------------------------------------------------ keep / bypass
# v1.0 holds one mask string per dataspace over the storage levels, initialised to "XX...X1"
# (mapping/parser.cpp ParseAndConstruct, mapping/constraints.hpp): 'X' at an inner level means "not stated",
# the outermost level starts as '1' (keep). A `datatype`/`bypass` directive sets '1' for its `keep` list and
# '0' for its `bypass` list at any level, the outermost included (constraints.hpp exempts only that level
# from the re-specification error, so a constraint may turn its default keep into a bypass). A mapping
# resolves a remaining 'X' to keep; the mapper searches it (both choices) but never the outermost level's bit.
# tiling.cpp MaskTiles then erases a bypassed dataspace's tile, so nothing is read from or written to that
# level for it: a dataspace kept off DRAM costs no DRAM access. Timeloop prints each level's kept
# dataspaces in its map.txt header, so `DRAM [ ]` is a DRAM that keeps nothing.


def kept_dataspaces(names: list[str], header: set[str] | None) -> frozenset[str]:
    """Kept set of one level of a printed map.txt: exactly its header's list (empty: nothing), at every level
    the outermost included; a level with no header at all takes v1.0's default, keep everything."""
    return frozenset(names) if header is None else frozenset(header)


def yaml_kept_dataspaces(names: list[str], keep: list[str], bypass: list[str]) -> frozenset[str]:
    """Kept set of one level of a mapping YAML: v1.0's default keep for every dataspace not stated, `keep`
    sets, `bypass` clears (applied after `keep`, as the directive parser does), at every level."""
    cleared = set(bypass)
    return frozenset(n for n in names if n not in cleared)


def mapper_keep_bits(names: list[str], keep: set[str], bypass: set[str],
                     outermost: bool) -> tuple[frozenset[str], tuple[str, ...]]:
    """(forced keeps, searched bits) of one level in the mapspace: stated keeps are forced, stated bypasses
    excluded; an unstated inner bit is searched, an unstated outermost bit is keep (its '1' default)."""
    if outermost:
        return frozenset(n for n in names if n not in bypass), ()
    return frozenset(n for n in names if n in keep), tuple(n for n in names if n not in keep and n not in bypass)


def _fallback_mac(arch: Arch) -> float:
    """Used only when the ERT has no entry: the arithmetic's `energy` attribute, else the pat-public multiplier
    energy (bits/16)^2 pJ (arithmetic.cpp ParseSpecs)."""
    e = arch.arithmetic.attributes.get("energy")
    if e is not None:
        return float(e)
    return (arch.arithmetic.word_bits / 16.0) ** 2


def _fallback_buffer(is_dram: bool, word_bits: int, block: int, cluster: int, size: int | None) -> float:
    """pat-public defaults (buffer.cpp ParseSpecs L286-310): DRAM 200 pJ per 16 bits of a block; SRAM the
    Eyeriss linear fit pat::SRAMEnergy(height, width) / cluster, with width = word_bits*block*cluster bits and
    height = ceil(size/block) rows; a zero-size buffer costs 0."""
    if is_dram or size is None:
        return 200.0 * (word_bits * block) / 16.0
    if size == 0:
        return 0.0
    width = word_bits * block * cluster
    height = -(-size // block)
    m = (6.0 - 1.0) / (100.0 - 0.5)
    y = m * (float(width * height) / (8 * 1024) - 0.5) + 1.0
    return (y * width) / 16 / cluster


def _attr_float(attrs: dict, key: str) -> float | None:
    v = attrs.get(key)
    return None if v is None else float(v)


def network_params(lv, wire_ert: float) -> tuple[float, float, int]:  # noqa: ANN001 - a StorageLevel
    """(energy per hop, energy per router, word bits) of the legacy network v1.0 infers from the outer buffer's
    attributes (network-legacy.cpp ParseSpecs, ComputeNetworkEnergy): `energy-per-hop`, else
    word_bits * tile-width/1000 * wire energy (`wire-energy`, overridden by a non-zero ERT `wire` entry), else
    pat WireEnergy = 0. The floorplanned tile width (from component areas) is not modelled: only an explicit
    `tile-width` (um) is used, so without it the wire term is 0, as with pat-public areas."""
    a = lv.attributes
    word_bits = int(a.get("network-word-bits", a.get("word-bits", a.get("word_width", a.get("datawidth", 16)))))
    eph = _attr_float(a, "energy-per-hop")
    if eph is None:
        wire_ert = struct.unpack("f", struct.pack("f", wire_ert))[0]  # topology.cpp keeps it in a float
        wire = wire_ert if wire_ert != 0.0 else (_attr_float(a, "wire-energy") or 0.0)
        width = _attr_float(a, "tile-width") or 0.0
        eph = word_bits * (width / 1000) * wire if wire != 0.0 else 0.0
    return eph, _attr_float(a, "router-energy") or 0.0, word_bits


def num_hops(multicast: int, fanout: int) -> float:
    """network-legacy.cpp NumHops (probabilistic multicast, central entry point)."""
    root_f = math.sqrt(multicast)
    root_n = math.sqrt(fanout)
    return (root_n * root_f) + 0.5 * (root_n - root_f) - (root_n / root_f) + 0.5


def network_energy(eph: float, router: float, read_write: bool, outer_is_dram: bool, accesses: dict[int, int],
                   partition: int, fanout: int, replication: int) -> float:
    """Energy (all instances) of one dataspace on the network below a storage level, from that level's tile:
    ingresses per multicast factor (2*acc - partition for read-write data when the outer level is DRAM, which
    cannot reduce), hops = NumHops(m, fanout) per ingress, routers touched truncated to an integer as the
    C++ uint64 accumulator does."""
    if eph == 0.0 and router == 0.0:
        return 0.0
    hops = 0.0
    routers = 0
    for m in sorted(accesses):
        a = accesses[m]
        if a <= 0:
            continue
        ing = 2 * a - partition if (read_write and outer_is_dram) else a
        if ing <= 0:
            continue
        h = num_hops(m, fanout)
        routers = int(routers + (1 + h) * ing)
        hops += h * ing
    return (hops * eph + routers * router) * replication


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

