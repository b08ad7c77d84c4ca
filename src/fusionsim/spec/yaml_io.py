"""Reading YAML/JSON input files with one-line errors that name the file (and line) on bad input.

Every user-given YAML or JSON file goes through `read_input_text`, so a wrong file (binary, not UTF-8,
empty, huge) or a hostile one (an alias bomb, 50,000-deep nesting) fails fast with an `InputError`
instead of a traceback, a hang or an exhausted memory.
"""

from __future__ import annotations

import copy
import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fusionsim.errors import InputError

MAX_INPUT_BYTES = 8 * 1024 * 1024
"""Largest YAML/JSON input read (the biggest shipped spec is ~100 KB; parsing 8 MB of YAML takes seconds)."""
MAX_DEPTH = 100
"""Deepest nesting of mappings/sequences accepted (Timeloop specs nest fewer than 15 levels)."""
MAX_NODES = 1_000_000
"""Most YAML nodes a document may expand to once aliases are followed (stops alias bombs)."""


def _flow_depth(text: str) -> int:
    """Deepest `[`/`{` nesting of the text (brackets in strings counted too: an upper bound), vectorised."""
    if "[" not in text and "{" not in text:
        return 0
    codes = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    steps = ((codes == 0x5B) | (codes == 0x7B)).astype(np.int32) - ((codes == 0x5D) | (codes == 0x7D))
    return int(np.cumsum(steps).max(initial=0))


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader (libyaml's parser when PyYAML has it: ~10x faster than the pure-Python one) that rejects a
    key repeated in one mapping (PyYAML keeps the last one silently, so a pasted constraint entry with two
    `type:` lines would change meaning without a word), a recursive alias, nesting deeper than MAX_DEPTH and
    documents that expand (through aliases) to more than MAX_NODES nodes."""

    def construct_document(self, node: yaml.Node) -> Any:
        _check_node_graph(node)
        return super().construct_document(node)

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


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_node_graph(root: yaml.Node) -> None:
    """Raise on a recursive alias (an anchor used inside itself), nesting deeper than MAX_DEPTH, or a graph that
    with every alias expanded has more than MAX_NODES nodes.

    Iterative depth-first walk visiting each distinct node once (sizes and depths memoised), so the check is
    linear in the file and cannot itself overflow the stack."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_ids: set[int] = set()  # on the current path: meeting one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        if done:
            open_ids.discard(nid)
            kids = _children(node)
            total = 1 + sum(size[id(c)] for c in kids)
            deepest = 1 + max((depth[id(c)] for c in kids), default=0)
            if deepest > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nesting deeper than {MAX_DEPTH} levels",
                                                  node.start_mark)
            if total > MAX_NODES:
                raise yaml.constructor.ConstructorError(
                    None, None, f"document expands to more than {MAX_NODES:,} nodes (an alias bomb?)",
                    node.start_mark)
            size[nid], depth[nid] = total, deepest
            continue
        if nid in size:
            continue
        open_ids.add(nid)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_ids:
                raise yaml.constructor.ConstructorError(None, None, "recursive alias (an anchor used inside itself)",
                                                        child.start_mark)
            if id(child) not in size:
                stack.append((child, False))


PARSED_CACHE = 64
"""Texts whose parse `safe_load_strict` keeps (a process mapping many tiles reads the same specs again)."""
_PARSED: dict[str, Any] = {}


def safe_load_strict(text: str) -> Any:
    """`yaml.safe_load` that raises `yaml.YAMLError` on a repeated key, deep nesting or an alias bomb.

    The last PARSED_CACHE texts' results are kept and handed out as deep copies (the pure-Python parse costs
    ~20 ms for a problem file; a copy ~0.2 ms), so a caller may modify what it gets."""
    if len(text) > MAX_INPUT_BYTES:
        raise yaml.YAMLError(f"text longer than {MAX_INPUT_BYTES // (1024 * 1024)} MB")
    if text in _PARSED:
        data = _PARSED.pop(text)
    else:
        if _flow_depth(text) > MAX_DEPTH:  # PyYAML's scanner reads a whole run of `[`/`{` before the composer
            raise yaml.YAMLError(f"nesting deeper than {MAX_DEPTH} levels")  # could stop it: catch it first
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
        if len(_PARSED) >= PARSED_CACHE:
            _PARSED.pop(next(iter(_PARSED)))
    _PARSED[text] = data  # most recently used last
    return copy.deepcopy(data)


def read_input_bytes(path: str | Path, *, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a user-given input file, at most `max_bytes`; missing, a folder, unreadable -> InputError."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise InputError("not a regular file", file=path, fix="pass a YAML/JSON file")
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError("file not found", file=path, fix="check the path") from None
    except IsADirectoryError:
        raise InputError("is a folder, not a file", file=path, fix="pass the file inside it") from None
    except PermissionError:
        raise InputError("permission denied", file=path, fix="make the file readable (chmod a+r)") from None
    except NotADirectoryError:
        raise InputError("a parent of this path is a file, not a folder", file=path, fix="check the path") from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=path, fix="check the path") from None
    if len(data) > max_bytes:
        raise InputError(
            f"file larger than {max_bytes // (1024 * 1024)} MB", file=path,
            fix="pass the spec file itself (spec files are a few KB)",
        )
    return data


def read_input_text(path: str | Path, *, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """A user-given text file decoded as UTF-8; binary, not UTF-8 or too large -> one-line InputError."""
    path = Path(path)
    data = read_input_bytes(path, max_bytes=max_bytes)
    if b"\x00" in data[:8192]:
        raise InputError("binary file (contains NUL bytes), not YAML/JSON text", file=path,
                         fix="pass the YAML/JSON spec, not a model or archive")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line})", file=path,
                         fix="save the file as UTF-8") from None


def load_yaml_any(path: str | Path, *, allow_empty: bool = False) -> Any:
    """Parse a YAML file (any top-level type); unreadable, empty or malformed -> InputError naming it."""
    path = Path(path)
    text = read_input_text(path)
    try:
        data = safe_load_strict(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "duplicate key" in problem:
            fix = "keep one of the repeated keys"
        elif "nesting" in problem:
            fix = f"nest at most {MAX_DEPTH} levels"
        elif "expands" in problem:
            fix = "use fewer nested aliases (*name)"
        elif "recursive alias" in problem:
            fix = "refer to an anchor only after its node ends"
        else:
            fix = "correct the YAML syntax"
        raise InputError(f"malformed YAML{where}: {problem}", file=path, fix=fix) from None
    except RecursionError:
        raise InputError("nesting too deep", file=path, fix=f"nest at most {MAX_DEPTH} levels") from None
    if data is None and not allow_empty:
        raise InputError("empty file (no YAML content)", file=path, fix="fill in the spec or pass the right file")
    return data


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a YAML file into a dict; missing file, bad syntax or a non-mapping top level -> InputError."""
    data = load_yaml_any(path)
    if not isinstance(data, dict):
        raise InputError("expected a YAML mapping at the top level", file=path, fix="see the Timeloop spec format")
    return data


def load_json(path: str | Path) -> Any:
    """Parse a JSON file; unreadable, binary, empty, too deep or malformed -> InputError naming it."""
    path = Path(path)
    text = read_input_text(path)
    if not text.strip():
        raise InputError("empty file", file=path, fix="pass a JSON file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", file=path,
                         fix="correct the JSON syntax") from None
    except RecursionError:
        raise InputError("nesting too deep", file=path, fix=f"nest at most {MAX_DEPTH} levels") from None
    if _depth_exceeds(data, MAX_DEPTH):
        raise InputError(f"nesting deeper than {MAX_DEPTH} levels", file=path, fix=f"nest at most {MAX_DEPTH} levels")
    return data


def _depth_exceeds(data: Any, limit: int) -> bool:
    """True when containers nest deeper than `limit` (iterative, so it cannot itself overflow)."""
    stack = [(data, 1)]
    while stack:
        obj, d = stack.pop()
        if isinstance(obj, dict | list):
            if d > limit:
                return True
            stack.extend((v, d + 1) for v in (obj.values() if isinstance(obj, dict) else obj))
    return False


def merged_yaml(paths: list[str | Path]) -> dict[str, Any]:
    """Merge several YAML files' top-level keys, as Timeloop merges its inputs (later files win)."""
    root: dict[str, Any] = {}
    for p in paths:
        root.update(load_yaml(p))
    return root
