"""Timeloop v1.0 mapper settings (`mapper:` YAML): search algorithm, lexicographic optimisation metrics and
the termination knobs, validated with one-line errors naming the file and key."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import load_yaml

log = logging.getLogger(__name__)

ALGORITHMS = ("exhaustive", "linear-pruned", "random-pruned", "hybrid", "random")
METRICS = ("energy", "delay", "edp", "last-level-accesses")
# Keys Timeloop v1.0 reads (mapper.hpp) that do not change which mapping is found; accepted and ignored.
IGNORED_KEYS = frozenset({
    "live-status", "log-stats", "log-suboptimal", "log-all", "diagnostics", "penalize-consecutive-bypass-fails",
    "emit-whoop-nest", "out_prefix", "out-prefix", "filter-revisits", "sync-interval", "metric",
})


@dataclass(frozen=True)
class MapperSpec:
    """The mapper YAML's settings; zero means 'no limit' for the counters, as in Timeloop."""

    algorithm: str = "random-pruned"
    metrics: tuple[str, ...] = ("edp",)
    timeout: int = 1000  # consecutive invalid mappings before giving up
    victory_condition: int = 500  # consecutive non-improving valid mappings before stopping
    max_permutations_per_if_visit: int = 16
    num_threads: int = 1
    search_size: int = 0  # valid mappings to evaluate (0 = unlimited)
    file: str = ""


def _int(root: dict[str, Any], key: str, default: int, file: Path) -> int:
    if key not in root or root[key] is None:
        return default
    val = root[key]
    if isinstance(val, bool) or not isinstance(val, (int, float)) or int(val) != val or val < 0:
        raise InputError(f"expected a non-negative integer, got {val!r}", file=file, key=f"mapper.{key}")
    return int(val)


def parse_mapper_spec(data: dict[str, Any], file: str | Path = "<mapper>") -> MapperSpec:
    """Read `mapper: {algorithm, optimization-metrics, timeout, victory-condition, ...}` (root optional)."""
    file = Path(file)
    root = data.get("mapper", data)
    if root is None:
        root = {}
    if not isinstance(root, dict):
        raise InputError("'mapper' must be a mapping", file=file, key="mapper")
    algo = str(root.get("algorithm", "random-pruned"))
    if algo not in ALGORITHMS:
        raise InputError(f"unknown algorithm {algo!r}", file=file, key="mapper.algorithm",
                         fix=f"use one of {', '.join(ALGORITHMS)}")
    metrics = root.get("optimization-metrics", root.get("optimization_metrics"))
    if metrics is None:
        metrics = [root["metric"]] if "metric" in root else ["edp"]
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, list) or not metrics:
        raise InputError("expected a non-empty list of metrics", file=file, key="mapper.optimization-metrics")
    for m in metrics:
        if m not in METRICS:
            raise InputError(f"unknown metric {m!r}", file=file, key="mapper.optimization-metrics",
                             fix=f"use any of {', '.join(METRICS)}")
    known = {"algorithm", "optimization-metrics", "optimization_metrics", "timeout", "victory-condition",
             "max-permutations-per-if-visit", "num-threads", "search-size", "search_size"} | IGNORED_KEYS
    for k in root:
        if k not in known:
            log.warning("%s: mapper key %r is not a Timeloop v1.0 key; ignored", file, k)
    threads = _int(root, "num-threads", 1, file)
    return MapperSpec(
        algorithm=algo,
        metrics=tuple(str(m) for m in metrics),
        timeout=_int(root, "timeout", 1000, file),
        victory_condition=_int(root, "victory-condition", 500, file),
        max_permutations_per_if_visit=max(1, _int(root, "max-permutations-per-if-visit", 16, file)),
        num_threads=max(1, threads),
        search_size=_int(root, "search-size", _int(root, "search_size", 0, file), file),
        file=str(file),
    )


def load_mapper_spec(path: str | Path) -> MapperSpec:
    """Read a mapper YAML file."""
    return parse_mapper_spec(load_yaml(path), path)
