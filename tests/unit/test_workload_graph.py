"""The workload graph format: named inputs, add/concat/shuffle/split nodes, non-square shapes, and the
fusion layer set built from the stated edges (no naming convention)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fusionsim.errors import InputError
from fusionsim.fusion import benchmark_stage as bs
from fusionsim.workloads import expand_network, load_network, network_graph, problem_instance


def write(tmp_path: Path, layers: list[dict], size=16) -> Path:
    p = tmp_path / "g.yaml"
    doc = {"name": "g", "inputs": {"d": {"size": size, "channels": 3, "classes": 10}}, "layers": layers}
    p.write_text(yaml.safe_dump(doc))
    return p


# a residual net whose names follow no convention: stem, two blocks (one projected), a concat and a shuffle
NET = [
    {"name": "stem", "type": "conv", "in_channels": 3, "out_channels": 8},
    {"name": "x1", "type": "conv", "in_channels": 8, "out_channels": 8},
    {"name": "x2", "type": "conv", "in_channels": 8, "out_channels": 8},
    {"name": "j1", "type": "add", "inputs": ["x2", "stem"]},
    {"name": "proj", "type": "pointwise", "in_channels": 8, "out_channels": 16, "stride": 2},
    {"name": "y1", "type": "conv", "in_channels": 8, "out_channels": 16, "stride": 2, "inputs": ["j1"]},
    {"name": "y2", "type": "conv", "in_channels": 16, "out_channels": 16},
    {"name": "j2", "type": "add", "inputs": ["proj", "y2"]},
    {"name": "side", "type": "pointwise", "in_channels": 16, "out_channels": 8, "inputs": ["j2"]},
    {"name": "cat", "type": "concat", "inputs": ["j2", "side"]},
    {"name": "mix", "type": "shuffle", "groups": 2},
    {"name": "half", "type": "split", "out_channels": 12, "offset": 12},
    {"name": "z", "type": "pointwise", "in_channels": 12, "out_channels": 24},
    {"name": "gap", "type": "pool", "in_channels": 24, "kernel": 8, "stride": 8},
    {"name": "fc", "type": "fc", "in_channels": 24, "out_channels": "classes"},
]


def test_graph_edges_and_zero_cost_nodes(tmp_path: Path) -> None:
    g = network_graph(load_network(write(tmp_path, NET)), "d")
    assert [x.name for x in g.layers] == ["stem", "x1", "x2", "proj", "y1", "y2", "side", "z", "gap", "fc"]
    assert g.inputs["proj"] == ("j1",) and g.inputs["y1"] == ("j1",) and g.inputs["x1"] == ("stem",)
    assert g.nodes["cat"].channels == 24 and g.nodes["half"].channels == 12 and g.inputs["z"] == ("half",)
    assert g.nodes["j2"].inputs == ("proj", "y2") and g.layer("z").in_size == 8


def test_fusion_layer_set_follows_stated_edges(tmp_path: Path) -> None:
    ls = bs.network_layer_set(write(tmp_path, NET), "d")
    names = [x.name for x in ls.layers]
    assert names == ["stem", "x1", "x2", "proj", "y1", "y2", "side", "z"]  # pools and fc dropped
    idx = names.index
    assert ls.srcs[idx("proj")] == ls.srcs[idx("y1")] == idx("x2")  # j1's latest operand
    assert ls.adds == {idx("x2"): (idx("stem"),), idx("y2"): (idx("proj"),)}
    assert ls.srcs[idx("z")] == idx("side")  # through split, shuffle, concat (its last input)


def test_existing_style_chain_unchanged(tmp_path: Path) -> None:
    layers = [{"name": "a", "type": "conv", "in_channels": 3, "out_channels": 4},
              {"name": "b", "type": "conv", "in_channels": 4, "out_channels": 4, "stride": 2}]
    g = network_graph(load_network(write(tmp_path, layers)), "d")
    assert g.inputs == {"a": ("network_input",), "b": ("a",)} and not g.nodes


def test_non_square_dilation_and_asymmetric_padding(tmp_path: Path) -> None:
    layers = [
        {"name": "a", "type": "conv", "in_channels": 3, "out_channels": 4, "kernel": [3, 5], "stride": [1, 2],
         "dilation": [2, 1], "padding": [1, 0, 2, 1]},
        {"name": "b", "type": "depthwise", "in_channels": 4, "kernel": [1, 7], "padding": [0, 3]},
        {"name": "p", "type": "pool", "in_channels": 4, "kernel": [2, 3], "stride": [2, 3]},
    ]
    (a, b, p) = expand_network(load_network(write(tmp_path, layers, size=[20, 30])), "d")
    # height: (20 + 1 + 0 - 2*2 - 1)//1 + 1 = 17; width: (30 + 2 + 1 - 5)//2 + 1 = 15
    assert (a.out_h, a.out_size, a.kernel_h, a.kernel, a.dilation_h) == (17, 15, 3, 5, 2)
    assert (b.out_h, b.out_size) == (17, 15) and (p.out_h, p.out_size) == (8, 5)
    inst = problem_instance(a)
    assert (inst["R"], inst["S"], inst["P"], inst["Q"], inst["Wstride"], inst["Hstride"]) == (5, 3, 15, 17, 2, 1)
    assert (inst["Wdilation"], inst["Hdilation"]) == (1, 2)
    assert a.macs == 17 * 15 * 3 * 5 * 3 * 4 and a.weights == 3 * 5 * 3 * 4 and b.macs == 17 * 15 * 7 * 4


@pytest.mark.parametrize(
    "layers, key, match",
    [
        ([{"name": "a", "type": "conv", "in_channels": 3, "out_channels": 4},
          {"type": "add", "inputs": ["a"]}], "layers[1].inputs", "two or more"),
        ([{"name": "a", "type": "conv", "in_channels": 3, "out_channels": 4},
          {"type": "add", "inputs": ["a", "network_input"]}], "layers[1].inputs", "shapes do not match"),
        ([{"name": "a", "type": "conv", "in_channels": 3, "out_channels": 4},
          {"type": "conv", "in_channels": 4, "out_channels": 4, "inputs": ["a", "a"]}], "layers[1].inputs",
         "reads one input"),
        ([{"name": "a", "type": "conv", "in_channels": 3, "out_channels": 4},
          {"type": "split", "out_channels": 3, "offset": 2}], "layers[1].offset", "outside"),
        ([{"name": "a", "type": "conv", "in_channels": 3, "out_channels": 4},
          {"type": "shuffle", "groups": 3}], "layers[1].groups", "not divisible"),
        ([{"name": "a", "type": "conv", "in_channels": 3, "out_channels": 4, "inputs": ["zz"]}],
         "layers[0].inputs", "no earlier layer"),
        ([{"name": "a", "type": "conv", "in_channels": 3, "out_channels": 4, "padding": [1, 2, 3]}],
         "layers[0].padding", "top, bottom"),
    ],
)
def test_graph_errors_name_the_key(tmp_path: Path, layers, key: str, match: str) -> None:
    with pytest.raises(InputError, match=match) as exc:
        load_network(write(tmp_path, layers))
    assert exc.value.key == key


def test_sparse_baseline_refuses_graph_joins_and_non_square_layers(tmp_path: Path) -> None:
    from fusionsim.sparsity.weights import load_layer_specs

    ROOT = Path(__file__).resolve().parents[2]
    specs, _ = load_layer_specs(ROOT / "workloads/mobilenetv2.yaml")  # bottleneck residuals: still a chain
    assert len(specs) == 55
    with pytest.raises(InputError, match="add node 'layer1_0' is a graph join") as exc:
        load_layer_specs(ROOT / "workloads/resnet18.yaml")
    assert exc.value.key == "layer1_0"
    rect = [{"name": "a", "type": "conv", "in_channels": 3, "out_channels": 4, "kernel": [1, 3]}]
    with pytest.raises(InputError, match="square, undilated"):
        load_layer_specs(write(tmp_path, rect))


def test_fusion_search_refuses_non_square_layers(tmp_path: Path) -> None:
    from fusionsim.fusion.tables import load_layers

    rect = [{"name": "a", "type": "conv", "in_channels": 3, "out_channels": 4, "kernel": [1, 3]}]
    with pytest.raises(InputError, match="models square layers; a is 16x16 with a 1x3 kernel") as exc:
        bs.network_layer_set(write(tmp_path, rect), "d")
    assert exc.value.key == "a"
    folder = tmp_path / "layers"
    folder.mkdir()
    (a,) = expand_network(load_network(write(tmp_path, rect)), "d")
    from fusionsim.workloads import problem_yaml

    (folder / "a_layer01.yaml").write_text(problem_yaml(a))
    with pytest.raises(InputError, match="non-square layer"):
        load_layers(folder)
