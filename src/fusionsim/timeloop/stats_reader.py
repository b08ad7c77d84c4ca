"""Parse Timeloop v1.0 `timeloop-mapper.stats.txt` / `timeloop-model.stats.txt` into an `EvalResult`.

The text layout (v1.0): a "Buffer and Arithmetic Levels" part with one `Level i` section per level
(arithmetic first, then storage inner to outer), each with `=== name ===`, SPECS, MAPPING and STATS;
storage STATS list per-dataspace blocks (`Weights:` then `key : value` lines, only for kept dataspaces).
Then a "Networks" part, the topology totals (`Total topology energy`, `Max topology cycles`) and the
"Summary Stats" (utilization, cycles, energy in uJ, `MACCs = N`).

Level energy is the sum over its dataspaces of access, temporal-reduction and address-generation energy
(all instances); that is how Timeloop's topology total is formed, so the level energies sum to it.
"""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

from fusionsim.errors import InputError
from fusionsim.model.result import DataspaceStats, EvalResult, LevelStats

_KV = re.compile(r"^\s*([A-Za-z][^:]*?)\s*:\s*(.*?)\s*$")
_NUM = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")

# `key` as printed (without its parenthesised qualifier) -> DataspaceStats field for integer counts
_COUNT_KEYS = {
    "Scalar reads": "reads",
    "Scalar fills": "fills",
    "Scalar updates": "updates",
    "Temporal reductions": "temporal_reductions",
    "Address generations": "address_generations",
    "Utilized capacity": "utilized_capacity",
    "Utilized instances": "utilized_instances",
    "Utilized clusters": "utilized_clusters",
    "Partition size": "partition_size",
}
# energies (all instances) that add up to the dataspace's share of the level energy
_ENERGY_KEYS = (
    "Energy (total)",
    "Temporal Reduction Energy (total)",
    "Address Generation Energy (total)",
    "Link transfer energy (total)",
    "Spatial Reduction Energy (total)",
)


def _number(text: str) -> float | None:
    """Leading number of a value such as `125244616.70 pJ`; None for `-` or text."""
    m = _NUM.match(text.strip())
    return float(m.group(0)) if m else None


def _base_key(key: str) -> str:
    """`Scalar reads (per-instance)` -> `Scalar reads`; `Utilized instances (max)` -> `Utilized instances`."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", key).strip()


class _Parser:
    def __init__(self, lines: list[str], path: Path):
        self.lines = lines
        self.path = path

    def fail(self, lineno: int, message: str, key: str | None = None) -> InputError:
        return InputError(
            f"line {lineno + 1}: {message}",
            file=self.path,
            key=key,
            fix="pass a timeloop-mapper.stats.txt or timeloop-model.stats.txt written by Timeloop v1.0",
        )

    def parse(self) -> EvalResult:
        lines = self.lines
        starts = [i for i, ln in enumerate(lines) if re.match(r"^Level \d+\s*$", ln)]
        if not starts:
            raise self.fail(0, "no 'Level <i>' section found; not a Timeloop stats file")
        net_start = next((i for i, ln in enumerate(lines) if ln.strip() == "Networks"), None)
        tail_start = next(
            (i for i, ln in enumerate(lines) if ln.startswith("Total topology energy")),
            None,
        )
        end_levels = net_start if net_start is not None else (tail_start or len(lines))
        levels: list[LevelStats] = []
        for k, s in enumerate(starts):
            e = starts[k + 1] if k + 1 < len(starts) else end_levels
            levels.append(self._level(s, e))
        if net_start is not None:
            levels.extend(self._networks(net_start, tail_start or len(lines)))
        totals = self._totals(levels)
        return EvalResult(levels=levels, **totals)

    def _level(self, start: int, end: int) -> LevelStats:
        name = None
        for i in range(start, end):
            m = re.match(r"^\s*===\s*(.+?)\s*===\s*$", self.lines[i])
            if m:
                name = m.group(1)
                break
        if name is None:
            raise self.fail(start, "level section without '=== name ===' line")
        stats_at = next((i for i in range(start, end) if self.lines[i].strip() == "STATS"), None)
        if stats_at is None:
            raise self.fail(start, f"level '{name}' has no STATS block", key=name)
        specs = self.lines[start:stats_at]
        arithmetic = any(ln.strip().startswith("Energy-per-op") for ln in specs) or not any(
            ln.strip().startswith("Technology") for ln in specs
        )
        cycles = 0
        energy = 0.0
        dataspaces: dict[str, DataspaceStats] = {}
        current: DataspaceStats | None = None
        for i in range(stats_at + 1, end):
            raw = self.lines[i]
            text = raw.strip()
            if not text or set(text) <= {"-"}:
                continue
            if text.endswith(":") and ":" not in text[:-1]:
                current = DataspaceStats()
                dataspaces[text[:-1].strip()] = current
                continue
            m = _KV.match(raw)
            if not m:
                continue
            key, value = m.group(1), m.group(2)
            if current is None:
                if key == "Cycles":
                    cycles = int(_number(value) or 0)
                elif arithmetic and key == "Energy (total)":
                    energy = _number(value) or 0.0
                continue
            self._dataspace_value(current, key, value, i)
        if not arithmetic:
            energy = sum(ds.energy_pJ for ds in dataspaces.values())
        return LevelStats(
            name=name,
            energy_pJ=energy,
            cycles=cycles,
            kind="arithmetic" if arithmetic else "storage",
            dataspaces=dataspaces,
        )

    def _dataspace_value(self, ds: DataspaceStats, key: str, value: str, lineno: int) -> None:
        if key in _ENERGY_KEYS:
            num = _number(value)
            if num is None:
                raise self.fail(lineno, f"'{key}' is not a number: {value!r}", key=key)
            ds.energy_pJ += num
            return
        field = _COUNT_KEYS.get(_base_key(key))
        if field is None:
            return
        num = _number(value)
        if num is None:
            raise self.fail(lineno, f"'{key}' is not a number: {value!r}", key=key)
        setattr(ds, field, int(round(num)))

    def _networks(self, start: int, end: int) -> list[LevelStats]:
        out: list[LevelStats] = []
        starts = [i for i in range(start, end) if re.match(r"^Network \d+\s*$", self.lines[i])]
        for k, s in enumerate(starts):
            e = starts[k + 1] if k + 1 < len(starts) else end
            name = next(
                (self.lines[i].strip() for i in range(s + 1, e) if "<==>" in self.lines[i]),
                f"network{k}",
            )
            lv = self._level_like_network(name, s, e)
            out.append(lv)
        return out

    def _level_like_network(self, name: str, start: int, end: int) -> LevelStats:
        stats_at = next((i for i in range(start, end) if self.lines[i].strip() == "STATS"), end)
        dataspaces: dict[str, DataspaceStats] = {}
        current: DataspaceStats | None = None
        for i in range(stats_at + 1, end):
            text = self.lines[i].strip()
            if text.endswith(":") and ":" not in text[:-1] and not text.startswith("@"):
                current = DataspaceStats()
                dataspaces[text[:-1].strip()] = current
                continue
            m = _KV.match(self.lines[i])
            if m and current is not None and m.group(1) in _ENERGY_KEYS:
                current.energy_pJ += _number(m.group(2)) or 0.0
        return LevelStats(
            name=name,
            energy_pJ=sum(d.energy_pJ for d in dataspaces.values()),
            kind="network",
            dataspaces=dataspaces,
        )

    def _totals(self, levels: list[LevelStats]) -> dict:
        found: dict[str, float] = {}
        summary = False
        for i, ln in enumerate(self.lines):
            text = ln.strip()
            if text.startswith("Total topology energy:"):
                found["energy_pJ"] = _number(text.split(":", 1)[1]) or 0.0
            elif text.startswith("Max topology cycles:"):
                found["cycles"] = _number(text.split(":", 1)[1]) or 0.0
            elif text == "Summary Stats":
                summary = True
            elif summary and text.startswith("Utilization:"):
                found["utilization"] = _number(text.split(":", 1)[1]) or 0.0
            elif summary and text.startswith("Cycles:") and "summary_cycles" not in found:
                found["summary_cycles"] = _number(text.split(":", 1)[1]) or 0.0
            elif summary and text.startswith("Energy:") and "summary_energy_uJ" not in found:
                found["summary_energy_uJ"] = _number(text.split(":", 1)[1]) or 0.0
            elif text.startswith("MACCs") and "=" in text:
                num = _number(text.split("=", 1)[1])
                if num is None:
                    raise self.fail(i, "MACCs is not a number", key="MACCs")
                found["macs"] = num
        if "energy_pJ" not in found:
            if "summary_energy_uJ" not in found:
                raise self.fail(
                    len(self.lines) - 1, "no 'Total topology energy' nor summary Energy", key="Energy"
                )
            found["energy_pJ"] = found["summary_energy_uJ"] * 1e6
        if "cycles" not in found:
            if "summary_cycles" in found:
                found["cycles"] = found["summary_cycles"]
            else:
                found["cycles"] = max((lv.cycles for lv in levels), default=0)
        if "macs" not in found:
            raise self.fail(len(self.lines) - 1, "no 'MACCs = N' line in the summary", key="MACCs")
        return {
            "energy_pJ": float(found["energy_pJ"]),
            "cycles": int(found["cycles"]),
            "utilization": float(found.get("utilization", 0.0)),
            "macs": int(found["macs"]),
        }


def read_stats(path: str | os.PathLike) -> EvalResult:
    """Read a Timeloop v1.0 stats.txt (or a gzipped `*.gz` one, as the oracle set stores it) into an
    `EvalResult` (levels: arithmetic, storage inner to outer, then the networks); raises `InputError` naming the
    file on malformed input."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt") as f:
                text = f.read()
        else:
            text = path.read_text()
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
        raise InputError("not a text file", file=path, fix="pass a Timeloop stats.txt") from exc
    return parse_stats(text, path)


def parse_stats(text: str, path: str | os.PathLike = "<stats>") -> EvalResult:
    """Parse stats.txt content (see `read_stats`)."""
    return _Parser(text.splitlines(), Path(path)).parse()


def read_summary_energy_uj(path: str | os.PathLike) -> float:
    """The `Energy: X uJ` of the Summary Stats, as printed (2 decimals): what the seed's scripts used."""
    summary = False
    for line in Path(path).read_text().splitlines():
        text = line.strip()
        if text == "Summary Stats":
            summary = True
        elif summary and text.startswith("Energy:"):
            value = _number(text.split(":", 1)[1])
            if value is not None:
                return value
    raise InputError(
        "no Summary Stats 'Energy:' line", file=path, key="Energy", fix="pass a Timeloop stats.txt"
    )
