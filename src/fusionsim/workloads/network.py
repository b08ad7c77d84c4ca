"""Network definitions as data: load a `workloads/<net>.yaml`, validate it, expand bottlenecks into layers.

A network file holds `name`, `inputs` (per dataset: `size`, `channels`, `classes`), optional `defaults`
(keys merged into every bottleneck entry) and `layers`, an ordered list of entries with `type` in
conv | pointwise | depthwise | fc | pool | bottleneck. A bottleneck expands into the seed's three layers
`b<k>_decom` (pointwise expand), `b<k>_conv` (depthwise) and `b<k>_comp` (pointwise project).
Entries form a chain; `input: <earlier entry name>` (or `network_input`) starts a branch, e.g. a shortcut conv.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import load_yaml_any

LAYER_KINDS = ("conv", "pointwise", "depthwise", "fc", "pool")
ENTRY_TYPES = (*LAYER_KINDS, "bottleneck")
# bottleneck part -> (layer kind, seed's layer name)
BOTTLENECK_ROLES = {"decom": "pointwise", "conv": "depthwise", "comp": "pointwise"}

NETWORK_INPUT = "network_input"  # the `input:` name of the network's input tensor
_COMMON_KEYS = {
    "name",
    "type",
    "input",
    "in_channels",
    "out_channels",
    "kernel",
    "stride",
    "padding",
    "groups",
    "in_size",
}
_ALLOWED_KEYS = {
    "conv": _COMMON_KEYS,
    "pointwise": _COMMON_KEYS,
    "depthwise": _COMMON_KEYS,
    "fc": {"name", "type", "input", "in_channels", "out_channels", "groups"},
    "pool": _COMMON_KEYS | {"pool"},
    "bottleneck": _COMMON_KEYS
    | {"expansion", "mid_channels", "residual", "expand_channels", "dw_channels", "project_at"},
}


@dataclass(frozen=True)
class Layer:
    """One layer of a network on one dataset, with concrete shapes.

    `groups` is the number of identical per-group problems the layer stands for (its cost multiplier);
    `channels` is, for depthwise and pooling layers simulated as C=1, the number of real input channels.
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

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form (for layer tables and JSON)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Network:
    """A validated network definition (dataset-independent)."""

    name: str
    path: Path
    inputs: dict[str, dict[str, int]]
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
    clean_inputs: dict[str, dict[str, int]] = {}
    for ds, spec in inputs.items():
        if not isinstance(spec, dict):
            raise _err(path, f"inputs.{ds}", "must be a mapping {size, channels, classes}")
        extra = set(spec) - {"size", "channels", "classes"}
        if extra:
            raise _err(
                path, f"inputs.{ds}.{sorted(extra)[0]}", "unknown key", "allowed: size channels classes"
            )
        clean_inputs[str(ds)] = {
            k: _pos_int(path, f"inputs.{ds}.{k}", spec.get(k)) for k in ("size", "channels", "classes")
        }
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
        expand_network(net, ds)
    return net


def _out_size(in_size: int, kernel: int, stride: int, padding: int) -> int:
    return (in_size + 2 * padding - kernel) // stride + 1


def _channels(path: Path, key: str, value: Any, classes: int) -> int:
    if value == "classes":
        return classes
    return _pos_int(path, key, value)


def expand_network(net: Network, dataset: str) -> list[Layer]:
    """The network's layers on `dataset`, bottlenecks expanded, spatial sizes propagated and checked."""
    path = net.path
    if dataset not in net.inputs:
        raise _err(
            path,
            "inputs",
            f"no input size for dataset {dataset!r}",
            f"add inputs.{dataset} or drop the dataset",
        )
    spec = net.inputs[dataset]
    size, chans, classes = spec["size"], spec["channels"], spec["classes"]
    layers: list[Layer] = []
    names: set[str] = set()
    outputs: dict[str, tuple[int, int]] = {NETWORK_INPUT: (chans, size)}  # entry name -> (channels, size)
    block_no = 0

    def add(layer: Layer, key: str) -> None:
        if layer.name in names:
            raise _err(path, f"{key}.name", f"duplicate layer name {layer.name!r}")
        if layer.out_size < 1:
            raise _err(
                path,
                key,
                f"output size {layer.out_size} < 1 on {dataset} (input {layer.in_size})",
                "check kernel, stride and padding",
            )
        names.add(layer.name)
        layers.append(layer)

    for i, e in enumerate(net.entries):
        key = f"layers[{i}]"
        etype = e["type"]
        if "input" in e:  # a branch: this entry reads an earlier entry's output, not the previous one's
            if e["input"] not in outputs:
                raise _err(
                    path,
                    f"{key}.input",
                    f"no earlier layer or block named {e['input']!r}",
                    f"use {NETWORK_INPUT} or the name of an entry above this one",
                )
            chans, size = outputs[e["input"]]
        in_ch = _channels(path, f"{key}.in_channels", e.get("in_channels"), classes)
        out_ch = _channels(path, f"{key}.out_channels", e.get("out_channels", in_ch), classes)
        groups = _pos_int(path, f"{key}.groups", e.get("groups", 1))
        if "in_size" in e:  # explicit override where a definition deliberately breaks the size chain
            size = _pos_int(path, f"{key}.in_size", e["in_size"])
        if etype == "fc":
            if in_ch not in (chans, chans * size * size):
                raise _err(
                    path,
                    f"{key}.in_channels",
                    f"{in_ch} does not match the previous layer's {chans} channels x {size}x{size}",
                    "use channels or channels*size*size (flatten)",
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
            add(Layer(name, "fc", in_ch, out_ch, 1, 1, 1, 1, groups=groups), key)
            size, chans = 1, out_ch
            outputs[name] = (chans, size)
            continue
        kernel = _pos_int(path, f"{key}.kernel", e.get("kernel", 1 if etype == "pointwise" else 3))
        stride = _pos_int(path, f"{key}.stride", e.get("stride", 1))
        if etype == "pointwise" and kernel != 1:
            raise _err(
                path, f"{key}.kernel", "a pointwise layer has kernel 1", "use type conv for larger kernels"
            )
        default_pad = 0 if etype == "pool" else kernel // 2
        padding = e.get("padding", default_pad)
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise _err(path, f"{key}.padding", f"must be a non-negative integer, got {padding!r}")
        if etype != "bottleneck":
            name = e.get("name") or f"{etype}{i + 1}"
            if etype in ("depthwise", "pool") and out_ch != in_ch:
                raise _err(path, f"{key}.out_channels", f"a {etype} layer keeps its channels ({in_ch})")
            out = _out_size(size, kernel, stride, padding)
            chan_field = in_ch if etype in ("depthwise", "pool") else 1
            grp = 1 if etype in ("depthwise", "pool") else groups
            add(
                Layer(name, etype, in_ch, out_ch, kernel, stride, size, out, groups=grp, channels=chan_field),
                key,
            )
            size, chans = out, out_ch
            outputs[name] = (chans, size)
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
        if residual and (stride != 1 or in_ch != out_ch):
            raise _err(
                path,
                f"{key}.residual",
                f"a residual block needs stride 1 and in_channels == out_channels "
                f"(got stride {stride}, {in_ch} -> {out_ch})",
            )
        project_at = e.get("project_at", "output")
        if project_at not in ("output", "input"):
            raise _err(path, f"{key}.project_at", f"must be 'output' or 'input', got {project_at!r}")
        out = _out_size(size, kernel, stride, padding)
        add(
            Layer(
                f"{block}_decom",
                "pointwise",
                in_ch,
                expand_ch,
                1,
                1,
                size,
                size,
                groups=groups,
                block=block,
                role="decom",
            ),
            key,
        )
        add(
            Layer(
                f"{block}_conv",
                "depthwise",
                dw_ch,
                dw_ch,
                kernel,
                stride,
                size,
                out,
                block=block,
                role="conv",
                channels=mid,
            ),
            key,
        )
        comp_size = size if project_at == "input" else out
        add(
            Layer(
                f"{block}_comp",
                "pointwise",
                mid,
                out_ch,
                1,
                1,
                comp_size,
                comp_size,
                groups=groups,
                block=block,
                role="comp",
                residual=residual,
            ),
            key,
        )
        size, chans = out, out_ch
        outputs[block] = (chans, size)
    return layers


def find_layer(layers: list[Layer], name: str) -> Layer:
    """The layer called `name`; KeyError with the known names otherwise."""
    for layer in layers:
        if layer.name == name:
            return layer
    raise KeyError(f"no layer {name!r}; known: {', '.join(x.name for x in layers)}")
