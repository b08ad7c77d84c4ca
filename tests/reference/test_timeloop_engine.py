"""Engine `timeloop` for real: where timeloop-mapper (v1.0) is installed, `fusionsim map --engine timeloop`
returns Timeloop's mapping and stats in our JSON, and our native model evaluates that mapping to the same
numbers. Skips with a reason where Timeloop is not installed (it cannot come from a package registry)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fusionsim.cli import main
from fusionsim.model.evaluate import evaluate
from fusionsim.spec.arch import load_arch
from fusionsim.spec.ert import load_ert
from fusionsim.spec.mapping import parse_mapping_yaml
from fusionsim.spec.problem import load_problem

TINY = Path(__file__).resolve().parent.parent / "data" / "tiny"

pytestmark = pytest.mark.skipif(shutil.which("timeloop-mapper") is None,
                                reason="timeloop-mapper (Timeloop v1.0) is not on PATH")


def test_timeloop_engine_agrees_with_the_native_model(capsys) -> None:
    argv = ["map", "--engine", "timeloop", "--arch", str(TINY / "arch.yaml"), "--problem", str(TINY / "conv1d.yaml"),
            "--constraints", str(TINY / "constraints.yaml"), "--mapper", str(TINY / "mapper.yaml"),
            "--ert", str(TINY / "ert.yaml"), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    arch, problem = load_arch(TINY / "arch.yaml"), load_problem(TINY / "conv1d.yaml")
    import yaml

    mapping = parse_mapping_yaml(yaml.safe_load(out["mapping"]), arch, problem)
    ours = evaluate(arch, problem, mapping, load_ert(TINY / "ert.yaml"))
    assert ours.cycles == out["stats"]["cycles"]
    assert ours.energy_pJ == pytest.approx(out["stats"]["energy_pJ"], abs=0.01)


def test_a_separate_dram_rule_file_reaches_timeloop(tmp_path: Path, capsys) -> None:
    """v1.0 concatenates its inputs and keeps the first of two `architecture_constraints` roots: the engine
    must hand it one merged constraints file, or a dataflow type's DRAM rule (WCC: keep nothing) is lost."""
    simba = Path(__file__).resolve().parents[2] / "accelerators" / "simba_like"
    prob = tmp_path / "prob.yaml"
    prob.write_text((TINY.parent / "timeloop_mapper_oracle" / "m012_simba16_WCC_conv" / "prob.yaml").read_text())
    rule = tmp_path / "dataflow.yaml"
    rule.write_text("architecture_constraints:\n  targets:\n  - target: DRAM\n    type: datatype\n    keep: []\n"
                    "    bypass: [Inputs, Outputs, Weights]\n")
    argv = ["map", "--engine", "timeloop", "--arch", str(simba / "arch.yaml"), "--problem", str(prob),
            "--constraints", str(simba / "constraints/arch.yaml"), str(simba / "constraints/map.yaml"), str(rule),
            "--mapper", str(simba / "mapper/fast.yaml"), "--ert", str(simba / "ERT.yaml"), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    dram = next(lv for lv in out["stats"]["levels"] if lv["name"] == "DRAM")
    assert dram["energy_pJ"] == 0.0
    assert all(ds["reads"] == ds["fills"] == ds["updates"] == 0 for ds in dram["dataspaces"].values())
