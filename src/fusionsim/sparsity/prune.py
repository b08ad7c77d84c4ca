"""Make a pruned Keras model from a workload when the user has none (TensorFlow imported lazily).

`prune_workload` builds the network from the workload's layers (`LayerSpec`, see `weights.load_layer_specs`:
conv / pointwise / depthwise / dense / pool, with `name`, `in_channels`, `out_channels`, `kernel`,
`stride`, `groups`) and prunes it by weight magnitude to the target sparsity:

* with a dataset (`.npz` with `x_train`, `y_train`, optional `x_test`, `y_test`):
  tensorflow-model-optimization's `prune_low_magnitude` (depthwise kernels included: tfmot skips them by
  default) fine-tunes for `epochs` with a polynomial-decay schedule ending at the target, then the wrappers
  are stripped; label `method: magnitude-finetuned` (with the `tfmot` version);
* without: magnitude pruning of the *untrained* (seeded random) network, label `method: magnitude-untrained`.
  This is tfmot's pruning step 0 (ConstantSparsity, block 1x1) computed in numpy on the stock model, built
  once: per Conv2D/Dense kernel and depthwise kernel, keep |w| >= the k-th largest |w| (ties kept),
  k = max(round(n * (1 - sparsity)), 1) in float32, weights times the mask. Why: tfmot's route (wrap = a
  clone, eager step, strip = a clone, rebuild with stock layers) took ~4.4 CPU-s of a ~8.5 CPU-s job on
  mnasnet/cifar10 (importing TensorFlow + tf-keras ~3.1 s, tfmot 0.7 s); this one takes ~1.1 s and does not
  import tfmot: the job is ~4.3 CPU-s. The weights are byte-identical to tfmot's (tests/unit/
  test_sparsity_prune.py checks against real tfmot); the label names the `mask` rule, not a tfmot version.

The model is saved as `.h5` (full-model layout) with the label as the root attribute `fusionsim_pruning`
(JSON). Nothing is downloaded. Needs `tensorflow` and `tf-keras`, plus `tensorflow-model-optimization` for the
fine-tuned mode (`pip install fusionsim[sparsity]` or `envs/sparsity.yaml`).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fusionsim.errors import InputError
from fusionsim.sparsity.weights import PROVENANCE_ATTR, LayerSpec


@dataclass(frozen=True)
class PruneResult:
    """Where the model went, its label, and the achieved per-layer sparsity."""

    path: Path
    label: dict[str, Any]
    layer_sparsity: dict[str, float]


def check_sparsity(value: float, key: str = "sparsity") -> float:
    """A target sparsity must lie in [0, 1)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"sparsity must be a number, got {value!r}", key=key) from None
    if not 0.0 <= v < 1.0 or v != v:
        raise InputError(f"sparsity {v} is outside [0, 1)", key=key, fix="e.g. 0.8 for 80% zero weights")
    return v


def _import_keras() -> tuple[Any, Any]:
    """(tensorflow, tf_keras): Keras 2 (tf-keras, TF_USE_LEGACY_KERAS=1), the Keras tfmot works with."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
        import tf_keras as keras
    except ImportError as exc:
        raise InputError(
            f"pruning needs TensorFlow ({exc.name} is not installed)",
            fix="pip install 'fusionsim[sparsity]' or use the conda env envs/sparsity.yaml",
        ) from None
    return tf, keras


def _import_tf() -> tuple[Any, Any, Any]:
    """(tensorflow, tf_keras, tfmot) for the fine-tuned mode."""
    tf, keras = _import_keras()
    try:
        import tensorflow_model_optimization as tfmot
    except ImportError as exc:
        raise InputError(
            f"fine-tuned pruning needs tensorflow-model-optimization ({exc.name} is not installed)",
            fix="pip install 'fusionsim[sparsity]' or use the conda env envs/sparsity.yaml",
        ) from None
    return tf, keras, tfmot


def load_dataset(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Arrays from a user `.npz` (`x_train`, `y_train` required; `x_test`, `y_test` optional)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise InputError("dataset file not found", file=path) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"not a readable .npz file ({exc.__class__.__name__})", file=path) from None
    for key in ("x_train", "y_train"):
        if key not in arrays:
            raise InputError(
                f"dataset has no array '{key}'", file=path, key=key, fix="save x_train and y_train"
            )
    if len(arrays["x_train"]) != len(arrays["y_train"]):
        raise InputError("x_train and y_train have different lengths", file=path, key="y_train")
    return arrays


def _padding(spec: LayerSpec, size: int) -> tuple[int, int]:
    """Zero padding (before, after) giving the workload's output size (default: 'same'-like k//2 each side)."""
    if spec.out_size is None:
        return spec.kernel // 2, spec.kernel // 2
    total = (spec.out_size - 1) * spec.stride + spec.kernel - size
    if total < 0:  # stride skips trailing pixels; cropping is not needed for a valid conv
        total = 0
    return total // 2, total - total // 2


def _prunable_depthwise(keras: Any, tfmot: Any) -> type:
    class PrunableDepthwiseConv2D(keras.layers.DepthwiseConv2D, tfmot.sparsity.keras.PrunableLayer):
        """DepthwiseConv2D whose kernel tfmot may prune (its registry leaves depthwise kernels dense)."""

        def get_prunable_weights(self) -> list:
            return [self.depthwise_kernel]

    return PrunableDepthwiseConv2D


def build_keras_model(
    specs: Sequence[LayerSpec],
    input_info: dict[str, int],
    *,
    prunable_depthwise: type | None = None,
    adapt: bool = False,
) -> Any:
    """Keras functional model of the workload: weight layers named as in the workload, ReLU after every
    conv except a bottleneck's projection, residual adds where `residual` is set, logits at the end.

    `adapt`: where a layer's input channels or size differ from the previous layer's output (the seed's
    ShuffleNet conventions), insert a 1x1 conv `adapt__<layer>` and a resize; they are not workload layers."""
    _, keras = _import_keras()
    L = keras.layers
    size, chans = int(input_info["size"]), int(input_info["channels"])
    inp = keras.Input((size, size, chans), name="input")
    x, block_in = inp, {}
    for s in specs:
        if s.kind != "fc" and s.in_channels != chans and not adapt:
            raise InputError(
                f"layer '{s.name}' takes {s.in_channels} channels but the previous layer gives {chans}",
                key=s.name,
                fix="a model can be built only from a workload whose layers chain",
            )
        if adapt and s.kind != "fc":  # seed-convention workloads whose shapes do not chain
            x, size, chans = _adapter(L, x, s, size, chans)
        if s.block and s.block not in block_in:
            block_in[s.block] = x
        if s.kind == "fc":
            if len(x.shape) == 4:
                flat = s.in_channels != chans
                x = (L.Flatten if flat else L.GlobalAveragePooling2D)(name=f"{s.name}_flatten")(x)
            if x.shape[-1] != s.in_channels:
                raise InputError(
                    f"dense layer '{s.name}' takes {s.in_channels} inputs but gets {x.shape[-1]}", key=s.name
                )
            x = L.Dense(s.out_channels, name=s.name)(x)
            chans, size = s.out_channels, 1
            continue
        pad = _padding(s, size)
        if pad != (0, 0):
            x = L.ZeroPadding2D((pad, pad), name=f"{s.name}_pad")(x)
        if s.kind == "pool":
            x = L.AveragePooling2D(s.kernel, s.stride, name=s.name)(x)
        elif s.kind == "depthwise":
            cls = prunable_depthwise or L.DepthwiseConv2D
            mult = s.out_channels // s.in_channels
            x = cls(s.kernel, s.stride, depth_multiplier=mult, name=s.name)(x)
        else:
            x = L.Conv2D(s.out_channels, s.kernel, s.stride, groups=s.groups, name=s.name)(x)
        if s.kind != "pool":
            x = L.BatchNormalization(name=f"{s.name}_bn")(x)
            projection = s.block is not None and s.name.endswith("_comp")
            if s.residual and s.block in block_in and tuple(block_in[s.block].shape) == tuple(x.shape):
                x = L.Add(name=f"{s.name}_add")([x, block_in[s.block]])
            elif not projection:
                x = L.ReLU(name=f"{s.name}_relu")(x)
        size, chans = int(x.shape[1]), int(x.shape[-1])
        if s.out_size is not None and size != s.out_size:
            raise InputError(f"layer '{s.name}' gives {size}x{size}, workload says {s.out_size}", key=s.name)
    return keras.Model(inp, x, name="fusionsim_workload")


def _adapter(L: Any, x: Any, s: LayerSpec, size: int, chans: int) -> tuple[Any, int, int]:
    """Make `x` fit layer `s`'s input channels and size (only where they differ)."""
    want = s.in_size or size
    if want != size:
        if want > size:
            x = L.UpSampling2D(want // size, name=f"adapt__{s.name}_up")(x)
        else:
            x = L.AveragePooling2D(size // want, name=f"adapt__{s.name}_down")(x)
        size = want
    if s.in_channels != chans:
        x = L.Conv2D(s.in_channels, 1, name=f"adapt__{s.name}")(x)
        chans = s.in_channels
    return x, size, chans


def _plain_copy(model: Any, specs: Sequence[LayerSpec], info: dict[str, int]) -> Any:
    """Same network with stock Keras layers (no custom depthwise class), weights copied."""
    plain = build_keras_model(specs, info, adapt=any(x.name.startswith("adapt__") for x in model.layers))
    for layer in plain.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return plain


def magnitude_keep(weights: np.ndarray, sparsity: float) -> np.ndarray:
    """tfmot's step-0 mask at `sparsity` (ConstantSparsity, block 1x1): keep |w| >= the k-th largest |w|, all
    ties kept, with k = max(round-half-even(n * (1 - sparsity)) in float32, 1) as `Pruning._update_mask`."""
    mags = np.abs(weights)
    n = mags.size
    k = int(max(np.rint(np.float32(n) * (np.float32(1.0) - np.float32(sparsity))), 1))
    threshold = np.partition(mags.reshape(-1), n - k)[n - k]
    return mags >= threshold


def _prune_untrained(keras: Any, model: Any, sparsity: float) -> None:
    """Mask every prunable kernel of `model` in place as tfmot's pruning step 0 does (`w * mask`, so a pruned
    negative weight becomes -0.0 as there). Pruned as by tfmot's registry plus `_prunable_depthwise`: Conv2D
    and Dense kernels, depthwise kernels; biases and BatchNormalization are not; other weighted layers are
    refused."""
    L = keras.layers
    rule = {
        L.Conv2D: "kernel",
        L.Dense: "kernel",
        L.DepthwiseConv2D: "depthwise_kernel",
        L.BatchNormalization: None,
    }
    for layer in model.layers:
        attr = rule.get(type(layer))
        if attr is None:
            if layer.weights and type(layer) not in rule:
                raise TypeError(f"no magnitude-pruning rule for layer {layer.name} ({type(layer).__name__})")
            continue
        var = getattr(layer, attr)
        w = var.numpy()
        if not np.isfinite(w).all():  # tfmot's top_k would order NaNs its own way
            raise ValueError(f"layer {layer.name}: non-finite weights cannot be magnitude-pruned")
        var.assign(w * magnitude_keep(w, sparsity).astype(w.dtype))


def prune_workload(
    specs: Sequence[LayerSpec],
    input_info: dict[str, int],
    out: str | os.PathLike,
    *,
    sparsity: float = 0.8,
    dataset: str | os.PathLike | None = None,
    epochs: int = 2,
    batch_size: int = 64,
    seed: int = 0,
) -> PruneResult:
    """Build, prune to `sparsity` (magnitude), strip and save `.h5`; see the module docstring for modes."""
    sparsity = check_sparsity(sparsity)
    data = load_dataset(dataset) if dataset is not None else None
    if data is None:  # stock layers, built once: the network the tfmot route would save, its masks in numpy
        tf, keras = _import_keras()
        keras.utils.set_random_seed(seed)
        model = build_keras_model(specs, input_info, adapt=True)
        _prune_untrained(keras, model, sparsity)
        label: dict[str, Any] = {"method": "magnitude-untrained", "dataset": None, "epochs": 0}
        tools = {"mask": "tfmot step 0: keep |w| >= k-th largest |w|, k = max(round(n*(1-sparsity)), 1)"}
    else:
        tf, keras, tfmot = _import_tf()
        keras.utils.set_random_seed(seed)
        sk = tfmot.sparsity.keras
        model = build_keras_model(
            specs, input_info, prunable_depthwise=_prunable_depthwise(keras, tfmot), adapt=True
        )
        x, y = data["x_train"].astype(np.float32), data["y_train"].astype(np.int64).reshape(-1)
        steps = max(1, int(np.ceil(len(x) / batch_size))) * max(epochs, 1)
        schedule = sk.PolynomialDecay(0.0, sparsity, begin_step=0, end_step=max(steps - 1, 1), frequency=1)
        pruned = sk.prune_low_magnitude(model, pruning_schedule=schedule)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        pruned.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, metrics=["accuracy"])
        pruned.fit(
            x, y, epochs=max(epochs, 1), batch_size=batch_size, callbacks=[sk.UpdatePruningStep()], verbose=0
        )
        label = {"method": "magnitude-finetuned", "dataset": str(dataset), "epochs": int(max(epochs, 1))}
        if "x_test" in data and "y_test" in data:
            _, acc = pruned.evaluate(data["x_test"].astype(np.float32), data["y_test"].reshape(-1), verbose=0)
            label["test_accuracy"] = float(acc)
        model = _plain_copy(sk.strip_pruning(pruned), specs, input_info)
        tools = {"tfmot": tfmot.__version__}
    layer_sparsity = {
        s.name: float(np.mean(model.get_layer(s.name).get_weights()[0] == 0)) for s in specs if s.has_weights
    }
    label.update(
        target_sparsity=sparsity,
        seed=seed,
        tensorflow=tf.__version__,
        **tools,
        note="untrained network: zero pattern follows the random initial weights" if data is None else "",
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.h5")
    try:
        with warnings.catch_warnings():  # the .h5 format is what the seed and our reader use
            warnings.simplefilter("ignore", UserWarning)
            model.save(tmp, save_format="h5", include_optimizer=False)
        import h5py

        with h5py.File(tmp, "a") as fh:
            fh.attrs[PROVENANCE_ATTR] = json.dumps(label)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return PruneResult(out, label, layer_sparsity)
