"""Tile geometry: tiles cover each output pixel once; back-propagated regions hold every needed input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusionsim.errors import InputError
from fusionsim.tiling.propagate import (
    LayerGeom,
    Pool,
    enumerate_tiles,
    enumerate_tiles_2d,
    halo,
    infer_link,
    input_interval,
    needed_input_width,
    propagate_interval,
)


def needed_pixels(x: int, g: LayerGeom) -> set[int]:
    """Producer pixels output pixel x reads, straight from the conv/pool definitions (brute force)."""
    out = set()
    for j in range(g.kernel):
        u = x * g.stride + j * g.dilation - g.pad
        if not 0 <= u < g.in_width:
            continue  # zero padding
        if g.pool is None:
            out.add(u)
        else:
            for i in range(g.pool.kernel):
                v = u * g.pool.stride - g.pool.pad + i
                if 0 <= v < g.src_width:
                    out.add(v)
    return out


@st.composite
def geoms(draw) -> LayerGeom:
    kernel = draw(st.integers(1, 5))
    stride = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 2))
    pad = draw(st.integers(0, (dilation * (kernel - 1)) // 2 + 1))
    out = draw(st.integers(1, 12))
    pool = draw(st.one_of(st.none(), st.builds(Pool, st.integers(2, 3), st.integers(1, 2), st.just(0))))
    padded = needed_input_width(out, kernel, stride, dilation)
    in_width = max(1, padded - 2 * pad + draw(st.integers(-1, 1)))
    src = in_width if pool is None else (in_width - 1) * pool.stride + pool.kernel + draw(st.integers(0, 1))
    return LayerGeom(out, kernel, stride, pad, dilation, src, pool)


@given(st.integers(1, 60), st.data())
def test_tiles_cover_each_pixel_once(width: int, data) -> None:
    tile = data.draw(st.integers(1, width))
    seen = [0] * width
    for a, b in enumerate_tiles(width, tile):
        assert 0 < b - a <= tile
        for x in range(a, b):
            seen[x] += 1
    assert seen == [1] * width


@given(st.integers(1, 9), st.integers(1, 9), st.data())
def test_2d_tiles_cover_each_pixel_once(w: int, h: int, data) -> None:
    tw, th = data.draw(st.integers(1, w)), data.draw(st.integers(1, h))
    seen = {}
    for (x0, x1), (y0, y1) in enumerate_tiles_2d(w, h, tw, th):
        for x in range(x0, x1):
            for y in range(y0, y1):
                seen[(x, y)] = seen.get((x, y), 0) + 1
    assert seen == {(x, y): 1 for x in range(w) for y in range(h)}


@settings(max_examples=200)
@given(geoms(), st.data())
def test_region_holds_every_needed_pixel_and_no_more(g: LayerGeom, data) -> None:
    a = data.draw(st.integers(0, g.out_width - 1))
    b = data.draw(st.integers(a + 1, g.out_width))
    lo, hi = input_interval((a, b), g)
    needed = set().union(*(needed_pixels(x, g) for x in range(a, b)))
    assert all(lo <= v < hi for v in needed)  # every needed input pixel is fetched
    if needed:  # and little more: the hull, loose only where strided/dilated taps skip a clipped edge
        gap = g.stride * g.dilation * (g.pool.stride if g.pool else 1)
        assert min(needed) - gap < lo <= min(needed) and max(needed) < hi <= max(needed) + gap
        if g.stride == g.dilation == 1:
            assert (lo, hi) == (min(needed), max(needed) + 1)


@settings(max_examples=100)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 2), st.booleans()), min_size=1, max_size=4), st.data())
def test_stack_regions_cover_what_the_tiles_need(spec, data) -> None:
    width, stack = data.draw(st.integers(2, 10)), []
    for kernel, stride, same in spec[::-1]:  # build from the last layer back
        pad = (kernel - 1) // 2 if same else 0
        src = needed_input_width(width, kernel, stride) - 2 * pad
        stack.insert(0, LayerGeom(width, kernel, stride, pad, 1, src))
        width = src
    last = stack[-1].out_width
    tile = data.draw(st.integers(1, last))
    union = [set() for _ in range(len(stack) + 1)]
    for iv in enumerate_tiles(last, tile):
        regions = propagate_interval(iv, stack)
        want = set(range(*iv))
        for i in range(len(stack) - 1, -1, -1):  # brute-force needs, layer by layer
            assert want <= set(range(*regions[i + 1]))
            want = set().union(*(needed_pixels(x, stack[i]) for x in want))
            union[i] |= set(range(*regions[i]))
        assert want <= set(range(*regions[0]))


def test_alexnet_links_and_halo() -> None:
    g = infer_link(55, 27, 5)  # AlexNet conv2 after a 3/2 max-pool, padding 2
    assert g.pool == Pool(3, 2) and g.pad == 2
    assert infer_link(13, 13, 3).pad == 1 and infer_link(224, 112, 3).pool == Pool(2, 2)
    interior = LayerGeom(13, 3, 1, 1, 1, 13)
    assert input_interval((4, 8), interior) == (3, 9) and halo((4, 8), interior) == 2
    assert input_interval((0, 4), interior) == (0, 5)  # clipped at the map edge


def test_tile_wider_than_layer_is_an_input_error() -> None:
    with pytest.raises(InputError, match="wider than the layer"):
        enumerate_tiles(13, 14)
