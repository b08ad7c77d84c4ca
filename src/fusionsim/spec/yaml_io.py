"""Reading YAML spec files with one-line errors that name the file (and line) on bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fusionsim.errors import InputError


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a YAML file into a dict; missing file, bad syntax or a non-mapping top level -> InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=path, fix="check the path")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"malformed YAML{where}: {problem}", file=path, fix="correct the YAML syntax") from None
    if not isinstance(data, dict):
        raise InputError("expected a YAML mapping at the top level", file=path, fix="see the Timeloop spec format")
    return data


def merged_yaml(paths: list[str | Path]) -> dict[str, Any]:
    """Merge several YAML files' top-level keys, as Timeloop merges its inputs (later files win)."""
    root: dict[str, Any] = {}
    for p in paths:
        root.update(load_yaml(p))
    return root
