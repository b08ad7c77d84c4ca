"""Paths Snakemake compares, independent of where the checkout lies.

Snakemake reruns a job when its params or the set of its input paths differ from the last run's. A file of
the workflow folder (an accelerator's arch, a workload) named by its absolute path would rerun every job as
soon as the same results folder is used from a checkout at another place (a moved repository, a second clone,
a cluster node mounting it elsewhere). So rule functions pass such files as `{workflow}/<relative path>`
references in params (`checkout_split`), and job bodies resolve them against the workflow folder
(`resolve_files`). Files of the results folder (relative to the working directory) and files outside the
checkout stay ordinary inputs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fusionsim.workflow.keys import file_hash

WORKFLOW = "{workflow}"


def portable(path: str | Path, basedir: str | Path | None) -> str:
    """`path` as `{workflow}/<rel>` when it lies inside the workflow folder `basedir`, else unchanged."""
    if not basedir:
        return str(path)
    if not Path(path).is_absolute():
        return str(path)  # relative to the working directory (the results folder): stable already
    p = Path(os.path.normpath(path))  # `<repo>/../shared/x` lies outside the checkout
    try:
        return f"{WORKFLOW}/{p.relative_to(Path(os.path.normpath(basedir))).as_posix()}"
    except ValueError:
        return str(path)


def resolve(ref: str, basedir: str | Path) -> str:
    """The real path of a `portable` reference, resolved against the workflow folder `basedir`."""
    if ref.startswith(WORKFLOW + "/"):
        return str(Path(basedir) / ref[len(WORKFLOW) + 1:])
    return ref


def _inside(path: str, basedir: str | Path | None) -> bool:
    return portable(path, basedir).startswith(WORKFLOW + "/")


def checkout_split(
    files: dict[str, str | list[str]], basedir: str | Path | None, hashes: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(inputs, refs) of a rule's named files: entries inside the workflow folder become `portable` references
    (for params), the others stay inputs. With `hashes`, refs also hold each moved file's SHA-256 under
    `sha256`, so editing it still reruns the job (for jobs whose output path is not a content key); a folder
    then stays an input."""
    inputs: dict[str, Any] = {}
    refs: dict[str, Any] = {}
    sums: dict[str, Any] = {}
    for name, value in files.items():
        paths = [value] if isinstance(value, str) else list(value)
        if paths and all(_inside(p, basedir) and (not hashes or Path(p).is_file()) for p in paths):
            refs[name] = portable(value, basedir) if isinstance(value, str) else [portable(p, basedir) for p in paths]
            if hashes:
                sums[name] = file_hash(Path(value)) if isinstance(value, str) else [file_hash(Path(p)) for p in paths]
        else:
            inputs[name] = value
    if hashes and sums:
        refs["sha256"] = sums
    return inputs, refs


def inputs_outside(files: dict[str, Any], basedir: str | Path) -> dict[str, Any]:
    """The rule inputs of `checkout_split(files, basedir, hashes=True)` (the named files outside the workflow folder)."""
    return checkout_split(files, basedir, hashes=True)[0]


def refs_inside(files: dict[str, Any], basedir: str | Path) -> dict[str, Any]:
    """The params of `checkout_split(files, basedir, hashes=True)`: references and SHA-256 of the files inside."""
    return checkout_split(files, basedir, hashes=True)[1]


def resolve_files(inputs: Any, refs: dict[str, Any], scriptdir: str | Path) -> dict[str, Any]:
    """A job's named files from its inputs and its params' references (`checkout_split`); `scriptdir` is the
    rule script's folder (`snakemake.scriptdir`), whose parent is the workflow folder."""
    basedir = Path(scriptdir).parent
    out: dict[str, Any] = dict(inputs.items())
    for name, value in refs.items():
        if name == "sha256":
            continue
        out[name] = resolve(value, basedir) if isinstance(value, str) else [resolve(v, basedir) for v in value]
    return out
