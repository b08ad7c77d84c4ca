"""The fusion benchmark stage: per-(layer, tile width, dataflow type) costs for the fusion-tiling search.

As the seed's Benchmarker (spec 3): a tile of width `t` is the layer's problem with `P = Q = t` (all output
channels, square), benchmarked for every `t = 1..P` and each of the seven dataflow types; `SLC` (the
layer-by-layer baseline) runs only the full layer. A type is the same tile with a different keep/bypass rule at
the outermost (DRAM) level: kept = moved to/from DRAM and costed, bypassed = stays on chip (free).

Jobs are keyed by content (tile problem, DRAM rule, the accelerator files' bytes, mapper seed, engine), so equal
layers and repeated runs share one job. A job maps the tile (fusion.mapper.api.map_files, native engine by
default) and, when the mapper kept a dataspace at DRAM that the type bypasses (our mapper keeps everything at
the outermost level), re-evaluates the found mapping with the type's DRAM keep set.

Outputs (`write_tables`): the seed's `<TYPE>.json` (`{layer: {tile: energy_uJ}}`, layers descending) and
`<TYPE>/Layer<k>.json`, `<TYPE>_cycles.json` for the latency/EDP objectives, and our `costs.json` with
cycles, MACs and per-level energies of every entry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Callable, Container, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fusionsim import atomic_io
from fusionsim.errors import InputError
from fusionsim.fusion.tables import TYPES, load_layers
from fusionsim.names import safe_name
from fusionsim.spec.yaml_io import load_json, load_yaml
from fusionsim.tiling.problem import tile_problem  # noqa: F401 - part of this module's API (bs.tile_problem)

log = logging.getLogger(__name__)

#: the seed Benchmarker's loop order (spec 3.1)
SEED_TYPE_ORDER = ("SLC", "LBLC", "ELBLC", "WCC", "EWCC", "OutWCC", "Start")
#: dataspaces each type keeps at DRAM (None: no rule, Timeloop's default of keeping everything), spec 3.2
DRAM_KEEP: dict[str, tuple[str, ...] | None] = {
    "SLC": None,
    "Start": ("Inputs", "Weights"),
    "LBLC": ("Weights",),
    "ELBLC": ("Outputs", "Weights"),
    "WCC": (),
    "EWCC": ("Outputs",),
    "OutWCC": ("Inputs",),
}
#: the seed core's on-chip flags [weights, inputs, outputs] per type
ON_CHIP: dict[str, tuple[int, int, int]] = {
    "SLC": (0, 0, 0), "Start": (0, 0, 1), "LBLC": (0, 1, 1), "ELBLC": (0, 1, 0),
    "WCC": (1, 1, 1), "EWCC": (1, 1, 0), "OutWCC": (1, 0, 1),
}
DATASPACES = ("Inputs", "Outputs", "Weights")
COSTS_FORMAT = "fusionsim-fusion-costs/1"


# ------------------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class BenchLayer:
    """One layer of the network: 1-based number (execution order), name and its Timeloop problem dict."""

    number: int
    name: str
    problem: dict[str, Any] = field(compare=False, hash=False)

    @property
    def width(self) -> int:
        """Output width P (the tiles are square, P = Q = t)."""
        return int(self.problem["problem"]["instance"]["P"])


@dataclass(frozen=True)
class BenchSetup:
    """What every job hands the mapper: accelerator files, mapper settings, engine and seed."""

    arch: Path
    ert: Path
    constraints: tuple[Path, ...]
    mapper: Path
    components: Path | None = None
    dram: str = "DRAM"
    engine: str = "native"
    seed: int = 0
    # The pipeline's additions (fusionsim.workflow); left at None/"" they do not change a key:
    mapper_text: str | None = None  # mapper YAML the jobs will write, hashed instead of `mapper`'s bytes
    salt: str = ""  # extra key part (the pipeline: accelerator name and model version)
    ert_key: str | None = None  # an ERT still to be built (rule build_ert): its build key instead of its bytes

    def fingerprint(self) -> str:
        """Hash of every input file's bytes (components folder included), engine and seed."""
        h = hashlib.sha256()
        ert = [] if self.ert_key is not None else [self.ert]
        files = [self.arch, *ert, *([] if self.mapper_text is not None else [self.mapper]), *self.constraints]
        if self.components is not None:
            comp = Path(self.components)
            files += sorted(comp.glob("*.yaml")) if comp.is_dir() else [comp]
        for f in files:
            try:
                h.update(Path(f).read_bytes())
            except FileNotFoundError:
                raise InputError("benchmark input not found", file=f, fix="check the accelerator's files") from None
        h.update(f"{self.dram}|{self.engine}|{self.seed}".encode())
        if self.mapper_text is not None:
            h.update(b"|mapper|" + self.mapper_text.encode())
        if self.salt:
            h.update(b"|salt|" + self.salt.encode())
        if self.ert_key is not None:
            h.update(b"|ert|" + self.ert_key.encode())
        return h.hexdigest()[:16]


@dataclass(frozen=True)
class BenchJob:
    """One mapper run: a tile problem under one dataflow type's DRAM rule (see `DRAM_KEEP`)."""

    key: str
    problem: dict[str, Any] = field(compare=False, hash=False)
    dram_keep: tuple[str, ...] | None
    uses: tuple[tuple[str, int, int], ...] = ()  # (type, layer number, tile width) entries it answers


def load_layer_dir(folder: str | Path) -> list[BenchLayer]:
    """Layers from a folder of Timeloop problem YAMLs, ordered by the number in the file name (as the search)."""
    shapes = load_layers(folder)
    return [BenchLayer(i + 1, sh.name, load_yaml(sh.file)) for i, sh in enumerate(shapes)]


# ------------------------------------------------------------------------------------------------ tiles


def tile_widths(width: int, kind: str, tiles: Sequence[int] | None = None, slc_all_tiles: bool = False) -> list[int]:
    """Tile widths benchmarked for one layer and type: 1..width (SLC: only `width`), or `tiles` clipped to it."""
    if width < 1:
        raise InputError(f"output width must be positive, got {width}", key="P")
    if kind == "SLC" and not slc_all_tiles:
        return [width]
    if tiles is None:
        return list(range(1, width + 1))
    return sorted({t for t in tiles if 1 <= t <= width} | ({width} if kind == "SLC" else set()))


def input_tile_width(tile: int, kernel: int, stride: int = 1, dilation: int = 1, pad: int = 0) -> int:
    """Input width a `tile`-wide output needs, the seed's `(t-1)*stride - 2*pad + dil*(K-1) + 1`."""
    return (tile - 1) * stride - 2 * pad + dilation * (kernel - 1) + 1


def type_constraints(kind: str, dram: str = "DRAM") -> dict[str, Any] | None:
    """The DRAM datatype rule that encodes `kind` (None for SLC: no rule)."""
    if kind not in DRAM_KEEP:
        raise InputError(f"unknown dataflow type {kind!r}", key="types", fix=f"use {', '.join(TYPES)}")
    keep = DRAM_KEEP[kind]
    if keep is None:
        return None
    return {"architecture_constraints": {"targets": [
        {"target": dram, "type": "datatype", "keep": list(keep),
         "bypass": [d for d in DATASPACES if d not in keep]}]}}


def job_key(problem: dict[str, Any], dram_keep: tuple[str, ...] | None, fingerprint: str) -> str:
    """Content key of a job: canonical problem instance and shape, DRAM rule and the setup's fingerprint."""
    body = {"problem": problem["problem"], "dram_keep": sorted(dram_keep) if dram_keep is not None else None,
            "setup": fingerprint}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def enumerate_entries(layers: Sequence[BenchLayer], types: Sequence[str] = SEED_TYPE_ORDER,
                      tiles: Sequence[int] | None = None, slc_all_tiles: bool = False) -> list[tuple[str, int, int]]:
    """(type, layer number, tile width) in the seed's order: types as given, layers descending, widths ascending."""
    out = []
    for kind in types:
        if kind not in DRAM_KEEP:
            raise InputError(f"unknown dataflow type {kind!r}", key="types", fix=f"use {', '.join(TYPES)}")
        for lay in sorted(layers, key=lambda x: -x.number):
            out += [(kind, lay.number, t) for t in tile_widths(lay.width, kind, tiles, slc_all_tiles)]
    return out


def plan_jobs(layers: Sequence[BenchLayer], setup: BenchSetup, types: Sequence[str] = SEED_TYPE_ORDER,
              tiles: Sequence[int] | None = None, slc_all_tiles: bool = False,
              skip: Container[tuple[str, int, int]] = ()) -> list[BenchJob]:
    """Unique jobs (deduplicated by content) for every table entry not in `skip`, in first-use order."""
    fp = setup.fingerprint()
    by_number = {lay.number: lay for lay in layers}
    jobs: dict[str, tuple[dict, tuple | None, list]] = {}
    for kind, number, t in enumerate_entries(layers, types, tiles, slc_all_tiles):
        if (kind, number, t) in skip:
            continue
        prob = tile_problem(by_number[number].problem, t)
        keep = DRAM_KEEP[kind]
        key = job_key(prob, keep, fp)
        jobs.setdefault(key, (prob, keep, []))[2].append((kind, number, t))
    return [BenchJob(k, p, keep, tuple(uses)) for k, (p, keep, uses) in jobs.items()]


def write_job_inputs(job: BenchJob, folder: str | Path, dram: str = "DRAM") -> tuple[Path, Path | None]:
    """Write the job's `problem.yaml` and (unless SLC) `dataflow.yaml` into `folder`; returns their paths."""
    folder = Path(folder)
    prob = folder / "problem.yaml"
    atomic_io.write_text(prob, yaml.safe_dump(job.problem, sort_keys=True))
    if job.dram_keep is None:
        return prob, None
    cons = folder / "dataflow.yaml"
    keep = list(job.dram_keep)
    rule = {"architecture_constraints": {"targets": [
        {"target": dram, "type": "datatype", "keep": keep, "bypass": [d for d in DATASPACES if d not in keep]}]}}
    atomic_io.write_text(cons, yaml.safe_dump(rule, sort_keys=False))
    return prob, cons


# ------------------------------------------------------------------------------------------------ running


def summarize_stats(stats: dict[str, Any]) -> dict[str, Any]:
    """energy (uJ), cycles, MACs and per-level energies (pJ) of an EvalResult JSON."""
    levels = {lv["name"]: float(lv["energy_pJ"]) for lv in stats.get("levels", [])}
    return {"energy_uJ": float(stats["energy_pJ"]) / 1e6, "cycles": float(stats["cycles"]),
            "macs": int(stats.get("macs", 0)), "levels_pJ": levels}


def run_job(job: BenchJob, setup: BenchSetup, out_dir: str | Path | None = None,
            threads: int = 1) -> dict[str, Any]:
    """Map one job's tile; returns its summary (energy_uJ, cycles, macs, levels_pJ) plus mapping and timing.

    With `out_dir`, the inputs and the mapper's outputs (mapping.yaml, stats.json, stats.txt) stay there and
    `result.json` is written last (atomically), so a finished job is recognisable by that file."""
    from fusionsim.mapper.api import map_files

    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fusion-bench-") as tmp:
        folder = Path(out_dir) if out_dir is not None else Path(tmp)
        prob, cons = write_job_inputs(job, folder, setup.dram)
        constraints = [*map(Path, setup.constraints), *([cons] if cons else [])]
        res = map_files(Path(setup.arch), prob, constraints, Path(setup.mapper), Path(setup.ert),
                        components=setup.components and Path(setup.components), seed=setup.seed,
                        threads=threads, engine=setup.engine, out_dir=folder if out_dir is not None else None)
    out = {"key": job.key, **summarize_stats(res["stats"]), "dram_keep": job.dram_keep,
           "mapping": res.get("mapping"), "uses": [list(u) for u in job.uses],
           "seconds": round(time.monotonic() - t0, 3)}
    if out_dir is not None:
        atomic_io.write_json(Path(out_dir) / "result.json", out)
    return out


def _run_one(args: tuple[BenchJob, BenchSetup, str | None]) -> dict[str, Any]:
    job, setup, folder = args
    return run_job(job, setup, folder)


def sharing_order(jobs: Sequence[BenchJob]) -> list[BenchJob]:
    """`jobs` reordered so the DRAM rules of one tile problem run back to back (otherwise in their order): their
    searches differ only at the unbounded outermost level and share the mapspace memo (`MapSpace.memo_key`)."""
    first: dict[str, int] = {}
    keys = [json.dumps(j.problem.get("problem", j.problem), sort_keys=True, default=str) for j in jobs]
    for k in keys:
        first.setdefault(k, len(first))
    order = sorted(range(len(jobs)), key=lambda i: first[keys[i]])
    return [jobs[i] for i in order]


def read_result(path: Path, key: str) -> dict[str, Any] | None:
    """A finished job's result.json, or None when absent, unreadable or not this job's (then it is rerun)."""
    try:
        res = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return res if isinstance(res, dict) and res.get("key") == key and "energy_uJ" in res else None


def run_jobs(jobs: Sequence[BenchJob], setup: BenchSetup, work_dir: str | Path | None = None, workers: int = 1,
             progress: Callable[[int, int], None] | None = None) -> dict[str, dict[str, Any]]:
    """Run every job (in `workers` processes, equal tiles back to back: `sharing_order`); with `work_dir`, job
    `k` lives in `work_dir/k/` and a job whose `result.json` already exists is reused (resume). Returns results
    by job key."""
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for job in sharing_order(jobs):
        folder = Path(work_dir) / job.key if work_dir is not None else None
        done = read_result(folder / "result.json", job.key) if folder is not None else None
        if done is not None:
            results[job.key] = done
        else:
            todo.append((job, setup, str(folder) if folder is not None else None))
    if workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            chunk = max(1, len(todo) // (8 * workers))
            for n, res in enumerate(pool.map(_run_one, todo, chunksize=chunk), 1):
                results[res["key"]] = res
                if progress:
                    progress(n, len(todo))
    else:
        for n, item in enumerate(todo, 1):
            res = _run_one(item)
            results[res["key"]] = res
            if progress:
                progress(n, len(todo))
    return results


# ------------------------------------------------------------------------------------------------ tables


@dataclass
class BenchTables:
    """Assembled cost tables: entry[type][layer number][tile width] = job summary."""

    layers: list[BenchLayer]
    entries: dict[str, dict[int, dict[int, dict[str, Any]]]]
    jobs: int = 0
    seconds: float = 0.0
    skipped: list[list[Any]] = field(default_factory=list)  # [type, layer, width, reason] not mapped

    def table(self, kind: str, metric: str = "energy_uJ") -> dict[int, dict[int, float]]:
        """`{layer: {tile: value}}` of one type and metric."""
        return {lay: {t: float(v[metric]) for t, v in row.items()} for lay, row in self.entries.get(kind, {}).items()}


def assemble_tables(layers: Sequence[BenchLayer], jobs: Sequence[BenchJob],
                    results: dict[str, dict[str, Any]]) -> BenchTables:
    """Fan job results out to the table entries they answer; InputError naming the job if one is missing."""
    entries: dict[str, dict[int, dict[int, dict[str, Any]]]] = {}
    for job in jobs:
        res = results.get(job.key)
        if res is None:
            kind, number, t = job.uses[0]
            raise InputError(f"no result for job {job.key} ({kind}, layer {number}, tile {t})", key=job.key,
                             fix="run the job (or the benchmark stage) again")
        summary = {k: res[k] for k in ("energy_uJ", "cycles", "macs", "levels_pJ")}
        for kind, number, t in job.uses:
            entries.setdefault(kind, {}).setdefault(number, {})[t] = {**summary, "job": job.key}
    return BenchTables(list(layers), entries, len(jobs))


def _sig(value: float, digits: int) -> float:
    return float(f"{value:.{digits}g}")


def _seed_json(table: dict[int, dict[int, float]], digits: int) -> dict[str, dict[str, float]]:
    return {str(lay): {str(t): _sig(v, digits) for t, v in sorted(table[lay].items())}
            for lay in sorted(table, reverse=True)}


def write_tables(tables: BenchTables, folder: str | Path, digits: int = 10) -> list[Path]:
    """Write `<TYPE>.json`, `<TYPE>_cycles.json`, `<TYPE>/Layer<k>.json` and `costs.json` (all atomic);
    values keep `digits` significant digits (layers in descending order, as the seed writes them)."""
    folder = Path(folder)
    written = []
    for kind in tables.entries:
        energy, cycles = tables.table(kind), tables.table(kind, "cycles")
        for path, data in ((folder / f"{kind}.json", _seed_json(energy, digits)),
                           (folder / f"{kind}_cycles.json", _seed_json(cycles, digits))):
            atomic_io.write_json(path, data)
            written.append(path)
        for lay, row in energy.items():
            path = folder / kind / f"Layer{lay}.json"
            atomic_io.write_json(path, {str(t): _sig(v, digits) for t, v in sorted(row.items())})
            written.append(path)
    ours = {
        "format": COSTS_FORMAT,
        "layers": [{"number": lay.number, "name": lay.name, "P": lay.width,
                    "instance": lay.problem["problem"]["instance"]} for lay in tables.layers],
        "jobs": tables.jobs,
        "seconds": round(tables.seconds, 3),
        "entries": {kind: {str(lay): {str(t): v for t, v in sorted(row.items())} for lay, row in sorted(rows.items())}
                    for kind, rows in tables.entries.items()},
    }
    if tables.skipped:
        ours["skipped"] = tables.skipped
    path = folder / "costs.json"
    atomic_io.write_json(path, ours)
    written.append(path)
    return written


def read_costs(path: str | Path) -> dict[str, dict[int, dict[int, dict[str, Any]]]]:
    """Entries of our `costs.json` as {type: {layer: {tile: summary}}} (the detail the statistics read)."""
    path = Path(path)
    if not path.exists():
        raise InputError("cost detail not found", file=path, fix="run fusionsim fusion-benchmark first")
    raw = load_json(path)
    if not isinstance(raw, dict) or raw.get("format") != COSTS_FORMAT:
        raise InputError(f"not a {COSTS_FORMAT} file", file=path, key="format")
    return {kind: {int(lay): {int(t): v for t, v in row.items()} for lay, row in rows.items()}
            for kind, rows in raw["entries"].items()}


def read_skipped(path: str | Path) -> list[list[Any]]:
    """The entries a costs.json says were not mapped ([type, layer number, width, reason]); [] when none."""
    raw = load_json(Path(path)) if Path(path).exists() else {}
    return list(raw.get("skipped") or []) if isinstance(raw, dict) else []


def run_benchmark(layers: Sequence[BenchLayer], setup: BenchSetup, out_dir: str | Path,
                  types: Sequence[str] = SEED_TYPE_ORDER, tiles: Sequence[int] | None = None,
                  workers: int = 1, keep_runs: bool = True, slc_all_tiles: bool = False,
                  progress: Callable[[int, int], None] | None = None, skip: str | None = None,
                  workload: Any = None, levels: Any = None) -> BenchTables:
    """The whole stage: plan, run (resumable under `out_dir/runs/` when `keep_runs`), assemble and write tables.

    `skip` ("unused" or "bound", with the search's `workload` and buffer `levels`) leaves out the entries the
    exact search cannot use (fusion/skip.py); "bound" first maps the baseline entries (SLC, LBLC and ELBLC at
    full width) and bounds the rest with them. The skipped entries are listed in costs.json."""
    t0 = time.perf_counter()
    runs = Path(out_dir) / "runs" if keep_runs else None
    entries = enumerate_entries(layers, types, tiles, slc_all_tiles)
    skipped: dict[tuple[str, int, int], str] = {}
    results: dict[str, dict[str, Any]] = {}
    if skip is not None:
        from fusionsim.fusion import skip as sk

        lower = tables = None
        if skip == "bound":
            base = {(kind, k + 1, w) for kind, k, w in sk.baseline_entries(workload)}
            first = [j for j in plan_jobs(layers, setup, types, tiles, slc_all_tiles) if set(j.uses) & base]
            results.update(run_jobs(first, setup, runs, workers, progress))
            tables = assemble_tables(layers, first, results)
            lower, tables = _bounds(layers, setup, workload, entries), _cost_tables(tables)
        skipped = sk.skipped_entries(workload, levels, entries, lower, tables)
    jobs = plan_jobs(layers, setup, types, tiles, slc_all_tiles, skip=skipped)
    results.update(run_jobs([j for j in jobs if j.key not in results], setup, runs, workers, progress))
    tables = assemble_tables(layers, jobs, results)
    tables.skipped = [[*e, why] for e, why in sorted(skipped.items())]
    for kind in dict.fromkeys(e[0] for e in tables.skipped):
        for lay in layers:
            tables.entries.setdefault(kind, {}).setdefault(lay.number, {})
    tables.seconds = time.perf_counter() - t0
    write_tables(tables, out_dir)
    return tables


def _cost_tables(tables: BenchTables) -> Any:
    """The search's CostTables (energy only) of assembled benchmark tables."""
    from fusionsim.fusion.tables import TYPES, CostTables

    return CostTables({kind: tables.table(kind) for kind in TYPES})


def _bounds(layers: Sequence[BenchLayer], setup: BenchSetup, workload: Any, entries: Sequence[tuple]) -> Any:
    """Per-entry lower bounds (fusion.skip.entry_lower_bounds) from the accelerator's arch and ERT."""
    from fusionsim.fusion import skip as sk
    from fusionsim.spec.arch import load_arch
    from fusionsim.spec.ert import load_ert

    arch = load_arch(setup.arch, setup.components)
    problems = {lay.number - 1: lay.problem for lay in layers}
    return sk.entry_lower_bounds(problems, arch, load_ert(setup.ert), setup.dram,
                                 [(kind, num - 1, w) for kind, num, w in entries], DRAM_KEEP)


# ------------------------------------------------------------------------------------------------ networks

@dataclass(frozen=True)
class LayerSet:
    """Per-layer problems of one network for the fusion search, with its data edges.

    `srcs[i]` is the index of the layer whose output layer i convolves (None: network input or a pooled map
    the search infers), `adds[i]` the indices whose outputs are added to layer i's output (residuals)."""

    layers: tuple[BenchLayer, ...]
    srcs: tuple[int | None, ...]
    adds: dict[int, tuple[int, ...]] = field(default_factory=dict)


def _problem(layer: Any) -> dict[str, Any]:
    from fusionsim.workloads import layer_problem

    # grouped convs are benchmarked dense (as the seed's AlexNet): all channels of a tile in one problem
    return layer_problem(dataclasses.replace(layer, groups=1) if layer.kind in ("conv", "pointwise") else layer)


def network_layer_set(network: str | Path, dataset: str) -> LayerSet:
    """Conv layers of a `workloads/<net>.yaml` for the fusion search, with the data edges the workload states.

    Pooling and FC layers are dropped (the search infers pooling between consecutive convs), except a pool
    whose output is an add operand. Each kept layer's `src` is the kept layer producing its input, followed
    through dropped layers and zero-cost nodes (shuffle, split; a concat gives its last input, an add its
    latest operand); each `add` node puts its other operands in `adds` of its latest operand.
    """
    from fusionsim.workloads.network import NETWORK_INPUT, load_network, network_graph

    graph = network_graph(load_network(network), dataset)
    by_name = {lay.name: lay for lay in graph.layers}

    def through(name: str) -> str:  # follow one-input zero-cost nodes back to a layer, an add/concat or the input
        while name in graph.nodes and graph.nodes[name].kind in ("shuffle", "split"):
            name = graph.inputs[name][0]
        return name

    keep_pool = {through(n) for node in graph.nodes.values() if node.kind == "add" for n in node.inputs}
    kept = [lay for lay in graph.layers
            if not (lay.kind == "fc" or (lay.kind == "pool" and lay.name not in keep_pool))]
    for lay in kept:  # the search tiles one width and assumes square maps and kernels (fusion.tables.LayerShape)
        if (lay.kernel_h, lay.out_h, lay.stride_h, lay.dilation_h) != (lay.kernel, lay.out_size, lay.stride,
                                                                        lay.dilation):
            raise InputError(f"the fusion-tiling search models square layers; {lay.name} is "
                             f"{lay.out_h}x{lay.out_size} with a {lay.kernel_h}x{lay.kernel} kernel", file=network,
                             key=lay.name, fix="search a square network (or a square subset of its layers)")
    index = {lay.name: k for k, lay in enumerate(kept)}

    def resolve(name: str) -> int | None:  # the kept layer whose output stands for tensor `name`
        name = through(name)
        if name == NETWORK_INPUT:
            return None
        if name in index:
            return index[name]
        if name in by_name:  # a dropped pool or fc: what it reads
            return resolve(graph.inputs[name][0])
        node = graph.nodes[name]
        if node.kind == "concat":
            return resolve(node.inputs[-1])
        found = [k for k in (resolve(n) for n in node.inputs) if k is not None]
        return max(found) if found else None

    srcs = tuple(resolve(graph.inputs[lay.name][0]) for lay in kept)
    adds: dict[int, tuple[int, ...]] = {}
    for node in graph.nodes.values():
        if node.kind != "add":
            continue
        found = [k for k in (resolve(n) for n in node.inputs) if k is not None]
        if len(found) < 2:
            continue
        main = max(found)
        adds[main] = adds.get(main, ()) + tuple(k for k in found if k != main)
    layers = tuple(BenchLayer(k + 1, lay.name, _problem(lay)) for k, lay in enumerate(kept))
    return LayerSet(layers, srcs, adds)


def write_layer_set(layer_set: LayerSet, folder: str | Path) -> list[Path]:
    """One problem YAML per layer (`<name>_layerNN.yaml`, the order `fusion-search --layers` reads) and
    `graph.json` with the edges (`srcs`, `adds`), which `fusion.workload.load_workload` turns into a search workload."""
    folder = Path(folder)
    paths = []
    width = max(2, len(str(len(layer_set.layers))))
    for lay in layer_set.layers:
        path = folder / f"{safe_name(lay.name, key='layers')}_layer{lay.number:0{width}d}.yaml"
        atomic_io.write_text(path, yaml.safe_dump(lay.problem, sort_keys=True, default_flow_style=None))
        paths.append(path)
    graph = {"layers": [lay.name for lay in layer_set.layers], "srcs": list(layer_set.srcs),
             "adds": {str(k): list(v) for k, v in layer_set.adds.items()}}
    atomic_io.write_json(folder / "graph.json", graph)
    return paths


def layers_of(layer_set: LayerSet | Iterable[BenchLayer]) -> list[BenchLayer]:
    """The layers of a LayerSet (or a plain iterable of layers)."""
    return list(layer_set.layers if isinstance(layer_set, LayerSet) else layer_set)


# ------------------------------------------------------------------------------------------------ outputs


def write_plan_outputs(plan: Any, workload: Any, costs_json: str | Path, out_dir: str | Path,
                       others: dict[str, float] | None = None) -> dict[str, Path]:
    """The stage's report of a plan: plan.json and plan.log (fusion.report), statistics.csv (fusion.stats),
    tiling.png and energy.png (fusion.plots), all in `out_dir`. `others`: extra bars (label -> uJ)."""
    from fusionsim.fusion.plots import plot_energy_comparison, plot_stack_tiling
    from fusionsim.fusion.report import write_plan
    from fusionsim.fusion.stats import stack_statistics, write_statistics

    out = Path(out_dir)
    paths = {"json": out / "plan.json", "log": out / "plan.log", "csv": out / "statistics.csv",
             "tiling": out / "tiling.png", "energy": out / "energy.png"}
    write_plan(plan, paths["json"], paths["log"])
    write_statistics(stack_statistics(plan, workload, read_costs(costs_json)), paths["csv"])
    plot_stack_tiling(plan, workload, paths["tiling"])
    plot_energy_comparison(plan, paths["energy"], others)
    return paths
