"""Caches that let one process map many tiles: equal mapspaces share their memo and their search result, specs
are parsed once while unchanged, and a YAML text's parse is reused as a private copy."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from fusionsim.fusion import benchmark_stage as bs
from fusionsim.mapper import api
from fusionsim.mapper.space import MapSpace
from fusionsim.spec.constraints import load_constraints
from fusionsim.spec.problem import load_problem
from fusionsim.spec.yaml_io import safe_load_strict

ROOT = Path(__file__).resolve().parents[2]
ACCEL = ROOT / "accelerators" / "simba_like"
CONS = [ACCEL / "constraints/arch.yaml", ACCEL / "constraints/map.yaml"]
MAPPER = {"mapper": {"algorithm": "random-pruned", "optimization-metrics": ["delay", "energy"], "timeout": 100,
                     "victory-condition": 10, "max-permutations-per-if-visit": 4}}  # fmt: skip


def _tile(tmp: Path, name: str, width: int, kind: str) -> tuple[Path, list[Path]]:
    layer = bs.network_layer_set(ROOT / "workloads/alexnet.yaml", "imagenet").layers[3]  # conv4, 13 x 13
    job = bs.BenchJob(name, bs.tile_problem(layer.problem, width), bs.DRAM_KEEP[kind])
    prob, rule = bs.write_job_inputs(job, tmp / name)
    return prob, [*CONS, *([rule] if rule else [])]


def test_dram_rules_share_the_memo_equal_spaces_the_search(tmp_path: Path, caplog) -> None:
    mapper = tmp_path / "mapper.yaml"
    mapper.write_text(yaml.safe_dump(MAPPER))
    a, _ = api._arch_and_prices(api._stamp(ACCEL / "arch.yaml"), api._stamp(ACCEL / "components"),
                                api._stamp(ACCEL / "ERT.yaml"))  # fmt: skip
    spaces = {}
    for name, width, kind in (
        ("wcc", 5, "WCC"),
        ("start", 5, "Start"),
        ("wide", 6, "WCC"),
        ("again", 5, "WCC"),
    ):
        prob, cons = _tile(tmp_path, name, width, kind)
        spaces[name] = MapSpace.build(a, load_problem(prob), load_constraints(cons))
    # the DRAM rule is at the unbounded outermost level: the memo (fits, options, tiers) is shared ...
    assert spaces["wcc"].memo_key() == spaces["start"].memo_key()
    assert spaces["wcc"]._memo is spaces["start"]._memo
    # ... but the searches differ (the mapper honours the outermost keep/bypass); another width shares nothing
    assert api.space_key(spaces["wcc"]) != api.space_key(spaces["start"])
    assert spaces["wide"].memo_key() != spaces["wcc"].memo_key()
    assert api.space_key(spaces["wide"]) != api.space_key(spaces["wcc"])
    # the same tile from another file is the same space: one search
    assert api.space_key(spaces["again"]) == api.space_key(spaces["wcc"])
    api._SEARCHES.clear()
    results = {}
    with caplog.at_level(logging.INFO, logger="fusionsim.mapper.api"):
        for name, width, kind in (
            ("wcc", 5, "WCC"),
            ("start", 5, "Start"),
            ("wide", 6, "WCC"),
            ("again", 5, "WCC"),
        ):
            caplog.clear()
            prob, cons = _tile(tmp_path, name, width, kind)
            results[name] = api.map_files(ACCEL / "arch.yaml", prob, cons, mapper, ACCEL / "ERT.yaml",
                                          components=ACCEL / "components")  # fmt: skip
            results[name]["reused"] = "result reused" in caplog.text
    assert [results[n]["reused"] for n in ("wcc", "start", "wide", "again")] == [False, False, False, True]
    assert results["again"]["mapping"] == results["wcc"]["mapping"]
    # the searches from scratch (cold caches) find the same mappings: sharing changes nothing
    api._SEARCHES.clear()
    from fusionsim.mapper import space as space_mod

    space_mod._SHARED_MEMOS.clear()
    prob, cons = _tile(tmp_path, "start", 5, "Start")
    cold = api.map_files(
        ACCEL / "arch.yaml", prob, cons, mapper, ACCEL / "ERT.yaml", components=ACCEL / "components"
    )
    assert cold["mapping"] == results["start"]["mapping"] and cold["stats"] == results["start"]["stats"]


def test_spec_caches_follow_file_edits(tmp_path: Path) -> None:
    mapper = tmp_path / "mapper.yaml"
    mapper.write_text(yaml.safe_dump(MAPPER))
    first = api._mapper_spec(api._stamp(mapper))
    assert api._mapper_spec(api._stamp(mapper)) is first
    edited = {"mapper": {**MAPPER["mapper"], "victory-condition": 1100}}  # another size: same-tick edits too
    mapper.write_text(yaml.safe_dump(edited))
    assert api._mapper_spec(api._stamp(mapper)).victory_condition == 1100


def test_parsed_yaml_is_a_private_copy() -> None:
    text = "a: [1, 2]\nb: {c: 3}\n"
    one = safe_load_strict(text)
    one["a"].append(9)
    assert safe_load_strict(text) == {"a": [1, 2], "b": {"c": 3}}
    with pytest.raises(yaml.YAMLError):
        safe_load_strict("a: 1\na: 2\n")
    with pytest.raises(yaml.YAMLError):  # an error is raised again, never cached as a value
        safe_load_strict("a: 1\na: 2\n")
