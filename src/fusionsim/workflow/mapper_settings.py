"""Mapper settings of a layer job: an accelerator's mapper file merged with the config's `mapper`
overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fusionsim.spec.yaml_io import load_yaml_any

# config key (snake_case) -> Timeloop mapper YAML key
MAPPER_KEYS = {
    "algorithm": "algorithm",
    "optimization_metrics": "optimization-metrics",
    "timeout": "timeout",
    "victory_condition": "victory-condition",
    "max_permutations_per_if_visit": "max-permutations-per-if-visit",
}


def merge_mapper_settings(base: dict[str, Any], *overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The mapper YAML dict: `base` (a mapper file's content) with each override's non-null keys applied in order.

    Overrides use the config's snake_case keys; `threads` and `seed` are not mapper-file keys and are ignored.
    """
    mapper = dict((base or {}).get("mapper", base or {}))
    mapper.pop("live-status", None)  # interactive display only; never part of a batch run
    # The mapper reads num-threads as Timeloop's number of searchers, i.e. a search-budget multiplier. Pipeline
    # jobs drop it on purpose (measured: ~4x faster, same cycles, energies within 0.4% on the ARCHON
    # comparison); processes per job come from config mapper.threads. fusion.seed_search_budget keeps it.
    mapper.pop("num-threads", None)
    for over in overrides:
        for key, value in (over or {}).items():
            if value is None or key not in MAPPER_KEYS:
                continue
            mapper[MAPPER_KEYS[key]] = list(value) if isinstance(value, list) else value
    return {"mapper": mapper}


def layer_mapper_settings(
    mapper_file: Path, acc_name: str, config: dict[str, Any], keep_searchers: bool = False
) -> dict[str, Any]:
    """A layer job's mapper YAML dict: the accelerator's mapper file, then the global `mapper`, then the
    accelerator's own `mapper` overrides (`merge_mapper_settings`, which drops num-threads).

    `keep_searchers` puts the file's num-threads back (`fusion.seed_search_budget`: Timeloop's budget is
    victory-condition x timeout per searcher, so dropping the seed's 8 leaves 1/8 of its search). With
    `engine: timeloop`, settings still without num-threads get config `mapper.threads`: timeloop-mapper would
    otherwise start one searcher per core of whatever machine runs the job, each with its own budget, so the
    mapping (and the cache key) would not be fixed."""
    base = load_yaml_any(mapper_file, allow_empty=True) or {}
    over = (config["accelerators"].get(acc_name) or {}).get("mapper")
    settings = merge_mapper_settings(base, config["mapper"], over)
    searchers = (base.get("mapper", base) or {}).get("num-threads")
    if keep_searchers and searchers and "num-threads" not in settings["mapper"]:
        settings["mapper"]["num-threads"] = int(searchers)
    if config.get("engine") == "timeloop" and "num-threads" not in settings["mapper"]:
        settings["mapper"]["num-threads"] = int(config["mapper"]["threads"])
    return settings
