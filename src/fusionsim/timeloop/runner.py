"""Engine `timeloop`: run the real `timeloop-mapper` (v1.0) on the same inputs in a scratch folder and read
its outputs back with the stats reader, so `fusionsim map --engine timeloop` prints the same JSON."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from fusionsim.errors import InputError

INSTALL_HINT = ("install Timeloop v1.0 (https://github.com/NVlabs/timeloop, tag v1.0: scons --accelergy) and put "
                "timeloop-mapper on PATH, or use --engine native")


class TimeloopNotFound(InputError):
    """timeloop-mapper is not on PATH."""


def find_mapper() -> str:
    exe = shutil.which("timeloop-mapper")
    if exe is None:
        raise TimeloopNotFound("timeloop-mapper not found on PATH", key="--engine", fix=INSTALL_HINT)
    return exe


def _stage_arch(src: Path, dst: Path) -> None:
    """Copy the arch for Timeloop v1.0, rewriting Accelergy's flattened form (which v1.0 cannot read) as a tree."""
    import yaml

    from fusionsim.spec.arch import to_tree_form, walk_components
    from fusionsim.spec.yaml_io import load_yaml

    data = load_yaml(src)
    root = data.get("architecture") or {}
    if isinstance(root, dict) and "subtree" not in root and "local" in root:
        dst.write_text(yaml.safe_dump(to_tree_form(walk_components(data, src)), sort_keys=False))
    else:
        shutil.copyfile(src, dst)


def _stage_mapper(src: Path, dst: Path, searchers: int) -> None:
    """Copy the mapper file, pinning `num-threads` to `searchers` when it does not set it."""
    from fusionsim.spec.yaml_io import load_yaml

    data = load_yaml(src)
    section = data.get("mapper", data)
    if isinstance(section, dict) and "num-threads" not in section:
        section["num-threads"] = int(searchers)
        import yaml

        dst.write_text(yaml.safe_dump(data, sort_keys=False))
    else:
        shutil.copyfile(src, dst)


def _stage_constraints(files: list[Path], dst: Path) -> None:
    """Write every constraint of `files` into one `architecture_constraints` list for Timeloop v1.0.

    v1.0 concatenates its input files into one YAML document, so of two files with the same root key (an arch's
    constraints plus a separate DRAM keep/bypass rule, both `architecture_constraints`) yaml-cpp keeps the first
    and silently drops the second; v1.0 also reads only one of `arch_constraints`/`architecture_constraints`
    and one of `mapspace`/`mapspace_constraints`. Both lists go through the same parser, so one merged list
    gives Timeloop exactly the constraints fusionsim merges (re-specifications still fail in both)."""
    import yaml

    from fusionsim.spec.constraints import ROOT_KEYS, constraint_entries
    from fusionsim.spec.yaml_io import load_yaml

    targets: list[dict[str, Any]] = []
    for f in files:
        data = load_yaml(f)
        for root in ROOT_KEYS:
            if isinstance(data, dict) and root in data:
                targets += [entry for entry, _ in constraint_entries(data[root], f, root)]
    dst.write_text(yaml.safe_dump({"architecture_constraints": {"targets": targets}}, sort_keys=False))


def run_timeloop_mapper(arch: Path, problem: Path, constraints: list[Path], mapper: Path, ert: Path,
                        components: Path | None = None, out_dir: Path | None = None,
                        timeout_s: float | None = None, searchers: int = 1) -> dict[str, Any]:
    """Run timeloop-mapper on the spec files; returns the same dict as `fusionsim.mapper.api.map_files`.

    A mapper file without `num-threads` runs `searchers` threads: Timeloop's own default is the machine's core
    count, and each thread is a searcher with its own budget, so the mapping would depend on the machine."""
    exe = find_mapper()
    from fusionsim.model.result import EvalResult
    from fusionsim.spec.arch import load_arch
    from fusionsim.spec.mapping import load_mapping
    from fusionsim.spec.problem import load_problem
    from fusionsim.timeloop.stats_reader import read_stats

    t0 = time.monotonic()
    inputs = [Path(arch), Path(problem), Path(mapper), Path(ert)]
    if components is not None:
        inputs += sorted(Path(components).glob("*.y*ml"))
    for f in [*inputs, *map(Path, constraints)]:
        if not f.is_file():
            raise InputError("file not found", file=f, fix="check the path")
    with tempfile.TemporaryDirectory(prefix="fusionsim-timeloop-") as tmp:
        work = Path(tmp)
        staged = []
        for i, f in enumerate(inputs):
            dst = work / f"{i:02d}_{f.name}"
            if i == 0:
                _stage_arch(f, dst)
            elif i == 1:  # the problem with its shape spelled out (v1.0 has no built-in CNN-Layer shape)
                import yaml

                from fusionsim.spec.problem import load_problem as _lp

                dst.write_text(yaml.safe_dump(_lp(f).to_yaml_dict(), sort_keys=False))
            elif f == Path(mapper):
                _stage_mapper(f, dst, searchers)
            else:
                shutil.copyfile(f, dst)
            staged.append(dst.name)
        if constraints:
            _stage_constraints(list(map(Path, constraints)), work / "constraints.yaml")
            staged.append("constraints.yaml")
        try:
            proc = subprocess.run([exe, *staged], cwd=work, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise InputError(f"timeloop-mapper did not finish within {timeout_s} s", key="--engine") from None
        stats_file = work / "timeloop-mapper.stats.txt"
        map_file = work / "timeloop-mapper.map.txt"
        if proc.returncode != 0 or not stats_file.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise InputError(f"timeloop-mapper failed (exit {proc.returncode}): {tail[0][:200]}",
                             file=arch, key="--engine timeloop", fix="run timeloop-mapper by hand on these files")
        stats: EvalResult = read_stats(stats_file)
        a = load_arch(arch, components)
        p = load_problem(problem)
        mapping_yaml = load_mapping(map_file, a, p).to_yaml(p)
        result = {"mapping": mapping_yaml, "stats": stats.to_json(), "evaluated": -1, "valid": -1,
                  "seconds": round(time.monotonic() - t0, 3)}
        if out_dir is not None:
            from fusionsim import atomic_io

            atomic_io.write_text(Path(out_dir) / "mapping.yaml", mapping_yaml)
            atomic_io.write_json(Path(out_dir) / "stats.json", result["stats"])
            atomic_io.write_text(Path(out_dir) / "stats.txt", stats_file.read_text())
    return result
