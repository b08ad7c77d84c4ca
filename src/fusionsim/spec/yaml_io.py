"""Reading YAML spec files with one-line errors that name the file (and line) on bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fusionsim.errors import InputError


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key repeated in one mapping (PyYAML keeps the last one silently, so a
    pasted constraint entry with two `type:` lines would change meaning without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, list | dict):  # unhashable keys are PyYAML's own error
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}' in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def safe_load_strict(text: str) -> Any:
    """`yaml.safe_load` that raises `yaml.YAMLError` on a key repeated within one mapping."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a YAML file into a dict; missing file, bad syntax or a non-mapping top level -> InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=path, fix="check the path")
    try:
        data = safe_load_strict(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        fix = "keep one of the repeated keys" if "duplicate key" in problem else "correct the YAML syntax"
        raise InputError(f"malformed YAML{where}: {problem}", file=path, fix=fix) from None
    if not isinstance(data, dict):
        raise InputError("expected a YAML mapping at the top level", file=path, fix="see the Timeloop spec format")
    return data


def merged_yaml(paths: list[str | Path]) -> dict[str, Any]:
    """Merge several YAML files' top-level keys, as Timeloop merges its inputs (later files win)."""
    root: dict[str, Any] = {}
    for p in paths:
        root.update(load_yaml(p))
    return root
