"""`networks:` entries that are model files: imported once into <output_dir>/workloads/, re-imported when the
model changes, planned like any workload (layer jobs, fusion layers with the model's residual edges)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="needs onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from fusionsim.errors import InputError  # noqa: E402
from fusionsim.workflow.fusion_tiling import fusion_layer_set  # noqa: E402
from fusionsim.workflow.plan import build_plan  # noqa: E402
from fusionsim.workloads.models import network_files, network_names  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def tiny_onnx(path: Path, width: int = 4) -> Path:
    """x(1,3,8,8) -> conv a -> relu -> conv b; add(a, b) -> GAP -> flatten -> gemm(10), built with onnx.helper."""
    rng = np.random.default_rng(0)

    def w(name: str, *shape: int):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "a.weight"], ["a"], name="a", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["ar"]),
        helper.make_node("Conv", ["ar", "b.weight"], ["b"], name="b", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["a", "b"], ["s"], name="join"),
        helper.make_node("GlobalAveragePool", ["s"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "fc.weight"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [w("a.weight", width, 3, 3, 3), w("b.weight", width, width, 3, 3), w("fc.weight", 10, width)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def config(model: str, **over) -> dict:
    cfg = {
        "output_dir": "results", "networks": [model], "datasets": ["cifar10", "cifar100"],
        "accelerators": {"eyeriss_like": {}}, "engine": "native",
        "mapper": {"algorithm": None, "optimization_metrics": None, "timeout": None, "victory_condition": None,
                   "max_permutations_per_if_visit": None, "seed": 0, "threads": 1},
        "layers": {}, "workloads_dir": str(ROOT / "workloads"), "accelerators_dir": str(ROOT / "accelerators"),
    }
    cfg.update(over)
    return cfg


def test_model_entry_is_imported_once_and_again_when_it_changes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    tiny_onnx(tmp_path / "my-net.onnx")
    files = network_files(["my-net.onnx", "alexnet"], ROOT / "workloads", Path("out"), ["cifar10", "cifar100"])
    assert files == {"my_net": Path("out/workloads/my_net.yaml"), "alexnet": ROOT / "workloads/alexnet.yaml"}
    assert network_names(["my-net.onnx", "alexnet"]) == ["my_net", "alexnet"]
    yaml_file = files["my_net"]
    os.utime(yaml_file, (1, 1))
    network_files(["my-net.onnx"], ROOT / "workloads", Path("out"), ["cifar10", "cifar100"])
    assert yaml_file.stat().st_mtime == 1  # cached: not rewritten
    tiny_onnx(tmp_path / "my-net.onnx", width=8)
    network_files(["my-net.onnx"], ROOT / "workloads", Path("out"), ["cifar10", "cifar100"])
    assert yaml_file.stat().st_mtime > 1 and "out_channels: 8" in yaml_file.read_text()
    with pytest.raises(InputError, match="model file missing.onnx not found"):
        network_files(["missing.onnx"], ROOT / "workloads", Path("out"), ["cifar10"])


def test_plan_runs_a_model_on_every_dataset_with_its_edges(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    tiny_onnx(tmp_path / "tiny.onnx")
    off = {"enabled": False, "networks": ["alexnet"], "datasets": ["imagenet"]}  # a disabled stage adds no dataset
    plan = build_plan(config("tiny.onnx", layers={"tiny": ["a", "b"]}, fusion_tiling=off), ROOT)
    assert sorted(plan.layers) == [("tiny", "cifar10"), ("tiny", "cifar100")]
    assert [x.name for x in plan.layers[("tiny", "cifar10")]] == ["a", "b"]
    assert str(plan.networks["tiny"].path) == "results/workloads/tiny.yaml"
    text = plan.networks["tiny"].path.read_text()
    assert "imagenet" not in text and "&id" not in text
    ls = fusion_layer_set(plan.networks["tiny"].path, "cifar10", None)
    assert [x.name for x in ls.layers] == ["a", "b"] and ls.adds == {1: (0,)}


def test_config_check_accepts_model_paths_and_names_missing_ones(tmp_path: Path, monkeypatch) -> None:
    import copy

    import yaml

    from fusionsim.config_check import (
        ConfigSources,
        load_schema,
        merge_config,
        reference_errors,
        schema_errors,
    )

    monkeypatch.chdir(tmp_path)
    tiny_onnx(tmp_path / "tiny.onnx")
    default = yaml.safe_load((ROOT / "config.yaml").read_text())
    for overlay, expect in (
        ({"networks": ["tiny.onnx"], "layers": {"tiny": ["a"]}}, []),
        ({"networks": ["nope.onnx"]}, ["model file 'nope.onnx' not found"]),
    ):
        (tmp_path / "my.yaml").write_text(yaml.safe_dump(overlay))
        cfg = merge_config(copy.deepcopy(default), overlay)
        src = ConfigSources([ROOT / "config.yaml", tmp_path / "my.yaml"])
        assert schema_errors(cfg, load_schema(ROOT / "config.schema.yaml"), src) == []
        lines = reference_errors(cfg, ROOT, src)
        assert len(lines) == len(expect) and all(e in line for e, line in zip(expect, lines)), lines
