"""Build a `workloads/<net>.yaml` dict from a model's graph, op by op (shared by the ONNX and Keras importers).

The importers walk their model in topological order and call one method per op; each returns the `Tensor`
the op produces. Tensors remember the workload entry that made them, their channels and spatial size, a
pending zero padding (a Pad/ZeroPadding2D folded into the next conv or pool) and their layout (image,
flattened, channels-last, or half way through a channel shuffle). Free ops return their input unchanged.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from fusionsim.atomic_io import mkstemp_keep_umask
from fusionsim.errors import InputError
from fusionsim.workloads.network import NETWORK_INPUT, Layer, NetworkGraph, load_network, network_graph

NO_PAD = (0, 0, 0, 0)


@dataclass(frozen=True)
class Tensor:
    """An activation: `ref` is the workload entry producing it, `pad` (top, bottom, left, right) a pending
    padding, `layout` one of image | flat | nhwc | grouped | shuffled (`groups` for the last two)."""

    ref: str
    c: int
    h: int
    w: int
    pad: tuple[int, int, int, int] = NO_PAD
    layout: str = "image"
    groups: int = 0
    resized: bool = False  # spatial size changed by a free op (crop): the next layer states `in_size`


def _hw(h: int, w: int) -> int | list[int]:
    return h if h == w else [h, w]


def _out(size: int, k: int, s: int, pad: int, d: int = 1) -> int:
    return (size + pad - d * (k - 1) - 1) // s + 1


def same_padding(size: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """TensorFlow/ONNX SAME_UPPER padding (before, after): the odd pixel goes after."""
    out = -(-size // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2


class WorkloadBuilder:
    """Collects workload entries; `fail(op_name, op_type, message)` makes the importer's one-line error."""

    def __init__(self, model: Path, channels: int, height: int, width: int, noun: str = "node",
                 key_prefix: str | None = None):
        self.model = model
        self.noun, self.key_prefix = noun, key_prefix
        self.entries: list[dict[str, Any]] = []
        self.names: set[str] = {NETWORK_INPUT}
        self.last = NETWORK_INPUT
        self.input = Tensor(NETWORK_INPUT, channels, height, width)

    # ------------------------------------------------------------------ helpers
    def fail(self, op: str, op_type: str, message: str, fix: str | None = None) -> InputError:
        key = f"{self.key_prefix}{op}" if self.key_prefix is not None else None
        return InputError(f"{self.noun} {op!r} ({op_type}): {message}", file=self.model, key=key, fix=fix)

    def name(self, raw: str) -> str:
        """A unique workload name from a framework name (non-word characters become `_`)."""
        base = re.sub(r"\W+", "_", raw).strip("_") or "layer"
        if base[0].isdigit():
            base = f"l{base}"
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def _emit(self, entry: dict[str, Any], reads: list[Tensor]) -> None:
        refs = [t.ref for t in reads]
        if entry["type"] in ("add", "concat") or refs != [self.last]:
            entry["inputs"] = refs
        if len(reads) == 1 and reads[0].resized:
            entry["in_size"] = _hw(reads[0].h, reads[0].w)
        self.entries.append(entry)
        self.last = entry["name"]

    def _image(self, x: Tensor, op: str, op_type: str) -> None:
        if x.layout != "image":
            raise self.fail(op, op_type, f"reads a {x.layout} tensor, expected an image (N, C, H, W)",
                            "only image tensors feed convolutions and pools")

    def _no_pad(self, xs: list[Tensor], op: str, op_type: str) -> None:
        if any(t.pad != NO_PAD for t in xs):
            raise self.fail(op, op_type, "reads a zero-padded tensor; padding folds only into a conv or pool",
                            "pad right before the conv or pool that uses it")

    # ------------------------------------------------------------------ costed layers
    def conv(self, op: str, op_type: str, x: Tensor, out_ch: int, kernel: tuple[int, int],
             stride: tuple[int, int] = (1, 1), dilation: tuple[int, int] = (1, 1),
             pads: tuple[int, int, int, int] = NO_PAD, groups: int = 1, name: str | None = None) -> Tensor:
        """A 2-D convolution (grouped, depthwise, dilated, non-square); `pads` (top, bottom, left, right)."""
        self._image(x, op, op_type)
        if x.c % groups or out_ch % groups:
            raise self.fail(op, op_type, f"{x.c} -> {out_ch} channels are not divisible by groups={groups}")
        (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
        t, b, left, r = (p + q for p, q in zip(x.pad, pads))
        name = self.name(name or op)
        if groups == x.c == out_ch and groups > 1:
            kind = "depthwise"
        elif (kh, kw) == (1, 1) and groups == 1:
            kind = "pointwise"
        else:
            kind = "conv"
        entry: dict[str, Any] = {"name": name, "type": kind, "in_channels": x.c, "out_channels": out_ch}
        if kind != "pointwise":
            entry["kernel"] = _hw(kh, kw)
        if (sh, sw) != (1, 1):
            entry["stride"] = _hw(sh, sw)
        if (dh, dw) != (1, 1):
            entry["dilation"] = _hw(dh, dw)
        default = NO_PAD if kind == "pointwise" else (dh * (kh // 2),) * 2 + (dw * (kw // 2),) * 2
        if (t, b, left, r) != default:
            entry["padding"] = (t if t == b == left == r else [t, left] if (t, left) == (b, r)
                                else [t, b, left, r])
        if kind == "conv" and groups > 1:
            entry["groups"] = groups
        self._emit(entry, [x])
        oh, ow = _out(x.h, kh, sh, t + b, dh), _out(x.w, kw, sw, left + r, dw)
        if oh < 1 or ow < 1:
            raise self.fail(op, op_type, f"output {oh}x{ow} < 1 from input {x.h}x{x.w}")
        return Tensor(name, out_ch, oh, ow)

    def pool(self, op: str, op_type: str, x: Tensor, kernel: tuple[int, int], stride: tuple[int, int],
             pads: tuple[int, int, int, int] = NO_PAD, mode: str = "max", ceil: bool = False) -> Tensor:
        """A max or average pool; `ceil` (ceil_mode) becomes extra bottom/right padding."""
        self._image(x, op, op_type)
        (kh, kw), (sh, sw) = kernel, stride
        t, b, left, r = (p + q for p, q in zip(x.pad, pads))
        if ceil:
            for axis, size, k, s in (("h", x.h, kh, sh), ("w", x.w, kw, sw)):
                lo, hi = (t, b) if axis == "h" else (left, r)
                want = -(-(size + lo + hi - k) // s) + 1
                if (want - 1) * s >= size + lo:  # the last window must start inside the image or left pad
                    want -= 1
                extra = (want - 1) * s + k - (size + lo + hi)
                if extra > 0:
                    if axis == "h":
                        b += extra
                    else:
                        r += extra
        name = self.name(op)
        entry: dict[str, Any] = {"name": name, "type": "pool", "pool": mode, "in_channels": x.c,
                                 "kernel": _hw(kh, kw), "stride": _hw(sh, sw)}
        if (t, b, left, r) != NO_PAD:
            entry["padding"] = (t if t == b == left == r else [t, left] if (t, left) == (b, r)
                                else [t, b, left, r])
        self._emit(entry, [x])
        return Tensor(name, x.c, _out(x.h, kh, sh, t + b), _out(x.w, kw, sw, left + r))

    def global_pool(self, op: str, op_type: str, x: Tensor, mode: str = "avg", keepdims: bool = True) -> Tensor:
        """A pool over the whole map (GlobalAveragePool, ReduceMean over H and W)."""
        if x.h == x.w == 1 and x.pad == NO_PAD:
            return replace(x, layout="image" if keepdims else "flat")
        y = self.pool(op, op_type, x, (x.h, x.w), (x.h, x.w), mode=mode)
        return y if keepdims else replace(y, layout="flat")

    def dense(self, op: str, op_type: str, x: Tensor, in_features: int, out_features: int,
              name: str | None = None) -> Tensor:
        """A fully connected layer on a flattened tensor (or a 1x1 image)."""
        if x.layout == "image" and (x.h, x.w) != (1, 1):
            raise self.fail(op, op_type, f"a matrix product over the width of a {x.c}x{x.h}x{x.w} image",
                            "flatten first, or transpose to channels-last for a 1x1 convolution")
        if x.layout == "nhwc":
            if in_features != x.c:  # a matmul over the channel axis of an image: a 1x1 conv
                raise self.fail(op, op_type, f"weight has {in_features} inputs, the tensor {x.c} channels")
            y = self.conv(op, op_type, replace(x, layout="image"), out_features, (1, 1), name=name)
            return replace(y, layout=x.layout)
        self._no_pad([x], op, op_type)
        flat = x.c * x.h * x.w
        if in_features != flat:
            raise self.fail(op, op_type, f"weight has {in_features} inputs, the tensor {flat} values")
        name = self.name(name or op)
        self._emit({"name": name, "type": "fc", "in_channels": flat, "out_channels": out_features}, [x])
        return Tensor(name, out_features, 1, 1, layout="flat")

    # ------------------------------------------------------------------ zero-cost nodes
    def add(self, op: str, op_type: str, xs: list[Tensor]) -> Tensor:
        """An elementwise add of activations: an `add` node when shapes agree, else (broadcast) the larger."""
        distinct = list(dict.fromkeys(xs))
        if len(distinct) == 1:
            return distinct[0]
        self._no_pad(distinct, op, op_type)
        if len({(t.c, t.h, t.w) for t in distinct}) != 1 or any(t.layout != "image" for t in distinct):
            return max(distinct, key=lambda t: t.c * t.h * t.w)
        name = self.name(op)
        self._emit({"name": name, "type": "add"}, distinct)
        return Tensor(name, distinct[0].c, distinct[0].h, distinct[0].w)

    def concat(self, op: str, op_type: str, xs: list[Tensor]) -> Tensor:
        """Channel concatenation."""
        if len(xs) == 1:
            return xs[0]
        self._no_pad(xs, op, op_type)
        for t in xs:
            self._image(t, op, op_type)
        if len({(t.h, t.w) for t in xs}) != 1:
            raise self.fail(op, op_type, "inputs differ in height or width: " +
                            ", ".join(f"{t.h}x{t.w}" for t in xs))
        name = self.name(op)
        self._emit({"name": name, "type": "concat"}, list(xs))
        return Tensor(name, sum(t.c for t in xs), xs[0].h, xs[0].w)

    def split(self, op: str, op_type: str, x: Tensor, sizes: list[int]) -> list[Tensor]:
        """A channel split into parts of `sizes` channels."""
        self._image(x, op, op_type)
        if sum(sizes) != x.c:
            raise self.fail(op, op_type, f"parts {sizes} do not add up to {x.c} channels")
        outs, offset = [], 0
        for i, part in enumerate(sizes):
            name = self.name(f"{op}_{i}")
            entry: dict[str, Any] = {"name": name, "type": "split", "inputs": [x.ref], "out_channels": part}
            if offset:
                entry["offset"] = offset
            self.entries.append(entry)
            self.last = name
            outs.append(replace(x, ref=name, c=part))
            offset += part
        return outs

    def shuffle(self, op: str, op_type: str, x: Tensor, groups: int) -> Tensor:
        """A channel shuffle of `groups` groups."""
        name = self.name(op)
        self._emit({"name": name, "type": "shuffle", "groups": groups}, [replace(x, layout="image")])
        return Tensor(name, x.c, x.h, x.w)

    # ------------------------------------------------------------------ result
    def workload(self, name: str, dataset: str, classes: int | None, source: str) -> dict[str, Any]:
        """The workload dict; the last fc/1x1 output with `classes` outputs says `classes`."""
        last = self.entries[-1] if self.entries else None
        n = classes if classes is not None else (last or {}).get("out_channels", 1)
        for e in reversed(self.entries):
            if e["type"] in ("fc", "pointwise", "conv"):
                if e["out_channels"] == n:
                    e["out_channels"] = "classes"
                break
        return {
            "name": name,
            "description": f"imported from {self.model.name} by fusionsim import",
            "source": source,
            "inputs": {dataset: {"size": _hw(self.input.h, self.input.w), "channels": self.input.c,
                                 "classes": int(n)}},
            "layers": self.entries,
        }


def write_workload(workload: dict[str, Any], out: str | Path) -> NetworkGraph:
    """Validate `workload` as a network file and write it to `out` (temp file then rename; nothing on error)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    head = yaml.safe_dump({k: v for k, v in workload.items() if k != "layers"}, sort_keys=False,
                          default_flow_style=None, width=110)
    rows = [yaml.safe_dump(e, sort_keys=False, default_flow_style=True, width=10**6).strip()
            for e in workload["layers"]]
    text = head + "layers:\n" + "".join(f"  - {r}\n" for r in rows)
    fd, tmp = mkstemp_keep_umask(out, suffix=".yaml")  # the umask's mode (0644), not mkstemp's 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        net = load_network(tmp)
        graph = network_graph(net, next(iter(net.inputs)))
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return graph


def layer_counts(graph: NetworkGraph) -> dict[str, tuple[int, int]]:
    """{layer name: (MACs, weights)} of a workload graph (what the importer tests compare)."""
    return {x.name: (x.macs, x.weights) for x in graph.layers}


__all__ = ["Layer", "Tensor", "WorkloadBuilder", "layer_counts", "same_padding", "write_workload"]
