"""Vectorised evaluation of many mappings of one layer on one arch (the mapper's hot path).

Same model as `nest_analysis` + `evaluate` (Timeloop v1.0), computed with numpy across the batch: each
mapping is a fixed grid of loop slots (per level, every dimension once as a temporal slot and once as a
spatial slot, innermost first; bound-1 slots are no-ops). Totals only; call `evaluate` for the per-level
detail of the mapping you keep. `tests/unit/test_batch_engine.py` checks it against the scalar engine."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusionsim.model import semantics_v1 as sem
from fusionsim.model.nest_analysis import _multicast_groups
from fusionsim.spec.arch import Arch
from fusionsim.spec.mapping import Mapping
from fusionsim.spec.problem import Problem


@dataclass
class LoopArrays:
    """A batch of B mappings over K storage levels and D problem dimensions.

    t_dims/t_bounds: (B, K, D) temporal slots innermost first (a permutation of the dims per level);
    s_dims/s_bounds: (B, K, D) spatial slots innermost first; keep: (B, K, DS) dataspaces kept."""

    t_dims: np.ndarray
    t_bounds: np.ndarray
    s_dims: np.ndarray
    s_bounds: np.ndarray
    keep: np.ndarray

    @property
    def size(self) -> int:
        return int(self.t_dims.shape[0])


@dataclass
class BatchResult:
    energy_pJ: np.ndarray  # (B,) inf where invalid
    cycles: np.ndarray  # (B,) int64
    valid: np.ndarray  # (B,) bool: fits every buffer and fanout
    utilization: np.ndarray  # (B,)
    last_level_accesses: np.ndarray  # (B,) scalar accesses of the outermost level

    @property
    def edp(self) -> np.ndarray:
        return self.energy_pJ * self.cycles


def encode(mappings: list[Mapping], arch: Arch, problem: Problem) -> LoopArrays:
    """Mapping objects -> slot arrays (dims missing from a level's loops get bound-1 slots outermost)."""
    b, k, d = len(mappings), len(arch.storage), len(problem.dims)
    nds = len(problem.dataspaces)
    t_dims = np.zeros((b, k, d), np.int64)
    t_bounds = np.ones((b, k, d), np.int64)
    s_dims = np.zeros((b, k, d), np.int64)
    s_bounds = np.ones((b, k, d), np.int64)
    keep = np.zeros((b, k, nds), bool)
    index = {name: i for i, name in enumerate(problem.dims)}
    ds_names = problem.dataspace_names()
    for i, m in enumerate(mappings):
        for j, lv in enumerate(m.levels):
            for arr_d, arr_b, loops in ((t_dims, t_bounds, lv.temporal), (s_dims, s_bounds, lv.spatial)):
                used = [index[lp.dim] for lp in loops]
                order = used + [x for x in range(d) if x not in used]
                arr_d[i, j] = order
                arr_b[i, j, : len(loops)] = [lp.bound for lp in loops]
            keep[i, j] = [n in lv.keep for n in ds_names]
    return LoopArrays(t_dims, t_bounds, s_dims, s_bounds, keep)


def _widths(proj_abs: np.ndarray, ext: np.ndarray) -> np.ndarray:
    """Box widths (B, P) for extents (B, D): Σ|c|*(extent-1) + 1 per dataspace dimension."""
    return (ext - 1) @ proj_abs.T + 1


def evaluate_batch(arch: Arch, problem: Problem, batch: LoopArrays | list[Mapping],
                   prices: sem.LevelPrices) -> BatchResult:
    """Energy, cycles and validity of every mapping in the batch."""
    if _has_network_energy(arch, prices):
        if isinstance(batch, LoopArrays):
            raise NotImplementedError("network energy (energy-per-hop, router-energy, wire-energy) is only "
                                      "modelled by the scalar engine; pass a list of Mappings")
        return _scalar_fallback(arch, problem, batch, prices)
    if not isinstance(batch, LoopArrays):
        batch = encode(batch, arch, problem)
    B, K, D = batch.t_dims.shape
    rows = np.arange(B)
    # global slots innermost first: per level, D spatial then D temporal
    dims = np.concatenate([np.concatenate([batch.s_dims[:, k], batch.t_dims[:, k]], axis=1) for k in range(K)], 1)
    bounds = np.concatenate([np.concatenate([batch.s_bounds[:, k], batch.t_bounds[:, k]], axis=1)
                             for k in range(K)], 1)
    n_slots = dims.shape[1]
    is_spatial = np.tile(np.r_[np.ones(D, bool), np.zeros(D, bool)], K)
    level_of = np.repeat(np.arange(K), 2 * D)
    run = np.ones((B, D), np.int64)
    scales = np.empty((B, n_slots), np.int64)
    ext_after: list[np.ndarray] = []
    master_ext: list[np.ndarray] = []
    for s in range(n_slots):
        dcol = dims[:, s]
        scales[:, s] = run[rows, dcol]
        run[rows, dcol] *= bounds[:, s]
        if s % (2 * D) == D - 1:
            master_ext.append(run.copy())
        if s % (2 * D) == 2 * D - 1:
            ext_after.append(run.copy())
    cc = np.prod(batch.t_bounds.reshape(B, -1), axis=1)
    fan = np.prod(batch.s_bounds, axis=2)  # (B, K) spatial fanout used at each level
    arith_ui = np.prod(fan, axis=1)
    has_spatial = fan > 1
    # replication: instances of level k in use = product of the spatial fanouts above it
    rep = np.ones((B, K), np.int64)
    for k in range(K - 2, -1, -1):
        rep[:, k] = rep[:, k + 1] * fan[:, k + 1]

    # as evaluate.check_fit: v1.0 checks utilized instances (below), not each level's fanout
    valid = np.ones(B, bool)
    for k in range(K):
        if arch.fanout(k) <= 1:
            valid &= fan[:, k] <= 1
    valid &= arith_ui <= arch.arithmetic.instances

    nds = len(problem.dataspaces)
    energy = cc * arith_ui * prices.mac_energy * float(np.prod(
        [d for d, s in zip(problem.densities, problem.dataspaces) if not s.read_write] or [1.0]))
    cycles = cc.copy()
    used_words = np.zeros((B, K), np.int64)
    level_stats = []  # per ds: (size, partition, content, fills) arrays (B, K)
    for ds in range(nds):
        proj = problem.projections[ds]
        pmat = np.zeros((len(proj), D), np.int64)
        for p, terms in enumerate(proj):
            for c, d in terms:
                pmat[p, d] += c
        pabs = np.abs(pmat)
        size = np.stack([np.prod(_widths(pabs, ext_after[k]), axis=1) for k in range(K)], 1)
        S = np.empty((B, K), np.int64)
        G = np.ones((B, K), np.int64)
        U = np.ones((B, K), np.int64)
        for k in range(K):
            if k == 0:
                S[:, 0] = cc
            else:
                # S_k only matters where the child level keeps the dataspace (else the bypass chain
                # replaces level k's content and the child has no fills)
                need = np.flatnonzero(batch.keep[:, k - 1, ds])
                S[:, k] = 0
                if need.size:
                    S[need, k] = _temporal_delta_batch(pmat, pabs, ext_after[k - 1][need], dims[need],
                                                       bounds[need], scales[need], (~is_spatial) & (level_of >= k))
            if has_spatial[:, k].any():
                G[:, k], U[:, k] = _group_counts(proj, dims, bounds, scales, k, D, has_spatial[:, k])
        content = S * G
        part = np.empty((B, K), np.int64)
        part[:, K - 1] = size[:, K - 1]
        for k in range(K - 2, -1, -1):
            me = np.prod(_widths(pabs, master_ext[k + 1]), axis=1)
            den = np.where(has_spatial[:, k + 1], me, size[:, k])
            part[:, k] = part[:, k + 1] * size[:, k] // den
        fills = np.zeros((B, K), np.int64)
        fills[:, : K - 1] = S[:, 1:] * U[:, 1:]
        keep = batch.keep[:, :, ds]
        size = size.copy()
        for k in range(K):  # the outermost level too: a bypassed dataspace there is stored nowhere (v1.0)
            byp = ~keep[:, k]
            if k < K - 1:
                content[:, k + 1] = np.where(byp, content[:, k] * G[:, k + 1], content[:, k + 1])
            for arr in (size, part, content, fills):
                arr[:, k] = np.where(byp, 0, arr[:, k])
        used_words += size
        level_stats.append((size, part, content, fills))

    last_level = np.zeros(B, np.int64)
    for k, lv in enumerate(arch.storage):
        if lv.effective_size is not None:
            valid &= used_words[:, k] <= lv.effective_size
            if lv.min_utilization > 0:
                valid &= used_words[:, k] >= lv.effective_size * lv.min_utilization
        valid &= rep[:, k] <= lv.instances
        ui = rep[:, k]
        uc = np.minimum(ui, lv.instances // lv.cluster_size)
        rd = np.zeros(B)
        wr = np.zeros(B)
        for ds in range(nds):
            size, part, content, fills = (a[:, k] for a in level_stats[ds])
            if problem.dataspaces[ds].read_write:
                reads, updates = content - part, content
            else:
                reads, updates = content, np.zeros_like(content)
            n = reads + updates + fills
            vec = -(-n // lv.block_size)
            # a cluster larger than the level: 0 clusters, access energy 0 (as evaluate.py)
            with np.errstate(divide="ignore", invalid="ignore"):
                acc_e = np.where(uc > 0, (vec * prices.vector_access_energy[k]) / (ui / uc) * ui, 0.0)
            energy = energy + acc_e
            if lv.addr_gen_energy is not None and lv.addr_gen_energy >= 0:
                energy = energy + (content + fills) * lv.addr_gen_energy * uc
            rd += reads / cc
            wr += (updates + fills) / cc
            if k == K - 1:
                last_level += n
        slow = np.ones(B)
        if lv.read_bandwidth is not None:
            slow = np.minimum(slow, np.where(rd > lv.read_bandwidth, lv.read_bandwidth / np.maximum(rd, 1e-300), 1))
        if lv.write_bandwidth is not None:
            slow = np.minimum(slow, np.where(wr > lv.write_bandwidth, lv.write_bandwidth / np.maximum(wr, 1e-300), 1))
        cycles = np.maximum(cycles, np.ceil(cc / slow).astype(np.int64))
    util = cc * arith_ui / (arch.arithmetic.instances * cycles)
    energy = np.where(valid, energy, np.inf)
    return BatchResult(energy, cycles, valid, util, last_level)


def _has_network_energy(arch: Arch, prices: sem.LevelPrices) -> bool:
    return any(sem.network_params(lv, prices.wire_energy)[:2] != (0.0, 0.0) for lv in arch.storage)


def _scalar_fallback(arch: Arch, problem: Problem, mappings: list[Mapping], prices: sem.LevelPrices) -> BatchResult:
    """Arches whose legacy networks cost energy: evaluate one by one with the scalar engine (same numbers)."""
    from fusionsim.model.evaluate import MappingError, evaluate

    n = len(mappings)
    energy, cycles = np.full(n, np.inf), np.zeros(n, np.int64)
    valid, util, last = np.zeros(n, bool), np.zeros(n), np.zeros(n, np.int64)
    for i, m in enumerate(mappings):
        try:
            r = evaluate(arch, problem, m, prices)
        except MappingError:
            continue
        energy[i], cycles[i], valid[i], util[i] = r.energy_pJ, r.cycles, True, r.utilization
        top = r.levels[len(arch.storage)]
        last[i] = sum(d.reads + d.updates + d.fills for d in top.dataspaces.values())
    return BatchResult(energy, cycles, valid, util, last)


_HASH_W = np.random.default_rng(12345).integers(1, 2**40, size=256, dtype=np.int64) | 1


def _group_counts(proj, dims, bounds, scales, k, D, mask) -> tuple[np.ndarray, np.ndarray]:
    """Per mapping: number of multicast groups G and of distinct group sizes U at level k's spatial run."""
    B = dims.shape[0]
    lo = 2 * D * k
    sl = slice(lo, lo + D)
    key = np.concatenate([dims[:, sl], bounds[:, sl], scales[:, sl]], axis=1)
    G = np.ones(B, np.int64)
    U = np.ones(B, np.int64)
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return G, U
    sub = key[idx]
    h = sub @ _HASH_W[: sub.shape[1]]
    _, first, inv = np.unique(h, return_index=True, return_inverse=True)
    uniq = sub[first]
    inv = inv.ravel()
    if not (uniq[inv] == sub).all():  # a hash collision (never seen): fall back to exact row grouping
        uniq, inv = np.unique(sub, axis=0, return_inverse=True)
        inv = inv.ravel()
    g_u = np.empty((len(uniq), 2), np.int64)
    for i, row in enumerate(uniq):
        sig = tuple((int(row[j]), int(row[D + j]), int(row[2 * D + j])) for j in range(D) if row[D + j] > 1)
        groups = _multicast_groups(proj, sig)
        g_u[i] = (sum(groups.values()), len(groups))
    G[idx] = g_u[inv.ravel(), 0]
    U[idx] = g_u[inv.ravel(), 1]
    return G, U


def _temporal_delta_batch(pmat, pabs, child_ext, dims, bounds, scales, slot_mask) -> np.ndarray:
    """Vectorised `_temporal_deltas`: the binary-counter recursion with gradient-reset states, all states at
    once. States: 0 = no gradient, 1 + 2p + (slide > 0) = sliding along dataspace dimension p."""
    B, D = child_ext.shape
    P = pmat.shape[0]
    W = _widths(pabs, child_ext)  # (B, P)
    T = np.prod(W, axis=1)
    n_states = 1 + 2 * P
    Fsum = np.zeros((B, n_states), np.int64)
    Fst = np.tile(np.arange(n_states), (B, 1))
    back = np.zeros((B, D), np.int64)
    for s in np.flatnonzero(slot_mask):
        idx = np.flatnonzero(bounds[:, s] > 1)  # only mappings where this loop iterates change state
        if idx.size == 0:
            continue
        n = bounds[idx, s]
        d = dims[idx, s]
        sc_s = scales[idx, s]
        r = np.arange(idx.size)
        off = -back[idx]
        off[r, d] += sc_s
        move = off @ pmat.T  # (b, P)
        nz = move != 0
        nzc = nz.sum(1)
        p = np.argmax(nz, axis=1)
        mp = move[r, p]
        wp = W[idx, p]
        t = T[idx]
        empty = nzc == 0
        full = ((nzc >= 2) | (np.abs(mp) >= wp)) & ~empty
        size = np.where(empty, 0, np.where(full, t, t // wp * np.abs(mp)))
        grad = np.where(empty | full, 0, 1 + 2 * p + (mp > 0))
        # transition applied to every state reached after the iteration-#0 subtree
        fs, ft = Fsum[idx], Fst[idx]
        g = grad[:, None]
        zero_in = ft == 0
        keep_slide = zero_in | (g == ft)
        quiet = ((g == 0) & empty[:, None]) & ~zero_in
        dsz = np.where(keep_slide, size[:, None], np.where(quiet, 0, t[:, None]))
        sb = np.where(keep_slide, g, 0)
        flat = sb + (r * n_states)[:, None]
        c = fs.ravel()[flat]
        st = ft.ravel()[flat]
        Fsum[idx] = fs + (n - 1)[:, None] * (dsz + c)
        Fst[idx] = st
        back[idx, d] += sc_s
    return T + Fsum[:, 0]
