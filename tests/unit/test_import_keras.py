"""`fusionsim import` of Keras models saved by Keras itself (keras.applications with weights=None, at a
reduced input size): per-layer MACs and weights equal Keras' own (count_params, output shapes). All six
reference networks at full size: benchmarks/bench_import.py."""

from __future__ import annotations

from pathlib import Path

import pytest

keras = pytest.importorskip("keras", reason="needs Keras (TensorFlow) to build the reference models")

from fusionsim.cli import main  # noqa: E402
from fusionsim.workloads import load_network, network_graph  # noqa: E402
from fusionsim.workloads.builder import layer_counts  # noqa: E402
from fusionsim.workloads.reference import keras_layer_counts  # noqa: E402


def imported(model_file: Path, *extra: str):
    out = model_file.with_suffix(model_file.suffix + ".yaml")
    assert main(["import", str(model_file), "--dataset", "imagenet", "-o", str(out), *extra]) == 0
    graph = network_graph(load_network(out), "imagenet")
    return {k: v for k, v in layer_counts(graph).items() if graph.layer(k).kind != "pool"}, graph


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_mobilenetv2_counts_equal_keras(tmp_path: Path, suffix: str) -> None:
    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None)
    model.save(tmp_path / f"m{suffix}")
    got, graph = imported(tmp_path / f"m{suffix}")
    assert got == keras_layer_counts(model)
    assert sum(n.kind == "add" for n in graph.nodes.values()) == 10
    assert graph.layers[-1].kind == "fc" and graph.layers[-1].out_channels == 1000


def test_inceptionv3_concats_and_non_square_kernels(tmp_path: Path) -> None:
    model = keras.applications.InceptionV3(input_shape=(75, 75, 3), weights=None)
    model.save(tmp_path / "inc.keras")
    got, graph = imported(tmp_path / "inc.keras")
    assert got == keras_layer_counts(model)
    assert sum(n.kind == "concat" for n in graph.nodes.values()) == 15
    assert any(x.kernel_h == 7 and x.kernel == 1 for x in graph.layers)  # the 7x1 factorised convs


def small(shape: tuple) -> keras.Model:
    """Separable conv, asymmetric cropping, a dilated non-square conv, global pool, dense."""
    inp = keras.Input(shape)
    x = keras.layers.SeparableConv2D(8, 3, strides=2, padding="same", name="sep")(inp)
    x = keras.layers.Cropping2D(((1, 0), (0, 2)))(x)
    x = keras.layers.Conv2D(4, (1, 3), dilation_rate=2, name="dil")(x)
    return keras.Model(inp, keras.layers.Dense(5, name="fc")(keras.layers.GlobalAveragePooling2D()(x)))


def test_dynamic_input_needs_input_size(tmp_path: Path, capsys) -> None:
    small((None, None, 3)).save(tmp_path / "dyn.keras")
    out = tmp_path / "dyn.keras.yaml"
    assert main(["import", str(tmp_path / "dyn.keras"), "--dataset", "imagenet", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dynamic size" in err and "--input-size" in err and not out.exists()
    got, graph = imported(tmp_path / "dyn.keras", "--input-size", "20x30")
    assert got == keras_layer_counts(small((20, 30, 3)))
    assert set(got) == {"sep_dw", "sep_pw", "dil", "fc"}
    assert (graph.layer("dil").in_h, graph.layer("dil").in_size) == (9, 13)  # 10x15 cropped by (1, 2)
