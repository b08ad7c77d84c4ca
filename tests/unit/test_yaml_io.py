"""Every YAML/JSON input goes through spec.yaml_io: wrong or hostile files fail in one line, fast."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import MAX_DEPTH, load_json, load_yaml


def _alias_bomb() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def _huge(path: Path) -> None:
    with open(path, "wb") as fh:  # a sparse 100 MB file: no disk used, but 100 MB to read
        fh.truncate(100 * 1024 * 1024)


CASES = {
    "binary": (lambda p: p.write_bytes(b"\x89HDF\r\n\x1a\n\x00\x00\x00\x00"), "binary file"),
    "not-utf8": (lambda p: p.write_bytes(b"name: caf\xe9\n"), "not UTF-8"),
    "empty": (lambda p: p.write_text(""), "empty file"),
    "comments-only": (lambda p: p.write_text("# nothing here\n"), "empty file"),
    "alias-bomb": (lambda p: p.write_text(_alias_bomb()), "alias bomb"),
    "huge-100MB": (_huge, "larger than"),
    "deep-50000": (lambda p: p.write_text("[" * 50000 + "]" * 50000), "nesting"),
    "deep-mapping": (lambda p: p.write_text("a: {" * 50000 + "}" * 50000), "nesting"),
    "duplicate-key": (lambda p: p.write_text("a: 1\na: 2\n"), "duplicate key"),
    "recursive-alias": (lambda p: p.write_text("a: &x [1, *x]\n"), "recursive alias"),  # used to hang
    "recursive-alias-map": (lambda p: p.write_text("a: &x {b: *x}\n"), "recursive alias"),
    "deep-block": (lambda p: p.write_text("".join(" " * i + f"k{i}:\n" for i in range(150)) + " " * 150 + "v\n"),
                   "nesting"),
    "syntax": (lambda p: p.write_text("a: [\n"), "malformed YAML"),
    "not-a-mapping": (lambda p: p.write_text("- 1\n- 2\n"), "mapping at the top level"),
}


def _check(fn, path: Path, needle: str) -> None:
    start = time.perf_counter()
    with pytest.raises(InputError) as exc:
        fn(path)
    took = time.perf_counter() - start
    line = exc.value.line()
    assert str(path) in line and "\n" not in line and needle in line, line
    assert "fix:" in line, line
    assert took < 1.0, f"{took:.2f} s"


@pytest.mark.parametrize("case", sorted(CASES))
def test_yaml_case_one_line_within_a_second(tmp_path: Path, case: str) -> None:
    make, needle = CASES[case]
    path = tmp_path / "spec.yaml"
    make(path)
    _check(load_yaml, path, needle)


@pytest.mark.parametrize("case", ["binary", "not-utf8", "empty", "huge-100MB", "deep-50000"])
def test_json_case_one_line_within_a_second(tmp_path: Path, case: str) -> None:
    make, needle = CASES[case]
    path = tmp_path / "data.json"
    make(path)
    _check(load_json, path, needle)


def test_json_syntax_and_depth(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    _check(load_json, bad, "malformed JSON")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5))
    _check(load_json, deep, "nesting")


@pytest.mark.parametrize("where", ["missing", "folder", "under-a-file", "device"])
def test_unreadable_paths(tmp_path: Path, where: str) -> None:
    (tmp_path / "f").write_text("a: 1\n")
    path = {"missing": tmp_path / "none.yaml", "folder": tmp_path, "under-a-file": tmp_path / "f" / "x.yaml",
            "device": Path("/dev/zero")}[where]
    with pytest.raises(InputError) as exc:
        load_yaml(path)
    assert str(path) in exc.value.line() and "fix:" in exc.value.line()


def test_valid_specs_still_load(tmp_path: Path) -> None:
    ok = tmp_path / "ok.yaml"
    ok.write_text("base: &b {x: 1}\nuse: *b\nlist: [1, 2, 3]\n")
    assert load_yaml(ok) == {"base": {"x": 1}, "use": {"x": 1}, "list": [1, 2, 3]}


@pytest.mark.parametrize("case", ["alias-bomb", "deep-mapping", "binary", "huge-100MB"])
def test_config_sources_report_hostile_config_files(tmp_path: Path, case: str) -> None:
    """The pipeline's config check reads --configfile overlays through the same reader, before the schema."""
    from fusionsim.config_check import ConfigSources

    make, needle = CASES[case]
    path = tmp_path / "over.yaml"
    make(path)
    start = time.perf_counter()
    sources = ConfigSources([path])
    assert time.perf_counter() - start < 1.0
    assert len(sources.errors) == 1 and str(path) in sources.errors[0] and needle in sources.errors[0]
