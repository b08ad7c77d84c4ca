"""Accelergy compound components (v0.3 class files such as `smartbuffer_SRAM`, `smartbuffer_RF`): expand a
component into its subcomponents, evaluate attribute expressions, enumerate action arguments, and price
each action as the sum of its subcomponent actions, as Accelergy does.

Expressions follow Accelergy v0.3: an attribute value may name another attribute (`width: memory_width`),
use arithmetic (`depth * 2`, `memory_depth // n_banks`) or functions; `log(x)` and `log2(x)` are
ceil(log2(x)) as in Accelergy's parser, `round_up(a / b)` is ceil(a / b). A value that is neither
(`45nm`, `LPDDR4`) stays a string. Argument ranges `lo..hi` (bounds may be expressions) give one ERT row
per value; rows are the product over argument names in alphabetical order, as Accelergy prints them.
"""

from __future__ import annotations

import ast
import itertools
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fusionsim.energy.primitives import Where, canonical_class, class_spec, with_defaults
from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import load_yaml

MAX_NESTING = 16
MAX_RESULT_BITS = 256
"""Largest integer an attribute expression may produce (2**256): `9**9**9**9` fails at once, not after hours."""
MAX_ACTION_ROWS = 65_536
"""Most ERT rows one action may have (the product of its argument ranges; shipped classes use < 100)."""
INHERITED = ("technology", "latency")  # filled into a subcomponent from its parent when it sets none


class Estimator(Protocol):
    """Prices primitive components (the native tables or the optional hwcomponents backend)."""

    name: str

    def energy_pJ(
        self, cls: str, attributes: dict[str, Any], action: str, args: dict | None = None, where: Where = ...
    ) -> float: ...

    def area_um2(self, cls: str, attributes: dict[str, Any], where: Where = ...) -> float: ...

    def knows(self, cls: str) -> bool: ...


@dataclass(frozen=True)
class CompoundClass:
    """One compound class definition as read from a components/ YAML file."""

    name: str
    attributes: dict[str, Any]
    subcomponents: tuple[dict[str, Any], ...]
    actions: tuple[dict[str, Any], ...]
    file: str


# ---------------------------------------------------------------- loading class files


def load_compound_classes(
    sources: list[Path], inline: dict[str, Any] | None = None, inline_file: str = "<arch>"
) -> dict[str, CompoundClass]:
    """Compound classes from YAML files or folders (`*.yaml`, `*.yml`), plus any defined inline in the arch."""
    classes: dict[str, CompoundClass] = {}
    files: list[Path] = []
    for src in sources:
        src = Path(src)
        if src.is_dir():
            files += sorted([*src.glob("*.yaml"), *src.glob("*.yml")])
        elif src.is_file():
            files.append(src)
        else:
            raise InputError("components folder or file not found", file=src, fix="pass --components DIR")
    for f in files:
        data = load_yaml(f)
        _add_classes(classes, data.get("compound_components"), str(f))
    if inline:
        _add_classes(classes, inline, inline_file)
    return classes


def _add_classes(classes: dict[str, CompoundClass], section: Any, file: str) -> None:
    if section is None:
        return
    if not isinstance(section, dict) or not isinstance(section.get("classes", []), list):
        raise InputError(
            "'compound_components' must hold a list 'classes'", file=file, key="compound_components"
        )
    for i, cl in enumerate(section.get("classes") or []):
        key = f"compound_components.classes[{i}]"
        if not isinstance(cl, dict) or "name" not in cl:
            raise InputError("compound class needs a 'name'", file=file, key=key)
        subs = cl.get("subcomponents") or []
        acts = cl.get("actions") or []
        if not isinstance(subs, list) or not isinstance(acts, list):
            raise InputError(
                "'subcomponents' and 'actions' must be lists", file=file, key=f"{key}.{cl['name']}"
            )
        for j, s in enumerate(subs):
            if not isinstance(s, dict) or "name" not in s or "class" not in s:
                raise InputError(
                    "subcomponent needs 'name' and 'class'", file=file, key=f"{cl['name']}.subcomponents[{j}]"
                )
        classes[str(cl["name"])] = CompoundClass(
            str(cl["name"]), dict(cl.get("attributes") or {}), tuple(subs), tuple(acts), file
        )


# ---------------------------------------------------------------- expressions

class ExpressionTooLarge(ValueError):
    """An attribute expression whose result (or an intermediate) exceeds MAX_RESULT_BITS."""


def _bounded(v: Any) -> Any:
    """`v` unchanged when it is a number of sane size; else ExpressionTooLarge."""
    if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > MAX_RESULT_BITS:
        raise ExpressionTooLarge(f"result exceeds 2**{MAX_RESULT_BITS}")
    if isinstance(v, float) and not math.isfinite(v):
        raise ExpressionTooLarge("result is not a finite number")
    return v


def _pow(a: Any, b: Any) -> Any:
    """`a ** b`, refused before computing when the result would exceed MAX_RESULT_BITS."""
    if isinstance(a, int | float) and isinstance(b, int | float) and abs(a) > 1 and b > 0:
        if b * math.log2(abs(a)) > MAX_RESULT_BITS:
            raise ExpressionTooLarge(f"{a!r}**{b!r} exceeds 2**{MAX_RESULT_BITS}")
    return operator.pow(a, b)


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _pow,
}


def _clog2(x: float) -> int:
    return int(math.ceil(math.log2(x))) if x > 0 else 0


_FUNCS: dict[str, Callable[..., Any]] = {
    "log": _clog2,
    "log2": _clog2,
    "ceil": math.ceil,
    "floor": math.floor,
    "round": round,
    "round_up": math.ceil,
    "min": min,
    "max": max,
    "int": int,
    "abs": abs,
    "sqrt": math.sqrt,
}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class UnknownName(Exception):
    def __init__(self, name: str):
        self.name = name
        super().__init__(name)


def evaluate_expression(value: Any, bindings: dict[str, Any]) -> Any:
    """Evaluate an Accelergy attribute value against `bindings`; non-expressions come back unchanged.

    Raises UnknownName when an expression (not a bare word) refers to a name that is not bound."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text in bindings:
        return bindings[text]
    # attribute names that are not Python identifiers (word-bits, block-size) become placeholders
    names = {}
    for i, k in enumerate(sorted((k for k in bindings if not _IDENT.match(k)), key=len, reverse=True)):
        if k in text:
            ph = f"__attr{i}__"
            text = re.sub(rf"(?<![\w-]){re.escape(k)}(?![\w-])", ph, text)
            names[ph] = bindings[k]
    if len(text) > 10_000:
        raise ExpressionTooLarge("expression longer than 10,000 characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return value  # a literal such as 45nm or 1.5mm
    except (RecursionError, MemoryError):
        raise ExpressionTooLarge("expression nests too deeply") from None
    if isinstance(tree.body, ast.Name) and tree.body.id not in names:
        return value  # a bare word such as LPDDR4: a string value
    env = {**bindings, **names}
    try:
        return _eval(tree.body, env)
    except (UnknownName, ExpressionTooLarge):
        raise
    except RecursionError:
        raise ExpressionTooLarge("expression nests too deeply") from None
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return value


def _eval(node: ast.AST, env: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise UnknownName(node.id)
        return _numeric(env[node.id])
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _bounded(_BINOPS[type(node.op)](_eval(node.left, env), _eval(node.right, env)))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _eval(node.operand, env)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS:
        return _bounded(_FUNCS[node.func.id](*[_eval(a, env) for a in node.args]))
    raise ValueError("unsupported expression")


def _numeric(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return float(v) if any(c in v for c in ".eE") else int(v)
        except ValueError:
            return v
    return v


def parse_range(value: Any, bindings: dict[str, Any]) -> list[Any]:
    """`lo..hi` (inclusive; bounds may be expressions) -> list of values; a single value -> [value]."""
    if isinstance(value, str) and ".." in value:
        lo, hi = value.split("..", 1)
        a, b = evaluate_expression(lo.strip(), bindings), evaluate_expression(hi.strip(), bindings)
        try:
            lo_i, hi_i = int(a), int(b)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"range bounds must be numbers: {value!r}") from None
        if hi_i - lo_i + 1 > MAX_ACTION_ROWS:
            raise ValueError(f"range {value!r} has {hi_i - lo_i + 1:,} values, more than {MAX_ACTION_ROWS:,} "
                             "(fix: narrow the argument range)")
        return list(range(lo_i, hi_i + 1))
    return [evaluate_expression(value, bindings)]


_INDEXED = re.compile(r"^(?P<base>[^\[]+)(\[(?P<lo>\d+)(\.\.(?P<hi>\d+))?\])?$")


def split_indexed(name: str) -> tuple[str, int | None]:
    """`gen[0..1]` -> ('gen', 2); `gen[1]` -> ('gen', 1); `gen` -> ('gen', None)."""
    m = _INDEXED.match(name.strip())
    if not m:
        return name.strip(), None
    if m["lo"] is None:
        return m["base"], None
    hi = int(m["hi"]) if m["hi"] is not None else int(m["lo"])
    return m["base"], hi - int(m["lo"]) + 1


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class Action:
    """One ERT row: an action name and one combination of its arguments (None when it has none)."""

    name: str
    arguments: dict[str, Any] | None


@dataclass(frozen=True)
class Resolved:
    """A component with its attributes final: class, attributes, and where it came from."""

    cls: str
    attributes: dict[str, Any]
    where: Where
    compound: CompoundClass | None


class ComponentModel:
    """Energy and area of any component: primitive (via the estimator) or compound (expanded)."""

    def __init__(self, classes: dict[str, CompoundClass], estimator: Estimator):
        self.classes = classes
        self.estimator = estimator

    # -- resolution

    def resolve(self, cls: str, attributes: dict[str, Any], where: Where) -> Resolved:
        if cls in self.classes:
            cc = self.classes[cls]
            merged = {**cc.attributes, **{k: v for k, v in attributes.items() if v is not None}}
            out = {}
            for k, v in merged.items():
                out[k] = self._value(v, merged, k, Where(where.component, cc.file))
            return Resolved(cls, out, where, cc)
        if canonical_class(cls) is not None:
            attrs = with_defaults(cls, attributes, where)
            attrs = {k: self._value(v, attrs, k, where) for k, v in attrs.items()}
            return Resolved(cls, attrs, where, None)
        if self.estimator.knows(cls):
            return Resolved(cls, dict(attributes), where, None)
        raise where.error(
            f"unknown component class '{cls}'",
            None,
            fix="define it in a compound class file passed with --components, or use a primitive "
            "(SRAM, regfile, DRAM, intmac, intadder, bitwise, FIFO, wire, ...)",
        )

    def _value(self, v: Any, bindings: dict[str, Any], key: str, where: Where) -> Any:
        try:
            return evaluate_expression(v, bindings)
        except ExpressionTooLarge as exc:
            raise where.error(
                f"expression {str(v)[:60]!r} is out of bounds: {exc}", key,
                fix=f"use attribute values below 2**{MAX_RESULT_BITS}",
            ) from None
        except UnknownName as exc:
            raise where.error(
                f"expression {v!r} uses attribute '{exc.name}', which is not set",
                exc.name,
                fix=f"set {exc.name} on the component or its class",
            ) from None

    def _subcomponents(self, r: Resolved, depth: int) -> dict[str, tuple[Resolved, int]]:
        """Subcomponents by base name -> (resolved, instance count)."""
        assert r.compound is not None
        if depth > MAX_NESTING:
            raise r.where.error(f"compound classes nest deeper than {MAX_NESTING} (a class includes itself?)")
        out: dict[str, tuple[Resolved, int]] = {}
        for s in r.compound.subcomponents:
            base, n = split_indexed(str(s["name"]))
            sub_where = Where(f"{r.where.component}.{base}", r.compound.file)
            attrs = {}
            for k, v in (s.get("attributes") or {}).items():
                attrs[k] = self._value(v, r.attributes, k, sub_where)
            for k in INHERITED:
                if k not in attrs and k in r.attributes:
                    attrs[k] = r.attributes[k]
            out[base] = (self.resolve(str(s["class"]), attrs, sub_where), n or 1)
        return out

    # -- actions

    def actions(self, r: Resolved) -> list[Action]:
        """Every (action, argument combination) row Accelergy would put in the ERT for this component."""
        if r.compound is not None:
            defs = list(r.compound.actions)
        elif canonical_class(r.cls) is not None:
            defs = list(class_spec(r.cls)["actions"])
        else:
            defs = [{"name": "read"}, {"name": "write"}, {"name": "idle"}]
        rows: list[Action] = []
        for a in defs:
            args = a.get("arguments") or {}
            if not args:
                rows.append(Action(str(a["name"]), None))
                continue
            names = sorted(args)
            try:
                ranges = [parse_range(args[n], r.attributes) for n in names]
            except UnknownName as exc:
                raise r.where.error(
                    f"argument range of action '{a['name']}' uses attribute '{exc.name}', which is not set",
                    exc.name,
                ) from None
            except ValueError as exc:
                raise r.where.error(f"action '{a['name']}': {exc}") from None
            count = math.prod(len(x) for x in ranges)
            if count > MAX_ACTION_ROWS:
                raise r.where.error(
                    f"action '{a['name']}' has {count:,} argument combinations, more than {MAX_ACTION_ROWS:,}",
                    None, fix="narrow the argument ranges",
                )
            for combo in itertools.product(*ranges):
                rows.append(Action(str(a["name"]), dict(zip(names, combo))))
        return rows

    # -- pricing

    def energy_pJ(self, r: Resolved, action: str, args: dict[str, Any] | None, depth: int = 0) -> float:
        if r.compound is None:
            return self.estimator.energy_pJ(r.cls, r.attributes, action, args, r.where)
        adef = next((a for a in r.compound.actions if a.get("name") == action), None)
        if adef is None:
            raise r.where.error(
                f"compound class {r.cls} has no action '{action}'",
                None,
                fix=f"add it to {r.compound.name} in {r.compound.file}",
            )
        subs = self._subcomponents(r, depth + 1)
        bindings = {**r.attributes, **(args or {})}
        total = 0.0
        for ref in adef.get("subcomponents") or []:
            base, n = split_indexed(str(ref.get("name", "")))
            if base not in subs:
                raise r.where.error(
                    f"action '{action}' refers to unknown subcomponent '{base}'",
                    None,
                    fix=f"check the subcomponents of {r.compound.name} in {r.compound.file}",
                )
            sub, count = subs[base]
            count = n if n is not None else count
            for sa in ref.get("actions") or []:
                sargs = None
                if sa.get("arguments"):
                    sargs = {k: self._value(v, bindings, k, r.where) for k, v in sa["arguments"].items()}
                repeat = self._value(sa.get("repeat", 1), bindings, "repeat", r.where)
                e = self.energy_pJ(sub, str(sa["name"]), sargs, depth + 1)
                total += float(repeat) * count * e
        return total

    def area_um2(self, r: Resolved, depth: int = 0) -> float:
        if r.compound is None:
            return self.estimator.area_um2(r.cls, r.attributes, r.where)
        total = 0.0
        for sub, count in self._subcomponents(r, depth + 1).values():
            total += count * self.area_um2(sub, depth + 1)
        return total
