"""fusionsim.workloads: loading, validation errors, bottleneck expansion, problem conversion."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fusionsim.errors import InputError
from fusionsim.workloads import expand_network, layer_problem, load_network, problem_instance

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ROOT / "workloads"


def write(tmp_path: Path, doc: dict) -> Path:
    p = tmp_path / "net.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def tiny(**over) -> dict:
    doc = {
        "name": "tiny",
        "inputs": {"cifar10": {"size": 8, "channels": 3, "classes": 10}},
        "layers": [
            {"name": "conv1", "type": "conv", "in_channels": 3, "out_channels": 8, "kernel": 3},
            {
                "type": "bottleneck",
                "in_channels": 8,
                "expansion": 2,
                "out_channels": 8,
                "stride": 1,
                "residual": True,
            },
            {"type": "bottleneck", "in_channels": 8, "mid_channels": 24, "out_channels": 12, "stride": 2},
            {"name": "pool", "type": "pool", "in_channels": 12, "kernel": 4, "stride": 4},
            {"name": "fc", "type": "fc", "in_channels": 12, "out_channels": "classes"},
        ],
    }
    doc.update(over)
    return doc


@pytest.mark.parametrize("path", sorted(WORKLOADS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_workloads_load_and_end_at_1x1(path: Path) -> None:
    net = load_network(path)
    for ds in net.datasets:
        layers = expand_network(net, ds)
        assert layers[-1].kind == "fc" and layers[-1].out_channels == net.inputs[ds]["classes"]
        assert len({x.name for x in layers}) == len(layers)


def test_required_networks_and_datasets_present() -> None:
    for name in ("mobilenetv2", "mnasnet", "shufflenet", "fusionet"):
        assert set(load_network(WORKLOADS / f"{name}.yaml").datasets) == {"cifar10", "cifar100"}
    for name in ("alexnet", "vgg16"):
        assert load_network(WORKLOADS / f"{name}.yaml").inputs["imagenet"]["size"] == 224


def test_bottleneck_expands_to_seed_names_and_shapes(tmp_path: Path) -> None:
    layers = expand_network(load_network(write(tmp_path, tiny())), "cifar10")
    names = [x.name for x in layers]
    assert names == [
        "conv1",
        "b1_decom",
        "b1_conv",
        "b1_comp",
        "b2_decom",
        "b2_conv",
        "b2_comp",
        "pool",
        "fc",
    ]
    b2 = {x.role: x for x in layers if x.block == "b2"}
    assert (b2["decom"].in_channels, b2["decom"].out_channels, b2["decom"].out_size) == (8, 24, 8)
    assert (b2["conv"].stride, b2["conv"].in_size, b2["conv"].out_size, b2["conv"].channels) == (2, 8, 4, 24)
    assert (b2["comp"].in_channels, b2["comp"].out_channels, b2["comp"].out_size) == (24, 12, 4)
    assert layers[3].residual and not b2["comp"].residual


def test_depthwise_is_c1_and_groups_divide(tmp_path: Path) -> None:
    doc = tiny()
    doc["layers"][1]["groups"] = 2
    layers = expand_network(load_network(write(tmp_path, doc)), "cifar10")
    dw = problem_instance(layers[2])
    assert (dw["C"], dw["M"], dw["R"], dw["P"]) == (1, 16, 3, 8)
    pw = problem_instance(layers[1])
    assert (pw["C"], pw["M"]) == (4, 8) and layers[1].groups == 2
    fc = problem_instance(layers[-1])
    assert (fc["C"], fc["M"], fc["P"], fc["R"]) == (12, 10, 1, 1)


def test_problem_dict_is_timeloop_cnn_layer(tmp_path: Path) -> None:
    layers = expand_network(load_network(write(tmp_path, tiny())), "cifar10")
    prob = layer_problem(layers[0])["problem"]
    assert prob["shape"]["name"] == "CNN-Layer"
    assert [d["name"] for d in prob["shape"]["data-spaces"]] == ["Weights", "Inputs", "Outputs"]
    assert prob["instance"] == {
        "C": 3,
        "M": 8,
        "R": 3,
        "S": 3,
        "N": 1,
        "P": 8,
        "Q": 8,
        "Wstride": 1,
        "Hstride": 1,
        "Wdilation": 1,
        "Hdilation": 1,
    }


def test_shufflenet_reproduces_seed_baseline_problems(timeloop_ref: Path) -> None:
    base = timeloop_ref / "fusion-timeloop-model/fusionet/cifar10/bottlenecks/baseline"
    layers = {x.name: x for x in expand_network(load_network(WORKLOADS / "shufflenet.yaml"), "cifar10")}
    checked = 0
    for prob in sorted(base.glob("b*/*/prob/prob.yaml")):
        block, role = prob.parts[-4], prob.parts[-3]
        want = yaml.safe_load(prob.read_text())["problem"]["instance"]
        got = problem_instance(layers[f"{block}_{role}"])
        assert {k: got[k] for k in want} == want, f"{block}_{role}"
        checked += 1
    assert checked == 45


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d["layers"][0].update(type="conv3d"), "layers[0].type"),
        (lambda d: d["layers"][0].update(kernal=3), "layers[0].kernal"),
        (lambda d: d["layers"][1].update(in_channels=9), "layers[1].in_channels"),
        (lambda d: d["layers"][1].update(stride=2), "layers[1].residual"),
        (lambda d: d["layers"][0].update(stride=0), "layers[0].stride"),
        (lambda d: d["layers"][1].update(groups=3), "layers[1].in_channels"),
        (lambda d: d.pop("inputs"), "inputs"),
        (lambda d: d["layers"][3].update(kernel=9), "layers[3]"),
        (lambda d: d["layers"][4].update(in_channels=13), "layers[4].in_channels"),
        (lambda d: d.update(extra=1), "extra"),
    ],
)
def test_bad_input_names_file_and_key(tmp_path: Path, mutate, key: str) -> None:
    doc = tiny()
    mutate(doc)
    path = write(tmp_path, doc)
    with pytest.raises(InputError) as exc:
        load_network(path)
    assert exc.value.key == key
    line = exc.value.line()
    assert str(path) in line and "\n" not in line


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("layers: [\n")
    with pytest.raises(InputError, match="malformed YAML"):
        load_network(bad)
    with pytest.raises(InputError, match="not found"):
        load_network(tmp_path / "none.yaml")


def test_unknown_dataset(tmp_path: Path) -> None:
    net = load_network(write(tmp_path, tiny()))
    with pytest.raises(InputError, match="imagenet"):
        expand_network(net, "imagenet")


def test_in_size_override_and_flattened_fc(tmp_path: Path) -> None:
    doc = tiny()
    doc["layers"][2]["in_size"] = 4
    doc["layers"][3].update(kernel=2, stride=2)
    doc["layers"][4]["in_channels"] = 12  # after the 2x2 pool on 2x2 -> 1x1
    layers = expand_network(load_network(write(tmp_path, doc)), "cifar10")
    assert [x.out_size for x in layers if x.block == "b2"] == [4, 2, 2]
    vgg = expand_network(load_network(WORKLOADS / "vgg16.yaml"), "imagenet")
    assert vgg[-3].in_channels == 512 * 7 * 7
