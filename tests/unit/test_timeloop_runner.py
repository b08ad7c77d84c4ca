"""Staging for engine `timeloop` (no Timeloop needed): the searcher count never comes from the machine, and
the constraint files reach Timeloop v1.0 as one list (it keeps only the first of two equal root keys)."""

from __future__ import annotations

from pathlib import Path

import yaml

from fusionsim.spec.constraints import load_constraints
from fusionsim.timeloop.runner import _stage_constraints, _stage_mapper

SIMBA = Path(__file__).resolve().parents[2] / "accelerators" / "simba_like"


def test_mapper_file_without_num_threads_gets_the_searcher_count(tmp_path: Path) -> None:
    src, dst = tmp_path / "mapper.yaml", tmp_path / "staged.yaml"
    src.write_text("mapper:\n  algorithm: random-pruned\n  victory-condition: 100\n")
    _stage_mapper(src, dst, 3)
    assert yaml.safe_load(dst.read_text())["mapper"] == {
        "algorithm": "random-pruned", "victory-condition": 100, "num-threads": 3
    }
    src.write_text("mapper:\n  num-threads: 8\n  timeout: 10\n")  # a stated count is Timeloop's, kept as is
    _stage_mapper(src, dst, 3)
    assert dst.read_text() == src.read_text()


def test_constraint_files_are_merged_into_one_list_timeloop_reads_whole(tmp_path: Path) -> None:
    rule = tmp_path / "dataflow.yaml"
    rule.write_text("architecture_constraints:\n  targets:\n  - target: DRAM\n    type: datatype\n    keep: []\n"
                    "    bypass: [Inputs, Outputs, Weights]\n")
    files = [SIMBA / "constraints/arch.yaml", SIMBA / "constraints/map.yaml", rule]
    dst = tmp_path / "constraints.yaml"
    _stage_constraints(files, dst)
    staged = yaml.safe_load(dst.read_text())
    assert list(staged) == ["architecture_constraints"]  # one root: nothing for yaml-cpp to drop
    merged, ours = load_constraints([dst]), load_constraints(files)
    assert merged.bypass == ours.bypass and merged.keep == ours.keep
    assert merged.bypass["DRAM"] == {"Inputs", "Outputs", "Weights"}
    assert {k: (v.factors, v.permutation) for k, v in merged.temporal.items()} == {
        k: (v.factors, v.permutation) for k, v in ours.temporal.items()}
    assert {k: (v.factors, v.permutation, v.split) for k, v in merged.spatial.items()} == {
        k: (v.factors, v.permutation, v.split) for k, v in ours.spatial.items()}
