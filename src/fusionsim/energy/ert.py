"""Build the energy reference table (ERT) and area reference table (ART) of an architecture and write them in
Accelergy's v0.3 format, the layout of the reference runs' `timeloop-mapper.ERT.yaml`.

Reading an ERT is `fusionsim.spec.ert`'s job; this module only builds and writes.

Layout as Accelergy prints it: primitive components first, then compound ones, each group in the order of
Accelergy's flattened architecture (innermost subtree first, written order within a subtree); one row per
action and argument combination; energies rounded to `precision` decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fusionsim.atomic_io import write_text
from fusionsim.energy.compound import Action, ComponentModel, Estimator, load_compound_classes
from fusionsim.energy.primitives import NativeEstimator, Where
from fusionsim.errors import InputError
from fusionsim.spec.arch import walk_components
from fusionsim.spec.ert import ActionEnergy
from fusionsim.spec.yaml_io import load_yaml

TECHNOLOGIES = ("40nm", "45nm", "65nm")
BACKENDS = ("native", "hwcomponents")


@dataclass(frozen=True)
class ComponentTable:
    """The ERT rows and the area of one architecture component (area per instance)."""

    name: str  # full dotted name as in the arch, e.g. system.eyeriss.PE[0..71].mac
    cls: str
    compound: bool
    instances: int
    actions: tuple[ActionEnergy, ...]
    area_um2: float

    def energy(self, action: str, **arguments: Any) -> float:
        """Energy of one row (arguments must match exactly; none for argument-less actions)."""
        for row in self.actions:
            if row.action == action and (row.arguments or {}) == arguments:
                return row.energy_pJ
        raise KeyError((self.name, action, arguments))

    @property
    def max_energy_pJ(self) -> float:
        """What Timeloop v1.0 charges per access: the max over all rows, idle included."""
        return max((r.energy_pJ for r in self.actions), default=0.0)


@dataclass(frozen=True)
class EnergyTables:
    """ERT and ART of one architecture."""

    components: tuple[ComponentTable, ...]
    arch_file: str
    backend: str

    def by_name(self) -> dict[str, ComponentTable]:
        return {c.name: c for c in self.components}

    def local(self, name: str) -> ComponentTable:
        """The table whose local name (text after the last '.', range cut) is `name`."""
        for c in self.components:
            last = c.name.rsplit(".", 1)[-1]
            if last.split("[", 1)[0] == name:
                return c
        raise KeyError(name)


def make_estimator(backend: str = "native") -> Estimator:
    """The primitive estimator for a backend name."""
    if backend == "native":
        return NativeEstimator()
    if backend == "hwcomponents":
        from fusionsim.energy.hwcomponents_backend import HwComponentsEstimator

        return HwComponentsEstimator()
    raise InputError(
        f"unknown energy backend '{backend}'", key="--energy-backend", fix="use native or hwcomponents"
    )


def default_components_dir(arch_path: Path) -> Path | None:
    """`components/` beside the arch file, if there is one (the accelerator/<name>/ layout)."""
    d = Path(arch_path).parent / "components"
    return d if d.is_dir() else None


def build_tables(
    arch_path: str | Path,
    components: str | Path | list[str | Path] | None = None,
    technology: str | None = None,
    backend: str = "native",
) -> EnergyTables:
    """ERT and ART for every component the arch names.

    `components`: compound class files or folders (default: `components/` beside the arch, if present).
    `technology`: when given (e.g. "45nm"), overrides every component's technology attribute.
    """
    arch_path = Path(arch_path)
    data = load_yaml(arch_path)
    comps = walk_components(data, arch_path)
    if components is None:
        d = default_components_dir(arch_path)
        sources = [d] if d else []
    elif isinstance(components, (list, tuple)):
        sources = [Path(c) for c in components]
    else:
        sources = [Path(components)]
    classes = load_compound_classes(sources, data.get("compound_components"), str(arch_path))
    if technology is not None and technology not in TECHNOLOGIES:
        raise InputError(
            f"unsupported technology '{technology}'",
            key="--technology",
            fix="use one of " + ", ".join(TECHNOLOGIES),
        )
    model = ComponentModel(classes, make_estimator(backend))
    # Accelergy's flattened order: deeper subtrees first, written order within one (sort is stable)
    ordered = sorted(comps, key=lambda c: -c.depth)
    tables: list[ComponentTable] = []
    for c in ordered:
        attrs = dict(c.attributes)
        if technology is not None and attrs.get("technology") != "DRAM":
            attrs["technology"] = technology
        where = Where(c.path, str(arch_path))
        r = model.resolve(c.cls, attrs, where)
        rows = [_row(model, r, a) for a in model.actions(r)]
        tables.append(
            ComponentTable(c.path, c.cls, r.compound is not None, c.instances, tuple(rows), model.area_um2(r))
        )
    tables.sort(key=lambda t: t.compound)  # primitives first, order kept within each group
    return EnergyTables(tuple(tables), str(arch_path), backend)


def _row(model: ComponentModel, r, a: Action) -> ActionEnergy:
    return ActionEnergy(a.name, a.arguments, model.energy_pJ(r, a.name, a.arguments))


def _rounded(x: float, precision: int) -> float | int:
    v = round(x, precision)
    return int(v) if float(v).is_integer() else v


def ert_dict(tables: EnergyTables, precision: int = 3) -> dict[str, Any]:
    """The ERT as Accelergy v0.3 prints it."""
    out = []
    for t in tables.components:
        out.append(
            {
                "name": t.name,
                "actions": [
                    {"name": r.action, "arguments": r.arguments, "energy": _rounded(r.energy_pJ, precision)}
                    for r in t.actions
                ],
            }
        )
    return {"ERT": {"version": 0.3, "tables": out}}


def art_dict(tables: EnergyTables, precision: int = 3) -> dict[str, Any]:
    """The ART (area per instance, um^2) as Accelergy v0.3 prints it."""
    return {
        "ART": {
            "version": 0.3,
            "tables": [{"name": t.name, "area": _rounded(t.area_um2, precision)} for t in tables.components],
        }
    }


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def write_tables(tables: EnergyTables, out_dir: str | Path, precision: int = 3) -> tuple[Path, Path]:
    """Write `ERT.yaml` and `ART.yaml` into `out_dir`, each atomically; returns their paths."""
    out_dir = Path(out_dir)
    ert_text = dump_yaml(ert_dict(tables, precision))
    art_text = dump_yaml(art_dict(tables, precision))
    return write_text(out_dir / "ERT.yaml", ert_text), write_text(out_dir / "ART.yaml", art_text)
