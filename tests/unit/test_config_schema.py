"""config.schema.yaml documents and checks config.yaml; every shipped config validates."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((ROOT / "config.schema.yaml").read_text())
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())


def validator() -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(SCHEMA)


def resolve(node: dict) -> dict:
    """Follow a local `$ref` (siblings of the ref override the target's keys)."""
    if "$ref" not in node:
        return node
    target = SCHEMA
    for part in node["$ref"].lstrip("#/").split("/"):
        target = target[part]
    return {**resolve(target), **{k: v for k, v in node.items() if k != "$ref"}}


def walk(node: dict, path: str = ""):
    node = resolve(node)
    yield path, node
    for key, sub in (node.get("properties") or {}).items():
        yield from walk(sub, f"{path}.{key}" if path else key)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        yield from walk(extra, f"{path}.*")


def test_schema_is_valid_2020_12() -> None:
    assert SCHEMA["$schema"].endswith("2020-12/schema")
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_key_has_description_and_default() -> None:
    for path, node in walk(SCHEMA):
        if not path:
            continue
        assert node.get("description"), f"{path} has no description"
        if not path.endswith(".*"):  # map values (additionalProperties) have no default of their own
            assert "default" in node, f"{path} has no default"


def test_every_object_closes_additional_properties() -> None:
    for path, node in walk(SCHEMA):
        if node.get("type") == "object" or "object" in (node.get("type") or []):
            assert "additionalProperties" in node, f"{path or '<root>'} allows unknown keys"


@pytest.mark.parametrize("name", ["config.yaml", ".test/config.yaml"])
def test_shipped_configs_validate(name: str) -> None:
    cfg = copy.deepcopy(CONFIG)
    if name != "config.yaml":
        overlay = yaml.safe_load((ROOT / name).read_text())
        cfg.update(overlay)  # the overlay's sections replace whole top-level keys or merge below
    validator().validate(cfg)


def test_config_keys_match_schema_keys() -> None:
    assert set(CONFIG) == set(SCHEMA["properties"]), "config.yaml and config.schema.yaml disagree on keys"
    assert set(CONFIG["mapper"]) == set(SCHEMA["properties"]["mapper"]["properties"])


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda c: c.update(enigne="native"), "enigne"),
        (lambda c: c.update(engine="fast"), "engine"),
        (lambda c: c["mapper"].update(timeout=0), "timeout"),
        (lambda c: c["accelerators"].update(eyeriss_like={"mapper": {"timeuot": 3}}), "timeuot"),
        (lambda c: c.update(networks=[]), "networks"),
    ],
)
def test_bad_config_error_names_the_key(mutate, where: str) -> None:
    cfg = copy.deepcopy(CONFIG)
    mutate(cfg)
    errors = list(validator().iter_errors(cfg))
    assert errors
    text = " ".join(f"{list(e.absolute_path)} {e.message}" for e in errors)
    assert where in text
