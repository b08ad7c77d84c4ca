"""Derive a workload from a Keras model saved as `.keras` (zip) or full-model `.h5` (read without TensorFlow).

Both keep the architecture as JSON (`config.json` in the archive, the root attribute `model_config` in the
`.h5`); this module walks its layers through `WorkloadBuilder`: Conv2D (groups, dilation, non-square),
DepthwiseConv2D, SeparableConv2D (depthwise `<name>_dw` + pointwise `<name>_pw`), Dense, pooling and global
pooling become layers; Add and Concatenate graph nodes; ZeroPadding2D folds into the next layer's padding,
Cropping2D sets its input size; Multiply (squeeze-and-excitation gating), BatchNormalization, activations,
Rescaling, Dropout, Flatten cost nothing. A weights-only `.h5` has no architecture and is refused.
`fusionsim import model.keras --dataset imagenet -o workloads/net.yaml` is the command line; this module's
own `python -m fusionsim.workloads.keras model.h5 --name N -o OUT` is kept for compatibility."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from fusionsim.errors import InputError
from fusionsim.workloads.builder import NO_PAD, Tensor, WorkloadBuilder, same_padding

# Keras classes that pass their input through unchanged as far as the cost model is concerned
PASS_THROUGH = {
    "BatchNormalization",
    "ReLU",
    "Activation",
    "LeakyReLU",
    "PReLU",
    "Softmax",
    "Dropout",
    "Rescaling",
    "LayerNormalization",
    "GroupNormalization",
    "ELU",
    "SpatialDropout2D",
    "GaussianNoise",
    "Identity",
    "Normalization",
    "Lambda",
    "InputLayer",
    "QuantizeLayer",
    "QuantizeWrapper",
    "QuantizeWrapperV2",
    "PruneLowMagnitude",
}


def _keras_history(obj: Any, names: list[str]) -> None:
    """Append the layer names of every `keras_history` reference inside a Keras 3 node's arguments."""
    if isinstance(obj, dict):
        cfg = obj.get("config")
        if isinstance(cfg, dict) and cfg.get("keras_history"):
            names.append(cfg["keras_history"][0])
            return
        for v in obj.values():
            _keras_history(v, names)
    elif isinstance(obj, list):
        for v in obj:
            _keras_history(v, names)


def _inbound(layer: dict[str, Any]) -> list[str]:
    """Names of the layers feeding `layer` (Keras 2 and Keras 3 JSON forms); [] for Sequential models."""
    names: list[str] = []
    for node in layer.get("inbound_nodes") or []:
        if isinstance(node, list):  # Keras 2: [[name, node_index, tensor_index, kwargs], ...]
            names += [item[0] for item in node if isinstance(item, list) and item]
        elif isinstance(node, dict):  # Keras 3: {"args": [{"config": {"keras_history": [name, 0, 0]}}], ...}
            _keras_history(node.get("args", []), names)
    return names


def read_model_config(path: str | Path) -> dict[str, Any]:
    """The `model_config` JSON of a full-model Keras `.h5`; InputError naming the file otherwise."""
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as fh:
            raw = fh.attrs.get("model_config")
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except OSError as exc:
        raise InputError(
            f"not a readable HDF5 file ({exc})", file=path, fix="pass a Keras model saved as .h5"
        ) from None
    if raw is None:
        raise InputError(
            "no model_config attribute: a weights-only .h5 holds no architecture",
            file=path,
            key="model_config",
            fix="save the whole model (model.save('model.h5')), not only its weights",
        )
    if isinstance(raw, bytes):
        raw = raw.decode()
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"model_config is not JSON ({exc.msg})", file=path, key="model_config",
                         fix="save the full model with model.save('m.h5')") from None


def read_keras_archive(path: Path) -> dict[str, Any]:
    """The `config.json` of a Keras 3 `.keras` zip archive; InputError naming the file otherwise."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            raw = zf.read("config.json")
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise InputError(f"not a readable .keras archive ({exc})", file=path,
                         fix="save the model with model.save('model.keras')") from None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"config.json is not JSON ({exc.msg})", file=path, key="config.json",
                         fix="save the model with model.save('m.keras')") from None


def read_config(path: str | Path) -> dict[str, Any]:
    """The model JSON of a Keras `.keras` archive or full-model `.h5`."""
    path = Path(path)
    return read_keras_archive(path) if path.suffix.lower() == ".keras" else read_model_config(path)


def _two(value: Any, default: int = 1) -> tuple[int, int]:
    """Keras' int or [h, w] as (h, w)."""
    if value is None:
        return default, default
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[1])


def _pads(value: Any) -> tuple[int, int, int, int]:
    """ZeroPadding2D/Cropping2D amounts (int, (h, w) or ((top, bottom), (left, right))) as (t, b, l, r)."""
    if isinstance(value, int):
        return (value,) * 4
    h, w = value
    (t, b) = (h, h) if isinstance(h, int) else h
    (left, r) = (w, w) if isinstance(w, int) else w
    return int(t), int(b), int(left), int(r)


def _input_shape(layers: list[dict[str, Any]], path: Path,
                 input_size: tuple[int, int] | None) -> tuple[int, int, int]:
    """(height, width, channels) of the model input, from the InputLayer or the first layer's batch shape."""
    for layer in layers:
        cfg = layer.get("config", {})
        shape = cfg.get("batch_input_shape") or cfg.get("batch_shape")
        if shape:
            key = f"model_config.layers.{cfg.get('name')}"
            if len(shape) != 4 or shape[3] is None:
                raise InputError(f"need an NHWC image input with known channels, got {shape}", file=path, key=key)
            if input_size is not None:
                return input_size[0], input_size[1], int(shape[3])
            if shape[1] is None or shape[2] is None:
                raise InputError(f"the input has a dynamic size {shape}", file=path, key=key,
                                 fix="pass --input-size HxW")
            return int(shape[1]), int(shape[2]), int(shape[3])
    raise InputError("no input shape in the model config", file=path, key="model_config.layers")


def _same(cfg: dict[str, Any], x: Tensor, k: tuple[int, int], s: tuple[int, int],
          d: tuple[int, int] = (1, 1)) -> tuple[int, int, int, int]:
    if cfg.get("padding", "valid") != "same":
        return NO_PAD
    (t, b), (left, r) = same_padding(x.h, k[0], s[0], d[0]), same_padding(x.w, k[1], s[1], d[1])
    return t, b, left, r


def keras_to_workload(
    path: str | Path, name: str, dataset: str = "cifar10", classes: int | None = None, description: str = "",
    input_size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """A workload dict (the format of `workloads/*.yaml`) for the Keras model in `path` on `dataset`."""
    path = Path(path)
    model = read_config(path)
    config = model.get("config", {})
    layers = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list) or not layers:
        raise InputError("model_config has no layers", file=path, key="model_config.config.layers")
    h, w, channels = _input_shape(layers, path, input_size)
    b = WorkloadBuilder(path, channels, h, w, noun="layer", key_prefix="model_config.layers.")
    env: dict[str, Tensor] = {}
    last = b.input
    for layer in layers:
        cls = layer.get("class_name", "")
        cfg = layer.get("config", {})
        lname = cfg.get("name") or f"layer{len(env)}"
        xs = [env[n] for n in _inbound(layer) if n in env] or [last]
        x = xs[0]
        if cfg.get("data_format", "channels_last") != "channels_last":
            raise b.fail(lname, cls, "channels_first data is not supported", "build the model channels_last")
        if cls in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D"):
            k, s, d = _two(cfg.get("kernel_size")), _two(cfg.get("strides")), _two(cfg.get("dilation_rate"))
            pads = _same(cfg, x, k, s, d)
            if cls == "Conv2D":
                y = b.conv(lname, cls, x, int(cfg["filters"]), k, s, d, pads, int(cfg.get("groups", 1)))
            else:
                mult = int(cfg.get("depth_multiplier", 1))
                dw_name = lname if cls == "DepthwiseConv2D" else f"{lname}_dw"
                y = b.conv(lname, cls, x, x.c * mult, k, s, d, pads, x.c, name=dw_name)
                if cls == "SeparableConv2D":
                    y = b.conv(lname, cls, y, int(cfg["filters"]), (1, 1), name=f"{lname}_pw")
        elif cls in ("MaxPooling2D", "AveragePooling2D"):
            k = _two(cfg.get("pool_size", 2))
            s = _two(cfg.get("strides") or k)
            y = b.pool(lname, cls, x, k, s, _same(cfg, x, k, s), "max" if cls.startswith("Max") else "avg")
        elif cls in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
            y = b.global_pool(lname, cls, x, "max" if "Max" in cls else "avg", bool(cfg.get("keepdims", False)))
        elif cls == "Dense":
            units = int(cfg["units"])
            if x.layout == "image" and (x.h, x.w) != (1, 1):  # Dense on an image acts on channels: a 1x1 conv
                y = replace(b.dense(lname, cls, replace(x, layout="nhwc"), x.c, units), layout="image")
            else:
                y = b.dense(lname, cls, x, x.c * x.h * x.w, units)
        elif cls == "ZeroPadding2D":
            y = replace(x, pad=tuple(p + q for p, q in zip(x.pad, _pads(cfg.get("padding", 1)))))
        elif cls == "Cropping2D":
            t, bt, left, r = _pads(cfg.get("cropping", 0))
            if x.pad != NO_PAD:
                raise b.fail(lname, cls, "crops a zero-padded tensor", "crop before padding")
            y = replace(x, h=x.h - t - bt, w=x.w - left - r, resized=True)
        elif cls in ("Add", "Subtract", "Average", "Maximum", "Minimum"):
            y = b.add(lname, cls, xs)
        elif cls == "Multiply":  # gating (squeeze-and-excitation): elementwise, no MACs
            y = max(xs, key=lambda t: t.c * t.h * t.w)
        elif cls == "Concatenate":
            if int(cfg.get("axis", -1)) not in (-1, 3):
                raise b.fail(lname, cls, f"concatenation along axis {cfg.get('axis')}; only channels supported")
            y = b.concat(lname, cls, xs)
        elif cls == "Flatten":
            y = replace(x, layout="flat")
        elif cls == "Reshape":
            target = list(cfg.get("target_shape") or [])
            if x.h == x.w == 1 and target in ([x.c], [1, 1, x.c]):
                y = replace(x, layout="flat" if len(target) == 1 else "image")
            else:
                raise b.fail(lname, cls, f"reshape of {x.h}x{x.w}x{x.c} to {target} is not a flatten",
                             "flatten instead")
        elif cls in PASS_THROUGH:
            y = x
        else:
            raise b.fail(lname, cls, "layer class not supported",
                         "supported: Conv2D, DepthwiseConv2D, SeparableConv2D, Dense, pooling, Add, Multiply, "
                         "Concatenate, ZeroPadding2D, Cropping2D, and shape-neutral layers")
        env[lname] = y
        last = y
    if not b.entries:
        raise InputError("the model has no convolution, pooling or dense layer", file=path)
    workload = b.workload(name, dataset, classes, f"fusionsim import of {path.name} (Keras)")
    if description:
        workload["description"] = description
    return workload


def main(argv: list[str] | None = None) -> int:
    """Command line: write the workload YAML of a Keras `.h5` model."""
    parser = argparse.ArgumentParser(
        prog="python -m fusionsim.workloads.keras", description=__doc__.splitlines()[0]
    )
    parser.add_argument("model", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--classes", type=int)
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args(argv)
    from fusionsim.workloads.builder import write_workload

    try:
        write_workload(keras_to_workload(args.model, args.name, args.dataset, args.classes), args.out)
    except InputError as exc:
        print(f"fusionsim.workloads.keras: error: {exc.line()}", file=__import__("sys").stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
