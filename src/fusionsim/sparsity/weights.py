"""Pruned Keras `.h5` -> per-layer weight sparsity and per-PE non-zero work. Reads with h5py only.

Layouts read (TensorFlow is never imported here):

* full model (`model.save("m.h5")`): `model_weights/<layer>` groups, `layer_names` on `model_weights`;
* weights only (`model.save_weights("m.h5")`): the same groups and attribute at the file root;
* Keras 3 weights (`m.weights.h5`): `layers/<layer>/vars/0` (first variable = kernel).

Each layer's kernel is the weight named `kernel` or `depthwise_kernel`; an unstripped pruning wrapper's
`mask` is applied. Layers are matched to the workload's weight-bearing layers by name (a
`prune_low_magnitude_` prefix is ignored) or, with `match="order"`, by position; kernel shapes must agree.

Workload layers (`LayerSpec`) come from a fusionsim network file (`workloads/*.yaml`, bottlenecks
expanded) or from a plain list of layer dicts, see `load_layer_specs`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fusionsim.errors import InputError
from fusionsim.names import safe_name
from fusionsim.sparsity.imbalance import Loop, PeWork, partition_nonzero_work
from fusionsim.spec.yaml_io import load_yaml_any

WEIGHT_KINDS = ("conv", "pointwise", "depthwise", "fc")
KIND_ALIASES = {"dense": "fc", "fully_connected": "fc", "pw": "pointwise", "dw": "depthwise"}
WRAPPER_PREFIX = "prune_low_magnitude_"
PROVENANCE_ATTR = "fusionsim_pruning"  # JSON label written by fusionsim.sparsity.prune
_KERNEL_NAMES = ("kernel", "depthwise_kernel")


def _check_chain(graph: Any, path: Path) -> None:
    """The sparse model builder handles chains of square layers with bottleneck residuals; say so otherwise."""
    for node in graph.nodes.values():
        comp = graph.layer(node.inputs[0])
        if not (node.kind == "add" and comp is not None and comp.residual and node.name == f"{comp.block}_add"):
            raise InputError(
                f"the sparse baseline builds chain networks; {node.kind} node {node.name!r} is a graph join",
                file=path,
                key=node.name,
                fix="run the sparse baseline on chain workloads (bottleneck `residual: true` is supported)",
            )
    for lay in graph.layers:
        if (lay.kernel_h, lay.stride_h, lay.in_h, lay.dilation, lay.dilation_h) != (
            lay.kernel, lay.stride, lay.in_size, 1, 1
        ):
            raise InputError(
                f"the sparse baseline builds square, undilated layers; {lay.name!r} is not",
                file=path,
                key=lay.name,
                fix="run the sparse baseline on square workloads",
            )


@dataclass(frozen=True)
class LayerSpec:
    """One workload layer as the sparse model needs it. Sizes and `residual` matter only for pruning."""

    name: str
    kind: str
    in_channels: int
    out_channels: int
    kernel: int = 1
    stride: int = 1
    groups: int = 1
    in_size: int | None = None
    out_size: int | None = None
    residual: bool = False
    block: str | None = None

    @property
    def has_weights(self) -> bool:
        return self.kind in WEIGHT_KINDS

    def problem_sizes(self) -> dict[str, int]:
        """Timeloop problem instance of one group (depthwise as C=1 with channels on M); P=Q=1 if unknown."""
        out = self.out_size or 1
        if self.kind == "fc":
            c, m, k, out = self.in_channels, self.out_channels, 1, 1
        elif self.kind == "depthwise":
            c, m, k = 1, self.out_channels, self.kernel
        else:
            c, m, k = self.in_channels // self.groups, self.out_channels // self.groups, self.kernel
        return {"C": c, "M": m, "R": k, "S": k, "N": 1, "P": out, "Q": out}

    def keras_kernel_shape(self) -> tuple[int, ...]:
        """Shape of the Keras kernel: conv (k, k, Cin/G, Cout), depthwise (k, k, C, Cout/C), fc (Cin, Cout)."""
        if self.kind == "fc":
            return (self.in_channels, self.out_channels)
        if self.kind == "depthwise":
            return (self.kernel, self.kernel, self.in_channels, max(self.out_channels // self.in_channels, 1))
        return (self.kernel, self.kernel, self.in_channels // self.groups, self.out_channels)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, file: object = None, key: str = "") -> LayerSpec:
        """Plain layer dict: `name`, `type` (conv | pointwise | depthwise | dense/fc | pool), `in_channels`,
        `out_channels` (alias `channels` for depthwise), `kernel`, `stride`, `groups`, optional `in_size`
        (input height = width; output = ceil(in_size / stride), 'same' padding)."""
        if not isinstance(d, Mapping):
            raise InputError("each layer must be a mapping", file=file, key=key)
        kind = str(d.get("type", "")).lower()
        kind = KIND_ALIASES.get(kind, kind)
        if kind not in (*WEIGHT_KINDS, "pool"):
            raise InputError(
                f"unknown layer type {d.get('type')!r}",
                file=file,
                key=f"{key}.type",
                fix="use conv, pointwise, depthwise, dense or pool",
            )
        name = d.get("name")
        if not isinstance(name, str) or not name:
            raise InputError(
                "every layer needs a `name` (it is matched to the model's layer)", file=file, key=key
            )
        safe_name(name, file=file, key=f"{key}.name")  # layer names become file names (--pe-csv)

        def pos(field: str, default: int | None = None) -> int:
            v = d.get(field, default)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"must be a positive integer, got {v!r}", file=file, key=f"{key}.{field}")
            return v

        cin = pos("in_channels", d.get("channels"))
        cout = pos("out_channels", d.get("channels", cin if kind in ("depthwise", "pool") else None))
        default_kernel = 1 if kind in ("pointwise", "fc") else 3
        in_size = d.get("in_size", d.get("size"))
        out_size = None
        if in_size is not None:
            if isinstance(in_size, bool) or not isinstance(in_size, int) or in_size < 1:
                raise InputError(
                    f"must be a positive integer, got {in_size!r}", file=file, key=f"{key}.in_size"
                )
            out_size = 1 if kind == "fc" else -(-in_size // pos("stride", 1))
        spec = cls(
            in_size=in_size,
            out_size=out_size,
            name=name,
            kind=kind,
            in_channels=cin,
            out_channels=cout,
            kernel=pos("kernel", default_kernel),
            stride=pos("stride", 1),
            groups=pos("groups", 1),
            residual=bool(d.get("residual", False)),
        )
        if kind == "pointwise" and spec.kernel != 1:
            raise InputError(
                "a pointwise layer has kernel 1", file=file, key=f"{key}.kernel", fix="use type conv"
            )
        for field, ch in (("in_channels", cin), ("out_channels", cout)):
            if kind in ("conv", "pointwise") and ch % spec.groups:
                raise InputError(
                    f"{ch} is not divisible by groups={spec.groups}", file=file, key=f"{key}.{field}"
                )
        if kind == "depthwise" and cout % cin:
            raise InputError("depthwise out_channels must be a multiple of in_channels", file=file, key=key)
        if kind == "fc" and spec.groups != 1:
            raise InputError("grouped dense layers are not supported", file=file, key=f"{key}.groups")
        return spec


def load_layer_specs(
    path: str | os.PathLike, dataset: str | None = None
) -> tuple[list[LayerSpec], dict[str, int]]:
    """Layers and input description `{size, channels, classes}` of a workload file (YAML or JSON).

    Accepted forms: a fusionsim network definition (top-level `inputs` and `layers`, bottlenecks allowed;
    `dataset` picks the input, default the first), or a plain list of layer dicts (or `{layers: [...]}`,
    optional `input: {size, channels, classes}`), see `LayerSpec.from_dict`.
    """
    path = Path(path)
    raw = load_yaml_any(path)
    if isinstance(raw, Mapping) and "inputs" in raw:
        from fusionsim.workloads import load_network, network_graph

        net = load_network(path)
        ds = dataset or net.datasets[0]
        graph = network_graph(net, ds)
        layers = list(graph.layers)
        _check_chain(graph, path)
        specs = [
            LayerSpec(
                name=lay.name,
                kind=lay.kind,
                in_channels=lay.in_channels,
                out_channels=lay.out_channels,
                kernel=lay.kernel,
                stride=lay.stride,
                groups=lay.groups,
                in_size=lay.in_size,
                out_size=lay.out_size,
                residual=lay.residual,
                block=lay.block,
            )
            for lay in layers
        ]
        return specs, dict(net.inputs[ds])
    items = raw.get("layers") if isinstance(raw, Mapping) else raw
    if not isinstance(items, list) or not items:
        raise InputError(
            "expected a list of layers (or a network file with `inputs` and `layers`)", file=path,
            fix="see workloads/*.yaml or list layers as `layers: [{name, type, in_channels, ...}]`",
        )
    specs = [LayerSpec.from_dict(d, file=path, key=f"layers[{i}]") for i, d in enumerate(items)]
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"duplicate layer name {dup[0]!r}", file=path, key="layers")
    inp = dict(raw.get("input") or {}) if isinstance(raw, Mapping) else {}
    info = {
        "size": int(inp.get("size", specs[0].in_size or 32)),
        "channels": int(inp.get("channels", specs[0].in_channels)),
        "classes": int(inp.get("classes", specs[-1].out_channels)),
    }
    return specs, info


@dataclass(frozen=True)
class KerasKernels:
    """Kernels of a Keras weight file in file order, and the file's pruning label (if fusionsim made it)."""

    path: Path
    layout: str  # "full-model" | "weights-only" | "keras3-weights"
    kernels: dict[str, np.ndarray]
    provenance: dict[str, Any]


def _decode(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def read_keras_kernels(path: str | os.PathLike) -> KerasKernels:
    """Every layer kernel of a Keras `.h5` file (layer name -> array), read with h5py."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise InputError("model file not found", file=path, fix="check the path")
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(
            f"not a readable HDF5 file ({exc.__class__.__name__})", file=path, fix="save the model with .h5"
        ) from None
    with fh:
        prov_raw = fh.attrs.get(PROVENANCE_ATTR)
        provenance = json.loads(_decode(prov_raw)) if prov_raw is not None else {}
        kernels: dict[str, np.ndarray] = {}
        if "model_weights" in fh or "layer_names" in fh.attrs:
            layout = "full-model" if "model_weights" in fh else "weights-only"
            root = fh["model_weights"] if layout == "full-model" else fh
            for lname in (_decode(n) for n in root.attrs.get("layer_names", [])):
                grp = root[lname]
                by_base: dict[str, np.ndarray] = {}
                for wname in (_decode(w) for w in grp.attrs.get("weight_names", [])):
                    base = wname.rsplit("/", 1)[-1].split(":", 1)[0]
                    by_base[base] = np.asarray(grp[wname])
                kernel = next((by_base[k] for k in _KERNEL_NAMES if k in by_base), None)
                if kernel is None:
                    continue
                if "mask" in by_base and by_base["mask"].shape == kernel.shape:  # unstripped wrapper
                    kernel = kernel * by_base["mask"]
                kernels[lname.removeprefix(WRAPPER_PREFIX)] = kernel
        elif "layers" in fh and isinstance(fh["layers"], h5py.Group):
            layout = "keras3-weights"
            for lname, grp in fh["layers"].items():
                var = grp.get("vars")
                if isinstance(var, h5py.Group) and "0" in var and var["0"].ndim in (2, 4):
                    kernels[lname] = np.asarray(var["0"])
        else:
            raise InputError(
                "no Keras weights found (no `model_weights` group, `layer_names` attribute or `layers` group)",
                file=path,
                fix="save with model.save('m.h5') or model.save_weights('m.h5')",
            )
    if not kernels:
        raise InputError("the file holds no layer kernels", file=path)
    return KerasKernels(path, layout, kernels, provenance)


@dataclass(frozen=True)
class LayerWeights:
    """One matched layer: the workload spec, its Keras kernel and the exact non-zero count."""

    spec: LayerSpec
    model_layer: str
    kernel: np.ndarray

    @property
    def total(self) -> int:
        return int(self.kernel.size)

    @property
    def nonzero(self) -> int:
        return int(np.count_nonzero(self.kernel))

    @property
    def sparsity(self) -> float:
        """Fraction of zero weights (exact)."""
        return 1.0 - self.nonzero / self.total if self.total else 0.0

    def problem_masks(self) -> list[np.ndarray]:
        """Non-zero masks in the Timeloop problem's weight dims ("R", "S", "C", "M"), one per group.

        R is the kernel width and S its height (Keras kernels are (height, width, ...)). Depthwise layers
        follow the C=1 convention (channels on M); grouped convs give each group's (C/G, M/G) slice.
        """
        nz = self.kernel != 0
        kind = self.spec.kind
        if kind == "fc":
            return [nz[None, None, :, :]]
        nz = np.transpose(nz, (1, 0, 2, 3))  # (kw, kh, ...) = (R, S, ...)
        if kind == "depthwise":
            r, s, c, mult = nz.shape
            return [nz.reshape(r, s, 1, c * mult)]
        g = self.spec.groups
        mg = nz.shape[3] // g
        return [nz[:, :, :, i * mg : (i + 1) * mg] for i in range(g)]

    def per_pe_work(self, loops: Sequence[Loop], sizes: Mapping[str, int] | None = None) -> list[PeWork]:
        """Non-zero work per PE and pass of each group under the dense mapping `loops` (see imbalance)."""
        return [partition_nonzero_work(m, PROBLEM_WEIGHT_DIMS, loops, sizes) for m in self.problem_masks()]

    def summary(self) -> dict[str, Any]:
        return {
            "layer": self.spec.name,
            "model_layer": self.model_layer,
            "kind": self.spec.kind,
            "kernel_shape": list(self.kernel.shape),
            "weights": self.total,
            "nonzero": self.nonzero,
            "sparsity": self.sparsity,
            "density": 1.0 - self.sparsity,
        }


PROBLEM_WEIGHT_DIMS = ("R", "S", "C", "M")


def match_layers(
    kernels: KerasKernels, specs: Sequence[LayerSpec], match: str = "name"
) -> list[LayerWeights]:
    """Pair each weight-bearing workload layer with a model kernel (by name or by order); shapes must agree."""
    wanted = [s for s in specs if s.has_weights]
    if not wanted:
        raise InputError("the workload has no conv, pointwise, depthwise or dense layers", key="layers")
    if match == "order":
        found = list(kernels.kernels.items())
        if len(found) != len(wanted):
            raise InputError(
                f"model has {len(found)} kernel layers but the workload has {len(wanted)} weight layers",
                file=kernels.path,
                fix="use --match name, or a workload listing exactly the model's layers",
            )
        pairs = list(zip(wanted, found, strict=True))
    elif match == "name":
        pairs = []
        for s in wanted:
            if s.name not in kernels.kernels:
                known = ", ".join(list(kernels.kernels)[:8])
                raise InputError(
                    f"model has no layer '{s.name}' (model layers: {known}{', ...' if len(kernels.kernels) > 8 else ''})",
                    file=kernels.path,
                    key=s.name,
                    fix="name the Keras layers as in the workload, or use --match order",
                )
            pairs.append((s, (s.name, kernels.kernels[s.name])))
    else:
        raise InputError(f"unknown match mode {match!r}", key="match", fix="use name or order")
    out = []
    for s, (lname, kernel) in pairs:
        expected = s.keras_kernel_shape()
        if tuple(kernel.shape) != expected:
            raise InputError(
                f"layer '{lname}' has kernel shape {tuple(kernel.shape)} but workload layer '{s.name}' "
                f"({s.kind} {s.in_channels}->{s.out_channels}, kernel {s.kernel}, groups {s.groups}) needs {expected}",
                file=kernels.path,
                key=s.name,
                fix="check the workload matches the model",
            )
        out.append(LayerWeights(s, lname, np.asarray(kernel)))
    return out


def read_pruned_model(
    model: str | os.PathLike, workload: str | os.PathLike, dataset: str | None = None, match: str = "name"
) -> tuple[list[LayerWeights], KerasKernels]:
    """Read `model`, match it to `workload`; returns the matched layers and the raw kernels (with label)."""
    specs, _ = load_layer_specs(workload, dataset)
    kernels = read_keras_kernels(model)
    return match_layers(kernels, specs, match), kernels
