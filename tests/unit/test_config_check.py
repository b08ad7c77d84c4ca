"""fusionsim.config_check: one line per config problem with the file that set the key and the closest fix."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from fusionsim.config_check import (
    ConfigSources,
    closest,
    load_schema,
    merge_config,
    name_fix,
    reference_errors,
    schema_errors,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = load_schema(ROOT / "config.schema.yaml")
DEFAULT = yaml.safe_load((ROOT / "config.yaml").read_text())


def sources(tmp_path: Path, overlay: dict, cli: dict | None = None) -> tuple[dict, ConfigSources]:
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump(overlay))
    cfg = merge_config(copy.deepcopy(DEFAULT), overlay)
    if cli:
        merge_config(cfg, cli)
    return cfg, ConfigSources([ROOT / "config.yaml", path], cli=cli)


def test_default_config_has_no_problems_and_gets_defaults(tmp_path: Path) -> None:
    cfg, src = sources(tmp_path, {})
    del cfg["report"]
    assert schema_errors(cfg, SCHEMA, src) == []
    assert cfg["report"]["title"]  # filled in from the schema's default
    assert reference_errors(cfg, ROOT, src) == []


def test_misspelt_key_names_overlay_path_and_closest_key(tmp_path: Path) -> None:
    cfg, src = sources(tmp_path, {"fusion": {"enabeld": True}})
    assert schema_errors(cfg, SCHEMA, src) == [
        f"{tmp_path / 'my.yaml'}: key 'fusion.enabeld': unknown key (fix: did you mean 'enabled'?)"
    ]


def test_one_line_per_problem_sorted_no_schema_dump(tmp_path: Path) -> None:
    cfg, src = sources(tmp_path, {"engine": "nativ", "mapper": {"timeout": 0}, "netwroks": []})
    lines = schema_errors(cfg, SCHEMA, src)
    assert len(lines) == 3
    assert all("\n" not in x and len(x) < 300 for x in lines)
    assert any("did you mean 'native'" in x for x in lines)
    assert any("mapper.timeout" in x and ">= 1" in x for x in lines)


def test_key_from_config_yaml_names_config_yaml(tmp_path: Path) -> None:
    cfg, src = sources(tmp_path, {})
    cfg["mapper"]["seed"] = -3  # as if config.yaml said so
    (line,) = schema_errors(cfg, SCHEMA, src)
    assert line.startswith(f"{ROOT / 'config.yaml'}: key 'mapper.seed'")


def test_command_line_config_is_named(tmp_path: Path) -> None:
    cfg, src = sources(tmp_path, {}, cli={"networks": ["alexnett"]})
    assert schema_errors(cfg, SCHEMA, src) == []
    (line,) = reference_errors(cfg, ROOT, src)
    assert line.startswith("--config: key 'networks[0]': unknown network 'alexnett'")
    assert line.endswith("(fix: did you mean 'alexnet'?)")


@pytest.mark.parametrize(
    ("overlay", "expect"),
    [
        ({"accelerators": {"eyeriss": {}}}, "did you mean 'eyeriss_like'?"),
        ({"datasets": ["cifar01"]}, "did you mean 'cifar10'?"),
        ({"layers": {"mobilenetv2": ["PW22"]}}, "did you mean 'PW2'?"),
        ({"fusion": {"enabled": True, "comparisons": ["fusionett"]}}, "did you mean 'fusionet'?"),
        ({"fusion_tiling": {"enabled": True, "accelerators": ["simba"]}}, "did you mean 'simba_like'?"),
        (
            {"fusion_tiling": {"variant": "deepfrack-fast", "objective": "latency"}},
            "use objective: energy or variant: exact",
        ),
    ],
)
def test_unknown_names_get_closest_valid_name(tmp_path: Path, overlay: dict, expect: str) -> None:
    cfg, src = sources(tmp_path, overlay)
    assert schema_errors(cfg, SCHEMA, src) == []
    (line,) = reference_errors(cfg, ROOT, src)
    assert line.startswith(str(tmp_path / "my.yaml")) and line.endswith(f"(fix: {expect})")


def test_tiles_one_of_reports_the_fitting_branch(tmp_path: Path) -> None:
    for tiles, expect in [
        ("alll", "did you mean 'all'"),
        ([0, 3], "tiles[0]"),
        ({"a": 1}, "give 'all' or a list"),
    ]:
        cfg, src = sources(tmp_path, {"fusion_tiling": {"tiles": tiles}})
        (line,) = schema_errors(cfg, SCHEMA, src)
        assert expect in line, line


def test_name_fix_and_closest() -> None:
    assert closest("mobilenetv3", ["mobilenetv2", "alexnet"]) == "mobilenetv2"
    assert closest("zzz", ["mobilenetv2"]) is None
    assert name_fix("zzz", ["b", "a"]) == "use one of a, b"
    assert name_fix("zzz", [f"n{i:02d}" for i in range(20)]).endswith(", ...")


def test_merge_config_is_snakemakes_recursive_update() -> None:
    base = {"a": {"x": 1, "y": [1]}, "b": 1}
    assert merge_config(base, {"a": {"y": [2]}, "c": None}) == {"a": {"x": 1, "y": [2]}, "b": 1, "c": None}
