"""A model path under `networks:` through the real workflow: a ResNet-style PyTorch network (residual adds, strided
1x1 projections) exported to ONNX here, imported once by the plan, mapped on eyeriss_like (res.csv) and searched
by the fusion-tiling stage with its residual edges in graph.json; a rerun has nothing to do."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from .conftest import ROOT, need_mapper, snakemake, write_overlay

pytestmark = pytest.mark.slow


def _export_resnet(path: Path) -> Path:
    pytest.importorskip("torch", reason="needs the torch CPU wheel to export the model")
    spec = importlib.util.spec_from_file_location("onnx_nets", ROOT / "tests/unit/test_import_onnx.py")
    nets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nets)
    return nets.export(nets.ResNetish(), (1, 3, 32, 32), path)


def test_onnx_model_runs_through_layer_jobs_and_fusion_tiling(tmp_path: Path) -> None:
    need_mapper()
    work = tmp_path / "work"
    (work / "models").mkdir(parents=True)
    _export_resnet(work / "models/resnet.onnx")
    overlay = write_overlay(tmp_path / "o.yaml", {
        "networks": ["mobilenetv2", "models/resnet.onnx"],  # .test/config.yaml keeps its mobilenetv2 subset
        "fusion_tiling": {
            "enabled": True, "networks": ["models/resnet.onnx"], "datasets": ["cifar10"],
            "accelerators": ["simba_like"], "tiles": [8, 16],
            "mapper": {"optimization_metrics": ["delay", "energy"], "timeout": 200, "victory_condition": 20,
                       "max_permutations_per_if_visit": 4},
        },
    })
    snakemake(work, overlays=[overlay])
    out = work / "results"
    rows = list(csv.DictReader((out / "resnet/cifar10/eyeriss_like/res.csv").open()))
    names = [r["layer"] for r in rows]
    assert names[:3] == ["stem_0", "layers_0_conv1", "layers_0_conv2"] and names[-1] == "total"
    assert "layers_1_proj_0" in names and len(names) == 14 and float(rows[-1]["PW1/L1_e"]) > 0
    graph = json.loads((out / "fusion_tiling/resnet/layers/graph.json").read_text())
    g = graph["layers"]
    pairs = {frozenset([g[int(k)], *(g[i] for i in v)]) for k, v in graph["adds"].items()}
    assert pairs == {frozenset(p) for p in [("layers_0_conv2", "stem_0"), ("layers_1_conv2", "layers_1_proj_0"),
                                            ("layers_2_conv2", "layers_1_proj_0"),
                                            ("layers_3_conv2", "layers_3_proj_0")]}
    plan = (out / "fusion_tiling/resnet/simba_like/plan/plan.log").read_text()
    assert plan.startswith("fusion search") and "fused:" in plan
    key = (out / "workloads/resnet.yaml.key").stat().st_mtime_ns
    rerun = snakemake(work, "-n", overlays=[overlay])
    assert "Nothing to be done" in rerun.stdout + rerun.stderr
    assert (out / "workloads/resnet.yaml.key").stat().st_mtime_ns == key  # imported once
