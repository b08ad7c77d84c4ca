"""Pruning with tensorflow-model-optimization on a tiny workload (skipped without TensorFlow)."""

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


@pytest.mark.slow
def test_untrained_mask_step_equals_one_training_batch(tmp_path: Path) -> None:
    """The eager pruning step gives the kernels that tfmot's own route (one `fit` batch with UpdatePruningStep at
    learning rate 0) gives, weight for weight, depthwise included."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("tensorflow_model_optimization")
    pytest.importorskip("tf_keras")
    from fusionsim.sparsity import prune as P
    from fusionsim.sparsity.weights import load_layer_specs

    (tmp_path / "w.yaml").write_text(WORKLOAD)
    specs, info = load_layer_specs(tmp_path / "w.yaml")
    tf, keras, tfmot = P._import_tf()
    sk = tfmot.sparsity.keras

    def wrapped():  # the same seeded network, wrapped at 75 %
        keras.utils.set_random_seed(3)
        model = P.build_keras_model(specs, info, prunable_depthwise=P._prunable_depthwise(keras, tfmot), adapt=True)
        return sk.prune_low_magnitude(model, pruning_schedule=sk.ConstantSparsity(0.75, begin_step=0, frequency=1))

    def kernels(pruned):
        stripped = sk.strip_pruning(pruned)
        return {s.name: stripped.get_layer(s.name).get_weights()[0] for s in specs if s.has_weights}

    by_fit = wrapped()
    by_fit.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    by_fit.fit(np.zeros((1, 8, 8, 3), np.float32), np.zeros((1,), np.int64), epochs=1, batch_size=1,
               callbacks=[sk.UpdatePruningStep()], verbose=0)
    eager = wrapped()
    P._mask_step_zero(tf, eager)
    want, got = kernels(by_fit), kernels(eager)
    assert set(want) == {"conv1", "pw1", "dw1", "fc"}
    for name in want:
        assert np.array_equal(want[name], got[name]), name
        assert 0.7 < np.mean(got[name] == 0) <= 0.8, name
