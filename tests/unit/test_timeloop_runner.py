"""Staging for engine `timeloop` (no Timeloop needed): the searcher count never comes from the machine."""

from __future__ import annotations

from pathlib import Path

import yaml

from fusionsim.timeloop.runner import _stage_mapper


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
