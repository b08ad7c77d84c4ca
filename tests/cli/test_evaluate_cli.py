"""`fusionsim evaluate` contract: JSON on success; one-line error naming file and key, exit 2, on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fusionsim.cli import main

TINY = Path(__file__).resolve().parent.parent / "data" / "tiny"


def run(capsys, **over: Path) -> tuple[int, str, str]:
    files = {"arch": TINY / "arch.yaml", "problem": TINY / "conv1d.yaml", "mapping": TINY / "conv1d_map.yaml",
             "ert": TINY / "ert.yaml", **over}
    code = main(["evaluate", *[a for k, v in files.items() for a in (f"--{k}", str(v))], "--json"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_contract(capsys) -> None:
    code, out, _ = run(capsys)
    assert code == 0
    d = json.loads(out)
    assert set(d) >= {"energy_pJ", "cycles", "utilization", "macs", "levels"}
    assert isinstance(d["cycles"], int) and isinstance(d["macs"], int)
    rf = next(lv for lv in d["levels"] if lv["name"] == "RF")
    assert set(rf["dataspaces"]["Weights"]) >= {"reads", "fills", "updates", "energy_pJ"}


def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], lines[0]


def test_malformed_yaml(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "arch.yaml"
    bad.write_text("architecture:\n  version: 0.3\n  subtree: [\n")
    code, _, err = run(capsys, arch=bad)
    one_line_error(code, err, str(bad), "malformed YAML", "line")


def test_duplicate_key_is_an_error(capsys, tmp_path: Path) -> None:
    """PyYAML keeps the last of two equal keys silently; a spec file must not change meaning that way."""
    bad = tmp_path / "map.yaml"
    text = (TINY / "conv1d_map.yaml").read_text()
    bad.write_text(text.replace("type: temporal,", "type: temporal, type: spatial,", 1))
    assert bad.read_text() != text
    code, _, err = run(capsys, mapping=bad)
    one_line_error(code, err, str(bad), "duplicate key 'type'", "line", "keep one")


def test_unknown_component_class(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "arch.yaml"
    bad.write_text((TINY / "arch.yaml").read_text().replace("class: smartbuffer_RF", "class: fancy_memory"))
    code, _, err = run(capsys, arch=bad)
    one_line_error(code, err, str(bad), "PE[0..3].RF.class", "fancy_memory", "--components")


def test_factors_do_not_multiply_to_the_bound(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "map.yaml"
    bad.write_text((TINY / "conv1d_map.yaml").read_text().replace("factors: M=2", "factors: M=3"))
    code, _, err = run(capsys, mapping=bad)
    one_line_error(code, err, str(bad), "factors.M", "problem bound is 2")


def test_tile_does_not_fit(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "arch.yaml"
    bad.write_text((TINY / "arch.yaml").read_text().replace("memory_depth: 16,", "memory_depth: 4,"))
    code, _, err = run(capsys, arch=bad)
    one_line_error(code, err, "exceeds buffer capacity 4", "'RF'")


def test_missing_file(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, ert=tmp_path / "nope.yaml")
    one_line_error(code, err, "nope.yaml", "not found")


def test_unknown_dimension_in_map_txt(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "map.txt"
    bad.write_text("DRAM [ Weights:6 ]\n----\n| for Z in [0:2)\n")
    code, _, err = run(capsys, mapping=bad)
    one_line_error(code, err, str(bad), "line 3", "unknown dimension 'Z'")


@pytest.mark.parametrize("argv", [["evaluate", "--help"]])
def test_module_entry_point(argv: list[str]) -> None:
    """`python -m fusionsim` works without the console script."""
    r = subprocess.run([sys.executable, "-m", "fusionsim", *argv], capture_output=True, text=True)
    assert r.returncode == 0 and "--mapping" in r.stdout


def test_width_not_a_multiple_of_the_word(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "arch.yaml"
    bad.write_text((TINY / "arch.yaml").read_text().replace("{type: LPDDR4, width: 64,", "{type: LPDDR4, width: 60,"))
    code, _, err = run(capsys, arch=bad)
    one_line_error(code, err, str(bad), "system.DRAM.attributes.width", "not a multiple")


def test_fractional_arithmetic_energy(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "arch.yaml"
    bad.write_text((TINY / "arch.yaml").read_text().replace("attributes: {datawidth: 16}",
                                                            "attributes: {datawidth: 16, energy: 1.5}"))
    code, _, err = run(capsys, arch=bad)
    one_line_error(code, err, str(bad), "mac.attributes.energy", "integer")
