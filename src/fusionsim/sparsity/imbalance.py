"""Per-PE workload imbalance of a weight-sparse layer on a spatial PE array.

A sparse accelerator that skips zero weights finishes a *processing pass* only when its slowest PE has done
its non-zero MACs, so its MAC-bound cycles are `sum over passes of max over PEs of non-zero MACs`, not the
average a density model would give.

The dense mapping is plain data here (no dependency on the mapping classes): a loop nest, outermost loop
first, each loop a `Loop(dim, factor, spatial)`. The innermost spatial loop splits the nest in two:

* loops *above* it: spatial loops give the PE coordinate, temporal loops give the pass index (all PEs step
  through the passes in lock-step);
* loops *below* it: temporal loops inside one PE; their MACs are one PE's work in one pass.

Loops on the same dimension compose outer to inner (index = outer * inner_extent + inner), exactly as a
Timeloop loop nest does. Products of factors may exceed a dimension (imperfect factorisation): the
out-of-range slots carry no work. `loops_from_factors` builds the nest from per-dimension spatial and
in-PE factors; `loops_from_map_txt` reads a Timeloop v1 `map.txt`.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import read_input_text, safe_load_strict

# canonical order of the outer (pass) loops when only factors are given
DEFAULT_OUTER_ORDER = ("N", "M", "C", "P", "Q", "R", "S")
_MAP_LOOP = re.compile(r"for\s+(\w+)\s+in\s+\[(\d+):(\d+)\)\s*(\(Spatial-[XY]\))?")
# largest PE x pass grid we materialise (int64 cells), to fail clearly instead of swapping
MAX_GRID_CELLS = 200_000_000


@dataclass(frozen=True)
class Loop:
    """One loop of the dense mapping: dimension name, trip count, and whether it is spread across PEs."""

    dim: str
    factor: int
    spatial: bool = False


def loops_from_factors(
    sizes: Mapping[str, int],
    spatial: Mapping[str, int],
    inner: Mapping[str, int] | None = None,
    outer_order: Sequence[str] = DEFAULT_OUTER_ORDER,
) -> tuple[Loop, ...]:
    """Nest from factors: `spatial` (e.g. {"Q": 8, "M": 9}) split dims across PEs, `inner` (e.g. {"C": 8,
    "M": 8}) are one PE's loops per pass, and what remains of each dim (ceil) becomes an outer pass loop.

    Order: outer loops in `outer_order` (other dims after, sorted), then spatial, then inner loops, each
    group in its mapping order.
    """
    inner = dict(inner or {})
    for name, group in (("spatial", spatial), ("inner", inner)):
        for dim, f in group.items():
            if int(f) < 1:
                raise ValueError(f"{name} factor of {dim} must be >= 1, got {f}")
    outer: dict[str, int] = {}
    for dim, size in sizes.items():
        covered = int(spatial.get(dim, 1)) * int(inner.get(dim, 1))
        rest = math.ceil(int(size) / covered)
        if rest > 1:
            outer[dim] = rest
    order = [d for d in outer_order if d in outer] + sorted(d for d in outer if d not in outer_order)
    loops = [Loop(d, outer[d]) for d in order]
    loops += [Loop(d, int(f), True) for d, f in spatial.items()]
    loops += [Loop(d, int(f)) for d, f in inner.items()]
    return tuple(lp for lp in loops if lp.factor > 1)


def loops_from_map_txt(text: str) -> tuple[Loop, ...]:
    """Loops of a Timeloop v1 `timeloop-mapper.map.txt`, outermost first (`for M in [0:9) (Spatial-Y)`).

    Trip-count-1 loops are dropped; an empty result means a single PE doing everything in one pass.
    """
    loops = []
    for m in _MAP_LOOP.finditer(text):
        factor = int(m.group(3)) - int(m.group(2))
        if factor > 1:
            loops.append(Loop(m.group(1), factor, m.group(4) is not None))
    return tuple(loops)


@dataclass(frozen=True)
class ImbalanceStats:
    """Pass-level statistics of one layer's per-PE work (MAC counts; cycles assume one MAC per PE-cycle).

    The first columns mirror the seed's `sparse_bl_res.csv`: `best_sparse_mac_cycles` is floor(sparse MACs /
    PEs) as the seed reports it; `imbalance` = sparse / best; `pe_utilization` = sparse MACs / (PEs x sparse
    cycles); `pass_imbalance_*` are over passes of (max PE work / mean PE work).
    """

    pes: int
    passes: int
    macs_per_pass: int
    dense_macs: int
    sparse_macs: int
    dense_mac_cycles: int
    best_sparse_mac_cycles: int
    sparse_mac_cycles: int
    weight_density: float
    imbalance: float
    pe_utilization: float
    pass_imbalance_mean: float
    pass_imbalance_p95: float
    pass_imbalance_max: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class PeWork:
    """Non-zero MACs (`nonzero`) and MAC slots (`dense`) per PE (rows) per processing pass (columns)."""

    nonzero: np.ndarray
    dense: np.ndarray

    def __post_init__(self) -> None:
        if self.nonzero.shape != self.dense.shape or self.nonzero.ndim != 2:
            raise ValueError(
                f"nonzero {self.nonzero.shape} and dense {self.dense.shape} must be equal 2-D grids"
            )
        if (self.nonzero < 0).any() or (self.nonzero > self.dense).any():
            raise ValueError("non-zero work must lie in [0, dense slots] for every PE and pass")

    @classmethod
    def from_counts(cls, nonzero: np.ndarray, macs_per_pass: int) -> PeWork:
        """Grid of given non-zero counts where every PE has `macs_per_pass` MAC slots per pass (seed CSVs)."""
        nz = np.asarray(nonzero, dtype=np.int64)
        return cls(nz, np.full_like(nz, int(macs_per_pass)))

    @classmethod
    def concat_passes(cls, works: Sequence[PeWork]) -> PeWork:
        """Works run one after the other on the same PEs (e.g. the groups of a grouped conv)."""
        if not works:
            raise ValueError("need at least one PeWork")
        rows = {w.pes for w in works}
        if len(rows) != 1:
            raise ValueError(f"works have different PE counts {sorted(rows)}")
        return cls(np.hstack([w.nonzero for w in works]), np.hstack([w.dense for w in works]))

    @property
    def pes(self) -> int:
        return int(self.nonzero.shape[0])

    @property
    def passes(self) -> int:
        return int(self.nonzero.shape[1])

    def sparse_cycles(self) -> int:
        """Sum over passes of the slowest PE's non-zero MACs."""
        return int(self.nonzero.max(axis=0).sum()) if self.nonzero.size else 0

    def dense_cycles(self) -> int:
        """Sum over passes of the busiest PE's MAC slots (the dense MAC-bound cycles)."""
        return int(self.dense.max(axis=0).sum()) if self.dense.size else 0

    def stats(self) -> ImbalanceStats:
        """Seed-style counts plus pass-level imbalance statistics."""
        pes = max(self.pes, 1)
        sparse_macs = int(self.nonzero.sum())
        dense_macs = int(self.dense.sum())
        cycles = self.sparse_cycles()
        best = sparse_macs // pes
        if self.nonzero.size:
            peak = self.nonzero.max(axis=0).astype(float)
            mean = self.nonzero.mean(axis=0)
            ratio = np.divide(peak, mean, out=np.ones_like(peak), where=mean > 0)
        else:
            ratio = np.ones(1)
        return ImbalanceStats(
            pes=self.pes,
            passes=self.passes,
            macs_per_pass=int(self.dense.max()) if self.dense.size else 0,
            dense_macs=dense_macs,
            sparse_macs=sparse_macs,
            dense_mac_cycles=self.dense_cycles(),
            best_sparse_mac_cycles=best,
            sparse_mac_cycles=cycles,
            weight_density=sparse_macs / dense_macs if dense_macs else 0.0,
            imbalance=cycles / best if best else 1.0,
            pe_utilization=sparse_macs / (pes * cycles) if cycles else 0.0,
            pass_imbalance_mean=float(ratio.mean()),
            pass_imbalance_p95=float(np.percentile(ratio, 95)),
            pass_imbalance_max=float(ratio.max()),
        )


def _dim_indices(loops: Sequence[Loop], dims: Sequence[str]) -> dict[str, np.ndarray]:
    """Index of each dim in `dims` over the grid whose axes are `loops` (broadcast arrays)."""
    rank = len(loops)
    out: dict[str, np.ndarray] = {}
    for dim in dims:
        idx = np.zeros([1] * rank, dtype=np.int64)
        stride = 1
        for axis in range(rank - 1, -1, -1):  # innermost loop has stride 1
            if loops[axis].dim != dim:
                continue
            shape = [1] * rank
            shape[axis] = loops[axis].factor
            idx = idx + np.arange(loops[axis].factor, dtype=np.int64).reshape(shape) * stride
            stride *= loops[axis].factor
        out[dim] = idx
    return out


def _extent(loops: Sequence[Loop], dim: str) -> int:
    return math.prod(lp.factor for lp in loops if lp.dim == dim)


def partition_nonzero_work(
    nonzero: np.ndarray,
    dims: Sequence[str],
    loops: Sequence[Loop],
    sizes: Mapping[str, int] | None = None,
) -> PeWork:
    """Split a layer's MACs over PEs and passes the way the dense mapping `loops` assigns them.

    `nonzero` is the weight mask (True = non-zero weight) with one axis per name in `dims`, e.g. axes
    ("R", "S", "C", "M"). Other dims of the nest (N, P, Q) only repeat weights; their sizes default to the
    product of their loop factors and can be given in `sizes` when the factorisation is imperfect.
    A MAC slot counts as work when every index is in range and its weight is non-zero.
    """
    mask = np.asarray(nonzero).astype(bool)
    dims = tuple(dims)
    if mask.ndim != len(dims):
        raise ValueError(f"mask has {mask.ndim} axes but dims {dims} name {len(dims)}")
    loops = tuple(lp for lp in loops if lp.factor > 1)
    size = {d: int(n) for d, n in zip(dims, mask.shape, strict=True)}
    for d in {lp.dim for lp in loops} - set(dims):
        size[d] = int((sizes or {}).get(d, _extent(loops, d)))
    for d, n in size.items():
        if _extent(loops, d) < n:
            raise ValueError(f"mapping covers {d}={_extent(loops, d)} but the layer has {d}={n}")

    spatial_at = [i for i, lp in enumerate(loops) if lp.spatial]
    boundary = spatial_at[-1] if spatial_at else -1  # loops[: boundary + 1] are above the PE
    above = loops[: boundary + 1]  # the rest are in-PE loops, summed below
    pe_shape = [lp.factor for lp in above if lp.spatial]
    pass_shape = [lp.factor for lp in above if not lp.spatial]
    cells = math.prod(pe_shape) * math.prod(pass_shape)
    if cells > MAX_GRID_CELLS:
        raise ValueError(f"PE x pass grid of {cells} cells is too large to materialise")

    def part(group: set[str], use_mask: bool) -> tuple[np.ndarray, np.ndarray]:
        """(work, slots) summed over in-PE loops, for the loops of the dims in `group` (others size-1)."""
        sub = [lp if lp.dim in group else Loop(lp.dim, 1, lp.spatial) for lp in loops]
        idx = _dim_indices(sub, sorted(group))
        valid = np.ones([1] * len(sub), dtype=bool)
        for d, ix in idx.items():
            valid = valid & (ix < size[d])
        if use_mask and group:
            clipped = tuple(np.minimum(idx[d], size[d] - 1) for d in dims)
            work = mask[clipped] & valid
        else:
            work = valid
        inner_axes = tuple(range(boundary + 1, len(sub)))
        return work.sum(axis=inner_axes, dtype=np.int64), valid.sum(axis=inner_axes, dtype=np.int64)

    weight_dims = set(dims)
    w_work, w_slots = part(weight_dims, True)
    _, o_slots = part(set(size) - weight_dims, False)
    grid_nz = w_work * o_slots
    grid_dense = w_slots * o_slots
    # broadcast to the full (above-PE) grid, then order axes as (spatial..., temporal...)
    full = [lp.factor for lp in above]
    grid_nz = np.broadcast_to(grid_nz, full)
    grid_dense = np.broadcast_to(grid_dense, full)
    perm = [i for i, lp in enumerate(above) if lp.spatial] + [
        i for i, lp in enumerate(above) if not lp.spatial
    ]
    shape2 = (math.prod(pe_shape), math.prod(pass_shape))
    nz = np.ascontiguousarray(np.transpose(grid_nz, perm)).reshape(shape2)
    dn = np.ascontiguousarray(np.transpose(grid_dense, perm)).reshape(shape2)
    return PeWork(nz, dn)


def read_pe_work_csv(path: str | os.PathLike) -> np.ndarray:
    """Non-zero counts [PE, pass] from a per-PE CSV: header `PE,0,1,...`, one row per PE `(x- y),n0,n1,...`
    (the seed's `<block>_<layer>_raw_80.csv` layout; trailing commas allowed)."""
    path = Path(path)
    rows: list[list[int]] = []
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or header[0].strip() != "PE":
            raise InputError("not a per-PE work CSV (first header cell must be 'PE')", file=path)
        for n, rec in enumerate(reader, start=2):
            if not rec:
                continue
            try:
                rows.append([int(x) for x in rec[1:] if x.strip() != ""])
            except ValueError as exc:
                raise InputError(f"line {n}: non-integer count ({exc})", file=path) from None
    if not rows or len({len(r) for r in rows}) != 1:
        raise InputError("per-PE rows are missing or have different numbers of passes", file=path)
    return np.asarray(rows, dtype=np.int64)


def write_pe_work_csv(path: str | os.PathLike, nonzero: np.ndarray) -> Path:
    """Write non-zero counts [PE, pass] in the `read_pe_work_csv` layout (atomically); PE labels `(i)`."""
    import pandas as pd

    from fusionsim.frames import write_csv

    grid = np.asarray(nonzero, dtype=np.int64)
    frame = pd.DataFrame(grid, columns=range(grid.shape[1]))
    frame.insert(0, "PE", [f"({i})" for i in range(grid.shape[0])])
    return write_csv(frame, path)


def read_loops(path: str | os.PathLike, sizes: Mapping[str, int] | None = None) -> tuple[Loop, ...]:
    """Dense mapping of one layer from a file: a Timeloop `map.txt`, or YAML/JSON with either
    `loops: [{dim, factor, spatial}]` (outermost first) or `spatial: {dim: f}` + `inner: {dim: f}` (needs
    the layer's problem `sizes`; the rest of each dim becomes outer pass loops)."""
    import yaml

    path = Path(path)
    text = read_input_text(path)
    if _MAP_LOOP.search(text) and not text.lstrip().startswith(("{", "loops", "spatial")):
        return loops_from_map_txt(text)
    try:
        raw = safe_load_strict(text)
    except yaml.YAMLError as exc:
        raise InputError(
            f"not a map.txt nor valid YAML/JSON ({str(exc).splitlines()[0]})", file=path
        ) from None
    if not isinstance(raw, Mapping):
        raise InputError("mapping must be a map.txt or a mapping with `loops` or `spatial`", file=path)
    try:
        if "loops" in raw:
            return tuple(
                Loop(str(lp["dim"]), int(lp["factor"]), bool(lp.get("spatial", False)))
                for lp in raw["loops"]
                if int(lp["factor"]) > 1
            )
        if "spatial" in raw:
            if sizes is None:
                raise InputError("the factors form needs the layer's problem sizes", file=path, key="spatial")
            return loops_from_factors(sizes, raw["spatial"], raw.get("inner") or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"bad loop entry ({exc})", file=path, key="loops") from None
    raise InputError("mapping has neither `loops` nor `spatial`", file=path, fix="see docs/sparsity.md")
