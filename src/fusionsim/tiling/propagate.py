"""Tile geometry for fused stacks: tile enumeration and back-propagation of output tiles through layers.

Coordinates are pixels along one spatial axis; intervals are half-open `(start, stop)`. A layer reads
its producer's output, optionally pooled first, then zero-padded; the interval of the producer's
output that a layer-output interval needs is its *input region* (tile plus halo), clipped to the map.
Square maps and tiles use the same intervals on both axes. Array versions work on many tiles at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fusionsim.errors import InputError

Interval = tuple[int, int]


@dataclass(frozen=True)
class Pool:
    """A pooling window applied to the producer's output before the convolution (max or average)."""

    kernel: int
    stride: int
    pad: int = 0

    def out_width(self, in_width: int) -> int:
        """Width of the pooled map."""
        return (in_width + 2 * self.pad - self.kernel) // self.stride + 1


@dataclass(frozen=True)
class LayerGeom:
    """One layer's spatial geometry along an axis: its output width and how it reads its producer."""

    out_width: int
    kernel: int = 1
    stride: int = 1
    pad: int = 0  # zero padding before the first input pixel (the low side)
    dilation: int = 1
    src_width: int | None = None  # producer's output width (before pooling); None = as needed
    pool: Pool | None = None

    @property
    def in_width(self) -> int:
        """Width of the (pooled, unpadded) map the convolution reads."""
        src = self.src_width if self.src_width is not None else self.needed_width - 2 * self.pad
        return self.pool.out_width(src) if self.pool else src

    @property
    def needed_width(self) -> int:
        """Padded input width the whole output needs: `(P-1)*stride + dilation*(K-1) + 1`."""
        return needed_input_width(self.out_width, self.kernel, self.stride, self.dilation)


def needed_input_width(out_width: int, kernel: int, stride: int = 1, dilation: int = 1, pad: int = 0) -> int:
    """Input width that `out_width` outputs need (the seed's formula, padding subtracted on both sides)."""
    return (out_width - 1) * stride - 2 * pad + dilation * (kernel - 1) + 1


def enumerate_tiles(width: int, tile: int) -> list[Interval]:
    """Split `[0, width)` into tiles of `tile` pixels, the last one narrower if `tile` does not divide it."""
    if tile < 1 or width < 1:
        raise InputError(f"tile width {tile} and map width {width} must be positive", key="tile")
    if tile > width:
        raise InputError(f"tile width {tile} is wider than the layer ({width})", key="tile",
                         fix=f"use a tile width of at most {width}")
    return [(a, min(a + tile, width)) for a in range(0, width, tile)]


def enumerate_tiles_2d(width: int, height: int, tile_w: int, tile_h: int) -> list[tuple[Interval, Interval]]:
    """Row-major 2-D tiles `(x interval, y interval)` covering a `width x height` map."""
    return [(x, y) for y in enumerate_tiles(height, tile_h) for x in enumerate_tiles(width, tile_w)]


def input_intervals(starts: np.ndarray, stops: np.ndarray, geom: LayerGeom) -> tuple[np.ndarray, np.ndarray]:
    """Producer-output intervals needed by layer-output intervals `[starts, stops)` (vectorised, clipped)."""
    starts = np.asarray(starts, dtype=np.int64)
    stops = np.asarray(stops, dtype=np.int64)
    lo = starts * geom.stride - geom.pad
    hi = (stops - 1) * geom.stride - geom.pad + geom.dilation * (geom.kernel - 1) + 1
    width = geom.in_width
    lo, hi = np.clip(lo, 0, width), np.clip(hi, 0, width)
    empty = hi <= lo  # the tile reads only padding
    if geom.pool is not None:
        p = geom.pool
        lo, hi = lo * p.stride - p.pad, (hi - 1) * p.stride - p.pad + p.kernel
        src = geom.src_width if geom.src_width is not None else int(hi.max(initial=0))
        lo, hi = np.clip(lo, 0, src), np.clip(hi, 0, src)
    elif geom.src_width is not None:
        lo, hi = np.clip(lo, 0, geom.src_width), np.clip(hi, 0, geom.src_width)
    return lo, np.where(empty, lo, np.maximum(hi, lo))


def input_interval(interval: Interval, geom: LayerGeom) -> Interval:
    """Producer-output interval (tile plus halo, clipped) needed by one layer-output interval."""
    lo, hi = input_intervals(np.array([interval[0]]), np.array([interval[1]]), geom)
    return int(lo[0]), int(hi[0])


def propagate_interval(interval: Interval, stack: Sequence[LayerGeom]) -> list[Interval]:
    """Back-propagate the last layer's output interval through a chain `stack` (first layer first).

    Returns one interval per layer (its output region) plus, at index 0, the stack input region, so
    `result[i + 1]` is layer i's output region and `result[0]` what the stack reads from its input.
    """
    regions = [interval]
    for geom in reversed(stack):
        regions.append(input_interval(regions[-1], geom))
    return regions[::-1]


def halo(interval: Interval, geom: LayerGeom) -> int:
    """Extra producer pixels a tile reads beyond `stride * tile width` (its halo, after clipping)."""
    lo, hi = input_interval(interval, geom)
    return (hi - lo) - (interval[1] - interval[0]) * geom.stride * (geom.pool.stride if geom.pool else 1)


def infer_link(src_width: int, out_width: int, kernel: int, stride: int = 1, dilation: int = 1) -> LayerGeom:
    """Guess the padding and pooling between a producer of width `src_width` and a layer.

    Timeloop problem files carry neither, so: equal widths mean no padding; a wider need means
    symmetric zero padding; a narrower need means a pooling window (3/2, then 2/2) plus padding.
    If nothing fits, the layer reads the first `needed` pixels (valid cropping, pad 0).
    """
    needed = needed_input_width(out_width, kernel, stride, dilation)
    base = dict(out_width=out_width, kernel=kernel, stride=stride, dilation=dilation, src_width=src_width)
    if needed >= src_width:
        return LayerGeom(pad=(needed - src_width) // 2, **base)
    for pool in (Pool(3, 2), Pool(2, 2)):
        pooled = pool.out_width(src_width)
        if pooled <= needed and (needed - pooled) <= dilation * (kernel - 1):
            return LayerGeom(pad=(needed - pooled) // 2, pool=pool, **base)
    return LayerGeom(pad=0, **base)
