"""The sweep stage's plan (config `sweeps:`): each point is an ordinary content-keyed accelerator variant.

A point renders its accelerator's templates (`fusionsim.sweeps.params`) into `<out>/cache/accelerators/<id>/`,
where the id hashes the rendered files, so equal points of several sweeps are one variant. The variant's ERT
and ART come from rule `build_ert` (registered into the main plan). Each selected layer on each variant is one
content key (problem, variant file bytes, ERT build key, mapper settings, engine, seed, model version; not the
sweep or point name), so equal layers on equal variants are mapped once and a new grid value adds only its own
points' jobs. A `sweep_map_batch` job maps up to a dozen keys of one point's (network, dataset) in one process
(`fusionsim.workflow.map_batches`: Snakemake's per-job cost exceeded the mapper's own time a layer).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import load_yaml_any
from fusionsim.sweeps import params as P
from fusionsim.workflow.accelerators import Accelerator, ert_build_key, load_accelerator
from fusionsim.workflow.keys import content_hash, file_hash, model_version
from fusionsim.workflow.map_batches import KeyBatches, drop_stale_batches, files_once, key_outputs
from fusionsim.workflow.mapper_settings import merge_mapper_settings
from fusionsim.workflow.paths import inputs_outside, refs_inside
from fusionsim.workflow.plan import Plan, check_layer_names, config_network_files, select_pairs
from fusionsim.workloads import Layer, expand_network, layer_problem, load_network


@dataclass(frozen=True)
class SweepJob:
    """One content-keyed mapper job of the sweep stage: one layer problem on one variant."""

    key: str
    variant: str
    kind: str
    problem: dict[str, Any] = field(compare=False, hash=False)
    mapper: dict[str, Any] = field(compare=False, hash=False)


@dataclass
class Sweep:
    """One `sweeps.NAME` entry, expanded: its points (id -> parameter values) and (network, dataset) layers."""

    name: str
    accelerator: str
    parameters: list[str]  # the swept parameter names (the points.csv columns)
    points: dict[str, dict[str, Any]] = field(default_factory=dict)  # variant id -> full parameter values
    workloads: dict[str, str] = field(default_factory=dict)  # net -> workload file
    layers: dict[tuple[str, str], list[Layer]] = field(default_factory=dict)
    keys: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)  # (point, net, ds) -> layer keys
    layer_subsets: dict[str, list[str]] = field(default_factory=dict)  # net -> the `layers:` names it picks
    fusion_tiling: bool = False  # the exact fusion search per point (fusionsim.sweeps.fusion)
    # (point, net, ds) -> that search's comparison.csv (filled by sweeps.fusion.add_sweep_fusion)
    fused: dict[tuple[str, str, str], str] = field(default_factory=dict)


@dataclass
class SweepPlan:
    """Every sweep's variants, jobs and outputs; empty when the config has no `sweeps:`."""

    out: str
    sweeps: dict[str, Sweep] = field(default_factory=dict)
    variants: dict[str, Accelerator] = field(default_factory=dict)
    jobs: dict[str, SweepJob] = field(default_factory=dict)
    engine: str = "native"
    seed: int = 0
    basedir: str = ""  # the workflow folder: its files reach rules as `{workflow}/...` params (workflow.paths)
    batching: KeyBatches = field(default_factory=KeyBatches)  # which keys each sweep_map_batch job maps

    # -- names for wildcard constraints
    def sweep_names(self) -> list[str]:
        return list(self.sweeps)

    def point_names(self) -> list[str]:
        return list(self.variants)

    def network_names(self) -> list[str]:
        return sorted({n for s in self.sweeps.values() for n, _ in s.layers})

    def dataset_names(self) -> list[str]:
        return sorted({d for s in self.sweeps.values() for _, d in s.layers})

    # -- paths
    def map_dir(self, key: str) -> str:
        return f"{self.out}/cache/sweep_layers/{key}"

    def point_dir(self, sweep: str, net: str, dataset: str, point: str) -> str:
        return f"{self.out}/sweeps/{sweep}/{net}/{dataset}/{point}"

    def art_path(self, point: str) -> str:
        return f"{self.out}/ert/{point}/ART.yaml"

    def table_paths(self, sweep: str) -> dict[str, str]:
        d = f"{self.out}/sweeps/{sweep}"
        return {"points": f"{d}/points.csv", "pareto": f"{d}/pareto.csv", "plot": f"{d}/pareto.png"}

    def targets(self) -> list[str]:
        return [p for s in self.sweeps for p in self.table_paths(s).values()]

    def batch_file(self, batch: str) -> str:
        return f"{self.out}/cache/sweep_batches/{batch}/results.json"

    def batch_file_of(self, key: str) -> str:
        """The results file of the batch job that maps key `key`."""
        return self.batch_file(self.batching.batch_of(key))

    def drop_stale_batches(self) -> list[str]:
        """`map_batches.drop_stale_batches` for the sweeps' batches."""
        return drop_stale_batches(self.batching.batches(), self.batch_file, self.map_dir)

    # -- rule inputs and params
    def batch_inputs(self, batch: str) -> list[str]:
        """Inputs of rule `sweep_map_batch`: every file its keys read (variant files and built ERTs), once each."""
        return files_once(self.map_inputs(key) for key in self.batching.batches()[batch])

    def batch_params(self, batch: str) -> list[dict[str, Any]]:
        """What a batch job maps: per key its problem and mapper dicts, files, components and cache outputs."""
        return [
            {
                "key": key,
                "label": self.batching.label(key),
                "problem": self.jobs[key].problem,
                "mapper": self.jobs[key].mapper,
                "files": self.map_inputs(key),
                "components": self.components_dir(key),
                "outputs": key_outputs(self.map_dir(key)),
            }
            for key in self.batching.batches()[batch]
        ]

    def map_inputs(self, key: str) -> dict[str, Any]:
        job = self.jobs[key]
        acc = self.variants[job.variant]
        files = acc.files_for(job.kind)
        return {
            "arch": str(acc.arch),
            "ert": f"{self.out}/ert/{job.variant}/ERT.yaml",
            "constraints": [str(c) for c in files.constraints],
            "components": [str(c) for c in acc.component_files()],
        }

    def components_dir(self, key: str) -> str:
        comp = self.variants[self.jobs[key].variant].components
        return str(comp) if comp else ""

    def point_inputs(self, sweep: str, net: str, dataset: str, point: str) -> dict[str, list[str]]:
        """Inputs of rule sweep_point: the results of the batches mapping its layers, the workload when outside."""
        keys = self.sweeps[sweep].keys[(point, net, dataset)]
        workload = inputs_outside({"workload": self.sweeps[sweep].workloads[net]}, self.basedir)
        return {"map_batches": sorted({self.batch_file_of(k) for k in keys}), **workload}

    def point_stats(self, sweep: str, net: str, dataset: str, point: str) -> list[str]:
        """The stats.json of each layer of one point on one (network, dataset), in layer order (params)."""
        return [f"{self.map_dir(k)}/stats.json" for k in self.sweeps[sweep].keys[(point, net, dataset)]]

    def point_params(self, sweep: str, net: str, dataset: str) -> dict[str, Any]:
        s = self.sweeps[sweep]
        acc = self.variants[next(iter(s.points))]
        return {
            # a `{workflow}/...` reference and its SHA-256 inside the workflow folder, else an input (point_inputs)
            "workload": refs_inside({"workload": s.workloads[net]}, self.basedir),
            "layers": [x.name for x in s.layers[(net, dataset)]],
            "dw_levels": list(acc.depthwise_input_levels),
        }

    def table_inputs(self, sweep: str) -> dict[str, list[str]]:
        s = self.sweeps[sweep]
        rows = self.table_rows(sweep)
        return {
            "points": [f"{self.point_dir(sweep, r['network'], r['dataset'], r['point'])}/point.json" for r in rows],
            "arts": [self.art_path(p) for p in s.points],
            "fused": [s.fused[(r["point"], r["network"], r["dataset"])] for r in rows] if s.fusion_tiling else [],
        }

    def table_rows(self, sweep: str) -> list[dict[str, Any]]:
        """One row per (point, network, dataset) in grid order: the point id and its parameter values."""
        s = self.sweeps[sweep]
        return [
            {"point": pid, "network": net, "dataset": ds, "values": {k: values[k] for k in s.parameters}}
            for pid, values in s.points.items()
            for net, ds in s.layers
        ]


def expand_points(spec: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """The points of a sweep: the full factorial of `grid` (in its key order), then the `points:` list."""
    grid = spec.get("grid") or {}
    points: list[dict[str, Any]] = []
    if grid:
        names = list(grid)
        for combo in itertools.product(*(grid[n] for n in names)):
            points.append(dict(zip(names, combo, strict=True)))
    points += [dict(p) for p in spec.get("points") or []]
    if not points:
        raise InputError("a sweep needs `grid:` or `points:`", file="config.yaml", key=where,
                         fix="e.g. grid: {pe_count: [4, 16], glb_kib: [64, 128]}")
    return points


def _variant(root: Path, values: dict[str, Any], out: str) -> tuple[str, Path, dict[str, str]]:
    """(variant id, its folder, rendered texts): the id hashes the accelerator name and the rendered files."""
    texts = P.render_texts(root, values)
    comps = sorted(root.glob("components/*.yaml"))
    pid = f"{root.name}-" + content_hash(
        {"accelerator": root.name, "files": texts, "components": [[c.name, file_hash(c)] for c in comps]}, 10
    )
    return pid, Path(out) / "cache" / "accelerators" / pid, texts


def sweep_plan(plan: Plan, config: dict[str, Any], basedir: str | Path) -> SweepPlan:
    """Expand `config["sweeps"]`: render every point's variant, register its ERT build in `plan`, and key every
    layer job. An unknown accelerator, parameter, network, dataset or layer is one InputError naming the key."""
    basedir = Path(basedir)
    sp = SweepPlan(out=plan.out, engine=config["engine"], seed=int(config["mapper"]["seed"]), basedir=str(basedir))
    sweeps = config.get("sweeps") or {}
    if not sweeps:
        return sp
    adir = Path(config["accelerators_dir"])
    adir = adir if adir.is_absolute() else basedir / adir
    version = model_version()
    hashes: dict[Path, str] = {}

    def h(p: Path) -> str:
        if p not in hashes:
            hashes[p] = file_hash(p)
        return hashes[p]

    for name, spec in sweeps.items():
        where = f"sweeps.{name}"
        root = adir / spec["accelerator"]
        if not (root / "accelerator.yaml").is_file():
            raise InputError(f"no accelerator {spec['accelerator']!r} (no {root}/accelerator.yaml)",
                             file="config.yaml", key=f"{where}.accelerator",
                             fix=f"use a folder of {adir} with an accelerator.yaml")
        if not P.parameters(root):
            raise InputError(f"accelerator {spec['accelerator']!r} declares no `parameters:`", file="config.yaml",
                             key=f"{where}.accelerator",
                             fix=f"declare them in {root}/accelerator.yaml and use them in <file>.j2 templates")
        P.check_defaults(root)
        points = expand_points(spec, where)
        swept = list(dict.fromkeys(k for p in points for k in p))
        sweep = Sweep(name, spec["accelerator"], swept, fusion_tiling=bool(spec.get("fusion_tiling")))
        for i, point in enumerate(points):
            values = P.resolve_values(root, point, f"{where}.grid" if spec.get("grid") else f"{where}.points[{i}]")
            pid, dest, texts = _variant(root, values, plan.out)
            if pid not in sp.variants:
                P.render_accelerator(root, values, dest, texts)
                acc = load_accelerator(dest.parent, pid)
                sp.variants[pid] = acc
                plan.job_accelerators.setdefault(pid, acc)
                s = plan.ert_settings(pid)
                plan.ert_builds[pid] = ert_build_key(acc, s["technology"], s["backend"], version)
            sweep.points.setdefault(pid, values)
        datasets = list(spec.get("datasets") or config["datasets"])
        files = config_network_files({**config, "datasets": datasets}, list(spec["networks"]), basedir)
        networks = {}
        for net, path in files.items():
            if not path.is_file():
                raise InputError(f"no workload file {path}", file="config.yaml", key=f"{where}.networks")
            networks[net] = load_network(path)
            sweep.workloads[net] = str(path)
        wanted = spec.get("layers") or {}
        sweep.layer_subsets = {net: list(names) for net, names in wanted.items() if names}
        for net in wanted:
            if net not in networks:
                raise InputError(f"network {net!r} is not in this sweep's networks", file="config.yaml",
                                 key=f"{where}.layers.{net}")
        for net, ds in select_pairs(networks, datasets):
            layers = expand_network(networks[net], ds)
            names = wanted.get(net) or []
            check_layer_names(names, [x.name for x in layers], net, f"{where}.layers.{net}",
                              fix="layer names are in <output_dir>/<net>/<dataset>/layers.csv")
            sweep.layers[(net, ds)] = [x for x in layers if not names or x.name in set(names)]
        for pid in sweep.points:
            acc = sp.variants[pid]
            for (net, ds), layers in sweep.layers.items():
                sweep.keys[(pid, net, ds)] = [
                    _add_job(sp, plan, acc, x, config, spec.get("mapper"), version, h) for x in layers
                ]
                for key, x in zip(sweep.keys[(pid, net, ds)], layers, strict=True):
                    sp.batching.add(key, f"{pid}/{net}/{ds}", x.name)
        sp.sweeps[name] = sweep
    return sp


def _add_job(sp: SweepPlan, plan: Plan, acc: Accelerator, layer: Layer, config: dict[str, Any],
             sweep_mapper: dict[str, Any] | None, version: str, h: Any) -> str:
    """Register (or find) the job of one layer on one variant; returns its content key."""
    files = acc.files_for(layer.kind)
    problem = layer_problem(layer)
    base = load_yaml_any(files.mapper, allow_empty=True) or {}
    mapper = merge_mapper_settings(base, config["mapper"], sweep_mapper)
    if config.get("engine") == "timeloop" and "num-threads" not in mapper["mapper"]:
        mapper["mapper"]["num-threads"] = int(config["mapper"]["threads"])
    paths = [acc.arch, *files.constraints, files.mapper]
    key = content_hash(
        {
            "stage": "sweep",
            "files": [str(p.relative_to(acc.root)) for p in paths],
            "problem": content_hash(problem),
            "arch": h(acc.arch),
            "components": [h(c) for c in acc.component_files()],
            "constraints": [h(c) for c in files.constraints],
            "ert": {"built": plan.ert_builds[acc.name]},
            "mapper": content_hash(mapper),
            "engine": sp.engine,
            "seed": sp.seed,
            "model_version": version,
        }
    )
    sp.jobs.setdefault(key, SweepJob(key, acc.name, layer.kind, problem, mapper))
    return key


def sweep_targets(sp: SweepPlan) -> list[str]:
    """`rule all` targets of the sweep stage (none without sweeps)."""
    return sp.targets()
