"""Timeloop problem specs: dimensions, bounds, coefficients and dataspace projections (CNN-Layer or any shape
given the same way), parsed as Timeloop v1.0's problem-shape.cpp reads them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import load_yaml

MAX_BOUND = 2**31 - 1
"""Largest dimension bound accepted (every real layer is far below; the engine counts in int64)."""
MAX_OPERATIONS = 2**53
"""Most operations (product of the bounds) one problem may have: counts stay exact in float64."""

# The built-in CNN-Layer shape, used when a problem names it without spelling it out.
CNN_LAYER_SHAPE: dict[str, Any] = {
    "name": "CNN-Layer",
    "dimensions": ["C", "M", "R", "S", "N", "P", "Q"],
    "coefficients": [{"name": n, "default": 1} for n in ("Wstride", "Hstride", "Wdilation", "Hdilation")],
    "data-spaces": [
        {"name": "Weights", "projection": [[["C"]], [["M"]], [["R"]], [["S"]]]},
        {"name": "Inputs", "projection": [[["N"]], [["C"]], [["R", "Wdilation"], ["P", "Wstride"]],
                                          [["S", "Hdilation"], ["Q", "Hstride"]]]},
        {"name": "Outputs", "projection": [[["N"]], [["M"]], [["Q"]], [["P"]]], "read-write": True},
    ],
}


@dataclass(frozen=True)
class Dataspace:
    """One tensor: each of its dimensions is a sum of (coefficient, problem-dimension index) terms."""

    name: str
    projection: tuple[tuple[tuple[int, int], ...], ...]
    read_write: bool


@dataclass(frozen=True)
class Problem:
    shape_name: str
    dims: tuple[str, ...]
    bounds: tuple[int, ...]  # in `dims` order
    dataspaces: tuple[Dataspace, ...]
    densities: tuple[float, ...]  # per dataspace, default 1.0
    file: str = ""
    coefficients: tuple[tuple[str, int], ...] = ()

    @cached_property
    def projections(self) -> tuple[tuple[tuple[tuple[int, int], ...], ...], ...]:
        """Per dataspace, per dataspace dimension, the (coefficient, problem-dim index) terms."""
        return tuple(d.projection for d in self.dataspaces)

    @property
    def macs(self) -> int:
        return math.prod(self.bounds)

    def bound(self, dim: str) -> int:
        return self.bounds[self.dims.index(dim)]

    def dim_index(self, dim: str) -> int:
        try:
            return self.dims.index(dim)
        except ValueError:
            raise KeyError(dim) from None

    def dataspace_names(self) -> list[str]:
        return [d.name for d in self.dataspaces]

    def tensor_size(self, ds: int) -> int:
        """Words of dataspace `ds` over the whole problem (bounding box of the projection)."""
        size = 1
        for terms in self.dataspaces[ds].projection:
            size *= sum(abs(c) * (self.bounds[d] - 1) for c, d in terms) + 1
        return size

    def to_yaml_dict(self) -> dict[str, Any]:
        """The Timeloop problem YAML this problem was read from (instance + shape)."""
        coef = dict(self.coefficients)
        shape = {
            "name": self.shape_name,
            "dimensions": list(self.dims),
            "coefficients": [{"name": n, "default": 1} for n in coef],
            "data-spaces": [],
        }
        for ds in self.dataspaces:
            proj = []
            for terms in ds.projection:
                proj.append([[self.dims[d]] if c == 1 else [self.dims[d], _coef_name(c, coef)] for c, d in terms])
            entry: dict[str, Any] = {"name": ds.name, "projection": proj}
            if ds.read_write:
                entry["read-write"] = True
            shape["data-spaces"].append(entry)
        instance: dict[str, Any] = dict(zip(self.dims, self.bounds))
        instance.update(coef)
        return {"problem": {"shape": shape, "instance": instance}}


def _coef_name(value: int, coef: dict[str, int]) -> str | int:
    for k, v in coef.items():
        if v == value:
            return k
    return value


def parse_problem(data: dict[str, Any], file: str | Path = "<problem>") -> Problem:
    """Build a Problem from the parsed YAML root (`problem: {shape, instance}`)."""
    file = Path(file)
    root = data.get("problem")
    if not isinstance(root, dict):
        raise InputError("no 'problem' mapping", file=file, key="problem",
                         fix="give problem: {shape: ..., instance: ...}")
    shape = root.get("shape")
    if shape is None or (isinstance(shape, dict) and set(shape) <= {"name"}
                         and shape.get("name", "CNN-Layer") == "CNN-Layer"):
        shape = CNN_LAYER_SHAPE
    if not isinstance(shape, dict):
        raise InputError("'shape' must be a mapping", file=file, key="problem.shape")
    instance = root.get("instance")
    if not isinstance(instance, dict):
        raise InputError("no 'instance' mapping with the dimension bounds", file=file, key="problem.instance")
    dims = shape.get("dimensions")
    if not isinstance(dims, list) or not dims:
        raise InputError("no dimension list", file=file, key="problem.shape.dimensions")
    dims = [str(d) for d in dims]
    coefs: dict[str, int] = {}
    for i, c in enumerate(shape.get("coefficients") or []):
        if not isinstance(c, dict) or "name" not in c:
            raise InputError("coefficient needs a name", file=file, key=f"problem.shape.coefficients[{i}]")
        coefs[str(c["name"])] = _int(instance.get(c["name"], c.get("default", 1)), file,
                                     f"problem.instance.{c['name']}")
    bounds = []
    for d in dims:
        if d not in instance:
            raise InputError(f"bound of dimension '{d}' missing", file=file, key=f"problem.instance.{d}",
                             fix=f"add {d}: <size> under problem.instance")
        b = _int(instance[d], file, f"problem.instance.{d}")
        if b < 1:
            raise InputError(f"bound must be >= 1, got {b}", file=file, key=f"problem.instance.{d}",
                             fix="use a positive layer size")
        if b > MAX_BOUND:
            raise InputError(f"bound {b:,} exceeds the maximum {MAX_BOUND:,} (2**31-1)", file=file,
                             key=f"problem.instance.{d}", fix="use a layer size below 2**31")
        bounds.append(b)
    if math.prod(bounds) > MAX_OPERATIONS:
        raise InputError(f"the bounds multiply to {math.prod(bounds):,} operations, more than 2**53", file=file,
                         key="problem.instance", fix="split the layer into smaller ones")
    spaces = []
    raw_ds = shape.get("data-spaces")
    if not isinstance(raw_ds, list) or not raw_ds:
        raise InputError("no data-spaces", file=file, key="problem.shape.data-spaces")
    for i, ds in enumerate(raw_ds):
        key = f"problem.shape.data-spaces[{i}]"
        if not isinstance(ds, dict) or "name" not in ds or "projection" not in ds:
            raise InputError("data-space needs 'name' and 'projection'", file=file, key=key)
        proj = []
        for j, terms in enumerate(ds["projection"]):
            parsed = []
            for term in terms:
                if not isinstance(term, list) or not 1 <= len(term) <= 2:
                    raise InputError("projection term must be [dim] or [dim, coefficient]", file=file,
                                     key=f"{key}.projection[{j}]")
                dim = str(term[0])
                if dim not in dims:
                    raise InputError(f"unknown dimension '{dim}' in projection", file=file,
                                     key=f"{key}.projection[{j}]", fix=f"use one of {dims}")
                coef = 1
                if len(term) == 2:
                    c = term[1]
                    if isinstance(c, str):
                        if c not in coefs:
                            raise InputError(f"unknown coefficient '{c}'", file=file,
                                             key=f"{key}.projection[{j}]", fix="declare it under coefficients")
                        coef = coefs[c]
                    else:
                        coef = _int(c, file, f"{key}.projection[{j}]")
                parsed.append((coef, dims.index(dim)))
            proj.append(tuple(parsed))
        spaces.append(Dataspace(str(ds["name"]), tuple(proj), bool(ds.get("read-write", False))))
    dens_raw = instance.get("densities") or {}
    densities = tuple(float(dens_raw.get(s.name, 1.0)) if isinstance(dens_raw, dict) else 1.0 for s in spaces)
    return Problem(str(shape.get("name", "")), tuple(dims), tuple(bounds), tuple(spaces), densities, str(file),
                   tuple(coefs.items()))


def _int(value: Any, file: Path, key: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # exact: float() would round a 64-bit bound
    try:
        f = float(value)
        exact = f == int(f)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"expected an integer, got {str(value)[:40]!r}", file=file, key=key,
                         fix="write a whole number") from None
    if not exact:
        raise InputError(f"expected an integer, got {value!r}", file=file, key=key, fix="write a whole number")
    return int(f)


def load_problem(path: str | Path) -> Problem:
    """Read a Timeloop problem YAML file."""
    return parse_problem(load_yaml(path), path)
