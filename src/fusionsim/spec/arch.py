"""Timeloop architecture specs (v0.3 tree form with `subtree`/`local`, or Accelergy's flattened `local` list)
turned into the level view Timeloop v1.0 evaluates: one arithmetic level, then storage levels inner to outer.

`walk_components` is the raw component view (full names, merged attributes, instance counts) that the energy
table generator also uses; `load_arch` adds Timeloop's reading of each buffer's attributes."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import load_yaml

_RANGE = re.compile(r"^(?P<base>.*?)\[(?P<lo>\d+)\.\.(?P<hi>\d+)\]$")

# Timeloop v1.0 topology.hpp: roles are matched by substring of the class, the buffer test first.
BUFFER_CLASS_KEYS = ("DRAM", "SRAM", "regfile", "smartbuffer", "storage")
COMPUTE_CLASS_KEYS = ("mac", "intmac", "fpmac", "compute")
# Accelergy primitives that are neither buffers nor arithmetic to Timeloop (wires, adders, logic, FIFOs).
OTHER_PRIMITIVES = frozenset({
    "wire", "router", "crossbar", "adder", "intadder", "fpadder", "multiplier", "intmultiplier",
    "fpmultiplier", "bitwise", "comparator", "counter", "fifo", "mux", "shifter", "xy_noc", "legacy",
    "reductiontree", "simplemulticast", "dummy_storage",
})


@dataclass(frozen=True)
class Component:
    """One leaf component of the arch tree, with attributes inherited from its enclosing subtrees."""

    name: str  # local name without its instance range, e.g. "ifmap_spad"
    path: str  # full dotted name with ranges, e.g. "system.eyeriss.PE[0..71].ifmap_spad"
    cls: str
    attributes: dict[str, Any]
    instances: int  # product of every [a..b] range on the path, the component's own included
    depth: int  # nesting depth: deeper components are closer to the arithmetic
    order: int  # position among the components of the same subtree, as written (outer first)


@dataclass(frozen=True)
class ArithmeticLevel:
    name: str
    cls: str
    instances: int
    mesh_x: int
    mesh_y: int
    word_bits: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StorageLevel:
    """A buffer level with the attributes Timeloop v1.0 reads (buffer.cpp ParseSpecs); others are kept raw."""

    name: str
    cls: str
    instances: int
    mesh_x: int
    mesh_y: int
    word_bits: int
    block_size: int
    cluster_size: int
    size: int | None  # words; None = unbounded (DRAM)
    read_bandwidth: float | None
    write_bandwidth: float | None
    multiple_buffering: float
    min_utilization: float
    addr_gen_energy: float | None
    vector_access_energy: float | None
    is_dram: bool
    network_energy_per_hop: float | None
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def effective_size(self) -> int | None:
        if self.size is None:
            return None
        return int(math.floor(self.size / self.multiple_buffering))


@dataclass(frozen=True)
class Arch:
    """Levels as Timeloop numbers them: `storage[0]` is the innermost buffer, `storage[-1]` the outermost."""

    arithmetic: ArithmeticLevel
    storage: tuple[StorageLevel, ...]
    components: tuple[Component, ...]
    file: str = ""

    def level_names(self) -> list[str]:
        return [s.name for s in self.storage]

    def storage_index(self, name: str) -> int:
        for i, s in enumerate(self.storage):
            if s.name == name:
                return i
        raise KeyError(name)

    def fanout_xy(self, i: int) -> tuple[int, int]:
        """(X, Y) fanout from storage level i to its inner neighbour (the arithmetic for i = 0)."""
        inner = self.arithmetic if i == 0 else self.storage[i - 1]
        outer = self.storage[i]
        return inner.mesh_x // outer.mesh_x, inner.mesh_y // outer.mesh_y

    def fanout(self, i: int) -> int:
        fx, fy = self.fanout_xy(i)
        return fx * fy


MAX_ATTRIBUTE = 2.0**48
"""Largest magnitude of a numeric arch attribute (depth, width, ...)."""
MAX_INSTANCES = 2**31 - 1
"""Most instances of one component (`PE[0..N]`)."""


def split_range(name: str) -> tuple[str, int]:
    """`PE[0..71]` -> (`PE`, 72); a name without a range has one instance."""
    m = _RANGE.match(name.strip())
    if not m:
        return name.strip(), 1
    return m["base"], int(m["hi"]) - int(m["lo"]) + 1


def split_path(name: str) -> list[str]:
    """Split a dotted component path, keeping `[a..b]` ranges whole."""
    return [p for p in re.split(r"\.(?![^\[]*\])", name) if p]


def _arch_root(data: dict[str, Any], file: Path) -> dict[str, Any]:
    root = data.get("architecture", data.get("arch"))
    if not isinstance(root, dict):
        raise InputError("no 'architecture' mapping", file=file, key="architecture",
                         fix="give a Timeloop arch spec with architecture: {version, subtree|local}")
    return root


def walk_components(data: dict[str, Any], file: str | Path = "<arch>") -> list[Component]:
    """Every leaf component of a tree-form or flattened arch spec, in written order (outer first)."""
    file = Path(file)
    root = _arch_root(data, file)
    out: list[Component] = []
    if "subtree" in root:
        for node in _as_list(root["subtree"], file, "architecture.subtree"):
            _walk_tree(node, "", 1, {}, 0, out, file)
    elif "local" in root:
        _walk_flat(_as_list(root["local"], file, "architecture.local"), out, file)
    else:
        raise InputError("architecture has neither 'subtree' nor 'local'", file=file, key="architecture",
                         fix="use the v0.3 tree form (subtree/local) or a flattened local list")
    if not out:
        raise InputError("architecture has no components", file=file, key="architecture")
    return out


def _as_list(value: Any, file: Path, key: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InputError("expected a list of mappings", file=file, key=key)
    return value


def _walk_tree(node: dict, prefix: str, mult: int, inherited: dict, depth: int, out: list, file: Path) -> None:
    if "name" not in node:
        raise InputError("subtree entry without a name", file=file, key=f"{prefix or 'architecture'}.subtree")
    base, n = split_range(str(node["name"]))
    path = f"{prefix}{node['name']}"
    attrs = {**inherited, **(node.get("attributes") or {})}
    for i, comp in enumerate(_as_list(node.get("local") or [], file, f"{path}.local")):
        if "name" not in comp or "class" not in comp:
            raise InputError("component needs 'name' and 'class'", file=file, key=f"{path}.local[{i}]")
        cbase, cn = split_range(str(comp["name"]))
        cattrs = {**attrs, **(comp.get("attributes") or {})}
        out.append(Component(cbase, f"{path}.{comp['name']}", str(comp["class"]), cattrs, mult * n * cn,
                             depth, i))
    for sub in _as_list(node.get("subtree") or [], file, f"{path}.subtree"):
        _walk_tree(sub, f"{path}.", mult * n, attrs, depth + 1, out, file)


def _walk_flat(items: list[dict], out: list, file: Path) -> None:
    """Flattened form: nesting comes from the dotted path; order within a path is as written."""
    seen: dict[str, int] = {}
    for i, comp in enumerate(items):
        if "name" not in comp or "class" not in comp:
            raise InputError("component needs 'name' and 'class'", file=file, key=f"architecture.local[{i}]")
        parts = split_path(str(comp["name"]))
        mult = 1
        for p in parts:
            mult *= split_range(p)[1]
        group = ".".join(parts[:-1])
        order = seen.get(group, 0)
        seen[group] = order + 1
        base, _ = split_range(parts[-1])
        out.append(Component(base, str(comp["name"]), str(comp["class"]), dict(comp.get("attributes") or {}),
                             mult, len(parts) - 1, order))


def _compound_classes(components_dir: Path | None) -> dict[str, dict[str, Any]]:
    """Compound component class definitions found in `components_dir` (Accelergy format)."""
    classes: dict[str, dict[str, Any]] = {}
    if components_dir is None:
        return classes
    components_dir = Path(components_dir)
    if not components_dir.is_dir():
        raise InputError("components folder not found", file=components_dir, fix="pass --components DIR")
    for f in sorted(components_dir.glob("*.y*ml")):
        data = load_yaml(f)
        cc = data.get("compound_components", {})
        for cl in (cc.get("classes") or []) if isinstance(cc, dict) else []:
            if isinstance(cl, dict) and "name" in cl:
                classes[str(cl["name"])] = {**cl, "_file": str(f)}
    return classes


def component_role(comp: Component, compound: dict[str, dict[str, Any]], file: Path) -> str:
    """'storage', 'compute' or 'other' (wires, adders...), as Timeloop v1.0 classifies by class substring."""
    if any(k in comp.cls for k in BUFFER_CLASS_KEYS):
        return "storage"
    if any(k in comp.cls for k in COMPUTE_CLASS_KEYS):
        return "compute"
    if comp.cls in compound:
        sub = [str(s.get("class", "")) for s in compound[comp.cls].get("subcomponents") or []]
        if any(any(k in c for k in BUFFER_CLASS_KEYS) for c in sub):
            return "storage"
        if any(any(k in c for k in COMPUTE_CLASS_KEYS) for c in sub):
            return "compute"
        return "other"
    if comp.cls.lower() in OTHER_PRIMITIVES:
        return "other"  # Timeloop v1.0 neglects these; they matter only to energy and area tables
    raise InputError(f"unknown component class '{comp.cls}'", file=file, key=f"{comp.path}.class",
                     fix="use a Timeloop class (DRAM, SRAM, regfile, smartbuffer_*, intmac, ...) or define it "
                         "in a components/ file passed with --components")


def _num(attrs: dict, keys: tuple[str, ...], comp: Component, file: Path, default: Any = None) -> Any:
    for k in keys:
        if k in attrs and attrs[k] is not None:
            try:
                f = float(attrs[k])
            except (TypeError, ValueError, OverflowError):
                raise InputError(f"attribute must be a number, got {str(attrs[k])[:40]!r}", file=file,
                                 key=f"{comp.path}.attributes.{k}") from None
            if not math.isfinite(f) or abs(f) > MAX_ATTRIBUTE:
                raise InputError(f"attribute {str(attrs[k])[:40]} is outside +-2**48", file=file,
                                 key=f"{comp.path}.attributes.{k}", fix="use a realistic size")
            return f
    if default is not None and isinstance(default, int) and default > MAX_INSTANCES:
        raise InputError(f"{default:,} instances, more than {MAX_INSTANCES:,}", file=file,
                         key=comp.path, fix="use fewer instances (the [lo..hi] range of the name)")
    return default


def _storage_level(comp: Component, file: Path) -> StorageLevel:
    a = comp.attributes
    word_bits = int(_num(a, ("word-bits", "word_width", "datawidth"), comp, file, 16))
    block = int(_num(a, ("block-size", "n_words"), comp, file, 1))
    if word_bits <= 0 or block <= 0:
        raise InputError("word-bits and block-size must be positive", file=file, key=f"{comp.path}.attributes")
    cluster = _num(a, ("cluster-size",), comp, file)
    if cluster is None:
        width = _num(a, ("width",), comp, file)
        if width and width % (word_bits * block):
            raise InputError(f"width {width:g} is not a multiple of word-bits x block-size ({word_bits} x {block})",
                             file=file, key=f"{comp.path}.attributes.width",
                             fix="make width a multiple of word-bits * block-size (Timeloop v1.0 asserts this)")
        cluster = max(1, int(width // (word_bits * block))) if width else 1
    entries = _num(a, ("entries",), comp, file)
    if entries is None:
        depth = _num(a, ("depth", "memory_depth"), comp, file)
        if depth is not None:
            entries = depth * block
        else:
            kb = _num(a, ("sizeKB",), comp, file)
            entries = kb * 8192 / word_bits if kb is not None else None
    bw = _num(a, ("bandwidth",), comp, file)
    rbw = _num(a, ("read_bandwidth",), comp, file, bw / 2 if bw else None)
    wbw = _num(a, ("write_bandwidth",), comp, file, bw / 2 if bw else None)
    instances = int(_num(a, ("instances",), comp, file, comp.instances))
    mesh_x, mesh_y = _mesh(a, instances, comp, file)
    is_dram = comp.cls == "DRAM" or str(a.get("technology", "")) == "DRAM"
    if is_dram and int(cluster) != 1:
        raise InputError(f"DRAM with cluster size {int(cluster)}", file=file, key=f"{comp.path}.attributes",
                         fix="DRAM needs width = word-bits * block-size (cluster size 1)")
    return StorageLevel(
        name=comp.name, cls=comp.cls, instances=instances, mesh_x=mesh_x, mesh_y=mesh_y, word_bits=word_bits,
        block_size=block, cluster_size=int(cluster), size=None if entries is None else int(entries),
        read_bandwidth=rbw, write_bandwidth=wbw,
        multiple_buffering=float(_num(a, ("multiple-buffering",), comp, file, 1.0)),
        min_utilization=float(_num(a, ("min-utilization",), comp, file, 0.0)),
        addr_gen_energy=_num(a, ("addr-gen-energy",), comp, file),
        vector_access_energy=_num(a, ("vector-access-energy",), comp, file),
        is_dram=is_dram,
        network_energy_per_hop=_num(a, ("network_energy_per_hop", "energy-per-hop"), comp, file),
        attributes=dict(a),
    )


def _mesh(a: dict, instances: int, comp: Component, file: Path) -> tuple[int, int]:
    mx = _num(a, ("meshX",), comp, file)
    if mx is None:
        return instances, 1
    mx = int(mx)
    if mx <= 0 or instances % mx:
        raise InputError(f"meshX {mx} does not divide the {instances} instances", file=file,
                         key=f"{comp.path}.attributes.meshX", fix="make meshX a divisor of the instance count")
    return mx, instances // mx


def load_arch(path: str | Path, components_dir: str | Path | None = None) -> Arch:
    """Read an arch YAML (tree or flattened form) into Timeloop v1.0's level order."""
    path = Path(path)
    comps = walk_components(load_yaml(path), path)
    compound = _compound_classes(Path(components_dir) if components_dir else None)
    # Timeloop's order: deeper subtrees are inner; within one subtree the last-listed component is innermost.
    ordered = sorted(comps, key=lambda c: (-c.depth, -c.order))
    arith: list[Component] = []
    storage: list[StorageLevel] = []
    for c in ordered:
        role = component_role(c, compound, path)
        if role == "storage":
            storage.append(_storage_level(c, path))
        elif role == "compute":
            arith.append(c)
    if len(arith) != 1:
        raise InputError(f"expected exactly one arithmetic component, found {len(arith)}", file=path,
                         key="architecture", fix="declare one mac/intmac/compute component")
    if not storage:
        raise InputError("no storage level", file=path, key="architecture", fix="declare at least DRAM")
    c = arith[0]
    inst = int(_num(c.attributes, ("instances",), c, path, c.instances))
    mx, my = _mesh(c.attributes, inst, c, path)
    wb = int(_num(c.attributes, ("word-bits", "datawidth"), c, path, 16))  # arithmetic.cpp: no word_width
    e = _num(c.attributes, ("energy",), c, path)
    if e is not None and e != int(e):
        raise InputError(f"arithmetic energy {e:g} must be an integer (Timeloop v1.0 reads it as one)", file=path,
                         key=f"{c.path}.attributes.energy", fix="give an integer, or price the MAC in the ERT")
    arithmetic = ArithmeticLevel(c.name, c.cls, inst, mx, my, wb, dict(c.attributes))
    arch = Arch(arithmetic, tuple(storage), tuple(comps), str(path))
    for i, lv in enumerate(arch.storage):
        inner = arch.arithmetic if i == 0 else arch.storage[i - 1]
        if inner.mesh_x % lv.mesh_x or inner.mesh_y % lv.mesh_y:
            raise InputError(f"mesh of '{inner.name}' ({inner.mesh_x}x{inner.mesh_y}) is not a multiple of "
                             f"'{lv.name}' ({lv.mesh_x}x{lv.mesh_y})", file=path, key=f"{lv.name}.attributes.meshX",
                             fix="set meshX so each inner level's mesh divides evenly")
    return arch


def to_tree_form(components: list[Component] | tuple[Component, ...], version: float = 0.3) -> dict[str, Any]:
    """The v0.3 tree form (nested `subtree`/`local`) of a component list, e.g. of a flattened arch: Timeloop
    v1.0 cannot read Accelergy's flattened `local` form, so the timeloop engine hands it this instead."""
    root: dict[str, Any] = {"name": None, "local": [], "subtree": []}
    for c in components:
        node = root
        for part in split_path(c.path)[:-1]:
            sub = next((s for s in node["subtree"] if s["name"] == part), None)
            if sub is None:
                sub = {"name": part, "local": [], "subtree": []}
                node["subtree"].append(sub)
            node = sub
        node["local"].append({"name": split_path(c.path)[-1], "class": c.cls, "attributes": dict(c.attributes)})

    def clean(node: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"name": node["name"]}
        if node["local"]:
            out["local"] = node["local"]
        if node["subtree"]:
            out["subtree"] = [clean(s) for s in node["subtree"]]
        return out

    return {"architecture": {"version": version, "subtree": [clean(s) for s in root["subtree"]]}}
