"""The network the exact fusion search sees: layers in execution order plus their data edges.

Each layer reads one conv input (`src`, or the network input) through a `LayerGeom` link (padding,
pooling) and may add residual operands (`adds`) to its output. An edge that skips layers keeps its
tensor live: on chip inside a stack (counted against capacity) or spilled to DRAM (counted as traffic).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fusionsim.errors import InputError
from fusionsim.fusion.tables import LayerShape, load_layers
from fusionsim.spec.yaml_io import load_json
from fusionsim.tiling.propagate import LayerGeom, infer_link


@dataclass(frozen=True)
class FusionLayer:
    """One layer with its input link; `fusable=False` forbids fusing it with its producer."""

    shape: LayerShape
    geom: LayerGeom
    src: int | None
    adds: tuple[int, ...] = ()
    fusable: bool = True


@dataclass(frozen=True)
class Workload:
    """Layers in topological order with their edges."""

    layers: tuple[FusionLayer, ...]
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.layers)

    def consumers(self, producer: int) -> list[tuple[int, str]]:
        """Layers that read `producer`'s output, as (layer, 'src' | 'add')."""
        out = []
        for idx, lay in enumerate(self.layers):
            if lay.src == producer:
                out.append((idx, "src"))
            if producer in lay.adds:
                out.append((idx, "add"))
        return out


def _link(shapes: Sequence[LayerShape], idx: int, src: int | None) -> tuple[LayerGeom, bool, str | None]:
    sh = shapes[idx]
    if src is None:
        return LayerGeom(sh.P, sh.R, sh.stride, 0, sh.dilation), True, None
    prev = shapes[src]
    geom = infer_link(prev.P, sh.P, sh.R, sh.stride, sh.dilation)
    if prev.M != sh.C:
        return geom, False, (f"layer {idx} reads {sh.C} channels but layer {src} makes {prev.M}: "
                             "link not understood, not fused")
    if geom.pool is not None:
        note = f"layer {src}->{idx}: assumed pooling {geom.pool.kernel}/{geom.pool.stride}, padding {geom.pad}"
    elif geom.pad:
        note = f"layer {src}->{idx}: assumed padding {geom.pad}"
    else:
        note = None
    return geom, True, note


def build_workload(shapes: Sequence[LayerShape], srcs: Sequence[int | None] | None = None,
                   adds: dict[int, Sequence[int]] | None = None) -> Workload:
    """A workload from layer shapes; default is a chain (layer i reads layer i-1)."""
    srcs = list(srcs) if srcs is not None else [None, *range(len(shapes) - 1)]
    adds = adds or {}
    layers, notes = [], []
    for idx, sh in enumerate(shapes):
        src = srcs[idx]
        if src is not None and not 0 <= src < idx:
            raise InputError(f"layer {idx} reads layer {src}, which does not run before it", key=f"src[{idx}]")
        for p in adds.get(idx, ()):
            if not 0 <= p < idx:
                raise InputError(f"layer {idx} adds layer {p}, which does not run before it", key=f"adds[{idx}]")
            if shapes[p].P != sh.P or shapes[p].M != sh.M:
                raise InputError(f"residual {p}->{idx}: shapes differ ({shapes[p].P}x{shapes[p].M} vs "
                                 f"{sh.P}x{sh.M})", key=f"adds[{idx}]")
        geom, fusable, note = _link(shapes, idx, src)
        if note:
            notes.append(note)
        layers.append(FusionLayer(sh, geom, src, tuple(adds.get(idx, ())), fusable))
    return Workload(tuple(layers), tuple(notes))


def load_workload(folder: str | Path) -> Workload:
    """The workload of a layer folder: numbered problem YAMLs, plus the data edges of an optional `graph.json`
    (`srcs`: the layer each one reads, null for the network input; `adds`: residual operands); else a chain."""
    folder = Path(folder)
    shapes = load_layers(folder)
    graph_file = folder / "graph.json"
    if not graph_file.is_file():
        return build_workload(shapes)
    graph = load_json(graph_file)
    if not isinstance(graph, dict):
        raise InputError("expected an object with srcs and adds", file=graph_file, fix="see docs/fusion-search.md")
    srcs, adds = graph.get("srcs"), graph.get("adds") or {}
    if not isinstance(srcs, list) or len(srcs) != len(shapes) or not all(
        s is None or isinstance(s, int) for s in srcs
    ):
        raise InputError(f"must list one layer index or null per layer ({len(shapes)} layers)", file=graph_file,
                         key="srcs", fix="srcs[i] = the 0-based layer that layer i reads, null for the input")
    try:
        edges = {int(k): [int(x) for x in v] for k, v in adds.items()}
    except (AttributeError, TypeError, ValueError):
        raise InputError("must map a layer index to the list of layers added to its output", file=graph_file,
                         key="adds", fix='e.g. {"5": [2]}') from None
    try:
        return build_workload(shapes, srcs, edges)
    except InputError as exc:
        raise InputError(exc.message, file=graph_file, key=exc.key, fix=exc.fix) from None


def is_chain(workload: Workload) -> bool:
    """True when every layer reads the one before it and nothing is added (what the seed's search handles)."""
    return all(lay.src == (i - 1 if i else None) and not lay.adds for i, lay in enumerate(workload.layers))
