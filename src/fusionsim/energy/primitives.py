"""Energy (pJ per action) and area (um^2) of Accelergy's primitive components, from data tables.

The coefficients live in `data/*.yaml`, each with its published source named beside it:
- `aladdin_40nm.yaml`: Aladdin's 40 nm logic tables as Accelergy's Aladdin plug-in publishes them
  (adder, multiplier, register bit, comparator, counter, bitwise, crossbar, floating point units);
- `cacti7_sram_<node>nm.yaml`: CACTI 7 SRAM runs over a grid of capacity, width, ports and banks;
- `dram.yaml`: DRAM energy per bit by type;
- `technology.yaml`: the rule that moves energy and area between nodes;
- `primitives.yaml`: class defaults and actions (Accelergy v0.3 primitive library).

The functions below turn those tables into per-action energies the way Accelergy's plug-ins combine them
(see docs/energy-tables.md for each formula), so an ERT built here matches one Accelergy would print.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from fusionsim.errors import InputError

DATA_DIR = Path(__file__).resolve().parent / "data"

# CACTI-style split of one SRAM access (Accelergy's CACTI plug-in): 30 % address decoding, 70 % cell access.
SRAM_ADDRESS_SHARE = 0.3
SRAM_DATA_SHARE = 0.7
SRAM_MIN_BYTES = 64  # CACTI does not model arrays below 64 B; they are priced as register files
MULT_REUSED_FACTOR = 0.85  # Aladdin plug-in: a multiply with one operand unchanged costs 85 %
WIRE_CAP_F_PER_UM = 1.627e-15  # Aladdin plug-in wire model: capacitance per um, activity 0.2, Vdd 1 V
WIRE_ACTIVITY = 0.2


@dataclass(frozen=True)
class Where:
    """Which component and file a query belongs to, for one-line error messages."""

    component: str = "<component>"
    file: str | None = None

    def error(self, message: str, attribute: str | None = None, fix: str | None = None) -> InputError:
        key = f"{self.component}.attributes.{attribute}" if attribute else self.component
        return InputError(message, file=self.file, key=key, fix=fix)


NOWHERE = Where()


MAX_ATTRIBUTE = 2.0**48
"""Largest magnitude of a numeric primitive attribute (depth, width, ...): a stated bound, checked up front."""


@cache
def load_data(name: str) -> dict[str, Any]:
    """One YAML table from `data/` (cached)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when PyYAML has it: 10x faster
    with open(DATA_DIR / name) as fh:
        return yaml.load(fh, Loader=loader)


# ---------------------------------------------------------------- classes, defaults, attributes


def canonical_class(cls: str) -> str | None:
    """The primitive class name for `cls` (aliases and case folded), or None if it is not a primitive."""
    lib = load_data("primitives.yaml")
    classes, aliases = lib["classes"], lib.get("aliases", {})
    if cls in classes:
        return cls
    if cls in aliases:
        return aliases[cls]
    folded = {k.lower(): k for k in classes} | {k.lower(): v for k, v in aliases.items()}
    return folded.get(cls.lower())


def primitive_classes() -> list[str]:
    return sorted(load_data("primitives.yaml")["classes"])


def class_spec(cls: str) -> dict[str, Any]:
    """Defaults, required attributes and actions of a primitive class."""
    name = canonical_class(cls)
    if name is None:
        raise KeyError(cls)
    return load_data("primitives.yaml")["classes"][name]


def with_defaults(cls: str, attributes: dict[str, Any], where: Where) -> dict[str, Any]:
    """Class defaults overlaid with the component's attributes; a missing required attribute is an error."""
    spec = class_spec(cls)
    for req in spec.get("required", []):
        if attributes.get(req) is None:
            raise where.error(
                f"primitive {canonical_class(cls)} needs attribute '{req}'",
                req,
                fix=f"set {req} in the arch or the compound class",
            )
    return {**spec["attributes"], **{k: v for k, v in attributes.items() if v is not None}}


def number(attrs: dict[str, Any], key: str, where: Where, *alts: str) -> float:
    """A numeric attribute (first of `key`, `alts` present); missing or non-numeric -> InputError."""
    for k in (key, *alts):
        if k in attrs and attrs[k] is not None:
            value = attrs[k]
            try:
                f = float(value)
            except (TypeError, ValueError, OverflowError):
                raise where.error(f"attribute '{k}' must be a number, got {str(value)[:40]!r}", k) from None
            if not math.isfinite(f) or abs(f) > MAX_ATTRIBUTE:
                raise where.error(f"attribute '{k}' = {str(value)[:40]} is outside +-2**48", k,
                                  fix="use a realistic size (2**48 words is 256 TB)")
            return f
    raise where.error(f"missing attribute '{key}'", key, fix=f"set {key} in the arch or the component class")


_TECH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(nm)?\s*$", re.IGNORECASE)


def technology_nm(attrs: dict[str, Any], where: Where) -> float:
    """The node in nm from a `technology` attribute like `45nm`, `45` or 45."""
    value = attrs.get("technology")
    if value is None:
        raise where.error("missing attribute 'technology'", "technology", fix="set technology, e.g. 45nm")
    m = _TECH.match(str(value))
    if not m:
        raise where.error(f"technology must look like '45nm', got {value!r}", "technology")
    nm = float(m.group(1))
    if not 5 <= nm <= 250:
        raise where.error(f"technology {nm:g} nm is outside 5..250 nm", "technology")
    return nm


def _latency_ns(attrs: dict[str, Any]) -> float:
    value = attrs.get("latency", 5)
    text = str(value).strip().lower()
    if text.endswith("ns"):
        return float(text[:-2])
    if text.endswith("ps"):
        return float(text[:-2]) / 1000
    return float(text)


# ---------------------------------------------------------------- technology scaling


def vdd_volts(node_nm: float) -> float:
    """ITRS high-performance supply voltage at a node, interpolated linearly in feature size."""
    table = sorted((float(k), float(v)) for k, v in load_data("technology.yaml")["vdd_V"].items())
    xs = [x for x, _ in table]
    if node_nm <= xs[0]:
        return table[0][1]
    if node_nm >= xs[-1]:
        return table[-1][1]
    i = bisect.bisect_right(xs, node_nm)
    (x0, y0), (x1, y1) = table[i - 1], table[i]
    return y0 + (y1 - y0) * (node_nm - x0) / (x1 - x0)


def energy_scale(from_nm: float, to_nm: float) -> float:
    """Factor on dynamic energy from one node to another: (L1/L0) * (Vdd1/Vdd0)^2."""
    return (to_nm / from_nm) * (vdd_volts(to_nm) / vdd_volts(from_nm)) ** 2


def area_scale(from_nm: float, to_nm: float) -> float:
    """Factor on area from one node to another: (L1/L0)^2."""
    return (to_nm / from_nm) ** 2


def _logic_factors(tech_nm: float) -> tuple[float, float]:
    """(energy, area) factors applied to Aladdin's 40 nm tables at `tech_nm`."""
    tech = load_data("technology.yaml")
    if any(abs(tech_nm - n) < 1e-9 for n in tech["aladdin_native_nodes_nm"]):
        return 1.0, 1.0
    base = float(load_data("aladdin_40nm.yaml")["technology_nm"])
    return energy_scale(base, tech_nm), area_scale(base, tech_nm)


# ---------------------------------------------------------------- Aladdin logic tables


@dataclass(frozen=True)
class LogicFigures:
    """One Aladdin table row at the table's reference width, scaled to the requested node."""

    dynamic_pJ: float
    idle_pJ: float
    area_um2: float
    bits: float | None


def aladdin_row(component: str, attrs: dict[str, Any], where: Where) -> LogicFigures:
    """The row of Aladdin table `component` for the attrs' clock period (ceil to ns; >10 -> 10, >6 -> 6)."""
    table = load_data("aladdin_40nm.yaml")["components"][component]
    lat = math.ceil(_latency_ns(attrs))
    lat = 10 if lat > 10 else 6 if lat > 6 else max(lat, 1)
    lats = [float(x) for x in table["latency_ns"]]
    i = lats.index(lat) if lat in lats else min(range(len(lats)), key=lambda j: abs(lats[j] - lat))
    fe, fa = _logic_factors(technology_nm(attrs, where))
    return LogicFigures(
        float(table["dynamic_pJ"][i]) * fe, float(table["idle_pJ"][i]) * fe, float(table["area_um2"][i]) * fa,
        table.get("bits"),
    )


def _is_idle(action: str) -> bool:
    return action == "idle"


def _adder(attrs: dict, action: str, where: Where) -> tuple[float, float]:
    """(energy, area) of an integer adder: Aladdin's 32-bit adder scaled linearly with datawidth."""
    row = aladdin_row("adder", attrs, where)
    k = number(attrs, "datawidth", where) / row.bits
    return (row.idle_pJ if _is_idle(action) else row.dynamic_pJ) * k, row.area_um2 * k


def _multiplier(attrs: dict, action: str, where: Where) -> tuple[float, float]:
    """Aladdin's 32-bit multiplier scaled quadratically with datawidth; gated = idle, reused = 85 %."""
    row = aladdin_row("multiplier", attrs, where)
    k = (number(attrs, "datawidth", where) / row.bits) ** 2
    if action in ("idle", "mult_gated"):
        e = row.idle_pJ
    else:
        e = row.dynamic_pJ * (MULT_REUSED_FACTOR if action == "mult_reused" else 1.0)
    return e * k, row.area_um2 * k


_MAC_TO_MULT = {"mac_gated": "mult_gated", "mac_reused": "mult_reused", "idle": "idle"}


def _mac(attrs: dict, action: str, where: Where) -> tuple[float, float]:
    """Integer MAC = adder + multiplier (Aladdin plug-in); the adder is idle only when the MAC is."""
    ea, aa = _adder(attrs, action, where)
    em, am = _multiplier(attrs, _MAC_TO_MULT.get(action, "mult_random"), where)
    return ea + em, aa + am


def _fp_bits(attrs: dict, where: Where) -> float:
    return number(attrs, "exponent", where) + number(attrs, "mantissa", where)


def _fpadder(attrs: dict, action: str, where: Where) -> tuple[float, float]:
    bits = _fp_bits(attrs, where)
    row = aladdin_row("fp_sp_adder" if bits <= 32 else "fp_dp_adder", attrs, where)
    k = bits / row.bits
    return (row.idle_pJ if _is_idle(action) else row.dynamic_pJ) * k, row.area_um2 * k


def _fpmultiplier(attrs: dict, action: str, where: Where) -> tuple[float, float]:
    bits = _fp_bits(attrs, where)
    row = aladdin_row("fp_sp_multiplier" if bits <= 32 else "fp_dp_multiplier", attrs, where)
    k = (bits / row.bits) ** 2
    if action in ("idle", "mult_gated"):
        e = row.idle_pJ
    else:
        e = row.dynamic_pJ * (MULT_REUSED_FACTOR if action == "mult_reused" else 1.0)
    return e * k, row.area_um2 * k


def _fpmac(attrs: dict, action: str, where: Where) -> tuple[float, float]:
    ea, aa = _fpadder(attrs, action, where)
    em, am = _fpmultiplier(attrs, _MAC_TO_MULT.get(action, "mult_random"), where)
    return ea + em, aa + am


def _comparator_bits(bits: float, attrs: dict, action: str, where: Where) -> tuple[float, float]:
    row = aladdin_row("comparator", attrs, where)
    k = bits / row.bits
    return (row.idle_pJ if _is_idle(action) else row.dynamic_pJ) * k, row.area_um2 * k


def _comparator(attrs: dict, action: str, where: Where) -> tuple[float, float]:
    return _comparator_bits(number(attrs, "datawidth", where), attrs, action, where)


def _counter(attrs: dict, action: str, where: Where) -> tuple[float, float]:
    row = aladdin_row("counter", attrs, where)
    k = number(attrs, "width", where, "datawidth") / row.bits
    return (row.idle_pJ if _is_idle(action) else row.dynamic_pJ) * k, row.area_um2 * k


def _bitwise(attrs: dict, action: str, where: Where) -> tuple[float, float]:
    """One bitwise operator, as Aladdin tabulates it: not scaled with datawidth (Accelergy does the same)."""
    row = aladdin_row("bitwise", attrs, where)
    return (row.idle_pJ if _is_idle(action) else row.dynamic_pJ), row.area_um2


def _reg(attrs: dict, action: str, where: Where) -> tuple[float, float]:
    """A register of `datawidth` bits (Aladdin's one-bit register times the width)."""
    row = aladdin_row("reg", attrs, where)
    k = number(attrs, "datawidth", where, "width")
    return (row.idle_pJ if _is_idle(action) else row.dynamic_pJ) * k, row.area_um2 * k


def _crossbar(attrs: dict, action: str, where: Where) -> tuple[float, float]:
    """Aladdin's 1-to-4 32-bit crossbar scaled by inputs x outputs/4 x datawidth/32."""
    row = aladdin_row("crossbar", attrs, where)
    k = (
        number(attrs, "n_inputs", where)
        * number(attrs, "n_outputs", where)
        / 4
        * number(attrs, "datawidth", where)
        / row.bits
    )
    return (row.idle_pJ if _is_idle(action) else row.dynamic_pJ) * k, row.area_um2 * k


def _shifter(attrs: dict, action: str, where: Where) -> tuple[float, float]:
    row = aladdin_row("shifter", attrs, where)
    k = number(attrs, "datawidth", where) / row.bits
    return (row.idle_pJ if _is_idle(action) else row.dynamic_pJ) * k, row.area_um2 * k


def _regfile(attrs: dict, action: str, args: dict | None, where: Where) -> tuple[float, float]:
    """Register file as Aladdin models it: `width` register bits accessed plus `depth` address comparators of
    ceil(log2(depth)) bits. data_delta = 0 leaves the registers idle, address_delta = 0 the comparators."""
    width = number(attrs, "width", where, "datawidth")
    depth = number(attrs, "depth", where, "entries")
    if depth <= 0:
        return 0.0, 0.0
    cbits = math.ceil(math.log2(depth)) if depth > 1 else 0
    row = aladdin_row("reg", attrs, where)
    area = row.area_um2 * width + _comparator_bits(cbits, attrs, "idle", where)[1] * depth
    if _is_idle(action):
        reg_e, comp_action = row.idle_pJ, "idle"
    else:
        data_delta = _arg(args, "data_delta", 1)
        address_delta = _arg(args, "address_delta", 1)
        reg_e = row.dynamic_pJ if data_delta else row.idle_pJ
        comp_action = action if address_delta else "idle"
    comp_e = _comparator_bits(cbits, attrs, comp_action, where)[0]
    return reg_e * width + comp_e * depth, area


def _fifo(attrs: dict, action: str, where: Where) -> tuple[float, float]:
    """FIFO as Aladdin models it: `datawidth` register bits plus one log2(depth)-bit pointer comparator."""
    width = number(attrs, "datawidth", where, "width")
    depth = number(attrs, "depth", where)
    if depth <= 0:
        return 0.0, 0.0
    row = aladdin_row("reg", attrs, where)
    cbits = math.log2(depth)
    comp_e, comp_a = _comparator_bits(cbits, attrs, action, where)
    reg_e = row.idle_pJ if _is_idle(action) else row.dynamic_pJ
    return reg_e * width + comp_e, row.area_um2 * width + comp_a


_LENGTH = re.compile(r"^\s*(\d+(?:\.\d+)?(?:e-?\d+)?)\s*(mm|um|nm|m)?\s*$", re.IGNORECASE)


def _wire(attrs: dict, action: str, where: Where) -> tuple[float, float]:
    """Wire: E = datawidth * activity * C_per_um * length_um * Vdd^2 per transfer (Aladdin plug-in); area 0."""
    if _is_idle(action):
        return 0.0, 0.0
    m = _LENGTH.match(str(attrs.get("length", "1um")))
    if not m:
        raise where.error(
            f"wire length must look like '1.5mm' or '200um', got {attrs.get('length')!r}", "length"
        )
    length_um = (
        float(m.group(1))
        * {"mm": 1e3, "um": 1.0, "nm": 1e-3, "m": 1e6, None: 1.0}[(m.group(2) or "").lower() or None]
    )
    bits = number(attrs, "datawidth", where, "width")
    fe, _ = _logic_factors(technology_nm(attrs, where))
    return bits * WIRE_ACTIVITY * WIRE_CAP_F_PER_UM * length_um * 1e12 * fe, 0.0


def _arg(args: dict | None, name: str, default: float) -> float:
    if not args or args.get(name) is None:
        return default
    return float(args[name])


# ---------------------------------------------------------------- DRAM


def _dram(attrs: dict, action: str, where: Where) -> tuple[float, float]:
    """DRAM: energy_per_bit(type) * width per read or write; idle 0; area 0."""
    if _is_idle(action):
        return 0.0, 0.0
    width = number(attrs, "width", where)
    if attrs.get("energy_per_bit_pJ") is not None:
        return number(attrs, "energy_per_bit_pJ", where) * width, 0.0
    table = load_data("dram.yaml")["energy_per_bit_pJ"]
    kind = str(attrs.get("type", "LPDDR4"))
    per_bit = table.get(kind) or {k.upper(): v for k, v in table.items()}.get(kind.upper())
    if per_bit is None:
        raise where.error(f"unknown DRAM type '{kind}'", "type", fix="use one of " + ", ".join(sorted(table)))
    return float(per_bit) * width, 0.0


# ---------------------------------------------------------------- SRAM (CACTI tables)


@dataclass(frozen=True)
class SramFigures:
    """CACTI figures of one SRAM organisation: per-access dynamic energies, leakage per cycle, area."""

    read_pJ: float
    write_pJ: float
    leak_pJ: float
    area_um2: float


_SRAM_KEYS = ("read_pJ", "write_pJ", "leak_pJ_per_cycle", "area_um2")


@cache
def _cacti_nodes() -> tuple[float, ...]:
    nodes = []
    for f in DATA_DIR.glob("cacti7_sram_*nm.yaml"):
        m = re.search(r"_(\d+(?:\.\d+)?)nm\.yaml$", f.name)
        if m:
            nodes.append(float(m.group(1)))
    return tuple(sorted(nodes))


@cache
def _cacti_series(node_nm: float) -> dict[tuple[int, int, int], dict[str, list[float]]]:
    data = load_data(f"cacti7_sram_{node_nm:g}nm.yaml")
    return {(int(s["width_bits"]), int(s["ports"]), int(s["banks"])): s for s in data["series"]}


def _loglog(x: float, xs: list[float], ys: list[float]) -> float:
    """Piecewise log-log interpolation of y(x); log-log extrapolation from the end segments."""
    if len(xs) == 1:
        return ys[0] * (x / xs[0]) ** 0.5
    i = min(max(bisect.bisect_left(xs, x), 1), len(xs) - 1)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    if y0 <= 0 or y1 <= 0:
        t = (x - x0) / (x1 - x0)
        return max(0.0, y0 + t * (y1 - y0))
    t = (math.log(x) - math.log(x0)) / (math.log(x1) - math.log(x0))
    return math.exp(math.log(y0) + t * (math.log(y1) - math.log(y0)))


def _series_at(node: float, width: int, ports: int, banks: int, size_b: float) -> list[float]:
    s = _cacti_series(node).get((width, ports, banks))
    if s is None:
        raise KeyError((width, ports, banks))
    return [_loglog(size_b, s["size_bytes"], s[k]) for k in _SRAM_KEYS]


def _at_width(node: float, width_bits: float, ports: int, banks: int, depth: float) -> list[float]:
    """Figures at a width: exact table width, or log-log interpolation between the table widths around it
    (at the same depth)."""
    widths = sorted({w for (w, p, b) in _cacti_series(node) if p == ports and b == banks})
    if not widths:
        raise KeyError((ports, banks))

    def at(w: int) -> list[float]:
        block = max(w // 8, 4)
        size = max(w * depth / 8, 64 * block)  # the plug-in raises capacity to at least 64 blocks
        return _series_at(node, w, ports, banks, size)

    if width_bits in widths:
        return at(int(width_bits))
    i = min(max(bisect.bisect_left(widths, width_bits), 1), len(widths) - 1)
    w0, w1 = widths[i - 1], widths[i]
    f0, f1 = at(w0), at(w1)
    return [_loglog(width_bits, [w0, w1], [a, b]) for a, b in zip(f0, f1)]


def sram_figures(tech_nm: float, width_bits: float, depth: float, ports: int, banks: int) -> SramFigures:
    """CACTI 7 figures for an SRAM, from the shipped tables.

    As Accelergy's CACTI plug-in: banks rounded up to a power of two, ports = rd + wr + rdwr (at least 1),
    capacity raised to 64 blocks of max(word bytes, 4). Capacity and width interpolate log-log between
    table points; ports above 2 extrapolate linearly from 1 and 2; other nodes scale from the nearest table
    by `energy_scale` / `area_scale`.
    """
    nodes = _cacti_nodes()
    if not nodes:
        raise RuntimeError("no CACTI SRAM tables found in fusionsim/energy/data")
    node = min(nodes, key=lambda n: (abs(n - tech_nm), n))
    nb = 1 << max(0, math.ceil(math.log2(max(banks, 1))))
    available_banks = sorted({b for (_, _, b) in _cacti_series(node)})
    nb_table = min(nb, available_banks[-1])
    ports = max(int(ports), 1)

    def at_ports(p: int) -> list[float]:
        vals = _at_width(node, max(width_bits, 8), p, nb_table, depth)
        if nb_table != nb:  # beyond the table: grow like the last bank doubling did
            prev = _at_width(node, max(width_bits, 8), p, nb_table // 2, depth)
            steps = math.log2(nb / nb_table)
            vals = [v * (v / q) ** steps if q > 0 and v > 0 else v for v, q in zip(vals, prev)]
        return vals

    if ports <= 2:
        vals = at_ports(ports)
    else:
        one, two = at_ports(1), at_ports(2)
        vals = [b + (ports - 2) * (b - a) for a, b in zip(one, two)]
    fe = energy_scale(node, tech_nm) if node != tech_nm else 1.0
    fa = area_scale(node, tech_nm) if node != tech_nm else 1.0
    read, write, leak, area = vals
    return SramFigures(read * fe, write * fe, leak * fe, area * fa)


def _sram(attrs: dict, action: str, args: dict | None, where: Where) -> tuple[float, float]:
    """SRAM per Accelergy's CACTI plug-in: idle (and a 0/0 access) = leakage; otherwise
    leak + (E - leak) * (0.3 * address_delta / n_banks + 0.7 * data_delta), E = CACTI read or write energy.
    Arrays under 64 B (outside CACTI's range) are priced as register files."""
    width = number(attrs, "width", where, "memory_width")
    depth = number(attrs, "depth", where, "memory_depth")
    size_b = width * depth // 8
    if size_b <= 0:
        return 0.0, 0.0
    if size_b < SRAM_MIN_BYTES:
        return _regfile({**attrs, "width": width, "depth": depth}, action, args, where)
    ports = int(
        sum(
            number(attrs, k, where)
            for k in ("n_rdwr_ports", "n_rd_ports", "n_wr_ports")
            if attrs.get(k) is not None
        )
    )
    banks = int(number(attrs, "n_banks", where))
    if banks < 1:
        raise where.error(f"n_banks must be at least 1, got {banks}", "n_banks")
    fig = sram_figures(technology_nm(attrs, where), width, depth, ports, banks)
    if _is_idle(action):
        return fig.leak_pJ, fig.area_um2
    address_delta = _arg(args, "address_delta", 1)
    data_delta = _arg(args, "data_delta", 1)
    if address_delta == 0 and data_delta == 0:
        return fig.leak_pJ, fig.area_um2
    dynamic = (fig.read_pJ if action == "read" else fig.write_pJ) - fig.leak_pJ
    e = fig.leak_pJ + dynamic * (SRAM_ADDRESS_SHARE * address_delta / banks + SRAM_DATA_SHARE * data_delta)
    return e, fig.area_um2


# ---------------------------------------------------------------- dispatch

_SIMPLE = {
    "intadder": _adder,
    "intmultiplier": _multiplier,
    "intmac": _mac,
    "fpadder": _fpadder,
    "fpmultiplier": _fpmultiplier,
    "fpmac": _fpmac,
    "comparator": _comparator,
    "counter": _counter,
    "bitwise": _bitwise,
    "reg": _reg,
    "crossbar": _crossbar,
    "shifter": _shifter,
    "FIFO": _fifo,
    "wire": _wire,
    "DRAM": _dram,
}
_WITH_ARGS = {"regfile": _regfile, "SRAM": _sram}


def _evaluate(
    cls: str, attributes: dict[str, Any], action: str, args: dict | None, where: Where
) -> tuple[float, float]:
    name = canonical_class(cls)
    if name is None:
        raise where.error(
            f"unknown primitive class '{cls}'",
            None,
            fix="use one of " + ", ".join(primitive_classes()) + " or a compound class "
            "defined in a components/ file",
        )
    attrs = with_defaults(name, attributes, where)
    if name in _WITH_ARGS:
        return _WITH_ARGS[name](attrs, action, args, where)
    return _SIMPLE[name](attrs, action, where)


class NativeEstimator:
    """The built-in models: Aladdin tables for logic, CACTI tables for SRAM, per-bit DRAM energies.

    Any action other than `idle` (and the gated/reused variants of multipliers) is priced as one dynamic
    operation, as Accelergy's Aladdin plug-in does, so `count` on an adder costs an add."""

    name = "native"

    def energy_pJ(
        self,
        cls: str,
        attributes: dict[str, Any],
        action: str,
        args: dict | None = None,
        where: Where = NOWHERE,
    ) -> float:
        return _evaluate(cls, attributes, action, args, where)[0]

    def area_um2(self, cls: str, attributes: dict[str, Any], where: Where = NOWHERE) -> float:
        return _evaluate(cls, attributes, "idle", None, where)[1]

    def knows(self, cls: str) -> bool:
        return canonical_class(cls) is not None
