"""Derive a workload definition from a Keras model saved as `.h5` (read with h5py; TensorFlow not needed).

The full-model `.h5` layout keeps the architecture as JSON in the root attribute `model_config`; this module
turns its Conv2D / DepthwiseConv2D / Dense / pooling layers into a `workloads/<net>.yaml` dict. Layers that
cost nothing on the accelerator (BatchNormalization, activations, Add, Dropout, Flatten, ...) are skipped;
ZeroPadding2D is folded into the next layer's padding; branches (a layer reading other than the previous
kept layer) get an `input:` key. A weights-only `.h5` has no architecture and is refused with a clear error.

    python -m fusionsim.workloads.keras model.h5 --name mynet --dataset cifar10 --classes 10 -o workloads/mynet.yaml
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from fusionsim.errors import InputError
from fusionsim.workloads.network import NETWORK_INPUT

# Keras classes that pass their input through unchanged as far as the cost model is concerned
PASS_THROUGH = {
    "BatchNormalization",
    "ReLU",
    "Activation",
    "LeakyReLU",
    "PReLU",
    "Softmax",
    "Dropout",
    "Add",
    "Multiply",
    "Flatten",
    "Reshape",
    "Rescaling",
    "Normalization",
    "Lambda",
    "InputLayer",
    "QuantizeLayer",
    "QuantizeWrapper",
    "QuantizeWrapperV2",
    "PruneLowMagnitude",
}


def _pair(value: Any, key: str, file: Path) -> int:
    """A square kernel/stride/pool size from Keras' int or [h, w]."""
    if isinstance(value, int):
        return value
    if isinstance(value, (list, tuple)) and len(value) == 2 and value[0] == value[1]:
        return int(value[0])
    raise InputError(f"only square sizes are supported, got {value!r}", file=file, key=key)


def _zero_padding(value: Any, key: str, file: Path) -> int:
    """Keras ZeroPadding2D's padding (int, (h, w) or ((top, bottom), (left, right))) as one symmetric int."""
    flat = (
        value
        if isinstance(value, int)
        else [v for pair in value for v in (pair if isinstance(pair, list) else [pair])]
    )
    values = {flat} if isinstance(flat, int) else set(flat)
    if len(values) != 1:
        raise InputError(f"only symmetric zero padding is supported, got {value!r}", file=file, key=key)
    return int(values.pop())


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
        raise InputError(f"model_config is not JSON ({exc.msg})", file=path, key="model_config") from None


def _input_shape(config: dict[str, Any], layers: list[dict[str, Any]], path: Path) -> tuple[int, int]:
    """(size, channels) of the model input from the InputLayer or the first layer's batch shape."""
    for layer in layers:
        cfg = layer.get("config", {})
        shape = cfg.get("batch_input_shape") or cfg.get("batch_shape")
        if shape:
            if len(shape) != 4 or shape[1] != shape[2]:
                raise InputError(
                    f"need a square NHWC image input, got {shape}", file=path, key=f"{cfg.get('name')}"
                )
            return int(shape[1]), int(shape[3])
    raise InputError("no input shape in the model config", file=path, key="model_config.layers")


def keras_to_workload(
    path: str | Path, name: str, dataset: str = "cifar10", classes: int | None = None, description: str = ""
) -> dict[str, Any]:
    """A workload dict (the format of `workloads/*.yaml`) for the Keras model in `path` on `dataset`."""
    path = Path(path)
    model = read_model_config(path)
    config = model.get("config", {})
    layers = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list) or not layers:
        raise InputError("model_config has no layers", file=path, key="model_config.config.layers")
    size, channels = _input_shape(config, layers, path)
    entries: list[dict[str, Any]] = []
    # Keras layer name -> (name of the kept entry producing it, channels, size)
    produced: dict[str, tuple[str, int, int]] = {}
    last = (NETWORK_INPUT, channels, size)
    pending_pad = 0
    last_emitted = NETWORK_INPUT
    for layer in layers:
        cls = layer.get("class_name", "")
        cfg = layer.get("config", {})
        lname = cfg.get("name") or f"layer{len(produced)}"
        sources = [produced[n] for n in _inbound(layer) if n in produced]
        src = sources[0] if sources else last
        src_name, chans, in_size = src
        key = f"model_config.layers.{lname}"
        entry: dict[str, Any] | None = None
        out_ch, out_size = chans, in_size
        if cls in ("Conv2D", "DepthwiseConv2D"):
            k = _pair(cfg.get("kernel_size"), f"{key}.kernel_size", path)
            s = _pair(cfg.get("strides", 1), f"{key}.strides", path)
            if _pair(cfg.get("dilation_rate", 1), f"{key}.dilation_rate", path) != 1:
                raise InputError(
                    "dilated convolutions are not supported", file=path, key=f"{key}.dilation_rate"
                )
            pad = (k // 2 if cfg.get("padding", "valid") == "same" else 0) + pending_pad
            if cls == "DepthwiseConv2D":
                if int(cfg.get("depth_multiplier", 1)) != 1:
                    raise InputError(
                        "depth_multiplier != 1 is not supported", file=path, key=f"{key}.depth_multiplier"
                    )
                entry = {"name": lname, "type": "depthwise", "in_channels": chans, "out_channels": chans}
            else:
                out_ch = int(cfg["filters"])
                kind = "pointwise" if k == 1 else "conv"
                entry = {"name": lname, "type": kind, "in_channels": chans, "out_channels": out_ch}
                if int(cfg.get("groups", 1)) != 1:
                    entry["groups"] = int(cfg["groups"])
            if entry["type"] != "pointwise":
                entry["kernel"] = k
            entry["stride"] = s
            if pad != (k // 2 if entry["type"] != "pointwise" else 0):
                entry["padding"] = pad
            out_size = (in_size + 2 * pad - k) // s + 1
        elif cls in ("MaxPooling2D", "AveragePooling2D"):
            k = _pair(cfg.get("pool_size", 2), f"{key}.pool_size", path)
            s = _pair(cfg.get("strides") or k, f"{key}.strides", path)
            pad = (k // 2 if cfg.get("padding", "valid") == "same" else 0) + pending_pad
            entry = {"name": lname, "type": "pool", "in_channels": chans, "kernel": k, "stride": s}
            if pad:
                entry["padding"] = pad
            out_size = (in_size + 2 * pad - k) // s + 1
        elif cls in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
            entry = {
                "name": lname,
                "type": "pool",
                "in_channels": chans,
                "kernel": in_size,
                "stride": in_size,
            }
            out_size = 1
        elif cls == "Dense":
            out_ch = int(cfg["units"])
            flat = chans * in_size * in_size
            entry = {"name": lname, "type": "fc", "in_channels": flat, "out_channels": out_ch}
            out_size = 1
        elif cls == "ZeroPadding2D":
            pending_pad += _zero_padding(cfg.get("padding", 1), f"{key}.padding", path)
            produced[lname] = src
            continue
        elif cls == "Concatenate":
            total = sum(c for _, c, _ in sources) if sources else chans
            produced[lname] = (src_name, total, in_size)
            last = produced[lname]
            continue
        elif cls in PASS_THROUGH:
            produced[lname] = src
            last = src
            continue
        else:
            raise InputError(
                f"layer class {cls!r} is not supported",
                file=path,
                key=key,
                fix="supported: Conv2D, DepthwiseConv2D, Dense, pooling, and shape-neutral layers",
            )
        pending_pad = 0
        if src_name != last_emitted:
            entry["input"] = src_name
        entries.append(entry)
        last_emitted = lname
        produced[lname] = (lname, out_ch, out_size)
        last = produced[lname]
    fcs = [e for e in entries if e["type"] == "fc"]
    if classes is not None and fcs and fcs[-1]["out_channels"] == classes:
        fcs[-1]["out_channels"] = "classes"  # the workload then follows the dataset's class count
    n_classes = (
        classes
        if classes is not None
        else next(
            (
                e["out_channels"]
                for e in reversed(entries)
                if e["type"] == "fc" and isinstance(e["out_channels"], int)
            ),
            1,
        )
    )
    return {
        "name": name,
        "description": description or f"derived from the Keras model {path.name}",
        "source": f"fusionsim.workloads.keras from {path.name}",
        "inputs": {dataset: {"size": size, "channels": channels, "classes": int(n_classes)}},
        "layers": entries,
    }


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
    from fusionsim.atomic_io import write_text
    from fusionsim.workloads.network import load_network

    try:
        workload = keras_to_workload(args.model, args.name, args.dataset, args.classes)
        write_text(args.out, yaml.safe_dump(workload, sort_keys=False, default_flow_style=None))
        try:
            load_network(args.out)  # the result must be a valid workload
        except InputError:
            args.out.unlink()
            raise
    except InputError as exc:
        print(f"fusionsim.workloads.keras: error: {exc.line()}", file=__import__("sys").stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
