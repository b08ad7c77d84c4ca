"""Accelergy energy reference tables (ERT v0.2/v0.3): every action's energy, and the per-access energy
Timeloop v1.0 charges (see `fusionsim.semantics.v1`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import load_yaml


@dataclass(frozen=True)
class ActionEnergy:
    action: str
    arguments: dict[str, Any] | None
    energy_pJ: float


@dataclass(frozen=True)
class ERT:
    """Tables keyed by the full component name as written in the ERT."""

    tables: dict[str, tuple[ActionEnergy, ...]] = field(default_factory=dict)
    file: str = ""

    def actions_of(self, component_key: str) -> tuple[ActionEnergy, ...]:
        return self.tables[component_key]


def parse_ert(data: dict[str, Any], file: str | Path = "<ERT>") -> ERT:
    file = Path(file)
    root = data.get("ERT", data)
    if not isinstance(root, dict) or "tables" not in root:
        raise InputError("no ERT 'tables'", file=file, key="ERT.tables",
                         fix="give an Accelergy ERT (ERT: {version: 0.3, tables: [...]})")
    version = root.get("version", 0.3)
    tables: dict[str, list[ActionEnergy]] = {}
    raw = root["tables"]
    if float(version) == 0.3 or isinstance(raw, list):
        if not isinstance(raw, list):
            raise InputError("ERT v0.3 'tables' must be a list", file=file, key="ERT.tables")
        for i, t in enumerate(raw):
            if not isinstance(t, dict) or "name" not in t or "actions" not in t:
                raise InputError("ERT table needs 'name' and 'actions'", file=file, key=f"ERT.tables[{i}]")
            acts = tables.setdefault(str(t["name"]), [])
            for j, a in enumerate(t["actions"] or []):
                acts.append(_action(a, file, f"ERT.tables[{i}].actions[{j}]"))
    elif isinstance(raw, dict):  # v0.2: {component: {action: entry | [entries]}}
        for name, acts_raw in raw.items():
            acts = tables.setdefault(str(name), [])
            for aname, entries in (acts_raw or {}).items():
                for e in entries if isinstance(entries, list) else [entries]:
                    acts.append(_action({"name": aname, **(e or {})}, file, f"ERT.tables.{name}.{aname}"))
    else:
        raise InputError(f"unsupported ERT version {version}", file=file, key="ERT.version", fix="use 0.2 or 0.3")
    return ERT({k: tuple(v) for k, v in tables.items()}, str(file))


def _action(a: Any, file: Path, key: str) -> ActionEnergy:
    if not isinstance(a, dict) or "name" not in a:
        raise InputError("ERT action needs a name", file=file, key=key)
    energy = a.get("energy")
    try:
        e = float(energy) if energy is not None else float("nan")
    except (TypeError, ValueError):
        raise InputError(f"energy must be a number, got {energy!r}", file=file, key=f"{key}.energy") from None
    return ActionEnergy(str(a["name"]), a.get("arguments"), e)


def load_ert(path: str | Path) -> ERT:
    """Read an Accelergy ERT YAML file."""
    return parse_ert(load_yaml(path), path)
