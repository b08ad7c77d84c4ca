"""The fusion-tiling stage's plan (config `fusion_tiling`): its tile and batch jobs, their keys, paths and
targets."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import load_yaml_any
from fusionsim.workflow.accelerators import Accelerator, load_accelerator
from fusionsim.workflow.keys import content_hash, model_version
from fusionsim.workflow.mapper_settings import merge_mapper_settings
from fusionsim.workflow.paths import checkout_split, inputs_outside, portable, refs_inside
from fusionsim.workflow.plan import Plan, check_layer_names, config_network_files, resolve_path
from fusionsim.workloads import load_network
from fusionsim.workloads.models import network_names

FUSION_TYPES = ("SLC", "Start", "LBLC", "ELBLC", "WCC", "EWCC", "OutWCC")  # fusion.tables.TYPES
# the keys of an accelerator.yaml `fusion:` section that name the search's on-chip levels
FUSION_LEVELS = ("weights_level", "inputs_level", "outputs_level")
FUSION_VARIANTS = ("exact", "deepfrack-fast", "deepfrack-simple")
# tile widths per batch job: a batch maps widths w with (w - 1) // FUSION_BATCH_WIDTHS equal, every DRAM rule
FUSION_BATCH_WIDTHS = 8
FUSION_BATCH_FORMAT = "fusionsim-fusion-batch/1"


@dataclass(frozen=True)
class FusionTileJob:
    """One content-keyed tile job of the fusion-tiling benchmark: a tile problem under one DRAM rule."""

    key: str
    accel: str
    problem: dict[str, Any] = field(compare=False, hash=False)
    dram_keep: tuple[str, ...] | None = None


@dataclass
class FusionTilingPlan:
    """The fusion-tiling stage (config `fusion_tiling`): tile jobs, cost tables and searches per (net, accel).

    Empty (no networks, no targets) when the stage is disabled, so its rules match no file.
    """

    out: str
    enabled: bool = False
    types: tuple[str, ...] = ()
    engine: str = "native"
    seed: int = 0
    datasets: dict[str, str] = field(default_factory=dict)  # net -> dataset
    workloads: dict[str, str] = field(default_factory=dict)  # net -> workloads/<net>.yaml
    layer_names: dict[str, list[str]] = field(default_factory=dict)  # net -> layer-set names, in order
    accelerators: dict[str, Accelerator] = field(default_factory=dict)
    # accel -> its manifest's `fusion:` section
    fusion: dict[str, dict[str, Any]] = field(default_factory=dict)
    mappers: dict[str, dict[str, Any]] = field(default_factory=dict)  # accel -> merged mapper YAML dict
    erts: dict[str, str] = field(default_factory=dict)  # accel -> the ERT its tile jobs read
    jobs: dict[str, FusionTileJob] = field(default_factory=dict)  # key -> job
    # batch key -> its tile keys (one Snakemake job maps them all in one process); tile key -> batch key
    batches: dict[str, list[str]] = field(default_factory=dict)
    batch_of: dict[str, str] = field(default_factory=dict)
    # (net, accel) -> job key -> the (type, layer number, tile width) entries it answers there
    uses: dict[tuple[str, str], dict[str, list[list[Any]]]] = field(default_factory=dict)
    # (net, accel) -> [type, layer number, width, reason] of the entries not mapped (fusion/skip.py)
    skipped: dict[tuple[str, str], list[list[Any]]] = field(default_factory=dict)
    # the (net, accel) pairs of the stage's own targets (a sweep adds pairs its tables ask for)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    basedir: str = ""  # the workflow folder: its files reach rules as `{workflow}/...` params (workflow.paths)

    def network_names(self) -> list[str]:
        return list(self.datasets)

    def accel_names(self) -> list[str]:
        return list(self.accelerators)

    def searchable(self) -> bool:
        """The search reads all seven tables: with a subset of types only the tables are built."""
        return set(self.types) == set(FUSION_TYPES)

    # -- paths
    def tile_dir(self, key: str) -> str:
        return f"{self.out}/cache/fusion_tiles/{key}"

    def batch_file(self, batch: str) -> str:
        return f"{self.out}/cache/fusion_batches/{batch}/results.json"

    def layers_dir(self, net: str) -> str:
        return f"{self.out}/fusion_tiling/{net}/layers"

    def costs_dir(self, net: str, accel: str) -> str:
        return f"{self.out}/fusion_tiling/{net}/{accel}/costs"

    def plan_dir(self, net: str, accel: str) -> str:
        return f"{self.out}/fusion_tiling/{net}/{accel}/plan"

    def cost_files(self, net: str, accel: str) -> list[str]:
        d = self.costs_dir(net, accel)
        return (
            [f"{d}/{t}.json" for t in self.types]
            + [f"{d}/{t}_cycles.json" for t in self.types]
            + [f"{d}/costs.json"]
        )

    def plan_files(self, net: str, accel: str) -> list[str]:
        d = self.plan_dir(net, accel)
        names = ("plan.json", "plan.log", "statistics.csv", "tiling.png", "energy.png", "comparison.csv")
        return [f"{d}/{n}" for n in names]

    def targets(self) -> list[str]:
        """Cost tables of every (network, accelerator), and its plan files when all seven types are benchmarked."""
        out: list[str] = []
        for net, acc in self.pairs:
            out += self.cost_files(net, acc)
            if self.searchable():
                out += self.plan_files(net, acc)
        return out

    # -- rule inputs and params
    def tile_inputs(self, key: str) -> dict[str, Any]:
        """Named inputs of a tile job: the accelerator files its key hashes (default layer kind, as the CLI)."""
        acc = self.accelerators[self.jobs[key].accel]
        return {
            "arch": str(acc.arch),
            "ert": self.erts[self.jobs[key].accel],
            "constraints": [str(c) for c in acc.files_for("default").constraints],
            "components": [str(c) for c in acc.component_files()],
        }

    def tile_params(self, key: str) -> dict[str, Any]:
        """What a tile job is told: its tile problem, DRAM rule, merged mapper settings, DRAM level, components."""
        job = self.jobs[key]
        acc = self.accelerators[job.accel]
        return {
            "problem": job.problem,
            "dram_keep": None if job.dram_keep is None else list(job.dram_keep),
            "mapper": self.mappers[job.accel],
            "dram": self.fusion[job.accel].get("dram", "DRAM"),
            "components": str(acc.components) if acc.components else "",
        }

    def batch_inputs(self, batch: str) -> dict[str, Any]:
        """Named inputs of a batch job: its tiles' accelerator files (one accelerator per batch)."""
        return self.tile_inputs(self.batches[batch][0])

    def batch_params(self, batch: str) -> dict[str, Any]:
        """What a batch job is told: its tiles (key, problem, DRAM rule), the shared settings, the tile store."""
        keys = self.batches[batch]
        shared = self.tile_params(keys[0])
        tiles = []
        for k in keys:
            p = self.tile_params(k)
            tiles.append({"key": k, "problem": p["problem"], "dram_keep": p["dram_keep"]})
        return {
            "tiles": tiles,
            "mapper": shared["mapper"],
            "dram": shared["dram"],
            "components": shared["components"],
            "store": f"{self.out}/cache/fusion_tiles",
        }

    def batch_rule_inputs(self, batch: str) -> dict[str, Any]:
        """Inputs of rule benchmark_fusion_tiles: `batch_inputs` outside the workflow folder (see
        `Plan.map_rule_inputs`: the files inside it are in the tile keys, and reach the job as params)."""
        return checkout_split(self.batch_inputs(batch), self.basedir)[0]

    def batch_rule_params(self, batch: str) -> dict[str, Any]:
        """`batch_params` with `{workflow}/...` references instead of absolute paths (its components folder,
        and the `files` of `batch_inputs` inside the workflow folder)."""
        params = self.batch_params(batch)
        if params["components"]:
            params["components"] = portable(params["components"], self.basedir)
        return {**params, "files": checkout_split(self.batch_inputs(batch), self.basedir)[1]}

    def workload_inputs(self, net: str) -> dict[str, str]:
        """The workload of `net` as an input of write_fusion_layers when outside the workflow folder."""
        return inputs_outside({"workload": self.workloads[net]}, self.basedir)

    def workload_refs(self, net: str) -> dict[str, Any]:
        """The workload of `net` as a `{workflow}/...` reference with its SHA-256 when inside the workflow folder."""
        return refs_inside({"workload": self.workloads[net]}, self.basedir)

    def costs_inputs(self, net: str, accel: str) -> dict[str, Any]:
        """Named inputs of the collect rule: the layer folder and the results of every batch it reads."""
        batches = dict.fromkeys(self.batch_of[k] for k in self.uses[(net, accel)])
        return {"layers": self.layers_dir(net), "results": [self.batch_file(b) for b in batches]}

    def search_inputs(self, net: str, accel: str) -> dict[str, Any]:
        d = self.costs_dir(net, accel)
        return {
            "layers": self.layers_dir(net),
            "tables": [f"{d}/{t}.json" for t in self.types] + [f"{d}/{t}_cycles.json" for t in self.types],
            "costs": f"{d}/costs.json",
        }

    def levels(self, accel: str) -> dict[str, str]:
        """The search's buffer levels (`NAME:WORDS`) from the accelerator's `fusion:` section."""
        return {k: str(self.fusion[accel][k]) for k in FUSION_LEVELS}


def select_layer_set(layer_set: Any, names: list[str] | None, net: str) -> Any:
    """`layer_set` restricted to `names` (all when empty), renumbered; edges to dropped layers are dropped."""
    from fusionsim.fusion.benchmark_stage import BenchLayer, LayerSet

    if not names:
        return layer_set
    known = [x.name for x in layer_set.layers]
    check_layer_names(names, known, net, f"fusion_tiling.layers.{net}",
                      fix=f"the fusion layers of {net} are: {' '.join(known)}")
    kept = [i for i, x in enumerate(layer_set.layers) if x.name in set(names)]
    new = {old: k for k, old in enumerate(kept)}
    layers = tuple(
        BenchLayer(k + 1, layer_set.layers[i].name, layer_set.layers[i].problem) for k, i in enumerate(kept)
    )
    srcs = tuple(new.get(layer_set.srcs[i]) if layer_set.srcs[i] is not None else None for i in kept)
    adds = {}
    for i in kept:
        mine = tuple(new[a] for a in layer_set.adds.get(i, ()) if a in new)
        if mine:
            adds[new[i]] = mine
    return LayerSet(layers, srcs, adds)


def fusion_layer_set(workload: str | Path, dataset: str, names: list[str] | None) -> Any:
    """The fusion layers (convs, residual edges) of a workload file on `dataset`, restricted to `names`."""
    from fusionsim.fusion.benchmark_stage import network_layer_set

    return select_layer_set(network_layer_set(workload, dataset), names, Path(workload).stem)


def _fusion_section(acc: Accelerator, need_levels: bool) -> dict[str, Any]:
    from fusionsim.sweeps.params import fusion_section

    manifest = acc.root / "accelerator.yaml"
    section = fusion_section(manifest)  # templated sizes rendered at the manifest's parameter defaults
    for key in FUSION_LEVELS if need_levels else ():
        if not section.get(key):
            raise InputError(
                "the fusion-tiling search needs the on-chip level (NAME:WORDS)",
                file=manifest,
                key=f"fusion.{key}",
                fix="add it to the manifest's `fusion:` section, e.g. GlobalBuffer:65536",
            )
    return section


def fusion_tiling_plan(plan: Plan, config: dict[str, Any], basedir: str | Path) -> FusionTilingPlan:
    """The fusion-tiling stage's jobs and paths (an empty plan when `fusion_tiling.enabled` is false).

    Tile jobs are `benchmark_stage.plan_jobs` jobs: their keys hash the tile problem, the DRAM rule, the
    accelerator files' bytes, the merged mapper settings, engine, seed, and (salt) the accelerator's name and
    the model version, so equal tiles of several networks on one accelerator are one job.
    """
    ft = FusionTilingPlan(out=plan.out, basedir=str(basedir))
    cfg = config.get("fusion_tiling") or {}
    if not cfg.get("enabled"):
        return ft
    basedir = Path(basedir)
    adir = resolve_path(basedir, config["accelerators_dir"])
    ft.enabled = True
    tiles, skip_unused = stage_settings(ft, config)
    for net in cfg.get("layers") or {}:
        if net not in network_names(cfg["networks"]):
            raise InputError(
                f"network {net!r} is not in fusion_tiling.networks",
                file="config.yaml",
                key=f"fusion_tiling.layers.{net}",
            )
    sets = {}
    for net, path in config_network_files(config, cfg["networks"], basedir).items():
        if not path.is_file():
            raise InputError(f"no workload file {path}", file="config.yaml", key="fusion_tiling.networks")
        inputs = load_network(path).inputs
        ds = next((d for d in cfg["datasets"] if d in inputs), None)
        if ds is None:
            raise InputError(
                f"network {net!r} defines inputs for {', '.join(inputs)}, none of which is in fusion_tiling.datasets",
                file="config.yaml",
                key="fusion_tiling.datasets",
                fix=f"add one of {', '.join(inputs)}",
            )
        ft.datasets[net] = ds
        ft.workloads[net] = str(path)
        sets[net] = fusion_layer_set(path, ds, (cfg.get("layers") or {}).get(net))
        ft.layer_names[net] = [x.name for x in sets[net].layers]
    version = model_version()
    for name in cfg["accelerators"]:
        acc = plan.accelerators.get(name) or plan.job_accelerators.get(name) or load_accelerator(adir, name)
        over = (
            (config["accelerators"].get(name) or {}).get("mapper") if name in config["accelerators"] else None
        )
        add_fusion_accelerator(ft, plan, acc, sets, tiles, [config["mapper"], over, cfg["mapper"]], version,
                               skip_unused=skip_unused)
        ft.pairs += [(net, name) for net in sets]
    batch_fusion_tiles(ft)
    return ft


def stage_settings(ft: FusionTilingPlan, config: dict[str, Any]) -> tuple[list[int] | None, bool]:
    """Check the `fusion_tiling` section's variant against its objective and put the stage's settings (types,
    engine, seed) on `ft`; returns the tile widths (None: all) and whether the entries no stack option that fits
    on chip reads are skipped (the exact search without `full_tables`). Shared by the stage and the sweeps."""
    cfg = config["fusion_tiling"]
    if cfg["variant"] != "exact" and cfg["objective"] != "energy":
        raise InputError(
            f"{cfg['variant']} only minimises energy",
            file="config.yaml",
            key="fusion_tiling.objective",
            fix="use objective: energy or variant: exact",
        )
    ft.types = tuple(cfg["types"])
    ft.engine = config["engine"]
    ft.seed = int(config["mapper"]["seed"])
    tiles = None if cfg["tiles"] == "all" else sorted(set(cfg["tiles"]))
    return tiles, cfg["variant"] == "exact" and not cfg.get("full_tables")


def add_fusion_accelerator(ft: FusionTilingPlan, plan: Plan, acc: Accelerator, sets: dict[str, Any],
                           tiles: list[int] | None, mappers: list[dict[str, Any] | None], version: str,
                           skip_unused: bool = False) -> None:
    """Register the tile jobs of every layer set in `sets` (net -> LayerSet) on `acc` (mapper file, then the
    `mappers` overrides in order), without the entries no stack option that fits on chip reads when
    `skip_unused` (and all seven types are searched); call `batch_fusion_tiles` after the last one."""
    from fusionsim.fusion import benchmark_stage as bs

    name = acc.name
    ft.accelerators[name] = acc
    ft.erts[name] = plan.ert_path(acc)  # shipped, or written by rule build_ert (keyed by its build key)
    ft.fusion[name] = _fusion_section(acc, ft.searchable())
    files = acc.files_for("default")
    base = load_yaml_any(files.mapper, allow_empty=True) or {}
    ft.mappers[name] = merge_mapper_settings(base, *mappers)
    setup = bs.BenchSetup(
        arch=acc.arch,
        ert=Path(ft.erts[name]),
        constraints=files.constraints,
        mapper=files.mapper,
        components=acc.components,
        ert_key=plan.ert_builds.get(name) if acc.ert is None else None,
        dram=ft.fusion[name].get("dram", "DRAM"),
        engine=ft.engine,
        seed=ft.seed,
        mapper_text=json.dumps(ft.mappers[name], sort_keys=True),
        salt=f"{name}|{version}",
    )
    for net, layer_set in sets.items():
        skipped: dict[tuple[str, int, int], str] = {}
        if skip_unused and ft.searchable():
            from fusionsim.fusion import skip
            from fusionsim.fusion.plan import BufferLevels, Level

            levels = BufferLevels(*(Level.parse(ft.levels(name)[k], f"fusion.{k}") for k in FUSION_LEVELS))
            skipped = skip.unused_entries(layer_set, levels, bs.enumerate_entries(layer_set.layers, ft.types, tiles))
        ft.skipped[(net, name)] = [[*e, why] for e, why in sorted(skipped.items())]
        jobs = bs.plan_jobs(list(layer_set.layers), setup, ft.types, tiles, skip=skipped)
        ft.uses[(net, name)] = {j.key: [list(u) for u in j.uses] for j in jobs}
        for j in jobs:
            ft.jobs.setdefault(j.key, FusionTileJob(j.key, name, j.problem, j.dram_keep))


def batch_fusion_tiles(ft: FusionTilingPlan) -> None:
    """Group the tile jobs into batch jobs: one per (accelerator, layer shape but the width, block of
    FUSION_BATCH_WIDTHS widths), all DRAM rules, keyed by the hash of its tile keys -- so a batch is shared by
    equal layers, and a changed width list or layer shape changes only the batches whose tiles change (a rerun
    batch reuses its unchanged tiles from the tile store)."""
    groups: dict[str, list[FusionTileJob]] = {}
    ft.batches.clear()
    ft.batch_of.clear()
    for job in ft.jobs.values():
        inst = dict(job.problem["problem"]["instance"])
        width = int(inst.pop("P"))
        inst.pop("Q", None)
        base = {**job.problem["problem"], "instance": inst}
        groups.setdefault(content_hash([job.accel, base, (width - 1) // FUSION_BATCH_WIDTHS]), []).append(job)
    for members in groups.values():
        members.sort(key=lambda j: (int(j.problem["problem"]["instance"]["P"]), j.dram_keep is not None,
                                    sorted(j.dram_keep or ())))  # fmt: skip
        keys = [j.key for j in members]
        batch = content_hash(sorted(keys))
        ft.batches[batch] = keys
        for k in keys:
            ft.batch_of[k] = batch


def fusion_tiling_targets(ft: FusionTilingPlan) -> list[str]:
    """`rule all` targets of the fusion-tiling stage (none when it is disabled)."""
    return ft.targets() if ft.enabled else []
