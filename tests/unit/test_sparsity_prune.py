"""Pruning on tiny workloads (skipped without TensorFlow): the untrained mode's numpy masks against real
tensorflow-model-optimization (prune_low_magnitude, pruning step 0), the fine-tuned mode through tfmot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusionsim.errors import InputError
from fusionsim.sparsity.prune import check_sparsity, load_dataset

WORKLOAD = """
input: {size: 8, channels: 3, classes: 3}
layers:
  - {name: conv1, type: conv, in_channels: 3, out_channels: 8, kernel: 3, stride: 1}
  - {name: pw1, type: pointwise, in_channels: 8, out_channels: 16, groups: 2}
  - {name: dw1, type: depthwise, in_channels: 16, out_channels: 16, kernel: 3, stride: 2}
  - {name: pool1, type: pool, in_channels: 16, kernel: 4, stride: 4}
  - {name: fc, type: dense, in_channels: 16, out_channels: 3}
"""

TIES_WORKLOAD = """
input: {size: 9, channels: 3, classes: 5}
layers:
  - {name: conv1, type: conv, in_channels: 3, out_channels: 8, kernel: 3, stride: 2}
  - {name: pw1, type: pointwise, in_channels: 8, out_channels: 12, groups: 4}
  - {name: dw1, type: depthwise, in_channels: 12, out_channels: 24, kernel: 3, stride: 1}
  - {name: pw2, type: pointwise, in_channels: 10, out_channels: 6}
  - {name: fc, type: dense, in_channels: 6, out_channels: 5}
"""


def test_check_sparsity_range() -> None:
    assert check_sparsity(0.0) == 0.0 and check_sparsity(0.8) == 0.8
    for bad in (1.0, -0.01, float("nan"), "x"):
        with pytest.raises(InputError):
            check_sparsity(bad)


def test_dataset_needs_arrays(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x_train=np.zeros((2, 8, 8, 3)))
    with pytest.raises(InputError, match="y_train"):
        load_dataset(tmp_path / "d.npz")


@pytest.mark.slow
def test_prune_untrained_and_finetuned(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    pytest.importorskip("tensorflow_model_optimization")
    pytest.importorskip("tf_keras")
    from fusionsim.sparsity.prune import prune_workload
    from fusionsim.sparsity.weights import load_layer_specs, read_pruned_model

    (tmp_path / "w.yaml").write_text(WORKLOAD)
    specs, info = load_layer_specs(tmp_path / "w.yaml")
    res = prune_workload(specs, info, tmp_path / "untrained.h5", sparsity=0.75)
    assert res.label["method"] == "magnitude-untrained" and res.label["dataset"] is None
    layers, raw = read_pruned_model(tmp_path / "untrained.h5", tmp_path / "w.yaml")
    assert raw.layout == "full-model" and raw.provenance["method"] == "magnitude-untrained"
    for lw in layers:  # tfmot prunes each layer to the target (rounded to whole weights)
        assert lw.sparsity == pytest.approx(0.75, abs=1.0 / lw.total + 1e-9), lw.spec.name
        assert lw.sparsity == pytest.approx(res.layer_sparsity[lw.spec.name])

    rng = np.random.default_rng(0)
    x = rng.random((32, 8, 8, 3)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    np.savez(tmp_path / "data.npz", x_train=x, y_train=y, x_test=x[:8], y_test=y[:8])
    tuned = prune_workload(
        specs, info, tmp_path / "tuned.h5", sparsity=0.5, dataset=tmp_path / "data.npz", epochs=1
    )
    assert tuned.label["method"] == "magnitude-finetuned" and 0.0 <= tuned.label["test_accuracy"] <= 1.0
    layers, _ = read_pruned_model(tmp_path / "tuned.h5", tmp_path / "w.yaml")
    assert all(lw.sparsity == pytest.approx(0.5, abs=1.0 / lw.total + 1e-9) for lw in layers)


def _mask_step_zero(tf, pruned) -> None:
    """tfmot's pruning step 0 on every wrapped layer, run eagerly (the mask update and weight masking of one
    `fit` batch with UpdatePruningStep): the route prune_workload's untrained mode took before numpy masks."""
    for layer in pruned.submodules:
        if hasattr(layer, "pruning_obj") and hasattr(layer, "pruning_step"):  # tfmot's PruneLowMagnitude
            layer.pruning_step.assign(0)
            with tf.control_dependencies([layer.pruning_obj.conditional_mask_update()]):
                layer.pruning_obj.weight_mask_op()


def _tfmot():
    for mod in ("tensorflow", "tensorflow_model_optimization", "tf_keras"):
        pytest.importorskip(mod)
    from fusionsim.sparsity import prune as P

    return (P, *P._import_tf())


def _tfmot_step_zero(P, tf, keras, tfmot, model, sparsity: float):
    """`model` (built with P._prunable_depthwise) pruned by tfmot itself at step 0, wrappers stripped."""
    sk = tfmot.sparsity.keras
    pruned = sk.prune_low_magnitude(
        model, pruning_schedule=sk.ConstantSparsity(sparsity, begin_step=0, frequency=1)
    )
    _mask_step_zero(tf, pruned)
    return sk.strip_pruning(pruned)


def _tfmot_untrained_h5(specs, info, out: Path, sparsity: float, seed: int) -> None:
    """The untrained mode as it was: seeded build with the prunable depthwise class, tfmot step 0, strip, the
    plain copy, saved .h5."""
    P, tf, keras, tfmot = _tfmot()
    keras.utils.set_random_seed(seed)
    model = P.build_keras_model(
        specs, info, prunable_depthwise=P._prunable_depthwise(keras, tfmot), adapt=True
    )
    stripped = _tfmot_step_zero(P, tf, keras, tfmot, model, sparsity)
    P._plain_copy(stripped, specs, info).save(out, save_format="h5", include_optimizer=False)


def _h5_contents(path: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    import h5py

    data: dict[str, bytes] = {}
    with h5py.File(path) as fh:
        fh.visititems(
            lambda n, o: data.__setitem__(n, o[()].tobytes()) if isinstance(o, h5py.Dataset) else None
        )
        attrs = {k: str(fh.attrs[k]) for k in fh.attrs}
    return data, attrs


@pytest.mark.slow
def test_untrained_mask_step_equals_one_training_batch(tmp_path: Path) -> None:
    """The eager pruning step gives the kernels that tfmot's own route (one `fit` batch with UpdatePruningStep
    at learning rate 0) gives, weight for weight, depthwise included."""
    P, tf, keras, tfmot = _tfmot()
    from fusionsim.sparsity.weights import load_layer_specs

    (tmp_path / "w.yaml").write_text(WORKLOAD)
    specs, info = load_layer_specs(tmp_path / "w.yaml")
    sk = tfmot.sparsity.keras

    def wrapped():  # the same seeded network, wrapped at 75 %
        keras.utils.set_random_seed(3)
        model = P.build_keras_model(
            specs, info, prunable_depthwise=P._prunable_depthwise(keras, tfmot), adapt=True
        )
        return sk.prune_low_magnitude(
            model, pruning_schedule=sk.ConstantSparsity(0.75, begin_step=0, frequency=1)
        )

    def kernels(pruned):
        stripped = sk.strip_pruning(pruned)
        return {s.name: stripped.get_layer(s.name).get_weights()[0] for s in specs if s.has_weights}

    by_fit = wrapped()
    by_fit.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    by_fit.fit(
        np.zeros((1, 8, 8, 3), np.float32),
        np.zeros((1,), np.int64),
        epochs=1,
        batch_size=1,
        callbacks=[sk.UpdatePruningStep()],
        verbose=0,
    )
    eager = wrapped()
    _mask_step_zero(tf, eager)
    want, got = kernels(by_fit), kernels(eager)
    assert set(want) == {"conv1", "pw1", "dw1", "fc"}
    for name in want:
        assert np.array_equal(want[name], got[name]), name
        assert 0.7 < np.mean(got[name] == 0) <= 0.8, name


def test_magnitude_keep_equals_tfmot_update_mask() -> None:
    """The numpy mask is tfmot's `Pruning._update_mask` at ConstantSparsity step 0: same k (float32, rounded
    half to even, at least 1), every tie at the threshold kept, on sizes and sparsities where these bite."""
    P, tf, keras, tfmot = _tfmot()
    from tensorflow_model_optimization.python.core.sparsity.keras.pruning_impl import Pruning

    rng = np.random.default_rng(7)
    for sparsity in (0.0, 0.05, 0.25, 0.3, 0.5, 0.7, 0.75, 0.8, 0.9, 0.95, 0.999):
        tfmot_mask = Pruning(
            lambda: tf.constant(0, tf.int64),
            [],
            tfmot.sparsity.keras.ConstantSparsity(sparsity, 0, frequency=1),
            (1, 1),
            "AVG",
        )._update_mask
        for n in (1, 2, 3, 6, 10, 27, 45, 100, 1001, 4096):  # 45 at 0.3: 31.5 in float32, 31.499.. in float64
            for w in (
                rng.standard_normal(n).astype(np.float32),
                (rng.integers(-3, 4, n) * 0.5).astype(np.float32),  # many ties, zeros, +-x pairs
                np.full(n, -0.25, np.float32),
            ):
                want = tfmot_mask(tf.constant(w))[1].numpy().astype(bool)
                assert np.array_equal(P.magnitude_keep(w, sparsity), want), (sparsity, n, w)


@pytest.mark.slow
def test_untrained_masks_equal_tfmot_byte_for_byte(tmp_path: Path) -> None:
    """Hand-set weights full of ties (and -0.0) in conv, grouped conv, depthwise (multiplier 2), an adapter
    conv and dense layers: the numpy step-0 masking leaves every weight byte-identical to tfmot's step 0."""
    P, tf, keras, tfmot = _tfmot()
    from fusionsim.sparsity.weights import load_layer_specs

    (tmp_path / "w.yaml").write_text(TIES_WORKLOAD)
    specs, info = load_layer_specs(tmp_path / "w.yaml")
    rng = np.random.default_rng(1)
    fast = P.build_keras_model(specs, info, adapt=True)
    kinds = {type(x).__name__ for x in fast.layers}
    assert {"Conv2D", "DepthwiseConv2D", "Dense", "BatchNormalization"} <= kinds
    assert any(x.name.startswith("adapt__") for x in fast.layers)
    values = {}
    for layer in fast.layers:
        ws = []
        for w in layer.get_weights():
            v = (rng.integers(-4, 5, w.shape) * 0.25).astype(np.float32)
            v[(v == 0) & (rng.random(w.shape) < 0.5)] = -0.0
            ws.append(v)
        values[layer.name] = ws
    tie_kept = False
    for sparsity in (0.0, 0.3, 0.75, 0.9):
        ref = P.build_keras_model(
            specs, info, prunable_depthwise=P._prunable_depthwise(keras, tfmot), adapt=True
        )
        for model in (fast, ref):
            for layer in model.layers:
                layer.set_weights(values[layer.name])
        want = _tfmot_step_zero(P, tf, keras, tfmot, ref, sparsity)
        P._prune_untrained(keras, fast, sparsity)
        for layer in fast.layers:
            got_w, want_w = layer.get_weights(), want.get_layer(layer.name).get_weights()
            assert [g.tobytes() for g in got_w] == [w.tobytes() for w in want_w], (sparsity, layer.name)
        kernel = fast.get_layer("dw1").get_weights()[0]
        k = max(round(kernel.size * (1 - sparsity)), 1)
        assert np.count_nonzero(kernel) < np.count_nonzero(values["dw1"][0]) or sparsity < 0.5
        tie_kept |= np.count_nonzero(kernel) > k  # magnitudes tied at the threshold are all kept
    assert tie_kept


@pytest.mark.slow
def test_untrained_h5_equals_the_tfmot_route(tmp_path: Path) -> None:
    """prune_workload's untrained .h5 holds the same bytes (every weight, the model config) as the seeded
    tfmot route it replaced; only the label differs (the mask rule instead of the tfmot version)."""
    pytest.importorskip("tensorflow")
    from fusionsim.sparsity.prune import prune_workload
    from fusionsim.sparsity.weights import PROVENANCE_ATTR, load_layer_specs

    (tmp_path / "w.yaml").write_text(TIES_WORKLOAD)
    specs, info = load_layer_specs(tmp_path / "w.yaml")
    res = prune_workload(specs, info, tmp_path / "fast.h5", sparsity=0.8, seed=5)
    _tfmot_untrained_h5(specs, info, tmp_path / "tfmot.h5", sparsity=0.8, seed=5)
    (got, got_attrs), (want, want_attrs) = (
        _h5_contents(tmp_path / "fast.h5"),
        _h5_contents(tmp_path / "tfmot.h5"),
    )
    assert got == want and len(got) > 20
    assert got_attrs.pop(PROVENANCE_ATTR) and got_attrs == want_attrs
    assert "tfmot" not in res.label and res.label["method"] == "magnitude-untrained"
