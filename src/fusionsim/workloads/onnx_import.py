"""Derive a workload from an ONNX model (e.g. a PyTorch network exported with `torch.onnx.export`).

The graph is walked in its (topological) node order. Conv, Gemm/MatMul, pools and global pools become
layers; Add, Concat, Split and the Reshape-Transpose-Reshape channel shuffle become zero-cost nodes; Pad folds
into the next conv or pool; normalisations, activations, Dropout, Identity, Cast, Constant, Flatten, Squeeze,
Unsqueeze and shape arithmetic cost nothing. Any other op on an activation is a one-line error naming the
node. Shapes come from ONNX shape inference once the input size is fixed (`input_size` for dynamic inputs).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from fusionsim.errors import InputError
from fusionsim.workloads.builder import NO_PAD, Tensor, WorkloadBuilder, same_padding

FREE_OPS = {
    "BatchNormalization", "LayerNormalization", "GroupNormalization", "InstanceNormalization",
    "LpNormalization", "MeanVarianceNormalization", "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu",
    "Sigmoid", "HardSigmoid", "HardSwish", "Swish", "Mish", "Gelu", "FastGelu", "Tanh", "Softplus",
    "Softsign", "Softmax", "LogSoftmax", "Clip", "Erf", "Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal",
    "Floor", "Ceil", "Round", "Sign", "Dropout", "Identity", "Cast", "CastLike", "ThresholdedRelu",
}
ELEMENTWISE = {"Add", "Sum", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mean", "Where"}
RESHAPES = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose"}
SUPPORTED = ("Conv, Gemm, MatMul, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, ReduceMean, Add, "
             "Mul, Concat, Split, channel shuffle, Pad and shape-neutral ops")


def _attrs(node: Any) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pair(values: Any, default: int) -> tuple[int, int]:
    vals = list(values) if values is not None else [default, default]
    return int(vals[0]), int(vals[1])


def load_model(path: Path) -> Any:
    """The ModelProto in `path` (graph only, external weight files not read); InputError if unreadable."""
    import onnx

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("model file not found", file=path, fix="check the path") from None
    try:
        model = onnx.load_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and friends: a truncated or non-ONNX file
        raise InputError(f"not a readable ONNX model ({type(exc).__name__}: {str(exc).splitlines()[0]})",
                         file=path, fix="re-export the model; the file may be truncated") from None
    try:
        onnx.checker.check_model(str(path) if any(
            t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer) else model)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"not a valid ONNX model ({first})", file=path,
                         fix="re-export the model; the file may be truncated") from None
    return model


class _OnnxReader:
    """Walks one ONNX graph into a WorkloadBuilder."""

    def __init__(self, path: Path, model: Any, input_size: tuple[int, int] | None):
        import onnx

        self.path = path
        graph = model.graph
        self.inits = {t.name: t for t in graph.initializer}
        images = [i for i in graph.input if i.name not in self.inits]
        if len(images) != 1:
            raise InputError(f"expected one image input, found {len(images)} ({', '.join(i.name for i in images)})",
                             file=path, fix="export the model with a single (N, C, H, W) input")
        inp = images[0]
        dims = inp.type.tensor_type.shape.dim
        if len(dims) != 4:
            raise InputError(f"input {inp.name!r} has rank {len(dims)}, expected 4 (N, C, H, W)", file=path)
        shown = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
        if not dims[1].HasField("dim_value"):
            raise InputError(f"input {inp.name!r} has a dynamic channel count ({shown})", file=path,
                             fix="export with a fixed channel count")
        if input_size is None:
            if not (dims[2].HasField("dim_value") and dims[3].HasField("dim_value")):
                raise InputError(f"input {inp.name!r} has a dynamic size {shown}", file=path,
                                 fix="pass --input-size HxW")
            input_size = (dims[2].dim_value, dims[3].dim_value)
        for d, v in zip(dims, (1, dims[1].dim_value, *input_size)):
            d.ClearField("dim_param")
            d.dim_value = v
        try:
            model = onnx.shape_inference.infer_shapes(model, data_prop=True)
        except Exception:  # inference is a help for reshapes only; the walk reports what it cannot follow
            pass
        self.graph = model.graph
        self.opsets = list(model.opset_import)
        self.shapes: dict[str, list[int | None]] = {}
        for vi in [*self.graph.value_info, *self.graph.output, *self.graph.input]:
            dd = vi.type.tensor_type.shape.dim
            self.shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dd]
        self.consts: dict[str, np.ndarray] = {}
        self.const_nodes: dict[str, Any] = {}  # output name -> node computing it from constants only
        self.b = WorkloadBuilder(path, dims[1].dim_value, *input_size)
        self.env: dict[str, Tensor] = {inp.name: self.b.input}

    # ------------------------------------------------------------------ constants
    def const(self, name: str) -> np.ndarray | None:
        """The value of a constant tensor (initializer, Constant, or folded from constant-only nodes)."""
        import onnx
        from onnx import numpy_helper

        if name in self.consts:
            return self.consts[name]
        if name in self.inits:
            value = numpy_helper.to_array(self.inits[name])
        elif name in self.const_nodes:
            node = self.const_nodes[name]
            if node.op_type == "Constant":
                a = _attrs(node)
                value = (numpy_helper.to_array(a["value"]) if "value" in a
                         else np.array(next(iter(a.values()))))
            else:  # fold the constant-only subgraph with the ONNX reference evaluator
                from onnx.reference import ReferenceEvaluator

                needed, todo, seen = [], [name], set()
                while todo:
                    n = todo.pop()
                    if n in seen or n in self.inits or n in self.consts or n not in self.const_nodes:
                        continue
                    seen.add(n)
                    nd = self.const_nodes[n]
                    needed.append(nd)
                    todo.extend(i for i in nd.input if i)
                needed = list({id(n): n for n in needed}.values())
                order = [n for n in self.graph.node if any(n is m for m in needed)]
                feeds = {i for n in order for i in n.input if i}
                inits = [self.inits[i] for i in feeds if i in self.inits]
                inits += [numpy_helper.from_array(np.asarray(self.consts[i]), i) for i in feeds if i in self.consts]
                out = onnx.helper.make_tensor_value_info(name, onnx.TensorProto.UNDEFINED, None)
                g = onnx.helper.make_graph(order, "fold", [], [out], inits)
                m = onnx.helper.make_model(g, opset_imports=self.opsets)
                try:
                    value = ReferenceEvaluator(m).run(None, {})[0]
                except Exception:
                    return None
        else:
            return None
        self.consts[name] = value
        return value

    def weight_shape(self, name: str) -> tuple[int, ...] | None:
        if name in self.inits:
            return tuple(self.inits[name].dims)
        v = self.const(name)
        return None if v is None else tuple(v.shape)

    # ------------------------------------------------------------------ walk
    def run(self) -> WorkloadBuilder:
        for node in self.graph.node:
            acts = [i for i in node.input if i in self.env]
            if not acts:
                for o in node.output:
                    self.const_nodes[o] = node
                continue
            self.visit(node, acts)
        return self.b

    def fail(self, node: Any, message: str, fix: str | None = None) -> InputError:
        return self.b.fail(node.name or node.output[0], node.op_type, message, fix)

    def visit(self, node: Any, acts: list[str]) -> None:
        op, a, b = node.op_type, _attrs(node), self.b
        nm = node.name or node.output[0]
        x = self.env[acts[0]]
        out = node.output[0]
        if op == "Conv":
            self.conv(node, a, x)
        elif op in ("Gemm", "MatMul"):
            w_name = node.input[1]
            shape = self.weight_shape(w_name) if w_name not in self.env else None
            if node.input[0] not in self.env or shape is None or len(shape) != 2 or a.get("transA", 0):
                raise self.fail(node, "only a product of an activation with a constant 2-D weight is supported",
                                "export linear layers with constant weights")
            k, m = (shape[1], shape[0]) if a.get("transB", 0) else shape
            self.env[out] = b.dense(nm, op, x, int(k), int(m), name=self.weight_name(w_name, nm))
        elif op in ("MaxPool", "AveragePool"):
            if any(d != 1 for d in a.get("dilations", [1, 1])):
                raise self.fail(node, "dilated pooling is not supported")
            kernel = _pair(a["kernel_shape"], 1)
            stride = _pair(a.get("strides"), 1)
            pads = self.pads(node, a, x, kernel, stride, (1, 1))
            self.env[out] = b.pool(nm, op, x, kernel, stride, pads, "max" if op == "MaxPool" else "avg",
                                   bool(a.get("ceil_mode", 0)))
        elif op in ("GlobalAveragePool", "GlobalMaxPool"):
            self.env[out] = b.global_pool(nm, op, x, "max" if op == "GlobalMaxPool" else "avg")
        elif op in ("ReduceMean", "ReduceMax"):
            axes = a.get("axes")
            if axes is None and len(node.input) > 1 and node.input[1]:
                axes = self.const(node.input[1])
            axes = {int(v) % 4 for v in (axes if axes is not None else [0, 1, 2, 3])}
            if x.layout == "image" and axes == {2, 3}:
                self.env[out] = b.global_pool(nm, op, x, "avg" if op == "ReduceMean" else "max",
                                              bool(a.get("keepdims", 1)))
            else:  # a normalisation's statistics: no MACs
                self.env[out] = x
        elif op in ("Add", "Sum"):
            self.env[out] = b.add(nm, op, [self.env[i] for i in acts])
        elif op in ELEMENTWISE:  # scaling, gating (squeeze-and-excitation), normalisation arithmetic: free
            self.env[out] = max((self.env[i] for i in acts), key=lambda t: t.c * t.h * t.w)
        elif op == "Concat":
            if len(acts) != len([i for i in node.input if i]):
                raise self.fail(node, "concatenates an activation with a constant")
            axis = int(a.get("axis", 1)) % 4
            if axis != 1:
                raise self.fail(node, f"concatenation along axis {axis}; only channels (axis 1) are supported")
            self.env[out] = b.concat(nm, op, [self.env[i] for i in node.input])
        elif op == "Split":
            if int(a.get("axis", 0)) % 4 != 1:
                raise self.fail(node, "only a split along channels (axis 1) is supported")
            sizes = a.get("split")
            if sizes is None and len(node.input) > 1 and node.input[1]:
                sizes = self.const(node.input[1])
            n = len(node.output)
            sizes = [int(s) for s in sizes] if sizes is not None else [x.c // n] * n
            for o, t in zip(node.output, b.split(nm, op, x, sizes)):
                self.env[o] = t
        elif op in RESHAPES:
            self.env[out] = self.reshape(node, a, x)
        elif op == "Pad":
            pads = a.get("pads")
            if pads is None and len(node.input) > 1:
                pads = self.const(node.input[1])
            if pads is None or (len(node.input) > 3 and node.input[3]):
                raise self.fail(node, "padding amounts are not constant", "export with constant pads")
            pads = [int(p) for p in pads]
            if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)):
                raise self.fail(node, f"only spatial padding of a 4-D tensor is supported, got {pads}")
            if min(pads) < 0:
                raise self.fail(node, "negative padding (cropping) is not supported")
            t, left, bot, r = pads[2], pads[3], pads[6], pads[7]
            self.env[out] = replace(x, pad=tuple(p + q for p, q in zip(x.pad, (t, bot, left, r))))
        elif op in FREE_OPS:
            self.env[out] = x
        elif op in ("Shape", "Size"):
            shape = [1, x.c, x.h, x.w] if x.layout == "image" else [1, x.c]
            self.consts[out] = np.array(shape if op == "Shape" else [int(np.prod(shape))], dtype=np.int64)
            self.const_nodes[out] = node
        else:
            raise self.fail(node, "op type not supported", f"supported: {SUPPORTED}; replace it before export")

    def weight_name(self, w_name: str, fallback: str) -> str:
        """The layer's name: its weight's module path (`layer1.0.conv1.weight` -> layer1_0_conv1) if any."""
        return w_name[: -len(".weight")] if w_name.endswith(".weight") else fallback

    def pads(self, node: Any, a: dict[str, Any], x: Tensor, kernel: tuple[int, int], stride: tuple[int, int],
             dilation: tuple[int, int]) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) from ONNX `pads` [top, left, bottom, right] or `auto_pad`."""
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            (t, bt), (lf, r) = (same_padding(x.h, kernel[0], stride[0], dilation[0]),
                                same_padding(x.w, kernel[1], stride[1], dilation[1]))
            return (bt, t, r, lf) if auto == "SAME_LOWER" else (t, bt, lf, r)
        if auto == "VALID":
            return NO_PAD
        p = [int(v) for v in a.get("pads", [0, 0, 0, 0])]
        if len(p) != 4:
            raise self.fail(node, f"pads {p}: only 2-D operations are supported")
        return p[0], p[2], p[1], p[3]

    def conv(self, node: Any, a: dict[str, Any], x: Tensor) -> None:
        shape = self.weight_shape(node.input[1]) if node.input[1] not in self.env else None
        if shape is None or len(shape) != 4:
            raise self.fail(node, "only 2-D convolutions with a constant weight are supported")
        m, cg, kh, kw = (int(v) for v in shape)
        groups = int(a.get("group", 1))
        if cg * groups != x.c:
            raise self.fail(node, f"weight expects {cg * groups} input channels, the tensor has {x.c}")
        kernel, stride, dilation = (kh, kw), _pair(a.get("strides"), 1), _pair(a.get("dilations"), 1)
        pads = self.pads(node, a, x, kernel, stride, dilation)
        nm = node.name or node.output[0]
        self.env[node.output[0]] = self.b.conv(nm, node.op_type, x, m, kernel, stride, dilation, pads, groups,
                                               name=self.weight_name(node.input[1], nm))

    def static_shape(self, node: Any, a: dict[str, Any], x: Tensor) -> list[int] | None:
        """The output shape of a reshape-like node from its (folded) constant operands."""
        src = [1, x.c, x.h, x.w] if x.layout == "image" else [1, x.c * x.h * x.w]
        if node.op_type == "Flatten":
            axis = int(a.get("axis", 1)) % len(src)
            return [int(np.prod(src[:axis])), int(np.prod(src[axis:]))]
        if node.op_type == "Reshape":
            target = self.const(node.input[1])
            if target is None:
                return None
            dims = [src[i] if int(d) == 0 else int(d) for i, d in enumerate(target)]
            if -1 in dims:
                known = int(np.prod([d for d in dims if d != -1]))
                dims[dims.index(-1)] = int(np.prod(src)) // max(known, 1)
            return dims
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const(node.input[1])
        if node.op_type == "Squeeze":
            drop = {int(v) % len(src) for v in axes} if axes is not None else {
                i for i, d in enumerate(src) if d == 1 and i}
            return [d for i, d in enumerate(src) if i not in drop]
        if axes is None:
            return None
        out = list(src)
        for v in sorted(int(v) % (len(src) + len(axes)) for v in axes):
            out.insert(v, 1)
        return out

    def reshape(self, node: Any, a: dict[str, Any], x: Tensor) -> Tensor:
        """Flatten, squeeze/unsqueeze of a 1x1 map, NCHW<->NHWC transposes and the channel shuffle."""
        shape = self.shapes.get(node.output[0])
        numel = x.c * x.h * x.w
        if node.op_type == "Transpose":
            perm = [int(p) for p in a.get("perm", [])]
            if perm == sorted(perm):
                return x
            if x.layout == "image" and perm == [0, 2, 3, 1]:
                return replace(x, layout="nhwc")
            if x.layout == "nhwc" and perm == [0, 3, 1, 2]:
                return replace(x, layout="image")
            if x.layout == "grouped" and perm == [0, 2, 1, 3, 4]:
                return replace(x, layout="shuffled")
            if x.layout in ("image", "flat") and x.h == x.w == 1 and len(perm) == 2:
                return x
            raise self.fail(node, f"transpose {perm} of a {x.layout} tensor is not supported")
        if shape is None or any(d is None for d in shape[1:]):
            shape = self.static_shape(node, a, x)
        if shape is None:
            raise self.fail(node, "output shape unknown", "export with static shapes or pass --input-size")
        dims = [int(d) for d in shape[1:]]
        if int(np.prod(dims)) != numel:
            raise self.fail(node, f"reshape changes the element count ({numel} -> {int(np.prod(dims))})")
        if x.layout == "image" and len(dims) == 4 and dims[0] * dims[1] == x.c and dims[2:] == [x.h, x.w]:
            return replace(x, layout="grouped", groups=dims[0])
        if x.layout == "shuffled" and dims == [x.c, x.h, x.w]:
            return self.b.shuffle(node.name or node.output[0], node.op_type, x, x.groups)
        if dims == [x.c, x.h, x.w] and x.layout in ("image", "flat"):
            return replace(x, layout="image")
        if len(dims) == 1 and x.layout in ("image", "flat"):
            return replace(x, layout="flat")
        if len(dims) == 3 and x.layout == "nhwc" and dims == [x.h, x.w, x.c]:
            return x
        raise self.fail(node, f"reshape of a {x.layout} {x.c}x{x.h}x{x.w} tensor to {dims} is not a flatten, "
                        "squeeze or channel shuffle")


def onnx_to_workload(path: str | Path, dataset: str, name: str, classes: int | None = None,
                     input_size: tuple[int, int] | None = None) -> dict[str, Any]:
    """The workload dict of the ONNX model in `path` on `dataset` (InputError naming the node otherwise)."""
    path = Path(path)
    model = load_model(path)
    builder = _OnnxReader(path, model, input_size).run()
    if not builder.entries:
        raise InputError("the model has no convolution, pooling or linear layer", file=path)
    return builder.workload(name, dataset, classes, f"fusionsim import of {path.name} (ONNX)")
