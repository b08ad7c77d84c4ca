"""Job bodies of the default run that the thin `scripts/` call: build an ERT, map one layer."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from fusionsim.atomic_io import write_json, write_text
from fusionsim.workflow.keys import model_version


def run_ert_job(
    *, arch: str, components: list[str], technology: str | None, backend: str, outputs: dict[str, str]
) -> dict[str, Any]:
    """Rule build_ert: ERT and ART of `arch` (`fusionsim.energy.build_tables`), each written atomically.

    `components` are exactly the component class files of the manifest ([] builds from the arch alone, no
    implicit `components/` folder), so the ERT depends on nothing the cache key does not cover.
    """
    from fusionsim.energy.ert import art_dict, build_tables, dump_yaml, ert_dict

    tables = build_tables(arch, [Path(c) for c in components], technology, backend)
    source = f"{Path(arch).parent.name}/{Path(arch).name}"  # not the absolute path: it names the checkout
    head = f"# Built by rule build_ert: {source}, technology {technology or 'of the arch'}, backend {backend}.\n"
    write_text(outputs["ert"], head + dump_yaml(ert_dict(tables)))
    write_text(outputs["art"], head + dump_yaml(art_dict(tables)))
    return {"components": len(tables.components), "technology": technology, "backend": backend}


def write_yaml(path: str | Path, data: dict[str, Any]) -> None:
    """Write a dict as YAML atomically (stable key order)."""
    write_text(path, yaml.safe_dump(data, sort_keys=True, default_flow_style=None))


def run_map_job(
    *,
    problem: dict[str, Any],
    mapper: dict[str, Any],
    arch: str,
    ert: str,
    constraints: list[str],
    components: str | None,
    outputs: dict[str, str],
    key: str,
    engine: str = "native",
    seed: int = 0,
    threads: int = 1,
) -> dict[str, Any]:
    """Write the layer's problem and mapper YAMLs, run the mapper on them and move its files into place.

    `problem` and `mapper` are the dicts behind the problem and mapper YAMLs. The mapper writes into a scratch folder next to the outputs; each file is then renamed into place, so an
    interrupted job leaves no output that looks complete. Returns the run record written to `run.json`.
    """
    from fusionsim.mapper.api import map_files  # imported here: the pipeline plans without the mapper

    target = Path(outputs["stats_json"]).parent
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob(".map-*"):  # left by a job killed with SIGKILL; this job owns the folder now
        shutil.rmtree(stale, ignore_errors=True)
    scratch = Path(tempfile.mkdtemp(prefix=".map-", dir=target))
    try:
        write_yaml(outputs["problem"], problem)
        write_yaml(outputs["mapper"], mapper)
        result = map_files(
            arch=Path(arch),
            problem=Path(outputs["problem"]),
            constraints=[Path(c) for c in constraints],
            mapper=Path(outputs["mapper"]),
            ert=Path(ert),
            components=Path(components) if components else None,
            seed=seed,
            threads=threads,
            engine=engine,
            out_dir=scratch,
        )
        if not (scratch / "mapping.yaml").exists():
            write_text(scratch / "mapping.yaml", result["mapping"])
        if not (scratch / "stats.json").exists():
            write_json(scratch / "stats.json", result["stats"])
        record = {
            "key": key,
            "engine": engine,
            "seed": seed,
            "threads": threads,
            "evaluated": result.get("evaluated"),
            "valid": result.get("valid"),
            "seconds": result.get("seconds"),
            "model_version": model_version(),
        }
        for name, out in (
            ("mapping.yaml", "mapping"),
            ("stats.json", "stats_json"),
            ("stats.txt", "stats_txt"),
        ):
            os.replace(scratch / name, outputs[out])
        write_json(outputs["run"], record)
        return record
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def collect_layers(copies: list[list[str]], out_dir: str, names: tuple[str, ...] = ("problem.yaml",
                   "mapping.yaml", "stats.json", "stats.txt")) -> int:
    """The per-layer folders of one (network, dataset, accelerator): each `[cache folder, relative folder]` of
    `copies` gets `names` copied from the cache. Built in a scratch folder beside `out_dir` and renamed into
    place as a whole, so an interrupted job leaves no folder that looks complete. Returns the layer count."""
    target = Path(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".layers-", dir=target.parent))
    try:
        for src, rel in copies:
            dest = scratch / rel
            dest.mkdir(parents=True, exist_ok=True)
            for name in names:
                shutil.copyfile(Path(src) / name, dest / name)
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return len(copies)
