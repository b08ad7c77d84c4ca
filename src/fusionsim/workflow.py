"""Helpers for the Snakefile: the run plan (targets, content keys, paths), job bodies and res.csv tables.

Everything with a branch that the workflow needs lives here (unit-tested), so the rule files stay
declarative. The plan is built once at parse time from the validated config:

- each selected (network, dataset) pair expands to layers (`fusionsim.workloads`);
- each (network, dataset, accelerator, layer, tile) gets a content key: the hash of the layer's problem,
  the accelerator (name, file paths and the bytes of its arch, components, constraints and ERT), the merged
  mapper settings, the engine, the seed and fusionsim's model version. Jobs with equal keys (the same layer
  shape in several networks or datasets) are one `map_layer` job, computed once and shared through
  `<out>/cache/layers/<key>/`;
- an accelerator whose manifest names no `ert:` gets one from rule `build_ert` (`<out>/ert/<name>/ERT.yaml`).
  That file does not exist when the plan is built, so its part of the key is the hash of what it is built
  from instead (`ert_build_key`: arch and component bytes, technology, energy backend, model version).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import fusionsim
from fusionsim.atomic_io import write_json, write_text
from fusionsim.config_check import name_fix
from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import load_yaml_any
from fusionsim.workloads import Layer, expand_network, layer_problem, load_network
from fusionsim.workloads.models import network_names

TILES = ("full",)  # whole-layer jobs; the fusion-tiling issue adds real tiles
MAP_OUTPUTS = ("mapping.yaml", "stats.json", "stats.txt", "run.json")
TECHNOLOGIES = ("40nm", "45nm", "65nm")  # what `fusionsim.energy.ert.build_tables` prices
ENERGY_BACKENDS = ("native", "hwcomponents")
ENERGY_DEFAULTS = {"technology": "45nm", "backend": "native"}  # config.yaml's `energy` section
# config key (snake_case) -> Timeloop mapper YAML key
MAPPER_KEYS = {
    "algorithm": "algorithm",
    "optimization_metrics": "optimization-metrics",
    "timeout": "timeout",
    "victory_condition": "victory-condition",
    "max_permutations_per_if_visit": "max-permutations-per-if-visit",
}
RES_COLUMNS = ["layer", "PW1/L1_e", "DW_e", "PW2_e", "PW1/L1_c", "DW_c", "PW2_c"]
ROLE_COLUMNS = {"decom": ("PW1/L1_e", "PW1/L1_c"), "conv": ("DW_e", "DW_c"), "comp": ("PW2_e", "PW2_c")}


def model_version() -> str:
    """fusionsim's model version (a cache-key part): `fusionsim.MODEL_VERSION` when defined, else the package version."""
    return str(getattr(fusionsim, "MODEL_VERSION", fusionsim.__version__))


def content_hash(obj: Any, length: int = 16) -> str:
    """Short SHA-256 of a JSON-able object in canonical form (sorted keys, no whitespace)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------- accelerators


@dataclass(frozen=True)
class KindFiles:
    """What the mapper gets for one layer kind on one accelerator."""

    constraints: tuple[Path, ...]
    mapper: Path


@dataclass(frozen=True)
class Accelerator:
    """An `accelerators/<name>/accelerator.yaml` manifest with its paths resolved."""

    name: str
    root: Path
    arch: Path
    components: Path | None
    ert: Path | None  # None: the pipeline builds it (rule build_ert)
    kinds: dict[str, KindFiles]
    depthwise_input_levels: tuple[str, ...] = ()
    technology: str | None = None  # manifest override of `energy.technology` for a built ERT

    def files_for(self, kind: str) -> KindFiles:
        """Constraints and mapper file for a layer kind (`default` when the kind is not listed)."""
        return self.kinds.get(kind) or self.kinds["default"]

    def component_files(self) -> list[Path]:
        """The component class files (sorted), or [] when the arch needs none."""
        if self.components is None:
            return []
        return sorted(self.components.glob("*.yaml"))


def load_accelerator(accel_dir: Path, name: str) -> Accelerator:
    """Read and check `<accel_dir>/<name>/accelerator.yaml`; InputError naming the file and key on bad input."""
    root = Path(accel_dir) / name
    manifest = root / "accelerator.yaml"
    if not manifest.is_file():
        raise InputError(
            "no accelerator manifest",
            file=manifest,
            key=f"accelerators.{name}",
            fix=f"create {manifest} or remove the accelerator from config.yaml",
        )
    raw = load_yaml_any(manifest, allow_empty=True) or {}

    def path(key: str, value: Any, must_be_dir: bool = False) -> Path:
        if not isinstance(value, str):
            raise InputError("must be a path relative to the accelerator folder", file=manifest, key=key)
        p = root / value
        ok = p.is_dir() if must_be_dir else p.is_file()
        if not ok:
            raise InputError(f"{p} does not exist", file=manifest, key=key)
        return p

    for key in ("arch", "layer_kinds"):
        if key not in raw:
            raise InputError("missing key", file=manifest, key=key)
    ert = None
    if raw.get("ert") is not None:
        value = raw["ert"]
        if not isinstance(value, str) or not (root / value).is_file():
            what = f"{root / value} does not exist" if isinstance(value, str) else "must be a path"
            raise InputError(
                f"ERT {what}",
                file=manifest,
                key="ert",
                fix="name an ERT file relative to the accelerator folder, or drop `ert:` to have the "
                "pipeline build one from the arch (rule build_ert)",
            )
        ert = root / value
    technology = raw.get("technology")
    if technology is not None:
        if ert is not None:
            raise InputError(
                "`technology` only applies to an ERT the pipeline builds, but this manifest ships one",
                file=manifest,
                key="technology",
                fix="drop `technology:` or drop `ert:`",
            )
        if technology not in TECHNOLOGIES:
            raise InputError(
                f"unsupported technology {technology!r}",
                file=manifest,
                key="technology",
                fix="use one of " + ", ".join(TECHNOLOGIES),
            )
    kinds_raw = raw["layer_kinds"]
    if not isinstance(kinds_raw, dict) or "default" not in kinds_raw:
        raise InputError(
            "must map layer kinds to {constraints, mapper} and include `default`",
            file=manifest,
            key="layer_kinds",
        )
    kinds = {}
    for kind, spec in kinds_raw.items():
        key = f"layer_kinds.{kind}"
        if kind not in ("default", "conv", "pointwise", "depthwise", "fc", "pool"):
            raise InputError(
                f"unknown layer kind {kind!r}",
                file=manifest,
                key=key,
                fix="use default, conv, pointwise, depthwise, fc or pool",
            )
        if not isinstance(spec, dict) or not isinstance(spec.get("constraints"), list):
            raise InputError("needs `constraints: [files]` and `mapper: file`", file=manifest, key=key)
        cons = tuple(path(f"{key}.constraints[{i}]", c) for i, c in enumerate(spec["constraints"]))
        kinds[kind] = KindFiles(cons, path(f"{key}.mapper", spec.get("mapper")))
    components = path("components", raw["components"], must_be_dir=True) if raw.get("components") else None
    return Accelerator(
        name=name,
        root=root,
        arch=path("arch", raw["arch"]),
        components=components,
        ert=ert,
        kinds=kinds,
        depthwise_input_levels=tuple(raw.get("depthwise_input_levels") or ()),
        technology=technology,
    )


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


# ---------------------------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class MapJob:
    """One content-keyed mapper job: what `map_layer` needs to run key `key`."""

    key: str
    accel: str
    kind: str
    problem_key: str
    mapper_key: str


@dataclass
class Plan:
    """The whole run, derived from the config at parse time."""

    out: str
    engine: str
    seed: int
    networks: dict[str, Any]
    accelerators: dict[str, Accelerator]
    layers: dict[tuple[str, str], list[Layer]]  # (net, dataset) -> selected layers
    problems: dict[str, dict[str, Any]] = field(default_factory=dict)  # problem key -> problem dict
    mappers: dict[str, dict[str, Any]] = field(default_factory=dict)  # mapper key -> mapper YAML dict
    jobs: dict[str, MapJob] = field(default_factory=dict)  # map key -> job
    layer_keys: dict[tuple[str, str, str, str, str], str] = field(default_factory=dict)
    # accelerators that only other stages' jobs use (e.g. ARCHON's variants): mapped, but not in `targets()`
    job_accelerators: dict[str, Accelerator] = field(default_factory=dict)
    energy: dict[str, Any] = field(default_factory=lambda: dict(ENERGY_DEFAULTS))  # config `energy` section
    ert_builds: dict[str, str] = field(default_factory=dict)  # accelerator without an ERT -> its build key

    # -- names for wildcard constraints
    def pairs(self) -> list[tuple[str, str]]:
        return list(self.layers)

    def accel_names(self) -> list[str]:
        return list(self.accelerators)

    def layer_names(self, net: str, dataset: str) -> list[str]:
        return [x.name for x in self.layers[(net, dataset)]]

    def layer(self, net: str, dataset: str, name: str) -> Layer:
        for x in self.layers[(net, dataset)]:
            if x.name == name:
                return x
        raise InputError(f"no layer {name!r} in {net} on {dataset}")

    # -- paths
    def map_dir(self, key: str) -> str:
        return f"{self.out}/cache/layers/{key}"

    def layer_dir(self, net: str, dataset: str, accel: str, layer: str, tile: str = "full") -> str:
        return f"{self.out}/{net}/{dataset}/{accel}/layers/{layer}/{tile}"

    def res_path(self, net: str, dataset: str, accel: str) -> str:
        return f"{self.out}/{net}/{dataset}/{accel}/res.csv"

    def layer_table_path(self, net: str, dataset: str) -> str:
        return f"{self.out}/{net}/{dataset}/layers.csv"

    def summary_paths(self) -> list[str]:
        return [f"{self.out}/summary.csv", f"{self.out}/summary.md"]

    def built_ert_path(self, accel: str) -> str:
        """Where rule `build_ert` writes the ERT of an accelerator that ships none."""
        return f"{self.out}/ert/{accel}/ERT.yaml"

    def ert_path(self, acc: Accelerator) -> str:
        """The ERT the layer jobs of `acc` read: its own, or the one `build_ert` writes."""
        return str(acc.ert) if acc.ert is not None else self.built_ert_path(acc.name)

    # -- the build_ert jobs (one per configured accelerator without an ERT)
    def ert_build_names(self) -> list[str]:
        return list(self.ert_builds)

    def accelerator(self, name: str) -> Accelerator:
        """A configured accelerator or one only other stages' jobs use."""
        return self.accelerators.get(name) or self.job_accelerators[name]

    def ert_settings(self, accel: str) -> dict[str, Any]:
        """Technology (the manifest's, else `energy.technology`; None keeps the arch's) and energy backend."""
        acc = self.accelerator(accel)
        return {"technology": acc.technology or self.energy["technology"], "backend": self.energy["backend"]}

    def ert_build_inputs(self, accel: str) -> dict[str, Any]:
        """Named inputs of `build_ert`: the arch and the component class files (exactly the key's files)."""
        acc = self.accelerator(accel)
        return {"arch": str(acc.arch), "components": [str(c) for c in acc.component_files()]}

    # -- lookups used by input functions
    def add_map_job(
        self,
        acc_name: str,
        kind: str,
        problem_key: str,
        mapper_key: str,
        version: str,
        h: Callable[[Path], str] = file_hash,
    ) -> str:
        """Register the `map_layer` job of one problem on one accelerator (its files for `kind`); returns its
        content key. The accelerator's name and file paths are key parts too: a key then always maps to the
        same input paths, so Snakemake never sees a key's inputs change (which would rerun it). A built ERT
        (no `ert:` in the manifest) enters as its build key, not its bytes. `h` hashes a file (memoise it)."""
        acc = self.accelerator(acc_name)
        files = acc.files_for(kind)
        built = acc.ert is None
        paths = [acc.arch, *([] if built else [acc.ert]), *files.constraints, files.mapper]
        rel = [str(p.relative_to(acc.root)) for p in paths]
        key = content_hash(
            {
                "accelerator": acc_name,
                "files": [rel[0], "<build_ert>/ERT.yaml", *rel[1:]] if built else rel,
                "problem": problem_key,
                "arch": h(acc.arch),
                "components": [h(c) for c in acc.component_files()],
                "constraints": [h(c) for c in files.constraints],
                "ert": {"built": self.ert_builds[acc_name]} if built else h(acc.ert),
                "mapper": mapper_key,
                "engine": self.engine,
                "seed": self.seed,
                "model_version": version,
            }
        )
        if key not in self.jobs:
            self.jobs[key] = MapJob(key, acc_name, kind, problem_key, mapper_key)
        return key

    def key_of(self, net: str, dataset: str, accel: str, layer: str, tile: str) -> str:
        try:
            return self.layer_keys[(net, dataset, accel, layer, tile)]
        except KeyError:
            raise InputError(
                f"no job for {net}/{dataset}/{accel}/{layer}/{tile}",
                fix="the layer, network, dataset or accelerator is not selected in the config",
            ) from None

    def map_job_inputs(self, key: str) -> dict[str, Any]:
        """Named inputs of `map_layer` for key `key`: the accelerator files the mapper reads."""
        job = self.jobs[key]
        acc = self.accelerator_of(key)
        files = acc.files_for(job.kind)
        return {
            "arch": str(acc.arch),
            "ert": self.ert_path(acc),
            "constraints": [str(c) for c in files.constraints],
            "components": [str(c) for c in acc.component_files()],
        }

    def collect_inputs(self, net: str, dataset: str, accel: str, layer: str, tile: str) -> dict[str, str]:
        """Named inputs of `collect_layer`: the cached problem and mapper outputs of that layer's key."""
        key = self.key_of(net, dataset, accel, layer, tile)
        d = self.map_dir(key)
        return {
            "problem": f"{d}/problem.yaml",
            "mapping": f"{d}/mapping.yaml",
            "stats_json": f"{d}/stats.json",
            "stats_txt": f"{d}/stats.txt",
        }

    def accelerator_of(self, key: str) -> Accelerator:
        """The accelerator of map job `key` (a configured one, or one registered by another stage)."""
        return self.accelerator(self.jobs[key].accel)

    def components_dir(self, key: str) -> str:
        """The components folder of key `key`'s accelerator ('' when it has none)."""
        comp = self.accelerator_of(key).components
        return str(comp) if comp else ""

    def layer_outputs(self, net: str, dataset: str, accel: str) -> dict[str, list[str]]:
        """The per-layer stats.json files of one (network, dataset, accelerator), in layer order."""
        return {
            "stats": [
                f"{self.layer_dir(net, dataset, accel, x.name)}/stats.json"
                for x in self.layers[(net, dataset)]
            ]
        }

    def targets(self) -> list[str]:
        """Everything `rule all` builds: per-layer outputs, res.csv per (network, dataset, accelerator), summaries."""
        out: list[str] = []
        for net, ds in self.pairs():
            out.append(self.layer_table_path(net, ds))
            for acc in self.accelerators:
                out.append(self.res_path(net, ds, acc))
                for x in self.layers[(net, ds)]:
                    d = self.layer_dir(net, ds, acc, x.name)
                    out += [
                        f"{d}/{name}" for name in ("problem.yaml", "mapping.yaml", "stats.json", "stats.txt")
                    ]
        return out + self.summary_paths()

    def res_inputs(self) -> list[str]:
        return [self.res_path(n, d, a) for n, d in self.pairs() for a in self.accelerators]


def ert_build_key(acc: Accelerator, technology: str | None, backend: str, version: str) -> str:
    """Cache-key part standing in for the bytes of an ERT the pipeline builds (they do not exist at plan time).

    The hash of everything `build_ert` reads or is told: the arch's bytes, the component files (names and
    bytes), the technology, the energy backend and the model version. Editing a buffer's depth in the arch
    changes it, hence every layer key of that accelerator and nothing else.
    """
    return content_hash(
        {
            "arch": file_hash(acc.arch),
            "components": [[c.name, file_hash(c)] for c in acc.component_files()],
            "technology": technology,
            "backend": backend,
            "model_version": version,
        }
    )


def _resolve(base: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else base / p


def select_pairs(networks: dict[str, Any], datasets: list[str]) -> list[tuple[str, str]]:
    """(network, dataset) pairs to run: every configured dataset the network defines an input size for.

    A network that defines none of the configured datasets is an error naming both.
    """
    pairs = []
    for name, net in networks.items():
        mine = [ds for ds in datasets if ds in net.inputs]
        if not mine:
            raise InputError(
                f"network {name!r} defines inputs for {', '.join(net.inputs)}, none of which is "
                f"in datasets ({', '.join(datasets)})",
                file="config.yaml",
                key="networks",
                fix=f"add one of {', '.join(net.inputs)} to `datasets` or drop the network",
            )
        pairs += [(name, ds) for ds in mine]
    return pairs


def select_layers(layers: list[Layer], wanted: list[str] | None, net: str) -> list[Layer]:
    """`layers` restricted to the names in `wanted` (all when empty); unknown names are an error."""
    if not wanted:
        return layers
    known = {x.name for x in layers}
    missing = [w for w in wanted if w not in known]
    if missing:
        raise InputError(
            f"unknown layer {missing[0]!r} of network {net}",
            file="config.yaml",
            key=f"layers.{net}",
            fix=name_fix(missing[0], known),
        )
    return [x for x in layers if x.name in set(wanted)]


def config_network_files(config: dict[str, Any], entries: list[str], basedir: str | Path) -> dict[str, Path]:
    """{network name: workload file} of `networks:` entries: workload names, or model files imported (once,
    cached) into `<output_dir>/workloads/` for every configured dataset (fusionsim.workloads.models); model
    paths and `output_dir` are relative to the working directory, workload names to `workloads_dir`."""
    from fusionsim.workloads.models import network_files

    basedir = Path(basedir)
    ft = config.get("fusion_tiling") or {}
    datasets = list(dict.fromkeys([*config["datasets"], *((ft.get("datasets") or []) if ft.get("enabled") else [])]))
    return network_files(entries, _resolve(basedir, config["workloads_dir"]), Path(config["output_dir"]), datasets)


def build_plan(config: dict[str, Any], basedir: str | Path) -> Plan:
    """Validate the config's references (files, names) and compute every job's content key.

    `config` has already been validated against config.schema.yaml (defaults filled in); relative
    `workloads_dir` and `accelerators_dir` are resolved against `basedir` (the workflow folder).
    """
    basedir = Path(basedir)
    wdir = _resolve(basedir, config["workloads_dir"])
    adir = _resolve(basedir, config["accelerators_dir"])
    networks = {}
    for name, path in config_network_files(config, config["networks"], basedir).items():
        if not path.is_file():
            raise InputError(
                f"no workload file {path}",
                file="config.yaml",
                key="networks",
                fix=f"available: {' '.join(sorted(p.stem for p in wdir.glob('*.yaml')))}",
            )
        networks[name] = load_network(path)
    for net in config.get("layers") or {}:
        if net not in networks:
            raise InputError(f"network {net!r} is not in `networks`", file="config.yaml", key=f"layers.{net}")
    accels = {name: load_accelerator(adir, name) for name in config["accelerators"]}
    energy = {**ENERGY_DEFAULTS, **(config.get("energy") or {})}
    if energy["technology"] is not None and energy["technology"] not in TECHNOLOGIES:
        raise InputError(
            f"unsupported technology {energy['technology']!r}",
            file="config.yaml",
            key="energy.technology",
            fix="use one of " + ", ".join(TECHNOLOGIES) + " (or null to keep the arch's own)",
        )
    if energy["backend"] not in ENERGY_BACKENDS:
        raise InputError(
            f"unknown energy backend {energy['backend']!r}",
            file="config.yaml",
            key="energy.backend",
            fix="use one of " + ", ".join(ENERGY_BACKENDS),
        )
    plan = Plan(
        out=config["output_dir"].rstrip("/") or ".",
        engine=config["engine"],
        seed=int(config["mapper"]["seed"]),
        networks=networks,
        accelerators=accels,
        layers={},
        energy=energy,
    )
    for net, ds in select_pairs(networks, list(config["datasets"])):
        all_layers = expand_network(networks[net], ds)
        plan.layers[(net, ds)] = select_layers(all_layers, (config.get("layers") or {}).get(net), net)

    version = model_version()
    tiling = config.get("fusion_tiling") or {}
    others = set(tiling.get("accelerators", [])) if tiling.get("enabled") else set()
    if (config.get("fusion") or {}).get("enabled"):
        from fusionsim.archon.pipeline import comparison_accelerator_names

        others |= comparison_accelerator_names(config, basedir)
    for name in sorted(others - set(accels)):  # mapped only by other stages; their ERTs may need building too
        plan.job_accelerators[name] = load_accelerator(adir, name)
    for acc_name, acc in {**plan.job_accelerators, **accels}.items():
        if acc.ert is None:
            s = plan.ert_settings(acc_name)
            plan.ert_builds[acc_name] = ert_build_key(acc, s["technology"], s["backend"], version)
    hashes: dict[Path, str] = {}

    def h(p: Path) -> str:
        if p not in hashes:
            hashes[p] = file_hash(p)
        return hashes[p]

    mapper_cache: dict[tuple[str, str], str] = {}
    for (net, ds), layers in plan.layers.items():
        for layer in layers:
            prob = layer_problem(layer)
            pkey = content_hash(prob)
            plan.problems[pkey] = prob
            for acc_name, acc in accels.items():
                mk = (acc_name, layer.kind)
                if mk not in mapper_cache:
                    settings = layer_mapper_settings(acc.files_for(layer.kind).mapper, acc_name, config)
                    mapper_cache[mk] = content_hash(settings)
                    plan.mappers[mapper_cache[mk]] = settings
                key = plan.add_map_job(acc_name, layer.kind, pkey, mapper_cache[mk], version, h)
                for tile in TILES:
                    plan.layer_keys[(net, ds, acc_name, layer.name, tile)] = key
    return plan


def wildcard_pattern(names: list[str]) -> str:
    """A regex matching exactly these names (for `wildcard_constraints`)."""
    import re

    return "|".join(re.escape(n) for n in sorted(set(names), key=lambda s: (-len(s), s))) or "(?!)"


# ---------------------------------------------------------------------------------------------- job bodies


def run_ert_job(
    *, arch: str, components: list[str], technology: str | None, backend: str, outputs: dict[str, str]
) -> dict[str, Any]:
    """Rule build_ert: ERT and ART of `arch` (`fusionsim.energy.build_tables`), each written atomically.

    `components` are exactly the component class files of the manifest ([] builds from the arch alone, no
    implicit `components/` folder), so the ERT depends on nothing the cache key does not cover.
    """
    from fusionsim.energy.ert import art_dict, build_tables, dump_yaml, ert_dict

    tables = build_tables(arch, [Path(c) for c in components], technology, backend)
    head = (
        f"# Built by rule build_ert: {arch}, technology {technology or 'of the arch'}, backend {backend}.\n"
    )
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


# ---------------------------------------------------------------------------------------------- tables


def layer_cost(
    layer: Layer, stats: dict[str, Any], dw_levels: tuple[str, ...] | list[str]
) -> tuple[float, float]:
    """(energy in uJ, cycles) of a whole layer from one mapper run's stats.

    A grouped layer ran one group: energy and cycles are multiplied by its groups. A depthwise or pooling layer
    ran as C=1: its input energy at `dw_levels` is added (channels - 1) more times (the seed's correction).
    """
    energy_pj = float(stats["energy_pJ"]) * layer.groups
    cycles = float(stats["cycles"]) * layer.groups
    if layer.kind in ("depthwise", "pool") and layer.channels > 1 and dw_levels:
        extra = 0.0
        for level in stats.get("levels", []):
            if level.get("name") in dw_levels:
                extra += float((level.get("dataspaces") or {}).get("Inputs", {}).get("energy_pJ", 0.0))
        energy_pj += (layer.channels - 1) * extra
    return energy_pj * 1e-6, cycles


def res_rows(layers: list[Layer], costs: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """The seed's result.csv layout: one row per head/tail layer (in PW1/L1), one per block (PW1, DW, PW2), a total."""
    rows: list[dict[str, Any]] = []
    by_block: dict[str, dict[str, Any]] = {}
    for layer, (e, c) in zip(layers, costs, strict=True):
        if layer.block is None:
            row = dict.fromkeys(RES_COLUMNS, 0.0)
            row.update({"layer": layer.name, "PW1/L1_e": e, "PW1/L1_c": c})
            rows.append(row)
            continue
        if layer.block not in by_block:
            by_block[layer.block] = dict.fromkeys(RES_COLUMNS, 0.0)
            by_block[layer.block]["layer"] = layer.block
            rows.append(by_block[layer.block])
        ecol, ccol = ROLE_COLUMNS[layer.role or "decom"]
        by_block[layer.block][ecol] += e
        by_block[layer.block][ccol] += c
    total = dict.fromkeys(RES_COLUMNS, 0.0)
    total["layer"] = "total"
    for row in rows:
        for col in RES_COLUMNS[1:]:
            total[col] += row[col]
    return rows + [total]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:.6f}".rstrip("0")
    return str(v)


def rows_to_csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """CSV text of `rows` with `columns` (floats without trailing zeros, integral floats as integers)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_fmt(row.get(c, "")) for c in columns])
    return buf.getvalue()


def write_res_csv(
    layers: list[Layer], stats_files: list[str], dw_levels: list[str], out: str
) -> list[dict[str, Any]]:
    """Build and write one (network, dataset, accelerator) res.csv from its per-layer stats.json files."""
    costs = [
        layer_cost(x, json.loads(Path(f).read_text()), dw_levels)
        for x, f in zip(layers, stats_files, strict=True)
    ]
    rows = res_rows(layers, costs)
    write_text(out, rows_to_csv(rows, RES_COLUMNS))
    return rows


def selected_layers(workload: str | Path, dataset: str, names: list[str]) -> list[Layer]:
    """The layers called `names` (in network order) of a workload file on `dataset`."""
    layers = expand_network(load_network(workload), dataset)
    return select_layers(layers, list(names), Path(workload).stem)


def write_network_res(
    workload: str, dataset: str, names: list[str], stats_files: list[str], dw_levels: list[str], out: str
) -> list[dict[str, Any]]:
    """res.csv of one (network, dataset, accelerator): the selected layers' stats in the seed's layout."""
    return write_res_csv(selected_layers(workload, dataset, names), stats_files, dw_levels, out)


def write_layer_table(workload: str, dataset: str, names: list[str], out: str) -> None:
    """The layer table (shapes and Timeloop problem sizes) of one (network, dataset)."""
    write_text(out, layer_table(selected_layers(workload, dataset, names)))


LAYER_TABLE_COLUMNS = [
    "name",
    "kind",
    "block",
    "role",
    "in_channels",
    "out_channels",
    "kernel",
    "stride",
    "in_size",
    "out_size",
    "groups",
    "channels",
    "residual",
    "C",
    "M",
    "R",
    "S",
    "P",
    "Q",
]


def layer_table(layers: list[Layer]) -> str:
    """CSV of a network's layers on one dataset with their Timeloop problem sizes."""
    from fusionsim.workloads import problem_instance

    rows = []
    for x in layers:
        row = x.as_dict()
        row.update({k: v for k, v in problem_instance(x).items() if k in "CMRSPQ"})
        row["block"] = row["block"] or ""
        row["role"] = row["role"] or ""
        rows.append(row)
    return rows_to_csv(rows, LAYER_TABLE_COLUMNS)


SUMMARY_COLUMNS = ["network", "dataset", "accelerator", "energy_uJ", "cycles", "edp_uJ_cycles"]


def summary_rows(res_files: list[str]) -> list[dict[str, Any]]:
    """One row per res.csv (path `<out>/<net>/<dataset>/<accel>/res.csv`): network totals."""
    rows = []
    for f in res_files:
        parts = Path(f).parts
        net, ds, acc = parts[-4], parts[-3], parts[-2]
        with open(f, newline="") as fh:
            total = [r for r in csv.DictReader(fh) if r["layer"] == "total"][0]
        energy = sum(float(total[c]) for c in ("PW1/L1_e", "DW_e", "PW2_e"))
        cycles = sum(float(total[c]) for c in ("PW1/L1_c", "DW_c", "PW2_c"))
        rows.append(
            {
                "network": net,
                "dataset": ds,
                "accelerator": acc,
                "energy_uJ": energy,
                "cycles": cycles,
                "edp_uJ_cycles": energy * cycles,
            }
        )
    return rows


def write_summary(res_files: list[str], csv_out: str, md_out: str) -> list[dict[str, Any]]:
    """The final table across networks, datasets and accelerators, as CSV and Markdown."""
    rows = summary_rows(res_files)
    write_text(csv_out, rows_to_csv(rows, SUMMARY_COLUMNS))
    lines = ["| " + " | ".join(SUMMARY_COLUMNS) + " |", "|" + "---|" * len(SUMMARY_COLUMNS)]
    for r in rows:
        cells = [
            r["network"],
            r["dataset"],
            r["accelerator"],
            f"{r['energy_uJ']:.2f}",
            f"{r['cycles']:.0f}",
            f"{r['edp_uJ_cycles']:.4g}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    write_text(md_out, "\n".join(lines) + "\n")
    return rows


# ---------------------------------------------------------------------------------------------- other stages


def comparison_plan(plan: Plan, config: dict[str, Any], basedir: str | Path) -> Any:
    """The ARCHON comparison's jobs (registered into `plan`) when `fusion.enabled`, else None."""
    if not (config.get("fusion") or {}).get("enabled"):
        return None
    from fusionsim.archon.pipeline import add_comparison_jobs

    return add_comparison_jobs(plan, config, basedir)


def comparison_targets(comparison: Any) -> list[str]:
    """`rule all` targets of the ARCHON comparison (none when it is disabled)."""
    return comparison.targets() if comparison is not None else []


# ---------------------------------------------------------------------------------------------- fusion tiling

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
        for net in self.datasets:
            for acc in self.accelerators:
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
    missing = [n for n in names if n not in known]
    if missing:
        raise InputError(
            f"unknown layer {missing[0]!r} of network {net}",
            file="config.yaml",
            key=f"fusion_tiling.layers.{net}",
            fix=f"the fusion layers of {net} are: {' '.join(known)}",
        )
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
    manifest = acc.root / "accelerator.yaml"
    section = (load_yaml_any(manifest, allow_empty=True) or {}).get("fusion") or {}
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
    from fusionsim.fusion import benchmark_stage as bs

    ft = FusionTilingPlan(out=plan.out)
    cfg = config.get("fusion_tiling") or {}
    if not cfg.get("enabled"):
        return ft
    basedir = Path(basedir)
    adir = _resolve(basedir, config["accelerators_dir"])
    ft.enabled = True
    ft.types = tuple(cfg["types"])
    ft.engine = config["engine"]
    ft.seed = int(config["mapper"]["seed"])
    tiles = None if cfg["tiles"] == "all" else sorted(set(cfg["tiles"]))
    if cfg["variant"] != "exact" and cfg["objective"] != "energy":
        raise InputError(
            f"{cfg['variant']} only minimises energy",
            file="config.yaml",
            key="fusion_tiling.objective",
            fix="use objective: energy or variant: exact",
        )
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
        ft.accelerators[name] = acc
        ft.erts[name] = plan.ert_path(acc)  # shipped, or written by rule build_ert (keyed by its build key)
        ft.fusion[name] = _fusion_section(acc, ft.searchable())
        files = acc.files_for("default")
        base = load_yaml_any(files.mapper, allow_empty=True) or {}
        over = (
            (config["accelerators"].get(name) or {}).get("mapper") if name in config["accelerators"] else None
        )
        ft.mappers[name] = merge_mapper_settings(base, config["mapper"], over, cfg["mapper"])
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
            jobs = bs.plan_jobs(list(layer_set.layers), setup, ft.types, tiles)
            ft.uses[(net, name)] = {j.key: [list(u) for u in j.uses] for j in jobs}
            for j in jobs:
                ft.jobs.setdefault(j.key, FusionTileJob(j.key, name, j.problem, j.dram_keep))
    _batch_tiles(ft)
    return ft


def _batch_tiles(ft: FusionTilingPlan) -> None:
    """Group the tile jobs into batch jobs: one per (accelerator, layer shape but the width, block of
    FUSION_BATCH_WIDTHS widths), all DRAM rules, keyed by the hash of its tile keys -- so a batch is shared by
    equal layers, and a changed width list or layer shape changes only the batches whose tiles change (a rerun
    batch reuses its unchanged tiles from the tile store)."""
    groups: dict[str, list[FusionTileJob]] = {}
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


def write_fusion_layers(workload: str, dataset: str, names: list[str], folder: str) -> list[Path]:
    """The stage's layer folder (one problem YAML per layer, graph.json), written whole into a scratch
    folder and renamed into place."""
    from fusionsim.fusion.benchmark_stage import write_layer_set

    target = Path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".layers-", dir=target.parent))
    try:
        paths = write_layer_set(fusion_layer_set(workload, dataset, names), scratch)
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(scratch, target)
        return [target / p.name for p in paths]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_fusion_tile_batch(
    *,
    tiles: list[dict[str, Any]],
    mapper: dict[str, Any],
    arch: str,
    ert: str,
    constraints: list[str],
    components: str | None,
    dram: str,
    engine: str,
    seed: int,
    store: str,
    out: str,
    threads: int = 1,
) -> dict[str, Any]:
    """One batch job: every tile (`{key, problem, dram_keep}`) mapped in this process, equal tile problems back
    to back (they share the mapspace memo); each tile's files go to `store/<key>/` as a `benchmark_stage.run_job`
    folder (without fsync: an unreadable result.json is simply recomputed) and a tile whose result.json is
    already there is reused. Writes `out` (every tile's result, keyed) last, atomically."""
    from fusionsim import atomic_io
    from fusionsim.fusion import benchmark_stage as bs

    t0 = time.monotonic()
    jobs = [bs.BenchJob(t["key"], t["problem"], None if t["dram_keep"] is None else tuple(t["dram_keep"]))
            for t in tiles]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="fusion-batch-") as tmp:
        write_yaml(Path(tmp) / "mapper.yaml", mapper)
        setup = bs.BenchSetup(
            arch=Path(arch),
            ert=Path(ert),
            constraints=tuple(Path(c) for c in constraints),
            mapper=Path(tmp) / "mapper.yaml",
            components=Path(components) if components else None,
            dram=dram,
            engine=engine,
            seed=seed,
        )
        reused = sum(bs.read_result(Path(store) / j.key / "result.json", j.key) is not None for j in jobs)
        with atomic_io.without_fsync():
            results = bs.run_jobs(jobs, setup, store, workers=threads)
    for key, res in results.items():
        res.pop("mapping", None)  # the tile store keeps it (mapping.yaml)
        res["store"] = f"{store}/{key}"
    body = {"format": FUSION_BATCH_FORMAT, "tiles": len(jobs), "reused": reused, "seconds": round(time.monotonic() - t0, 3),
            "results": {j.key: results[j.key] for j in jobs}}  # fmt: skip
    write_json(out, body)
    return body


def read_tile_results(files: list[str]) -> dict[str, dict[str, Any]]:
    """Tile results by key from batch results.json files (or single tiles' result.json files)."""
    found: dict[str, dict[str, Any]] = {}
    for f in files:
        res = json.loads(Path(f).read_text())
        if res.get("format") == FUSION_BATCH_FORMAT:
            found.update(res["results"])
        else:
            found[res["key"]] = res
    return found


def write_fusion_costs(
    layers_dir: str, results: list[str], uses: dict[str, list[list[Any]]], out_dir: str
) -> Any:
    """The cost tables of one (network, accelerator) from its batch jobs' results.json files: the seed's
    `<TYPE>.json`, `<TYPE>_cycles.json`, `<TYPE>/Layer<k>.json`, and our costs.json (written last)."""
    from fusionsim.fusion import benchmark_stage as bs

    found = read_tile_results(results)
    jobs = [bs.BenchJob(k, {}, None, tuple(tuple(u) for u in us)) for k, us in uses.items()]
    tables = bs.assemble_tables(bs.load_layer_dir(layers_dir), jobs, found)
    tables.seconds = sum(float(found[k].get("seconds") or 0.0) for k in uses)
    bs.write_tables(tables, out_dir)
    return tables


COMPARISON_COLUMNS = ["schedule", "energy_uJ", "cycles", "saving_pct", "stacks"]


def run_fusion_search(
    *, layers_dir: str, costs_dir: str, levels: dict[str, str], objective: str, variant: str, out_dir: str
) -> Any:
    """The search of one (network, accelerator) on its tables, and its report: plan.json, plan.log,
    statistics.csv, tiling.png, energy.png and comparison.csv (fused vs layer-by-layer)."""
    from fusionsim.fusion import benchmark_stage as bs
    from fusionsim.fusion.costs import StackCoster
    from fusionsim.fusion.deepfrack_compat import search_seed
    from fusionsim.fusion.plan import BufferLevels, Level
    from fusionsim.fusion.search import check_capacity, search_exact
    from fusionsim.fusion.tables import load_tables, validate_tables
    from fusionsim.fusion.workload import load_workload

    buffers = BufferLevels(*(Level.parse(levels[k], f"fusion.{k}") for k in FUSION_LEVELS))
    workload = load_workload(layers_dir)
    shapes = [lay.shape for lay in workload.layers]
    tables = load_tables(costs_dir)
    validate_tables(tables, shapes)
    if variant == "exact":
        plan = search_exact(workload, tables, buffers, objective)
    else:
        if len(shapes) > 1:
            check_capacity(StackCoster(workload, tables, buffers))
        plan = search_seed(tables, shapes, buffers, variant)
    bs.write_plan_outputs(plan, workload, Path(costs_dir) / "costs.json", out_dir)
    stacks = " ".join(f"({s.start},{s.end})" for s in plan.stacks)
    rows = [
        {
            "schedule": "layer_by_layer",
            "energy_uJ": plan.layer_by_layer_uJ,
            "cycles": plan.layer_by_layer_cycles,
            "saving_pct": 0.0,
            "stacks": " ".join(f"({k},{k})" for k in range(len(shapes))),
        },
        {
            "schedule": f"fused ({plan.variant}, {plan.objective})",
            "energy_uJ": plan.fused_uJ,
            "cycles": plan.fused_cycles,
            "saving_pct": plan.saving_pct,
            "stacks": stacks,
        },
    ]
    for row in rows:
        row["cycles"] = "" if row["cycles"] is None else float(row["cycles"])
    write_text(Path(out_dir) / "comparison.csv", rows_to_csv(rows, COMPARISON_COLUMNS))
    return plan
