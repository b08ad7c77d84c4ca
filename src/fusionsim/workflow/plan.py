"""The run plan: targets, content keys and paths of the default run, built once at parse time.

Everything with a branch that the workflow needs lives here (unit-tested), so the rule files stay
declarative. The plan is built once at parse time from the validated config:

- each selected (network, dataset) pair expands to layers (`fusionsim.workloads`);
- each (network, dataset, accelerator, layer, tile) gets a content key: the hash of the layer's problem,
  the accelerator (name, file paths and the bytes of its arch, components, constraints and ERT), the merged
  mapper settings, the engine, the seed and fusionsim's model version. Jobs with equal keys (the same layer
  shape in several networks or datasets) are mapped once and shared through `<out>/cache/layers/<key>/`,
  many keys per `map_layer_batch` job (`fusionsim.workflow.map_batches`);
- an accelerator whose manifest names no `ert:` gets one from rule `build_ert` (`<out>/ert/<name>/ERT.yaml`).
  That file does not exist when the plan is built, so its part of the key is the hash of what it is built
  from instead (`ert_build_key`: arch and component bytes, technology, energy backend, model version).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionsim.config_check import name_fix
from fusionsim.errors import InputError
from fusionsim.workflow.accelerators import TECHNOLOGIES, Accelerator, ert_build_key, load_accelerator
from fusionsim.workflow.keys import content_hash, file_hash, model_version
from fusionsim.workflow.map_batches import (
    KeyBatches,
    drop_stale_batches,
    files_once,
    key_outputs,
    split_cached,
)
from fusionsim.workflow.mapper_settings import layer_mapper_settings
from fusionsim.workflow.paths import checkout_split, inputs_outside, portable, refs_inside
from fusionsim.workloads import Layer, expand_network, layer_problem, load_network

# the files `collect_layers` copies from a map job's cache folder into each layer's folder
COLLECTED = ("problem.yaml", "mapping.yaml", "stats.json", "stats.txt")

TILES = ("full",)  # whole-layer jobs; the fusion-tiling issue adds real tiles
ENERGY_BACKENDS = ("native", "hwcomponents")
ENERGY_DEFAULTS = {"technology": "45nm", "backend": "native"}  # config.yaml's `energy` section


@dataclass(frozen=True)
class MapJob:
    """One content-keyed mapper job: what a `map_layer_batch` job needs to map key `key`."""

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
    basedir: str = ""  # the workflow folder: its files reach rules as `{workflow}/...` params (workflow.paths)
    batching: KeyBatches = field(default_factory=KeyBatches)  # which keys each map_layer_batch job maps

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

    def ert_build_rule_inputs(self, accel: str) -> dict[str, Any]:
        """Inputs of rule `build_ert`: `ert_build_inputs` outside the workflow folder (the files inside it are
        params, `ert_build_rule_files`; the rule's `key` param holds their bytes' hash)."""
        return checkout_split(self.ert_build_inputs(accel), self.basedir)[0]

    def ert_build_rule_files(self, accel: str) -> dict[str, Any]:
        """The files of `ert_build_inputs` inside the workflow folder, as `{workflow}/...` references."""
        return checkout_split(self.ert_build_inputs(accel), self.basedir)[1]

    # -- lookups used by input functions
    def add_map_job(
        self,
        acc_name: str,
        kind: str,
        problem_key: str,
        mapper_key: str,
        version: str,
        h: Callable[[Path], str] = file_hash,
        user: str = "",
        name: str = "",
    ) -> str:
        """Register the mapper job of one problem on one accelerator (its files for `kind`) for `user`, who reads it
        as layer `name` (`map_batches`: the first user owns its batch); returns its content key. The accelerator's
        name and file paths are key parts too: a key then always maps to the same input paths, so Snakemake never
        sees a key's inputs change (which would rerun it). A built ERT (no `ert:` in the manifest) enters as its
        build key, not its bytes. `h` hashes a file (memoise it)."""
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
        self.batching.add(key, user, name)
        return key

    # -- the batch jobs (rule map_layer_batch)
    def map_batches(self) -> dict[str, list[str]]:
        """{batch: its keys} of every registered key (`map_batches.batch_map_keys`), made once all are in."""
        return self.batching.batches()

    def batch_file(self, batch: str) -> str:
        return f"{self.out}/cache/layer_batches/{batch}/results.json"

    def batch_file_of(self, key: str) -> str:
        """The results file of the batch that maps key `key`."""
        return self.batch_file(self.batching.batch_of(key))

    def batch_rule_inputs(self, batch: str) -> list[str]:
        """Inputs of rule `map_layer_batch`: the files its keys read outside the workflow folder (a built ERT,
        a user's accelerator folder), once each."""
        return files_once(self.map_rule_inputs(key) for key in self.map_batches()[batch])

    def batch_rule_params(self, batch: str) -> list[dict[str, Any]]:
        """What a batch job maps: per key its problem and mapper dicts, its files (`{workflow}/...` references
        inside the workflow folder), its components folder and its output files in the cache."""
        out = []
        for key in self.map_batches()[batch]:
            job = self.jobs[key]
            files = {
                name: portable(v, self.basedir) if isinstance(v, str) else [portable(p, self.basedir) for p in v]
                for name, v in self.map_job_inputs(key).items()
            }
            out.append(
                {
                    "key": key,
                    "label": self.batching.label(key),
                    "problem": self.problems[job.problem_key],
                    "mapper": self.mappers[job.mapper_key],
                    "files": files,
                    "components": self.components_ref(key),
                    "outputs": key_outputs(self.map_dir(key)),
                }
            )
        return out

    def drop_stale_batches(self) -> list[str]:
        """`map_batches.drop_stale_batches` for this plan's batches (call once every stage has registered)."""
        return drop_stale_batches(self.map_batches(), self.batch_file, self.map_dir)

    def cached_split(self, files: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(inputs, params) of a rule reading keys' cached files (`map_batches.split_cached`)."""
        return split_cached(files, self.batch_file_of)

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

    def map_rule_inputs(self, key: str) -> dict[str, Any]:
        """Inputs of rule `map_layer`: the files of `map_job_inputs` outside the workflow folder (a built ERT,
        a user's accelerator folder). Those inside it are params (`map_rule_files`): their content is in the key,
        and their absolute paths would rerun every job from a checkout at another place."""
        return checkout_split(self.map_job_inputs(key), self.basedir)[0]

    def map_rule_files(self, key: str) -> dict[str, Any]:
        """The files of `map_job_inputs` inside the workflow folder, as `{workflow}/...` references."""
        return checkout_split(self.map_job_inputs(key), self.basedir)[1]

    def workload_inputs(self, net: str) -> dict[str, str]:
        """The workload file of `net` as a rule input when it lies outside the workflow folder (an imported
        model under the results folder), else nothing (`workload_refs`)."""
        return inputs_outside({"workload": str(self.networks[net].path)}, self.basedir)

    def workload_refs(self, net: str) -> dict[str, Any]:
        """The workload file of `net` as a `{workflow}/...` reference with its SHA-256 (a params value, so an
        edit still reruns its jobs) when it lies inside the workflow folder, else {}."""
        return refs_inside({"workload": str(self.networks[net].path)}, self.basedir)

    def collect_copies(self, net: str, dataset: str, accel: str) -> list[list[str]]:
        """What `collect_layers` copies: per layer of one (network, dataset, accelerator), in layer order,
        [cache folder of its key, its folder under the layers folder (`<layer>/<tile>`)]."""
        out = []
        for x in self.layers[(net, dataset)]:
            key = self.key_of(net, dataset, accel, x.name, "full")
            out.append([self.map_dir(key), f"{x.name}/full"])
        return out

    def collect_inputs(self, net: str, dataset: str, accel: str) -> dict[str, list[str]]:
        """Named inputs of `collect_layers`: the results of the batches that map its layers' keys."""
        keys = [self.key_of(net, dataset, accel, x.name, "full") for x in self.layers[(net, dataset)]]
        return {"map_batches": sorted({self.batch_file_of(k) for k in keys})}

    def layers_dir(self, net: str, dataset: str, accel: str) -> str:
        """The per-layer folders of one (network, dataset, accelerator): `collect_layers`' output."""
        return f"{self.out}/{net}/{dataset}/{accel}/layers"

    def accelerator_of(self, key: str) -> Accelerator:
        """The accelerator of map job `key` (a configured one, or one registered by another stage)."""
        return self.accelerator(self.jobs[key].accel)

    def components_dir(self, key: str) -> str:
        """The components folder of key `key`'s accelerator ('' when it has none)."""
        comp = self.accelerator_of(key).components
        return str(comp) if comp else ""

    def components_ref(self, key: str) -> str:
        """`components_dir` as rule `map_layer`'s param: `{workflow}/...` inside the workflow folder."""
        return portable(self.components_dir(key), self.basedir) if self.components_dir(key) else ""

    def layer_stats(self, net: str, dataset: str, accel: str) -> list[str]:
        """The per-layer stats.json files of one (network, dataset, accelerator), in layer order."""
        return [f"{self.layer_dir(net, dataset, accel, x.name)}/stats.json" for x in self.layers[(net, dataset)]]

    def targets(self) -> list[str]:
        """Everything `rule all` builds: per-layer outputs, res.csv per (network, dataset, accelerator), summaries."""
        out: list[str] = []
        for net, ds in self.pairs():
            out.append(self.layer_table_path(net, ds))
            for acc in self.accelerators:
                out += [self.res_path(net, ds, acc), self.layers_dir(net, ds, acc)]
        return out + self.summary_paths()

    def res_inputs(self) -> list[str]:
        return [self.res_path(n, d, a) for n, d in self.pairs() for a in self.accelerators]


def resolve_path(base: Path, value: str) -> Path:
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


def check_layer_names(wanted: list[str], known: list[str], net: str, key: str, fix: str | None = None) -> None:
    """InputError (config.yaml, `key`) on the first name of `wanted` that is not a layer of `net` in `known`;
    the fix is `fix`, else the closest known name."""
    missing = [w for w in wanted if w not in set(known)]
    if missing:
        raise InputError(
            f"unknown layer {missing[0]!r} of network {net}",
            file="config.yaml",
            key=key,
            fix=fix or name_fix(missing[0], known),
        )


def select_layers(layers: list[Layer], wanted: list[str] | None, net: str) -> list[Layer]:
    """`layers` restricted to the names in `wanted` (all when empty); unknown names are an error."""
    if not wanted:
        return layers
    check_layer_names(wanted, [x.name for x in layers], net, f"layers.{net}")
    return [x for x in layers if x.name in set(wanted)]


def config_network_files(config: dict[str, Any], entries: list[str], basedir: str | Path) -> dict[str, Path]:
    """{network name: workload file} of `networks:` entries: workload names, or model files imported (once,
    cached) into `<output_dir>/workloads/` for every configured dataset (fusionsim.workloads.models); model
    paths and `output_dir` are relative to the working directory, workload names to `workloads_dir`."""
    from fusionsim.workloads.models import network_files

    basedir = Path(basedir)
    ft = config.get("fusion_tiling") or {}
    datasets = list(dict.fromkeys([*config["datasets"], *((ft.get("datasets") or []) if ft.get("enabled") else [])]))
    return network_files(entries, resolve_path(basedir, config["workloads_dir"]), Path(config["output_dir"]), datasets)


def build_plan(config: dict[str, Any], basedir: str | Path) -> Plan:
    """Validate the config's references (files, names) and compute every job's content key.

    `config` has already been validated against config.schema.yaml (defaults filled in); relative
    `workloads_dir` and `accelerators_dir` are resolved against `basedir` (the workflow folder).
    """
    basedir = Path(basedir)
    wdir = resolve_path(basedir, config["workloads_dir"])
    adir = resolve_path(basedir, config["accelerators_dir"])
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
        basedir=str(basedir),
    )
    for net, ds in select_pairs(networks, list(config["datasets"])):
        all_layers = expand_network(networks[net], ds)
        plan.layers[(net, ds)] = select_layers(all_layers, (config.get("layers") or {}).get(net), net)

    version = model_version()
    tiling = config.get("fusion_tiling") or {}
    others = set(tiling.get("accelerators", [])) if tiling.get("enabled") else set()
    if (config.get("fusion") or {}).get("enabled"):
        from fusionsim.workflow.archon_comparison import comparison_accelerator_names

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
                key = plan.add_map_job(
                    acc_name, layer.kind, pkey, mapper_cache[mk], version, h, f"{net}/{ds}/{acc_name}", layer.name
                )
                for tile in TILES:
                    plan.layer_keys[(net, ds, acc_name, layer.name, tile)] = key
    return plan


def wildcard_pattern(names: list[str]) -> str:
    """A regex matching exactly these names (for `wildcard_constraints`)."""
    import re

    return "|".join(re.escape(n) for n in sorted(set(names), key=lambda s: (-len(s), s))) or "(?!)"
