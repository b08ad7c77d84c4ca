"""Timeloop v1.0 mapspace constraints: per storage level, temporal and spatial factors (fixed `D=n`, `D=0` =
the whole dimension, upper bounds `D<=n`), permutations (innermost first, possibly partial, spaces ignored),
spatial X/Y splits, keep/bypass per dataspace and a minimum utilisation.

Files may hold `architecture_constraints`, `mapspace_constraints`, `mapspace` or `constraints` roots, each a
list or a mapping with `targets`/`constraints`; a target may nest its own `constraints` list. Several files
merge as Timeloop merges arch and mapspace constraints: re-specifying the same item at the same level is an
error naming both places (Timeloop v1.0 constraints.hpp aborts likewise)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import load_yaml

ROOT_KEYS = ("architecture_constraints", "mapspace_constraints", "mapspace", "constraints", "targets")
_FACTOR = re.compile(r"([A-Za-z_]+)\s*(<=|=*)\s*([0-9]+)")
TYPES = ("temporal", "spatial", "bypass", "bypassing", "datatype", "utilization", "parallelism")


@dataclass
class LevelConstraint:
    """Temporal or spatial constraints of one storage level; `where` records the source of each item."""

    factors: dict[str, int] = field(default_factory=dict)  # 0 = the whole problem dimension
    max_factors: dict[str, int] = field(default_factory=dict)
    permutation: tuple[str, ...] = ()  # innermost first; a prefix of the full order
    split: int | None = None  # spatial only: the first `split` permutation entries are Spatial-X
    where: dict[str, str] = field(default_factory=dict)


@dataclass
class Constraints:
    """All constraints merged, keyed by storage-level name."""

    temporal: dict[str, LevelConstraint] = field(default_factory=dict)
    spatial: dict[str, LevelConstraint] = field(default_factory=dict)
    keep: dict[str, set[str]] = field(default_factory=dict)
    bypass: dict[str, set[str]] = field(default_factory=dict)
    min_utilization: float | None = None
    files: tuple[str, ...] = ()
    where: dict[str, str] = field(default_factory=dict)  # "keep:<level>:<ds>" -> source

    def level(self, kind: str, name: str) -> LevelConstraint:
        table = self.temporal if kind == "temporal" else self.spatial
        return table.get(name) or LevelConstraint()

    def targets(self) -> set[str]:
        return set(self.temporal) | set(self.spatial) | set(self.keep) | set(self.bypass)


def parse_factors(text: Any, file: Path, key: str) -> tuple[dict[str, int], dict[str, int]]:
    """`"N=1 P=0 M<=8"` (or a list of such items) -> ({N: 1, P: 0}, {M: 8})."""
    if text is None:
        return {}, {}
    if isinstance(text, (list, tuple)):
        text = " ".join(str(t) for t in text)
    if isinstance(text, dict):
        text = " ".join(f"{k}={v}" for k, v in text.items())
    text = str(text)
    fixed: dict[str, int] = {}
    maxf: dict[str, int] = {}
    pos = 0
    for m in _FACTOR.finditer(text):
        gap = text[pos:m.start()]
        if gap.strip():
            raise InputError(f"cannot parse {gap.strip()!r} in factors {text!r}", file=file, key=key,
                             fix="write factors as 'DIM=n' or 'DIM<=n' separated by spaces")
        pos = m.end()
        dim, op, val = m.group(1), m.group(2), int(m.group(3))
        table = maxf if op == "<=" else fixed
        if dim in table:
            raise InputError(f"dimension {dim} appears twice in factors {text!r}", file=file, key=key)
        if op == "<=" and val <= 0:
            raise InputError(f"max factor {dim}<={val} must be positive", file=file, key=key)
        table[dim] = val
    if text[pos:].strip():
        raise InputError(f"cannot parse {text[pos:].strip()!r} in factors {text!r}", file=file, key=key,
                         fix="write factors as 'DIM=n' or 'DIM<=n' separated by spaces")
    return fixed, maxf


def parse_permutation(text: Any, file: Path, key: str) -> tuple[str, ...]:
    """`"QRSC PNM"` -> (Q, R, S, C, P, N, M), innermost first; a list of names is taken as is."""
    if text is None:
        return ()
    dims = [str(d) for d in text] if isinstance(text, (list, tuple)) else [c for c in str(text) if not c.isspace()]
    if len(set(dims)) != len(dims):
        raise InputError(f"permutation {text!r} repeats a dimension", file=file, key=key)
    return tuple(dims)


def constraint_entries(data: Any, file: Path, key: str) -> list[tuple[dict[str, Any], str]]:
    """Flatten the ways Timeloop accepts a constraint list into (entry, key) pairs."""
    if data is None:
        return []
    if isinstance(data, dict):
        for sub in ("targets", "constraints"):
            if sub in data:
                return constraint_entries(data[sub], file, f"{key}.{sub}")
        raise InputError("expected a list of constraints or a mapping with 'targets'", file=file, key=key)
    if not isinstance(data, list):
        raise InputError("expected a list of constraints", file=file, key=key)
    out: list[tuple[dict[str, Any], str]] = []
    for i, entry in enumerate(data):
        k = f"{key}[{i}]"
        if not isinstance(entry, dict):
            raise InputError("constraint must be a mapping with target and type", file=file, key=k)
        if "constraints" in entry and isinstance(entry["constraints"], list):
            tgt = entry.get("target", entry.get("name"))
            for j, c in enumerate(entry["constraints"]):
                if not isinstance(c, dict):
                    raise InputError("constraint must be a mapping", file=file, key=f"{k}.constraints[{j}]")
                attrs = dict(c.get("attributes") or {})
                out.append(({"target": tgt, **c, **attrs}, f"{k}.constraints[{j}]"))
        else:
            attrs = dict(entry.get("attributes") or {})
            out.append(({**entry, **attrs}, k))
    return out


def _add(cons: Constraints, entry: dict[str, Any], file: Path, key: str) -> None:
    src = f"{file}:{key}"
    tgt = entry.get("target", entry.get("name"))
    if tgt is None:
        raise InputError("constraint has no 'target'", file=file, key=f"{key}.target",
                         fix="name the storage level it applies to")
    tgt = str(tgt)
    kind = entry.get("type")
    if kind not in TYPES:
        raise InputError(f"unknown constraint type {kind!r}", file=file, key=f"{key}.type",
                         fix="use temporal, spatial, bypass, datatype or utilization")
    if kind in ("temporal", "spatial"):
        table = cons.temporal if kind == "temporal" else cons.spatial
        lc = table.setdefault(tgt, LevelConstraint())
        fixed, maxf = parse_factors(entry.get("factors"), file, f"{key}.factors")
        for d, v in fixed.items():
            if d in lc.factors:
                raise InputError(f"factor of {d} at {kind} level {tgt} re-specified (first at "
                                 f"{lc.where['factor:' + d]})", file=file, key=f"{key}.factors",
                                 fix="keep one factor per dimension and level across all constraint files")
            lc.factors[d] = v
            lc.where["factor:" + d] = src
        for d, v in maxf.items():
            if d in lc.max_factors:
                raise InputError(f"max factor of {d} at {kind} level {tgt} re-specified", file=file,
                                 key=f"{key}.factors")
            lc.max_factors[d] = v
        perm = parse_permutation(entry.get("permutation"), file, f"{key}.permutation")
        if perm:
            if lc.permutation:
                raise InputError(f"permutation at {kind} level {tgt} re-specified (first at "
                                 f"{lc.where['permutation']})", file=file, key=f"{key}.permutation",
                                 fix="give one permutation per level across all constraint files")
            lc.permutation = perm
            lc.where["permutation"] = src
        if "split" in entry:
            if kind != "spatial":
                raise InputError("'split' is only meaningful for spatial constraints", file=file,
                                 key=f"{key}.split")
            try:
                split = int(entry["split"])
            except (TypeError, ValueError):
                raise InputError(f"split must be an integer, got {entry['split']!r}", file=file,
                                 key=f"{key}.split") from None
            if split < 0:
                raise InputError("split must be >= 0", file=file, key=f"{key}.split")
            if lc.split is not None:
                raise InputError(f"spatial split at {tgt} re-specified", file=file, key=f"{key}.split")
            lc.split = split
    elif kind in ("bypass", "bypassing", "datatype"):
        for flag, table in (("keep", cons.keep), ("bypass", cons.bypass)):
            names = entry.get(flag) or []
            if isinstance(names, str):
                names = [names]
            if not isinstance(names, list):
                raise InputError(f"'{flag}' must be a list of dataspace names", file=file, key=f"{key}.{flag}")
            for ds in names:
                ds = str(ds)
                other = cons.keep if flag == "bypass" else cons.bypass
                if ds in table.get(tgt, set()) or ds in other.get(tgt, set()):
                    first = cons.where.get(f"ds:{tgt}:{ds}", "?")
                    raise InputError(f"keep/bypass of {ds} at {tgt} re-specified (first at {first})", file=file,
                                     key=f"{key}.{flag}", fix="state each dataspace once per level")
                table.setdefault(tgt, set()).add(ds)
                cons.where[f"ds:{tgt}:{ds}"] = src
    else:  # utilization / parallelism
        val = entry.get("min")
        try:
            val = float(val)
        except (TypeError, ValueError):
            raise InputError(f"utilization constraint needs a numeric 'min', got {val!r}", file=file,
                             key=f"{key}.min") from None
        if cons.min_utilization is not None:
            raise InputError("minimum utilization re-specified", file=file, key=f"{key}.min")
        cons.min_utilization = val


def parse_constraints(data: dict[str, Any], file: str | Path = "<constraints>",
                      into: Constraints | None = None) -> Constraints:
    """Add the constraints of one parsed YAML root to `into` (a new Constraints when None)."""
    file = Path(file)
    cons = into if into is not None else Constraints()
    found = False
    for root in ROOT_KEYS:
        if root in data:
            found = True
            for entry, key in constraint_entries(data[root], file, root):
                _add(cons, entry, file, key)
    if not found:
        raise InputError(f"no constraints found (expected one of {', '.join(ROOT_KEYS)})", file=file,
                         key="architecture_constraints", fix="give architecture_constraints: {targets: [...]}")
    cons.files = (*cons.files, str(file))
    return cons


def load_constraints(paths: list[str | Path] | tuple[str | Path, ...]) -> Constraints:
    """Read and merge constraint files (order does not matter: any overlap is an error)."""
    cons = Constraints()
    for p in paths:
        parse_constraints(load_yaml(p), p, cons)
    return cons


def validate_constraints(cons: Constraints, level_names: list[str], dims: tuple[str, ...],
                         dataspaces: list[str], spatial_levels: set[str]) -> None:
    """Check names against the arch and problem: unknown level, dimension or dataspace -> InputError."""
    src = cons.files[0] if cons.files else "<constraints>"
    for kind, table in (("temporal", cons.temporal), ("spatial", cons.spatial)):
        for tgt, lc in table.items():
            where = next(iter(lc.where.values()), src)
            if tgt not in level_names:
                raise InputError(f"target storage level '{tgt}' not found in the arch", file=where.rsplit(":", 1)[0],
                                 key=f"{kind}.{tgt}", fix=f"use one of {level_names}")
            if kind == "spatial" and tgt not in spatial_levels:
                raise InputError(f"level '{tgt}' has no spatial fanout, so a spatial constraint cannot apply",
                                 file=where.rsplit(":", 1)[0], key=f"spatial.{tgt}",
                                 fix="remove it or target a level with fanout")
            for d in (*lc.factors, *lc.max_factors, *lc.permutation):
                if d not in dims:
                    raise InputError(f"dimension '{d}' not in the problem shape", file=where.rsplit(":", 1)[0],
                                     key=f"{kind}.{tgt}", fix=f"use one of {list(dims)}")
    for table in (cons.keep, cons.bypass):
        for tgt, names in table.items():
            if tgt not in level_names:
                raise InputError(f"target storage level '{tgt}' not found in the arch", file=src,
                                 key=f"bypass.{tgt}", fix=f"use one of {level_names}")
            for ds in names:
                if ds not in dataspaces:
                    raise InputError(f"dataspace '{ds}' not in the problem", file=src, key=f"bypass.{tgt}",
                                     fix=f"use one of {dataspaces}")
