"""Read the inputs of the fusion search: per-dataflow-type cost tables and the layers' problem YAMLs.

Cost tables use the DeepFrack layout: `<TYPE>.json` = `{"<layer number>": {"<tile width>": energy_uJ}}`
(layer number = 1-based position). Also accepted: the ArchGym layout (`{"Energy": {...}, "Cycles":
{...}}` in `<TYPE>.json`) and optional `<TYPE>_cycles.json` files, which enable the latency objective.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import load_json, load_yaml_any

TYPES = ("SLC", "Start", "LBLC", "ELBLC", "WCC", "EWCC", "OutWCC")

Table = dict[int, dict[int, float]]  # layer number (1-based) -> tile width -> value


@dataclass(frozen=True)
class LayerShape:
    """One conv layer as the fusion search sees it (widths only; square maps and kernels assumed)."""

    name: str
    file: Path
    C: int
    M: int
    P: int  # output width
    R: int  # kernel width
    stride: int = 1
    dilation: int = 1

    @property
    def weight_words(self) -> int:
        """Weights of the layer in words: R*R*C*M (square kernel, as the seed counts them)."""
        return self.R * self.R * self.C * self.M


@dataclass
class CostTables:
    """Energy (uJ) and, when available, cycles per dataflow type, layer number and tile width."""

    energy: dict[str, Table]
    cycles: dict[str, Table] | None = None
    files: dict[str, Path] = field(default_factory=dict)

    def file(self, kind: str) -> Path | str:
        return self.files.get(kind, f"{kind}.json")

    def value(self, kind: str, layer: int, width: int, metric: str = "energy") -> float:
        """Table entry for layer index `layer` (0-based) and tile width; InputError when missing."""
        table = (self.energy if metric == "energy" else self.cycles or {})[kind]
        try:
            return table[layer + 1][width]
        except KeyError:
            raise InputError(f"no {metric} entry for layer {layer + 1} at tile width {width}",
                             file=self.file(kind), key=f"{layer + 1}/{width}",
                             fix="benchmark that layer and tile width, or use a width the table has") from None


def _number_table(raw: object, path: Path, what: str) -> Table:
    if not isinstance(raw, dict):
        raise InputError(f"{what} must be a JSON object {{layer: {{tile: value}}}}", file=path)
    out: Table = {}
    for layer, row in raw.items():
        if not isinstance(row, dict):
            raise InputError(f"{what} row must map tile widths to numbers", file=path, key=str(layer))
        try:
            lay = int(layer)
        except ValueError:
            raise InputError("layer key is not a number", file=path, key=str(layer)) from None
        out[lay] = {}
        for tile, val in row.items():
            try:
                num = float(val)
                out[lay][int(tile)] = num
            except (TypeError, ValueError):
                raise InputError(f"entry is not a number ({str(val)[:40]!r})", file=path,
                                 key=f"{layer}/{tile}", fix="re-run the benchmark for this tile") from None
            if not math.isfinite(num) or num < 0:
                raise InputError(f"entry must be a finite non-negative number, got {num}", file=path,
                                 key=f"{layer}/{tile}")
    return out


def _read_json(path: Path) -> object:
    if not path.exists():
        raise InputError("cost table not found", file=path,
                         fix="point --costs at the folder holding SLC.json, Start.json, ... OutWCC.json")
    return load_json(path)


def load_tables(folder: str | Path) -> CostTables:
    """Read the seven `<TYPE>.json` tables (and cycles when present) from `folder`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("cost-table folder not found", file=folder, fix="check --costs")
    energy: dict[str, Table] = {}
    cycles: dict[str, Table] = {}
    files: dict[str, Path] = {}
    for kind in TYPES:
        path = folder / f"{kind}.json"
        if not path.exists() and (folder / f"{kind}_energy.json").exists():
            path = folder / f"{kind}_energy.json"
        raw = _read_json(path)
        files[kind] = path
        if isinstance(raw, dict) and "Energy" in raw:
            energy[kind] = _number_table(raw["Energy"], path, "Energy table")
            if "Cycles" in raw:
                cycles[kind] = _number_table(raw["Cycles"], path, "Cycles table")
        else:
            energy[kind] = _number_table(raw, path, "cost table")
        cyc = folder / f"{kind}_cycles.json"
        if cyc.exists():
            cycles[kind] = _number_table(_read_json(cyc), cyc, "cycles table")
    return CostTables(energy, cycles if len(cycles) == len(TYPES) else None, files)


def _layer_number(path: Path) -> int:
    nums = re.findall(r"\d+", path.stem)
    if not nums:
        raise InputError("layer file name carries no layer number", file=path,
                         fix="name files like Net_layer01.yaml, numbered in execution order")
    return int(nums[-1])


def layer_shape(data: dict, path: Path) -> LayerShape:
    """The fusion search's view of one Timeloop problem (`path` names it in errors): sizes, kernel, stride."""
    try:
        inst = data["problem"]["instance"]
    except (KeyError, TypeError):
        raise InputError("not a Timeloop problem (no problem.instance)", file=path, key="problem.instance",
                         fix="give one layer's Timeloop problem YAML (problem: {shape, instance})") from None
    names = {"kernel": "R", "out": "P"}
    try:  # walk the Inputs projection as the seed does: R pairs with Wdilation, P with Wstride
        for ds in data["problem"]["shape"]["data-spaces"]:
            if ds.get("name") != "Inputs":
                continue
            for term in ds["projection"]:
                for pair in term:
                    if len(pair) == 2 and pair[1] == "Wdilation":
                        names["kernel"] = pair[0]
                    elif len(pair) == 2 and pair[1] == "Wstride":
                        names["out"] = pair[0]
    except (KeyError, TypeError):
        pass

    def get(key: str, default: int | None = None) -> int:
        if key in inst:
            return int(inst[key])
        if default is None:
            raise InputError("missing problem dimension", file=path, key=f"problem.instance.{key}")
        return default

    if names == {"kernel": "R", "out": "P"} and (get("S", get("R")), get("Q", get("P")), get("Hstride", 1)) != (
            get("R"), get("P"), get("Wstride", 1)):
        raise InputError(f"non-square layer (R={get('R')} S={get('S')}, P={get('P')} Q={get('Q')}): the fusion "
                         "search models square maps and kernels", file=path, key="problem.instance",
                         fix="search square layers only")
    return LayerShape(name=path.stem, file=path, C=get("C"), M=get("M"), P=get(names["out"]),
                      R=get(names["kernel"]), stride=get("Wstride", 1), dilation=get("Wdilation", 1))


def load_layers(folder: str | Path) -> list[LayerShape]:
    """Read every `*.yaml` problem in `folder`, ordered by the number in the file name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("layer folder not found", file=folder, fix="check --layers")
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not files:
        raise InputError("no layer problem YAMLs (*.yaml) in folder", file=folder, fix="check --layers")
    shapes = []
    for path in sorted(files, key=_layer_number):
        data = load_yaml_any(path)
        shapes.append(layer_shape(data if isinstance(data, dict) else {}, path))
    return shapes


def validate_tables(tables: CostTables, shapes: list[LayerShape]) -> None:
    """Every table has every layer; no tile is wider than its layer; SLC has each full layer."""
    for kind in TYPES:
        for idx, shape in enumerate(shapes):
            row = tables.energy[kind].get(idx + 1)
            if row is None:
                raise InputError(f"no entry for layer {idx + 1} ({shape.name})", file=tables.file(kind),
                                 key=str(idx + 1), fix="benchmark every layer of --layers for every type")
            wide = [w for w in row if w > shape.P or w < 1]
            if wide:
                raise InputError(f"tile width {max(wide)} is wider than layer {idx + 1} ({shape.name}, "
                                 f"output width {shape.P})", file=tables.file(kind), key=f"{idx + 1}/{max(wide)}",
                                 fix="check that --costs and --layers belong to the same network")
        extra = sorted(k for k in tables.energy[kind] if k > len(shapes) or k < 1)
        if extra:
            raise InputError(f"table has layer {extra[0]} but --layers has {len(shapes)} layers",
                             file=tables.file(kind), key=str(extra[0]), fix="check --layers")
    for idx, shape in enumerate(shapes):
        tables.value("SLC", idx, shape.P)  # the layer-by-layer baseline needs the full layer
