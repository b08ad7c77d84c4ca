"""Constraint and mapper YAML parsing: Timeloop v1.0 forms, merging, and one-line errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fusionsim.errors import InputError
from fusionsim.spec.constraints import load_constraints, parse_factors, parse_permutation
from fusionsim.spec.mapper_spec import load_mapper_spec


def _write(tmp: Path, name: str, data: object) -> Path:
    p = tmp / name
    p.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return p


def test_factors_fixed_zero_and_max() -> None:
    fixed, maxf = parse_factors("N=1 P=0 M<=8 C8", Path("c.yaml"), "k")
    assert fixed == {"N": 1, "P": 0, "C": 8}
    assert maxf == {"M": 8}


def test_factors_bad_token_names_file_and_key() -> None:
    with pytest.raises(InputError) as e:
        parse_factors("N=1 P=x", Path("c.yaml"), "targets[2].factors")
    assert "c.yaml" in str(e.value) and "targets[2].factors" in str(e.value)


def test_permutation_spaces_and_partial() -> None:
    assert parse_permutation("QRSC PNM", Path("c"), "k") == tuple("QRSCPNM")
    assert parse_permutation("NPQ", Path("c"), "k") == ("N", "P", "Q")
    with pytest.raises(InputError):
        parse_permutation("NN", Path("c"), "k")


def test_merge_arch_and_mapspace_files(tmp_path: Path) -> None:
    a = _write(tmp_path, "arch_c.yaml", {"architecture_constraints": {"targets": [
        {"target": "GLB", "type": "bypass", "keep": ["Inputs"], "bypass": ["Weights"]},
        {"target": "GLB", "type": "spatial", "factors": "R=1", "split": 1, "permutation": "PM"},
    ]}})
    m = _write(tmp_path, "map_c.yaml", {"mapspace_constraints": [
        {"target": "GLB", "type": "temporal", "permutation": "QRSC PNM", "factors": "Q=1 P=0"},
    ]})
    cons = load_constraints([a, m])
    assert cons.keep["GLB"] == {"Inputs"} and cons.bypass["GLB"] == {"Weights"}
    assert cons.spatial["GLB"].split == 1 and cons.spatial["GLB"].permutation == ("P", "M")
    assert cons.temporal["GLB"].factors == {"Q": 1, "P": 0}
    assert cons.temporal["GLB"].permutation == tuple("QRSCPNM")


def test_respecified_factor_across_files_is_an_error(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", {"architecture_constraints": {"targets": [
        {"target": "GLB", "type": "temporal", "factors": "P=2"}]}})
    b = _write(tmp_path, "b.yaml", {"mapspace_constraints": {"targets": [
        {"target": "GLB", "type": "temporal", "factors": "P=4"}]}})
    with pytest.raises(InputError) as e:
        load_constraints([a, b])
    msg = str(e.value)
    assert "b.yaml" in msg and "a.yaml" in msg and "re-specified" in msg


def test_unknown_type_and_missing_root(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", {"architecture_constraints": {"targets": [{"target": "GLB", "type": "tempo"}]}})
    with pytest.raises(InputError, match="type"):
        load_constraints([a])
    b = _write(tmp_path, "b.yaml", {"something": 1})
    with pytest.raises(InputError, match="no constraints found"):
        load_constraints([b])


def test_nested_constraints_list_form(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", {"mapspace": {"constraints": [
        {"target": "RF", "constraints": [{"type": "temporal", "factors": "R=3"},
                                         {"type": "bypass", "keep": ["Weights"]}]}]}})
    cons = load_constraints([a])
    assert cons.temporal["RF"].factors == {"R": 3} and cons.keep["RF"] == {"Weights"}


def test_mapper_spec_keys(tmp_path: Path) -> None:
    p = _write(tmp_path, "m.yaml", {"mapper": {"algorithm": "linear-pruned", "optimization-metrics": ["delay", "energy"],
                                               "timeout": 10, "victory-condition": 5, "num-threads": 4,
                                               "max-permutations-per-if-visit": 3, "live-status": True}})
    spec = load_mapper_spec(p)
    assert spec.algorithm == "linear-pruned" and spec.metrics == ("delay", "energy")
    assert (spec.timeout, spec.victory_condition, spec.num_threads, spec.max_permutations_per_if_visit) == (10, 5, 4, 3)


@pytest.mark.parametrize("bad, key", [({"algorithm": "greedy"}, "mapper.algorithm"),
                                      ({"optimization-metrics": ["speed"]}, "mapper.optimization-metrics"),
                                      ({"timeout": -1}, "mapper.timeout")])
def test_mapper_spec_errors_name_file_and_key(tmp_path: Path, bad: dict, key: str) -> None:
    p = _write(tmp_path, "m.yaml", {"mapper": bad})
    with pytest.raises(InputError) as e:
        load_mapper_spec(p)
    assert "m.yaml" in str(e.value) and key in str(e.value)
