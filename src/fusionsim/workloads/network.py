"""Network definitions as data: load a `workloads/<net>.yaml`, validate it, expand it into layers and edges.

A network file holds `name`, `inputs` (per dataset: `size` (int or [height, width]), `channels`, `classes`),
optional `defaults` (keys merged into every bottleneck entry) and `layers`, an ordered list of entries with
`type` in conv | pointwise | depthwise | fc | pool | bottleneck (layers that cost MACs) or add | concat |
shuffle | split (zero-cost graph nodes). A bottleneck expands into the seed's three layers `b<k>_decom`
(pointwise expand), `b<k>_conv` (depthwise) and `b<k>_comp` (pointwise project), plus an implicit add of the
block input when `residual: true`.

Edges: an entry reads the previous entry's output unless it names its input(s), `inputs: [a, b]` (entry
names or `network_input`; `input: a` is the one-input short form). `add` sums equal-shaped inputs, `concat`
stacks them along channels, `shuffle` permutes channels (`groups`), `split` takes `out_channels` channels from
`offset`. `network_graph` returns the layers with these edges; `expand_network` the layers alone.
Kernels, strides and dilations may be [height, width]; `padding` an int, [h, w] or [top, bottom, left, right].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionsim.errors import InputError
from fusionsim.names import safe_name
from fusionsim.spec.yaml_io import load_yaml_any

LAYER_KINDS = ("conv", "pointwise", "depthwise", "fc", "pool")
NODE_KINDS = ("add", "concat", "shuffle", "split")
ENTRY_TYPES = (*LAYER_KINDS, "bottleneck", *NODE_KINDS)
# bottleneck part -> (layer kind, seed's layer name)
BOTTLENECK_ROLES = {"decom": "pointwise", "conv": "depthwise", "comp": "pointwise"}

NETWORK_INPUT = "network_input"  # the input name of the network's input tensor
_COMMON_KEYS = {
    "name",
    "type",
    "input",
    "inputs",
    "in_channels",
    "out_channels",
    "kernel",
    "stride",
    "dilation",
    "padding",
    "groups",
    "in_size",
}
_ALLOWED_KEYS = {
    "conv": _COMMON_KEYS,
    "pointwise": _COMMON_KEYS,
    "depthwise": _COMMON_KEYS,
    "fc": {"name", "type", "input", "inputs", "in_channels", "out_channels", "groups"},
    "pool": _COMMON_KEYS | {"pool"},
    "bottleneck": _COMMON_KEYS
    | {"expansion", "mid_channels", "residual", "expand_channels", "dw_channels", "project_at"},
    "add": {"name", "type", "inputs"},
    "concat": {"name", "type", "inputs"},
    "shuffle": {"name", "type", "input", "inputs", "groups"},
    "split": {"name", "type", "input", "inputs", "out_channels", "offset"},
}


@dataclass(frozen=True)
class Layer:
    """One layer of a network on one dataset, with concrete shapes.

    `groups` is the number of identical per-group problems the layer stands for (its cost multiplier);
    `channels` is, for depthwise and pooling layers simulated as C=1, the number of real input channels.
    `kernel`, `stride`, `in_size`, `out_size` and `dilation` are along the width (Timeloop's R, P); the
    `_h` fields are along the height (S, Q) and equal them unless the layer is non-square (0 = same).
    """

    name: str
    kind: str
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    in_size: int
    out_size: int
    groups: int = 1
    block: str | None = None
    role: str | None = None
    residual: bool = False
    channels: int = 1
    kernel_h: int = 0
    stride_h: int = 0
    in_h: int = 0
    out_h: int = 0
    dilation: int = 1
    dilation_h: int = 0

    def __post_init__(self) -> None:
        for h, w in (("kernel_h", "kernel"), ("stride_h", "stride"), ("in_h", "in_size"),
                     ("out_h", "out_size"), ("dilation_h", "dilation")):
            if not getattr(self, h):
                object.__setattr__(self, h, getattr(self, w))

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form (for layer tables and JSON)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the whole layer (all groups; a pool counts its window reads)."""
        out = self.out_size * self.out_h * self.kernel * self.kernel_h
        if self.kind in ("depthwise", "pool"):
            return out * self.out_channels
        return out * self.in_channels * self.out_channels // self.groups

    @property
    def weights(self) -> int:
        """Weight count without biases (0 for pools)."""
        if self.kind == "pool":
            return 0
        if self.kind == "depthwise":
            return self.kernel * self.kernel_h * self.out_channels
        return self.kernel * self.kernel_h * self.in_channels * self.out_channels // self.groups


@dataclass(frozen=True)
class Node:
    """A zero-cost graph node (add, concat, shuffle, split) with its output shape."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    channels: int
    height: int
    width: int


@dataclass(frozen=True)
class NetworkGraph:
    """A network's layers on one dataset with their data edges.

    `inputs[x]` are the names (layers, nodes or `network_input`) whose outputs layer or node `x` reads;
    `nodes` the zero-cost nodes by name (including `<block>_add` of residual bottlenecks)."""

    layers: tuple[Layer, ...]
    inputs: dict[str, tuple[str, ...]]
    nodes: dict[str, Node]

    def layer(self, name: str) -> Layer | None:
        """The layer called `name`, or None (a node or the network input)."""
        return next((x for x in self.layers if x.name == name), None)


@dataclass(frozen=True)
class Network:
    """A validated network definition (dataset-independent)."""

    name: str
    path: Path
    inputs: dict[str, dict[str, Any]]
    entries: tuple[dict[str, Any], ...]
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def datasets(self) -> list[str]:
        return list(self.inputs)


def _err(path: Path, key: str, message: str, fix: str | None = None) -> InputError:
    return InputError(message, file=path, key=key, fix=fix)


def _pos_int(path: Path, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _err(path, key, f"must be a positive integer, got {value!r}")
    return value


def _hw(path: Path, key: str, value: Any) -> tuple[int, int]:
    """(height, width) of an int or a [height, width] pair."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise _err(path, key, f"must be an integer or [height, width], got {value!r}")
        return _pos_int(path, key, value[0]), _pos_int(path, key, value[1])
    v = _pos_int(path, key, value)
    return v, v


def _size_value(h: int, w: int) -> int | list[int]:
    return h if h == w else [h, w]


def _padding(path: Path, key: str, value: Any) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from an int, [h, w] or [top, bottom, left, right]."""
    vals = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(vals) not in (1, 2, 4) or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in vals):
        raise _err(path, key, f"must be a non-negative integer, [h, w] or [top, bottom, left, right], got {value!r}")
    if len(vals) == 1:
        return vals[0], vals[0], vals[0], vals[0]
    if len(vals) == 2:
        return vals[0], vals[0], vals[1], vals[1]
    return vals[0], vals[1], vals[2], vals[3]


def load_network(path: str | Path) -> Network:
    """Read and validate a network YAML; raises InputError naming the file and key on bad input."""
    path = Path(path)
    if not path.exists():
        raise _err(path, "", "network file not found", "check the name under `networks` in config.yaml")
    raw = load_yaml_any(path)
    if not isinstance(raw, dict):
        raise _err(path, "", "top level must be a mapping with `name`, `inputs` and `layers`")
    unknown = set(raw) - {"name", "description", "source", "inputs", "defaults", "layers"}
    if unknown:
        raise _err(
            path,
            sorted(unknown)[0],
            "unknown top-level key",
            "allowed: name description source inputs defaults layers",
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise _err(path, "name", "missing or not a string")
    inputs = raw.get("inputs")
    if not isinstance(inputs, dict) or not inputs:
        raise _err(path, "inputs", "must map each dataset to {size, channels, classes}")
    clean_inputs: dict[str, dict[str, Any]] = {}
    for ds, spec in inputs.items():
        if not isinstance(spec, dict):
            raise _err(path, f"inputs.{ds}", "must be a mapping {size, channels, classes}")
        extra = set(spec) - {"size", "channels", "classes"}
        if extra:
            raise _err(
                path, f"inputs.{ds}.{sorted(extra)[0]}", "unknown key", "allowed: size channels classes"
            )
        clean: dict[str, Any] = {
            k: _pos_int(path, f"inputs.{ds}.{k}", spec.get(k)) for k in ("channels", "classes")
        }
        clean = {"size": _size_value(*_hw(path, f"inputs.{ds}.size", spec.get("size"))), **clean}
        clean_inputs[str(ds)] = clean
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise _err(path, "defaults", "must be a mapping of bottleneck keys")
    layers = raw.get("layers")
    if not isinstance(layers, list) or not layers:
        raise _err(path, "layers", "must be a non-empty list")
    entries = []
    for i, entry in enumerate(layers):
        key = f"layers[{i}]"
        if not isinstance(entry, dict):
            raise _err(path, key, "each layer must be a mapping")
        etype = entry.get("type")
        if etype not in ENTRY_TYPES:
            raise _err(
                path, f"{key}.type", f"unknown layer type {etype!r}", f"use one of {', '.join(ENTRY_TYPES)}"
            )
        if etype == "bottleneck":
            entry = {**defaults, **entry}
        extra = set(entry) - _ALLOWED_KEYS[etype]
        if extra:
            raise _err(
                path,
                f"{key}.{sorted(extra)[0]}",
                f"unknown key for a {etype} layer",
                f"allowed: {' '.join(sorted(_ALLOWED_KEYS[etype]))}",
            )
        entries.append(entry)
    net = Network(
        name=name,
        path=path,
        inputs=clean_inputs,
        entries=tuple(entries),
        description=str(raw.get("description", "")),
        meta={"source": raw.get("source", "")},
    )
    for ds in net.datasets:  # full shape check on every dataset, so errors surface at load time
        network_graph(net, ds)
    return net


def _out(in_size: int, kernel: int, stride: int, pad_total: int, dilation: int = 1) -> int:
    return (in_size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def _channels(path: Path, key: str, value: Any, classes: int) -> int:
    if value == "classes":
        return classes
    return _pos_int(path, key, value)


def _entry_inputs(path: Path, key: str, e: dict[str, Any], prev: str) -> list[str]:
    """The names an entry reads: `inputs`, `input` or the previous entry."""
    if "input" in e and "inputs" in e:
        raise _err(path, f"{key}.input", "give `input` or `inputs`, not both")
    if "inputs" in e:
        names = e["inputs"]
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise _err(path, f"{key}.inputs", f"must be a list of entry names, got {names!r}")
        return list(names)
    if "input" in e:
        if not isinstance(e["input"], str):
            raise _err(path, f"{key}.input", f"must be an entry name, got {e['input']!r}")
        return [e["input"]]
    return [prev]


def expand_network(net: Network, dataset: str) -> list[Layer]:
    """The network's layers on `dataset`, bottlenecks expanded, spatial sizes propagated and checked."""
    return list(network_graph(net, dataset).layers)


def network_graph(net: Network, dataset: str) -> NetworkGraph:
    """The network's layers on `dataset` with their data edges (see NetworkGraph)."""
    path = net.path
    if dataset not in net.inputs:
        raise _err(
            path,
            "inputs",
            f"no input size for dataset {dataset!r}",
            f"add inputs.{dataset} or drop the dataset",
        )
    spec = net.inputs[dataset]
    in_h, in_w = _hw(path, f"inputs.{dataset}.size", spec["size"])
    classes = spec["classes"]
    layers: list[Layer] = []
    edges: dict[str, tuple[str, ...]] = {}
    nodes: dict[str, Node] = {}
    # entry name -> (graph name of the tensor, channels, height, width)
    outputs: dict[str, tuple[str, int, int, int]] = {NETWORK_INPUT: (NETWORK_INPUT, spec["channels"], in_h, in_w)}
    prev = NETWORK_INPUT
    block_no = 0

    def add(layer: Layer, key: str, reads: str) -> None:
        safe_name(layer.name, file=path, key=f"{key}.name")  # layer names become result folders
        if layer.name in outputs or layer.name in edges:
            raise _err(path, f"{key}.name", f"duplicate layer name {layer.name!r}")
        if layer.out_size < 1 or layer.out_h < 1:
            raise _err(
                path,
                key,
                f"output size {layer.out_h}x{layer.out_size} < 1 on {dataset} (input {layer.in_h}x{layer.in_size})",
                "check kernel, stride and padding",
            )
        layers.append(layer)
        edges[layer.name] = (reads,)

    def node(name: str, kind: str, reads: list[str], ch: int, h: int, w: int, key: str) -> None:
        if name in outputs or name in edges:
            raise _err(path, f"{key}.name", f"duplicate layer name {name!r}")
        nodes[name] = Node(name, kind, tuple(reads), ch, h, w)
        edges[name] = tuple(reads)

    for i, e in enumerate(net.entries):
        key = f"layers[{i}]"
        etype = e["type"]
        names = _entry_inputs(path, key, e, prev)
        for n in names:
            if n not in outputs:
                raise _err(
                    path,
                    f"{key}.{'input' if 'input' in e else 'inputs'}",
                    f"no earlier layer or block named {n!r}",
                    f"use {NETWORK_INPUT} or the name of an entry above this one",
                )
        srcs = [outputs[n] for n in names]
        if etype in NODE_KINDS:
            name = e.get("name") or f"{etype}{i + 1}"
            if etype in ("add", "concat"):
                if len(srcs) < 2:
                    raise _err(path, f"{key}.inputs", f"an {etype} joins two or more inputs, got {len(srcs)}")
                if len({(h, w) for _, _, h, w in srcs}) != 1 or (
                    etype == "add" and len({c for _, c, _, _ in srcs}) != 1
                ):
                    shapes = ", ".join(f"{n}: {c}x{h}x{w}" for n, (_, c, h, w) in zip(names, srcs))
                    raise _err(path, f"{key}.inputs", f"the {etype} inputs' shapes do not match ({shapes})")
                ch = sum(c for _, c, _, _ in srcs) if etype == "concat" else srcs[0][1]
            else:
                if len(srcs) != 1:
                    raise _err(path, f"{key}.inputs", f"a {etype} reads one input, got {len(srcs)}")
                ch = srcs[0][1]
                if etype == "shuffle":
                    g = _pos_int(path, f"{key}.groups", e.get("groups"))
                    if ch % g:
                        raise _err(path, f"{key}.groups", f"{ch} channels are not divisible by groups={g}")
                else:
                    part = _pos_int(path, f"{key}.out_channels", e.get("out_channels"))
                    offset = e.get("offset", 0)
                    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0 or offset + part > ch:
                        raise _err(path, f"{key}.offset", f"channels {offset}..{offset!r}+{part} outside 0..{ch}")
                    ch = part
            node(name, etype, [s[0] for s in srcs], ch, srcs[0][2], srcs[0][3], key)
            outputs[name] = (name, ch, srcs[0][2], srcs[0][3])
            prev = name
            continue
        if len(srcs) != 1:
            raise _err(path, f"{key}.inputs", f"a {etype} layer reads one input, got {len(srcs)}",
                       "join branches with an add or concat entry first")
        src, chans, h, w = srcs[0]
        in_ch = _channels(path, f"{key}.in_channels", e.get("in_channels"), classes)
        out_ch = _channels(path, f"{key}.out_channels", e.get("out_channels", in_ch), classes)
        groups = _pos_int(path, f"{key}.groups", e.get("groups", 1))
        if "in_size" in e:  # explicit override where a definition deliberately breaks the size chain
            h, w = _hw(path, f"{key}.in_size", e["in_size"])
        if etype == "fc":
            if in_ch not in (chans, chans * h * w):
                raise _err(
                    path,
                    f"{key}.in_channels",
                    f"{in_ch} does not match the previous layer's {chans} channels x {h}x{w}",
                    "use channels or channels*height*width (flatten)",
                )
        elif in_ch != chans:
            raise _err(
                path,
                f"{key}.in_channels",
                f"{in_ch} does not match the previous layer's output channels {chans}",
            )
        for k, ch in (("in_channels", in_ch), ("out_channels", out_ch)):
            if ch % groups:
                raise _err(path, f"{key}.{k}", f"{ch} is not divisible by groups={groups}")
        if etype == "fc":
            name = e.get("name") or f"fc{i + 1}"
            add(Layer(name, "fc", in_ch, out_ch, 1, 1, 1, 1, groups=groups), key, src)
            outputs[name] = (name, out_ch, 1, 1)
            prev = name
            continue
        kh, kw = _hw(path, f"{key}.kernel", e.get("kernel", 1 if etype == "pointwise" else 3))
        sh, sw = _hw(path, f"{key}.stride", e.get("stride", 1))
        dh, dw = _hw(path, f"{key}.dilation", e.get("dilation", 1))
        if etype == "pointwise" and (kh, kw) != (1, 1):
            raise _err(
                path, f"{key}.kernel", "a pointwise layer has kernel 1", "use type conv for larger kernels"
            )
        if etype == "pool" and (dh, dw) != (1, 1):
            raise _err(path, f"{key}.dilation", "a pool has no dilation")
        default_pad = 0 if etype == "pool" else [dh * (kh // 2), dw * (kw // 2)]
        top, bottom, left, right = _padding(path, f"{key}.padding", e.get("padding", default_pad))
        if etype != "bottleneck":
            name = e.get("name") or f"{etype}{i + 1}"
            if etype in ("depthwise", "pool") and out_ch != in_ch:
                raise _err(path, f"{key}.out_channels", f"a {etype} layer keeps its channels ({in_ch})")
            oh, ow = _out(h, kh, sh, top + bottom, dh), _out(w, kw, sw, left + right, dw)
            chan_field = in_ch if etype in ("depthwise", "pool") else 1
            grp = 1 if etype in ("depthwise", "pool") else groups
            add(
                Layer(name, etype, in_ch, out_ch, kw, sw, w, ow, groups=grp, channels=chan_field,
                      kernel_h=kh, stride_h=sh, in_h=h, out_h=oh, dilation=dw, dilation_h=dh),
                key,
                src,
            )
            outputs[name] = (name, out_ch, oh, ow)
            prev = name
            continue
        # bottleneck: expand (decom) -> depthwise (conv) -> project (comp)
        block_no += 1
        block = e.get("name") or f"b{block_no}"
        if "mid_channels" in e and "expansion" in e:
            raise _err(path, f"{key}.mid_channels", "give either mid_channels or expansion, not both")
        if "mid_channels" in e:
            mid = _pos_int(path, f"{key}.mid_channels", e["mid_channels"])
        else:
            mid = in_ch * _pos_int(path, f"{key}.expansion", e.get("expansion", 6))
        expand_ch = _pos_int(path, f"{key}.expand_channels", e.get("expand_channels", mid))
        dw_ch = _pos_int(path, f"{key}.dw_channels", e.get("dw_channels", mid))
        for k, ch in (("mid_channels", mid), ("expand_channels", expand_ch)):
            if ch % groups:
                raise _err(path, f"{key}.{k}", f"{ch} is not divisible by groups={groups}")
        residual = e.get("residual", False)
        if not isinstance(residual, bool):
            raise _err(path, f"{key}.residual", f"must be true or false, got {residual!r}")
        if residual and ((sh, sw) != (1, 1) or in_ch != out_ch):
            raise _err(
                path,
                f"{key}.residual",
                f"a residual block needs stride 1 and in_channels == out_channels "
                f"(got stride {sh}x{sw}, {in_ch} -> {out_ch})",
            )
        project_at = e.get("project_at", "output")
        if project_at not in ("output", "input"):
            raise _err(path, f"{key}.project_at", f"must be 'output' or 'input', got {project_at!r}")
        oh, ow = _out(h, kh, sh, top + bottom, dh), _out(w, kw, sw, left + right, dw)
        hw = {"in_h": h, "out_h": h}
        add(
            Layer(f"{block}_decom", "pointwise", in_ch, expand_ch, 1, 1, w, w, groups=groups, block=block,
                  role="decom", **hw),
            key,
            src,
        )
        add(
            Layer(f"{block}_conv", "depthwise", dw_ch, dw_ch, kw, sw, w, ow, block=block, role="conv",
                  channels=mid, kernel_h=kh, stride_h=sh, in_h=h, out_h=oh, dilation=dw, dilation_h=dh),
            key,
            f"{block}_decom",
        )
        ch_, cw_ = (h, w) if project_at == "input" else (oh, ow)
        add(
            Layer(f"{block}_comp", "pointwise", mid, out_ch, 1, 1, cw_, cw_, groups=groups, block=block,
                  role="comp", residual=residual, in_h=ch_, out_h=ch_),
            key,
            f"{block}_conv",
        )
        out_name = f"{block}_comp"
        if residual:
            out_name = f"{block}_add"
            node(out_name, "add", [f"{block}_comp", src], out_ch, oh, ow, key)
        outputs[block] = (out_name, out_ch, oh, ow)
        prev = block
    return NetworkGraph(tuple(layers), edges, nodes)


def find_layer(layers: list[Layer], name: str) -> Layer:
    """The layer called `name`; KeyError with the known names otherwise."""
    for layer in layers:
        if layer.name == name:
            return layer
    raise KeyError(f"no layer {name!r}; known: {', '.join(x.name for x in layers)}")
