"""Evaluate one layer under one mapping on one arch with an ERT: access counts, energy, cycles (Timeloop v1.0)."""

from __future__ import annotations

import math
from pathlib import Path

from fusionsim.errors import InputError
from fusionsim.model import semantics_v1 as sem
from fusionsim.model.nest_analysis import analyse_nest
from fusionsim.model.result import DataspaceStats, EvalResult, LevelStats
from fusionsim.spec.arch import Arch, load_arch
from fusionsim.spec.ert import ERT, load_ert
from fusionsim.spec.mapping import Mapping, load_mapping
from fusionsim.spec.problem import Problem, load_problem


class MappingError(InputError):
    """The mapping cannot run on the arch (tile exceeds a buffer, too many instances)."""


def check_fit(arch: Arch, problem: Problem, mapping: Mapping, file: str | Path = "<mapping>") -> None:
    """Raise MappingError for a mapping timeloop-model rejects before evaluation: a level count that differs
    from the arch, or spatial loops at a level without a spatial fanout (parser.cpp FindTargetTilingLevel).

    timeloop-model v1.0 does not compare a level's spatial factors with its own fanout (nor per X/Y axis): it
    only rejects more utilized instances than a level (or the arithmetic) has, which `evaluate` checks. So a
    level may use more than its fanout when the levels above use less; the mapper's mapspace, not the model,
    keeps every level within its X and Y fanouts."""
    if len(mapping.levels) != len(arch.storage):
        raise MappingError(f"mapping has {len(mapping.levels)} levels, arch has {len(arch.storage)}", file=file,
                           key="mapping")
    for i, lv in enumerate(mapping.levels):
        if lv.spatial and arch.fanout(i) <= 1:
            raise MappingError(f"spatial factors at '{lv.name}', which has no spatial fanout", file=file,
                               key=f"{lv.name}.spatial", fix="map these factors temporally")


def evaluate(arch: Arch, problem: Problem, mapping: Mapping, ert: ERT | sem.LevelPrices,
             file: str | Path = "<mapping>") -> EvalResult:
    """The full per-level result; raises MappingError if the mapping does not fit the arch."""
    check_fit(arch, problem, mapping, file)
    prices = ert if isinstance(ert, sem.LevelPrices) else sem.price_levels(arch, ert)
    nest = analyse_nest(arch, problem, mapping)
    cc = nest.compute_cycles
    levels: list[LevelStats] = []
    macs = nest.macs
    density = math.prod(d for d, s in zip(problem.densities, problem.dataspaces) if not s.read_write)
    arith_e = macs * prices.mac_energy * density
    if nest.arith_utilized > arch.arithmetic.instances:
        raise MappingError(f"mapping uses {nest.arith_utilized} arithmetic units, arch has "
                           f"{arch.arithmetic.instances}", file=file, key="spatial factors")
    levels.append(LevelStats(arch.arithmetic.name, arith_e, cc, "arithmetic"))
    total = arith_e
    max_cycles = cc
    for k, lv in enumerate(arch.storage):
        col = nest.tiles[k]
        used = sum(t.size for t in col)
        eff = lv.effective_size
        if eff is not None and used > eff:
            raise MappingError(f"mapped tile size {used} exceeds buffer capacity {eff} of '{lv.name}'", file=file,
                               key=f"{lv.name}", fix="use smaller tiling factors inside this level or bypass a "
                                                     "dataspace")
        if eff is not None and used < eff * lv.min_utilization:
            raise MappingError(f"mapped tile size {used} is below min-utilization of '{lv.name}'", file=file,
                               key=f"{lv.name}")
        max_ui = max(t.replication for t in col)
        if max_ui > lv.instances:
            raise MappingError(f"mapping uses {max_ui} instances of '{lv.name}', arch has {lv.instances}",
                               file=file, key=f"{lv.name}")
        clusters = lv.instances // lv.cluster_size
        dstats: dict[str, DataspaceStats] = {}
        level_e = 0.0
        rd_bw = wr_bw = 0.0
        for ds, t in zip(problem.dataspaces, col):
            c = sem.scalar_counts(ds.read_write, t.content, t.partition, t.fills)
            ui = t.replication
            uc = min(ui, clusters)
            n = c["reads"] + c["updates"] + c["fills"]
            vec = -(-n // lv.block_size)
            # buffer.cpp ComputeBufferEnergy: a cluster larger than the level has 0 clusters, so the C++ divides by
            # an infinite cluster utilization and the access energy is 0
            e_inst = ((vec * prices.vector_access_energy[k]) / (ui / uc) if uc > 0 else 0.0) if ui > 0 else 0.0
            e = e_inst * ui
            e += c["temporal_reductions"] * sem.reduction_energy_per_op() * ui
            if lv.addr_gen_energy is not None and lv.addr_gen_energy >= 0:
                e += c["address_generations"] * lv.addr_gen_energy * uc
            level_e += e
            rd_bw += c["reads"] / cc
            wr_bw += (c["updates"] + c["fills"]) / cc
            dstats[ds.name] = DataspaceStats(
                reads=c["reads"], fills=c["fills"], updates=c["updates"],
                temporal_reductions=c["temporal_reductions"], address_generations=c["address_generations"],
                utilized_capacity=t.size, utilized_instances=ui, utilized_clusters=uc, partition_size=t.partition,
                energy_pJ=e)
        slowdown = 1.0
        if lv.read_bandwidth is not None and lv.read_bandwidth < rd_bw:
            slowdown = min(slowdown, lv.read_bandwidth / rd_bw)
        if lv.write_bandwidth is not None and lv.write_bandwidth < wr_bw:
            slowdown = min(slowdown, lv.write_bandwidth / wr_bw)
        cycles = math.ceil(cc / slowdown)
        max_cycles = max(max_cycles, cycles)
        levels.append(LevelStats(lv.name, level_e, cycles, "storage", dstats))
        total += level_e
    # legacy networks `OUTER <==> INNER`, evaluated with the outer level's tile, added in name order (std::map)
    nets = []
    inner_names = [arch.arithmetic.name] + [lv.name for lv in arch.storage[:-1]]
    for k, lv in enumerate(arch.storage):
        eph, router, _ = sem.network_params(lv, prices.wire_energy)
        e = 0.0
        for ds, t in zip(problem.dataspaces, nest.tiles[k]):
            e += sem.network_energy(eph, router, ds.read_write, lv.is_dram, t.accesses, t.partition, t.fanout,
                                    t.replication)
        nets.append((f"{lv.name} <==> {inner_names[k]}", e))
    for name, e in sorted(nets):
        total += e
        if e != 0.0:
            levels.append(LevelStats(name, e, 0, "network"))
    util = macs / (arch.arithmetic.instances * max_cycles)
    return EvalResult(total, max_cycles, util, macs, levels)


def evaluate_files(arch: str | Path, problem: str | Path, mapping: str | Path, ert: str | Path,
                   components: str | Path | None = None) -> EvalResult:
    """Read the spec files and evaluate (the `fusionsim evaluate` command)."""
    a = load_arch(arch, components)
    p = load_problem(problem)
    m = load_mapping(mapping, a, p)
    e = load_ert(ert)
    return evaluate(a, p, m, e, mapping)
