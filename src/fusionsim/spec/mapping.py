"""Mappings: per storage level, the temporal and spatial loops and the dataspaces kept. Read from a Timeloop
mapping YAML or from Timeloop's printed `map.txt`; written back as a mapping YAML or a map.txt-style nest."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fusionsim.errors import InputError
from fusionsim.model import semantics_v1
from fusionsim.spec.arch import Arch
from fusionsim.spec.problem import Problem
from fusionsim.spec.yaml_io import load_yaml, read_input_text


@dataclass(frozen=True)
class Loop:
    dim: str
    bound: int
    spatial: bool = False
    axis: str = ""  # "X" or "Y" for spatial loops


@dataclass(frozen=True)
class LevelMapping:
    """Loops are listed innermost first; `keep` is the set of dataspaces this level stores."""

    name: str
    temporal: tuple[Loop, ...]
    spatial: tuple[Loop, ...]
    keep: frozenset[str]


@dataclass(frozen=True)
class Mapping:
    levels: tuple[LevelMapping, ...]  # aligned with Arch.storage (inner to outer)

    def factors(self, dim: str) -> int:
        return math.prod(lp.bound for lv in self.levels for lp in (*lv.temporal, *lv.spatial) if lp.dim == dim)

    def to_yaml_dict(self, problem: Problem) -> dict[str, Any]:
        """Timeloop mapping YAML (permutations innermost first, split = number of X loops)."""
        out: list[dict[str, Any]] = []
        for lv in reversed(self.levels):
            out.append(_directive(lv.name, "temporal", lv.temporal, problem))
            if lv.spatial:
                d = _directive(lv.name, "spatial", lv.spatial, problem)
                d["split"] = sum(1 for lp in lv.spatial if lp.axis == "X")
                out.append(d)
            ds = problem.dataspace_names()
            out.append({"target": lv.name, "type": "bypass", "keep": [d for d in ds if d in lv.keep],
                        "bypass": [d for d in ds if d not in lv.keep]})
        return {"mapping": out}

    def to_yaml(self, problem: Problem) -> str:
        return yaml.safe_dump(self.to_yaml_dict(problem), sort_keys=False)

    def to_text(self, capacities: dict[str, dict[str, int]] | None = None) -> str:
        """A `map.txt`-style loop nest, outermost first (capacities: level -> dataspace -> words kept)."""
        lines: list[str] = []
        depth = 0
        for lv in reversed(self.levels):
            kept = capacities.get(lv.name, {}) if capacities else {d: 0 for d in sorted(lv.keep)}
            head = f"{lv.name} [ " + " ".join(f"{d}:{c}" for d, c in kept.items()) + " ] "
            lines += ["", head, "-" * (len(head) - 2)] if lines else [head, "-" * (len(head) - 2)]
            loops = list(reversed(lv.temporal)) or [Loop("Q", 1)]
            for lp in loops:
                lines.append("|" + "  " * depth + f" for {lp.dim} in [0:{lp.bound})")
                depth += 1
            for lp in reversed(lv.spatial):
                lines.append("|" + "  " * depth + f" for {lp.dim} in [0:{lp.bound}) (Spatial-{lp.axis or 'X'})")
                depth += 1
        return "\n".join(lines) + "\n"


def _directive(name: str, kind: str, loops: tuple[Loop, ...], problem: Problem) -> dict[str, Any]:
    f = {d: 1 for d in problem.dims}
    for lp in loops:
        f[lp.dim] *= lp.bound
    order = [lp.dim for lp in loops] + [d for d in problem.dims if d not in {lp.dim for lp in loops}]
    return {"target": name, "type": kind, "factors": " ".join(f"{d}={v}" for d, v in f.items()),
            "permutation": "".join(order) if all(len(d) == 1 for d in order) else order}


_LOOP = re.compile(r"^\|?\s*for\s+(\w+)\s+in\s+\[(\d+):(\d+)\)\s*(\(Spatial-([XY])\))?\s*$")
_HEAD = re.compile(r"^(\S+)\s*\[(.*)\]\s*$")


def parse_map_txt(text: str, arch: Arch, problem: Problem, file: str | Path = "<map.txt>") -> Mapping:
    """Parse Timeloop's printed mapping: one header per storage level (kept dataspaces), then its loops."""
    file = Path(file)
    blocks: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line.strip() or set(line.strip()) <= {"-"}:
            continue
        m = _LOOP.match(line.strip())
        if m:
            if current is None:
                raise InputError("loop before any level header", file=file, key=f"line {n}")
            dim, lo, hi, _, axis = m.groups()
            if dim not in problem.dims:
                raise InputError(f"unknown dimension '{dim}'", file=file, key=f"line {n}",
                                 fix=f"use one of {list(problem.dims)}")
            current["loops"].append(Loop(dim, int(hi) - int(lo), axis is not None, axis or ""))
            continue
        h = _HEAD.match(line.strip())
        if not h:
            raise InputError(f"unrecognised line: {line.strip()[:60]!r}", file=file, key=f"line {n}")
        name = h.group(1)
        if name not in arch.level_names():
            raise InputError(f"level '{name}' is not a storage level of the arch", file=file, key=f"line {n}",
                             fix=f"use one of {arch.level_names()}")
        kept = set()
        for tok in h.group(2).split():
            ds = tok.split(":")[0]
            if ds not in problem.dataspace_names():
                raise InputError(f"unknown dataspace '{ds}'", file=file, key=f"line {n}")
            kept.add(ds)
        current = {"keep": kept, "loops": []}
        blocks[name] = current
    levels = []
    for lv in arch.storage:
        b = blocks.get(lv.name)
        loops = b["loops"] if b else []  # printed outermost first: temporal then spatial
        temporal = tuple(lp for lp in reversed(loops) if not lp.spatial and lp.bound > 1)
        spatial = tuple(lp for lp in reversed(loops) if lp.spatial and lp.bound > 1)
        keep = semantics_v1.kept_dataspaces(problem.dataspace_names(), b["keep"] if b else None)
        levels.append(LevelMapping(lv.name, temporal, spatial, keep))
    mapping = Mapping(tuple(levels))
    check_factors(mapping, problem, file)
    return mapping


def _parse_factors(text: Any, problem: Problem, file: Path, key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    if isinstance(text, dict):
        items = list(text.items())
    else:
        items = []
        for tok in str(text or "").split():
            if "=" not in tok:
                raise InputError(f"factor '{tok}' is not DIM=N", file=file, key=key)
            d, v = tok.split("=", 1)
            items.append((d, v))
    for d, v in items:
        if d not in problem.dims:
            raise InputError(f"unknown dimension '{d}'", file=file, key=key, fix=f"use one of {list(problem.dims)}")
        try:
            out[d] = int(v)
        except ValueError:
            raise InputError(f"factor {d}={v} is not an integer", file=file, key=key) from None
    return out


def _parse_perm(perm: Any, problem: Problem, file: Path, key: str) -> list[str]:
    if perm is None:
        return list(problem.dims)
    dims = [str(p) for p in perm] if isinstance(perm, list) else [c for c in str(perm) if not c.isspace()]
    for d in dims:
        if d not in problem.dims:
            raise InputError(f"unknown dimension '{d}' in permutation", file=file, key=key)
    return dims + [d for d in problem.dims if d not in dims]


def parse_mapping_yaml(data: dict[str, Any], arch: Arch, problem: Problem, file: str | Path = "<mapping>") -> Mapping:
    """Timeloop mapping YAML: per target, temporal/spatial factors + permutation (innermost first), bypass."""
    file = Path(file)
    root = data.get("mapping")
    if not isinstance(root, list):
        raise InputError("no 'mapping' list", file=file, key="mapping", fix="give mapping: [{target, type, ...}]")
    per: dict[str, dict[str, Any]] = {lv.name: {} for lv in arch.storage}
    for i, d in enumerate(root):
        key = f"mapping[{i}]"
        if not isinstance(d, dict) or "target" not in d:
            raise InputError("directive needs a 'target'", file=file, key=key)
        tgt = str(d["target"])
        if tgt not in per:
            raise InputError(f"target '{tgt}' is not a storage level", file=file, key=f"{key}.target",
                             fix=f"use one of {arch.level_names()}")
        kind = str(d.get("type", "temporal"))
        if kind not in ("temporal", "spatial", "bypass", "datatype"):
            raise InputError(f"unknown directive type '{kind}'", file=file, key=f"{key}.type",
                             fix="use temporal, spatial, bypass or datatype")
        per[tgt][("bypass" if kind == "datatype" else kind)] = (d, key)
    remaining = {d: problem.bound(d) for d in problem.dims}
    levels = []
    for lv in arch.storage:
        entry = per[lv.name]
        loops: dict[str, tuple[Loop, ...]] = {}
        for kind in ("temporal", "spatial"):
            if kind not in entry:
                loops[kind] = ()
                continue
            d, key = entry[kind]
            f = _parse_factors(d.get("factors"), problem, file, f"{key}.factors")
            perm = _parse_perm(d.get("permutation"), problem, file, f"{key}.permutation")
            split = int(d.get("split", len(perm))) if kind == "spatial" else 0
            out = []
            for j, dim in enumerate(perm):
                v = f.get(dim, 1)
                if v == 0:
                    v = remaining[dim]
                if v < 1:
                    raise InputError(f"factor {dim}={v} must be >= 1", file=file, key=f"{key}.factors")
                if v > 1:
                    out.append(Loop(dim, v, kind == "spatial", ("X" if j < split else "Y") if kind == "spatial" else ""))
            for lp in out:
                remaining[lp.dim] = max(1, remaining[lp.dim] // lp.bound)
            loops[kind] = tuple(out)
        keep_stated: list[str] = []
        bypass_stated: list[str] = []
        if "bypass" in entry:
            d, key = entry["bypass"]
            for flag, out in (("keep", keep_stated), ("bypass", bypass_stated)):
                for ds in (d.get(flag) or []):
                    if str(ds) not in problem.dataspace_names():
                        raise InputError(f"unknown dataspace '{ds}'", file=file, key=f"{key}.{flag}",
                                         fix=f"use one of {problem.dataspace_names()}")
                    out.append(str(ds))
        keep = semantics_v1.yaml_kept_dataspaces(problem.dataspace_names(), keep_stated, bypass_stated)
        levels.append(LevelMapping(lv.name, loops["temporal"], loops["spatial"], keep))
    mapping = Mapping(tuple(levels))
    check_factors(mapping, problem, file)
    return mapping


def check_factors(mapping: Mapping, problem: Problem, file: str | Path) -> None:
    """Every dimension's factors must multiply to its bound (Timeloop parser.cpp rejects otherwise)."""
    for d in problem.dims:
        prod = mapping.factors(d)
        if prod != problem.bound(d):
            raise InputError(f"factors of {d} multiply to {prod} but the problem bound is {problem.bound(d)}",
                             file=file, key=f"factors.{d}",
                             fix=f"make the {d} factors across all levels multiply to {problem.bound(d)}")


def load_mapping(path: str | Path, arch: Arch, problem: Problem) -> Mapping:
    """Read a mapping YAML or a Timeloop `map.txt` (detected by content)."""
    path = Path(path)
    text = read_input_text(path)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")), "")
    if _HEAD.match(first) and not first.startswith("mapping"):
        return parse_map_txt(text, arch, problem, path)
    return parse_mapping_yaml(load_yaml(path), arch, problem, path)
