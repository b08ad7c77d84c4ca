"""Layer jobs in batches: many content-keyed layer mappings per Snakemake job.

A layer job maps in about 0.2 s, but a Snakemake job of its own costs about 0.4 s more (interpreter start,
imports, bookkeeping): the full ARCHON comparison spent more CPU on that than on mapping. So the keys of the
plan are grouped into batch jobs (rule `map_layer_batch`), each mapping its keys one after another in one
process into the same per-key cache folders `<out>/cache/layers/<key>/` as before (a key already complete
there is reused, not mapped again).

- Each key belongs to exactly one batch: that of its *owner*, the first (sorted) of the users that registered
  it (a (network, dataset, accelerator) of the dense run, an ARCHON comparison part). An owner's keys, sorted,
  are cut into batches of at most `MAP_BATCH_KEYS`; a batch is named by the hash of its keys. Changing one
  layer's shape so changes only the batches of that layer's owner; the unchanged keys of a rerun batch come
  from the cache, so exactly the new keys are mapped.
- Jobs that read a key's files take its batch's `results.json` as their input and the key's files as params
  (`split_cached`): no rule declares the per-key files, so they cannot be inputs. A key folder deleted by hand
  makes its batch's results file stale; the Snakefile drops such files at start (`drop_stale_batches`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionsim.atomic_io import write_json
from fusionsim.workflow.keys import content_hash

MAP_BATCH_KEYS = 12  # keys per batch: ~3 s of mapping, 2 cores kept busy by the many batches of a run
MAP_BATCH_FORMAT = "fusionsim-map-batch/1"
CACHE_MARKS = ("/cache/layers/", "/cache/sweep_layers/")  # `<out>/<mark><key>/<file>`: a key's cached file
# every file of a key's cache folder, by the name `jobs.run_map_job` gives it in `outputs`
MAP_FILES = {
    "problem": "problem.yaml",
    "mapper": "mapper.yaml",
    "mapping": "mapping.yaml",
    "stats_json": "stats.json",
    "stats_txt": "stats.txt",
    "run": "run.json",
}


def key_outputs(folder: str) -> dict[str, str]:
    """A key's cache files in `folder`, named as `jobs.run_map_job` takes them (a batch entry's `outputs`)."""
    return {name: f"{folder}/{file}" for name, file in MAP_FILES.items()}


def files_once(named: Iterable[dict[str, Any]]) -> list[str]:
    """Every path of some named-file dicts (values: a path or a list of paths), once each, in order: the
    inputs of a batch job from its keys' files."""
    files: dict[str, None] = {}
    for d in named:
        for value in d.values():
            files.update(dict.fromkeys([value] if isinstance(value, str) else value))
    return list(files)


def batch_map_keys(users: dict[str, set[str]], size: int = MAP_BATCH_KEYS) -> dict[str, list[str]]:
    """{batch: its keys} from {key: the users that registered it}: per owner (first user), sorted keys cut into
    runs of at most `size`, each named by the hash of its keys."""
    owned: dict[str, list[str]] = {}
    for key, who in users.items():
        owned.setdefault(min(who), []).append(key)
    batches: dict[str, list[str]] = {}
    for owner in sorted(owned):
        keys = sorted(owned[owner])
        for i in range(0, len(keys), size):
            chunk = keys[i : i + size]
            batches[content_hash(chunk)] = chunk
    return batches


@dataclass
class KeyBatches:
    """The batches of a plan's keys: who registered each key, and the batches made once all are in."""

    users: dict[str, set[str]] = field(default_factory=dict)  # key -> who reads it (the first is its owner)
    names: dict[str, dict[str, str]] = field(default_factory=dict)  # key -> user -> the layer's name there
    _batches: dict[str, list[str]] | None = None
    _batch_of: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, user: str, name: str = "") -> None:
        self.users.setdefault(key, set()).add(user)
        self.names.setdefault(key, {}).setdefault(user, name)
        self._batches = None

    def label(self, key: str) -> str:
        """What a key is to its owner, for messages: `<layer> of <owner>` (stable while the batch is)."""
        owner = min(self.users[key])
        name = self.names.get(key, {}).get(owner)
        return f"{name} of {owner}" if name else owner

    def batches(self) -> dict[str, list[str]]:
        """{batch: its keys} (`batch_map_keys`), made on first use after the last registration."""
        if self._batches is None:
            self._batches = batch_map_keys(self.users)
            self._batch_of = {k: b for b, keys in self._batches.items() for k in keys}
        return self._batches

    def batch_of(self, key: str) -> str:
        self.batches()
        return self._batch_of[key]


def cached_key(path: str) -> str | None:
    """The content key of a path under `<out>/cache/layers/<key>/` (or `sweep_layers/`), else None."""
    for mark in CACHE_MARKS:
        if mark in path:
            return path.split(mark, 1)[1].split("/", 1)[0]
    return None


def split_cached(files: dict[str, Any], batch_file_of: Callable[[str], str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(inputs, cached) of a rule's named files: entries made only of keys' cached files move to `cached` (a
    params value) and the inputs gain `map_batches`, the results files of the batches that write them."""
    inputs: dict[str, Any] = {}
    cached: dict[str, Any] = {}
    batches: dict[str, None] = {}
    for name, value in files.items():
        paths = [value] if isinstance(value, str) else list(value)
        keys = [cached_key(str(p)) for p in paths]
        if paths and all(keys):
            cached[name] = value
            batches.update(dict.fromkeys(batch_file_of(k) for k in keys if k))
        else:
            inputs[name] = value
    if batches:
        inputs["map_batches"] = sorted(batches)
    return inputs, cached


def job_files(inputs: Any, cached: dict[str, Any]) -> dict[str, Any]:
    """A job's named files: its inputs (without `map_batches`) and the cached files of its params."""
    out = {k: v for k, v in dict(inputs.items()).items() if k != "map_batches"}
    out.update(cached)
    return out


def drop_stale_batches(
    batches: dict[str, list[str]], batch_file: Callable[[str], str], key_dir: Callable[[str], str]
) -> list[str]:
    """Remove the results file of every batch one of whose keys is no longer complete in the cache (its folder
    deleted by hand): Snakemake then runs that batch again, and it maps exactly the missing keys. Returns the
    removed files. (No run leaves such a state: a batch writes its results file after all its keys.)"""
    dropped = []
    for batch, keys in batches.items():
        results = Path(batch_file(batch))
        if results.exists() and not all((Path(key_dir(k)) / "run.json").exists() for k in keys):
            results.unlink(missing_ok=True)
            dropped.append(str(results))
    return dropped


def complete_record(folder: Path) -> dict[str, Any] | None:
    """The run record of a key's cache folder when its job completed (run.json is written last), else None."""
    try:
        return json.loads((folder / "run.json").read_text())
    except (OSError, ValueError):
        return None


def run_map_batch(
    entries: Iterable[dict[str, Any]],
    out: str,
    map_one: Callable[..., dict[str, Any]],
    resolve: Callable[[str], str],
    **settings: Any,
) -> dict[str, Any]:
    """Map every entry (`key`, `problem`, `mapper`, `files`, `components`, `outputs`, optional `label`) not
    complete in the cache with `map_one` (`workflow.jobs.run_map_job`'s signature; `settings`: engine, seed,
    threads), file references resolved by `resolve`. A failing key does not stop the others: each failure is
    logged with its label, the first is raised after them, and then no results file is written. Returns the
    body written to `out`: every key's run record."""
    t0 = time.monotonic()
    records: dict[str, Any] = {}
    reused = 0
    failures: list[tuple[str, BaseException]] = []
    for e in entries:
        folder = Path(e["outputs"]["run"]).parent
        record = complete_record(folder)
        if record is not None and record.get("key") == e["key"]:
            records[e["key"]] = record
            reused += 1
            continue
        files = {n: resolve(v) if isinstance(v, str) else [resolve(x) for x in v] for n, v in e["files"].items()}
        try:
            records[e["key"]] = map_one(
                problem=e["problem"],
                mapper=e["mapper"],
                arch=files["arch"],
                ert=files["ert"],
                constraints=list(files["constraints"]),
                components=resolve(e["components"]) if e["components"] else None,
                outputs=e["outputs"],
                key=e["key"],
                **settings,
            )
            logging.info("mapped %s: %s", e["key"], records[e["key"]])
        except Exception as exc:  # noqa: BLE001 -- the batch's other keys still get mapped
            logging.error("%s (key %s) failed: %s", e.get("label", "layer"), e["key"], exc)
            failures.append((e.get("label", e["key"]), exc))
    if failures:
        logging.error("%d of %d layers failed: %s", len(failures), len(records) + len(failures),
                      "; ".join(label for label, _ in failures))  # fmt: skip
        raise failures[0][1]
    body = {
        "format": MAP_BATCH_FORMAT,
        "keys": len(records),
        "reused": reused,
        "seconds": round(time.monotonic() - t0, 3),
        "records": records,
    }
    write_json(out, body)
    return body
