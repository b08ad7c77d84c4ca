"""fusionsim.workloads.keras: Keras .h5 model configs (built here with h5py) to workload definitions."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest
import yaml

from fusionsim.errors import InputError
from fusionsim.workloads import expand_network, load_network
from fusionsim.workloads.keras import keras_to_workload, main


def k2(cls: str, name: str, inbound: list[str] | None, **cfg) -> dict:
    """One layer in the Keras 2 functional JSON form."""
    nodes = [[[n, 0, 0, {}] for n in inbound]] if inbound else []
    return {"class_name": cls, "config": {"name": name, **cfg}, "inbound_nodes": nodes}


def k3(cls: str, name: str, inbound: list[str] | None, **cfg) -> dict:
    """One layer in the Keras 3 functional JSON form."""
    args = [{"class_name": "__keras_tensor__", "config": {"keras_history": [n, 0, 0]}} for n in inbound or []]
    return {
        "class_name": cls,
        "config": {"name": name, **cfg},
        "inbound_nodes": [{"args": args, "kwargs": {}}],
    }


def residual_model(make) -> dict:
    """32x32x3 -> conv 3x3 16 -> BN -> ReLU -> [dw 3x3, pw 16] + shortcut -> Add -> dw s2 -> pw 24
    -> pad 1 + conv 3x3 valid -> GAP -> Dense 10 -> Softmax, with a 1x1 side branch off the stem."""
    layers = [
        {
            "class_name": "InputLayer",
            "config": {"name": "img", "batch_input_shape": [None, 32, 32, 3]},
            "inbound_nodes": [],
        },
        make("Conv2D", "stem", ["img"], filters=16, kernel_size=[3, 3], strides=[1, 1], padding="same"),
        make("BatchNormalization", "bn", ["stem"]),
        make("ReLU", "relu", ["bn"]),
        make("DepthwiseConv2D", "dw1", ["relu"], kernel_size=[3, 3], strides=[1, 1], padding="same"),
        make("Conv2D", "pw1", ["dw1"], filters=16, kernel_size=[1, 1], strides=[1, 1], padding="same"),
        make("Conv2D", "side", ["relu"], filters=16, kernel_size=[1, 1], strides=[1, 1], padding="valid"),
        make("Add", "add", ["pw1", "side"]),
        make("DepthwiseConv2D", "dw2", ["add"], kernel_size=3, strides=2, padding="same"),
        make("Conv2D", "pw2", ["dw2"], filters=24, kernel_size=1, strides=1, padding="valid"),
        make("ZeroPadding2D", "pad", ["pw2"], padding=[[1, 1], [1, 1]]),
        make("Conv2D", "conv3", ["pad"], filters=24, kernel_size=3, strides=1, padding="valid"),
        make("GlobalAveragePooling2D", "gap", ["conv3"]),
        make("Dense", "fc", ["gap"], units=10),
        make("Softmax", "softmax", ["fc"]),
    ]
    return {"class_name": "Functional", "config": {"name": "tiny", "layers": layers}}


def save(path: Path, config: dict | None) -> Path:
    with h5py.File(path, "w") as fh:
        if config is not None:
            fh.attrs["model_config"] = json.dumps(config)
        fh.create_group("model_weights")
    return path


@pytest.mark.parametrize("make", [k2, k3], ids=["keras2", "keras3"])
def test_functional_model_becomes_a_valid_workload(tmp_path: Path, make) -> None:
    h5 = save(tmp_path / "m.h5", residual_model(make))
    workload = keras_to_workload(h5, "tiny", "cifar10", classes=10)
    names = [e["name"] for e in workload["layers"]]
    assert names == ["stem", "dw1", "pw1", "side", "add", "dw2", "pw2", "conv3", "gap", "fc"]
    side, add = workload["layers"][3:5]
    # the side branch reads the stem (through BN/ReLU); the Add joins it with pw1, and dw2 reads the sum
    assert side["inputs"] == ["stem"] and add == {"name": "add", "type": "add", "inputs": ["pw1", "side"]}
    assert "inputs" not in workload["layers"][5]
    out = tmp_path / "tiny.yaml"
    out.write_text(yaml.safe_dump(workload))
    layers = {x.name: x for x in expand_network(load_network(out), "cifar10")}
    assert (layers["side"].kind, layers["side"].in_channels, layers["side"].out_size) == ("pointwise", 16, 32)
    assert (layers["dw2"].out_size, layers["pw2"].out_channels) == (16, 24)
    assert (layers["conv3"].in_size, layers["conv3"].out_size) == (16, 16)  # zero padding folded in
    assert (layers["gap"].kernel, layers["gap"].out_size) == (16, 1)
    assert (layers["fc"].in_channels, layers["fc"].out_channels) == (24, 10)
    assert workload["layers"][-1]["out_channels"] == "classes"


def test_cli_writes_and_checks(tmp_path: Path) -> None:
    h5 = save(tmp_path / "m.h5", residual_model(k2))
    out = tmp_path / "w.yaml"
    assert main([str(h5), "--name", "tiny", "--dataset", "cifar100", "--classes", "10", "-o", str(out)]) == 0
    assert load_network(out).inputs["cifar100"]["size"] == 32


def test_weights_only_and_corrupt_files_are_clear_errors(tmp_path: Path, capsys) -> None:
    with pytest.raises(InputError) as exc:
        keras_to_workload(save(tmp_path / "w.h5", None), "x")
    assert exc.value.key == "model_config" and "weights-only" in exc.value.line()
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(InputError, match="not a readable HDF5"):
        keras_to_workload(bad, "x")
    assert main([str(bad), "--name", "x", "-o", str(tmp_path / "o.yaml")]) == 2
    assert "bad.h5" in capsys.readouterr().err and not (tmp_path / "o.yaml").exists()


def test_unsupported_layer_names_it(tmp_path: Path) -> None:
    cfg = residual_model(k2)
    cfg["config"]["layers"].insert(2, k2("Conv3D", "vol", ["stem"], filters=4))
    with pytest.raises(InputError) as exc:
        keras_to_workload(save(tmp_path / "m.h5", cfg), "x")
    assert exc.value.key == "model_config.layers.vol"


def test_input_key_branches_and_errors(tmp_path: Path) -> None:
    doc = {
        "name": "br",
        "inputs": {"cifar10": {"size": 8, "channels": 3, "classes": 10}},
        "layers": [
            {"name": "a", "type": "conv", "in_channels": 3, "out_channels": 8},
            {"name": "b", "type": "conv", "in_channels": 8, "out_channels": 16, "stride": 2},
            {"name": "s", "type": "pointwise", "input": "a", "in_channels": 8, "out_channels": 4},
            {"name": "t", "type": "conv", "input": "network_input", "in_channels": 3, "out_channels": 4},
            {"name": "fc", "type": "fc", "input": "b", "in_channels": 16 * 4 * 4, "out_channels": "classes"},
        ],
    }
    p = tmp_path / "br.yaml"
    p.write_text(yaml.safe_dump(doc))
    layers = {x.name: x for x in expand_network(load_network(p), "cifar10")}
    assert layers["s"].in_size == 8 and layers["t"].in_channels == 3 and layers["fc"].in_channels == 256
    doc["layers"][2]["input"] = "zz"
    p.write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError) as exc:
        load_network(p)
    assert exc.value.key == "layers[2].input"
