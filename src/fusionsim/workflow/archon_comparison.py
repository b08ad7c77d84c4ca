"""The ARCHON comparison's plan: which layer jobs it needs, and its rules' inputs, params, paths and targets.

`add_comparison_jobs(plan, config, basedir)` registers, as ordinary content-keyed layer jobs of the
plan, every layer the three-accelerator comparison needs: the compact (baseline) network on the dense
baseline accelerator, the fusion network's head/tail and block predictions on ARCHON `predictions`, and one
fused main computation per block on ARCHON `main`. Keys are composed exactly as `build_plan` composes them,
so a layer that the dense pipeline also maps is one job (mapped in a `map_layer_batch` job,
`fusionsim.workflow.map_batches`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionsim.archon.comparisons import (
    EDGE_SIDES,
    PARTS,
    Comparison,
    EdgeLayer,
    derived_edges,
    load_comparisons,
    load_edges,
    main_layer,
    network_blocks,
)
from fusionsim.errors import InputError
from fusionsim.workflow.accelerators import load_accelerator
from fusionsim.workflow.keys import content_hash, model_version
from fusionsim.workflow.mapper_settings import layer_mapper_settings
from fusionsim.workloads import Layer, expand_network, layer_problem, load_network

# `sparsity.pe_work`: file name of a layer's per-PE work in the seed's layout (`<k>_<part>_raw_80.csv`)
PE_WORK_PATTERN = "{k}_{part}_raw_80.csv"
PE_WORK_PART = {"decom": "decomp", "conv": "conv", "comp": "comp"}


def comparison_accelerator_names(config: dict[str, Any], basedir: str | Path) -> set[str]:
    """Every accelerator the ARCHON comparison maps on: the `fusion` roles and the selected comparisons'
    own prediction accelerators (what `add_comparison_jobs` loads)."""
    fcfg = config["fusion"]
    base = Path(basedir)
    resolve = lambda v: Path(v) if Path(v).is_absolute() else base / v  # noqa: E731
    cmps = load_comparisons(resolve(fcfg["comparisons_file"]), resolve(config["workloads_dir"]))
    names = fcfg.get("comparisons") or [n for n in config["networks"] if n in cmps]
    roles = ("baseline_accelerator", "predictions_accelerator", "main_accelerator", "head_tail_accelerator")
    return {fcfg[r] for r in roles} | {
        cmps[n].predictions_accelerator for n in names if n in cmps and cmps[n].predictions_accelerator
    }


@dataclass
class ComparisonPlan:
    """The comparison's jobs, registered into a `fusionsim.workflow.Plan`."""

    out: str
    baseline_accel: str
    predictions_accel: str
    main_accel: str
    head_tail_accel: str
    comparisons: dict[str, Comparison]
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (comparison, dataset)
    baseline_keys: dict[tuple[str, str], dict[str, str]] = field(
        default_factory=dict
    )  # (net, ds) -> layer -> key
    fused_keys: dict[tuple[str, str], dict[str, str]] = field(
        default_factory=dict
    )  # (cmp, ds) -> name -> key
    baseline_layers: dict[tuple[str, str], list[Layer]] = field(default_factory=dict)
    fused_layers: dict[tuple[str, str], list[Layer]] = field(default_factory=dict)
    edges: dict[tuple[str, str], dict[str, list[EdgeLayer]]] = field(default_factory=dict)  # (cmp, ds)
    edge_keys: dict[tuple[str, str], dict[str, list[str]]] = field(default_factory=dict)  # (cmp, ds)
    sparsity: dict[str, Any] = field(default_factory=dict)
    enabled_sparsity: bool = True
    area_archs: dict[str, str] = field(default_factory=dict)  # baseline / main / overhead -> arch file
    basedir: Path = Path(".")  # the workflow folder (relative config paths)
    # the plan's `cached_split`: a rule's keys' cached files -> params, their batches' results -> inputs
    cached_split: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]] | None = None

    # -- names
    def baseline_name(self, cmp: str) -> str:
        return self.comparisons[cmp].baseline.stem

    def baseline_pairs(self) -> list[tuple[str, str]]:
        return sorted({(self.baseline_name(c), d) for c, d in self.pairs})

    def block_names(self, cmp: str, ds: str) -> list[str]:
        return [b["decom"].block for b in network_blocks(self.fused_layers[(cmp, ds)])]  # type: ignore[misc]

    # -- paths
    def cache(self, key: str, name: str = "stats.json") -> str:
        return f"{self.out}/cache/layers/{key}/{name}"

    def pruned_model(self, net: str, ds: str) -> str:
        return f"{self.out}/sparsity/{net}/{ds}/pruned.h5"

    def sparse_table(self, net: str, ds: str) -> str:
        return f"{self.out}/sparsity/{net}/{ds}/sparse_layers.csv"

    def block_json(self, cmp: str, ds: str, block: str) -> str:
        return f"{self.out}/archon/{cmp}/{ds}/blocks/{block}.json"

    def comparison_dir(self, cmp: str, ds: str) -> str:
        return f"{self.out}/archon/{cmp}/{ds}"

    def report_dir(self) -> str:
        return f"{self.out}/report"

    # -- rule inputs
    def fused_block_inputs(self, cmp: str, ds: str, block: str) -> dict[str, str]:
        keys = self.fused_keys[(cmp, ds)]
        return {p: self.cache(keys[f"{block}_{p}"]) for p in PARTS}

    def fused_block_params(self, cmp: str, ds: str, block: str) -> dict[str, Any]:
        """Block shape and prediction parameters (what `fused_block` reads)."""
        c = self.comparisons[cmp]
        blocks = network_blocks(self.fused_layers[(cmp, ds)])
        k = [b["decom"].block for b in blocks].index(block)
        b = blocks[k]
        return {
            "name": block,
            "cin": b["decom"].in_channels,
            "cmid": b["comp"].in_channels,
            "cout": b["comp"].out_channels,
            "p": b["conv"].out_size,
            "stride": b["conv"].stride,
            "groups": b["decom"].groups,
            "prune_factor": c.prune_factor,
            "qtz_bits": c.qtz_for(k),
            "adders": c.adders_for(ds),
            "kernel": b["conv"].kernel,
            "variant": c.variant,
        }

    def pe_work_files(self, net: str, ds: str) -> list[str] | None:
        """Per-layer per-PE work CSVs of a compact network when `sparsity.pe_work` lists it, else None."""
        spec = (self.sparsity.get("pe_work") or {}).get(net)
        if not spec:
            return None
        folder = Path(spec["dir"])
        if not folder.is_absolute():
            folder = self.basedir / folder
        pattern = spec.get("pattern") or PE_WORK_PATTERN
        files = spec.get("files") or {}
        layers = [x for x in self.baseline_layers[(net, ds)] if x.block is not None]
        out = []
        for x in layers:
            name = files.get(x.name) or pattern.format(
                k=str(x.block).lstrip("b"), block=x.block, part=PE_WORK_PART[x.role or ""], layer=x.name
            )
            out.append(str(folder / name))
        return out

    def sparse_inputs(self, net: str, ds: str) -> dict[str, Any]:
        keys = self.baseline_keys[(net, ds)]
        layers = [x for x in self.baseline_layers[(net, ds)] if x.block is not None]
        pe_work = self.pe_work_files(net, ds)
        if pe_work is not None:
            return {"pe_work": pe_work}
        return {
            "workload": self.workload_of(net),
            "model": (self.sparsity.get("models") or {}).get(net) or self.pruned_model(net, ds),
            "stats": [self.cache(keys[x.name]) for x in layers],
            "mappings": [self.cache(keys[x.name], "mapping.yaml") for x in layers],
        }

    def sparse_layer_names(self, net: str, ds: str) -> list[str]:
        return [x.name for x in self.baseline_layers[(net, ds)] if x.block is not None]

    def sparse_layer_groups(self, net: str, ds: str) -> list[int]:
        return [x.groups for x in self.baseline_layers[(net, ds)] if x.block is not None]

    def comparison_inputs(self, cmp: str, ds: str) -> dict[str, Any]:
        net = self.baseline_name(cmp)
        bkeys = self.baseline_keys[(net, ds)]
        ekeys = self.edge_keys[(cmp, ds)]
        blocks = [x for x in self.baseline_layers[(net, ds)] if x.block is not None]
        out: dict[str, Any] = {
            "baseline": [self.cache(bkeys[x.name]) for x in blocks],
            **{side: [self.cache(k) for k in ekeys[side]] for side in EDGE_SIDES},
            # each fused block's three engine results (decom and conv predictions, main), priced in this job
            **{
                f"block_{part}": [self.fused_block_inputs(cmp, ds, b)[part] for b in self.block_names(cmp, ds)]
                for part in PARTS
            },
        }
        if self.enabled_sparsity:
            out["sparse"] = self.sparse_table(net, ds)
        return out

    def split(self, files: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(inputs, cached) of a rule's named files (`map_batches.split_cached`)."""
        assert self.cached_split is not None, "set by add_comparison_jobs"
        return self.cached_split(files)

    def comparison_rule_inputs(self, cmp: str, ds: str) -> dict[str, Any]:
        """Inputs of rule write_comparison: `comparison_inputs` with the layer results' batches."""
        return self.split(self.comparison_inputs(cmp, ds))[0]

    def comparison_cached(self, cmp: str, ds: str) -> dict[str, Any]:
        """The layer results of `comparison_inputs` (cache files: write_comparison's params)."""
        return self.split(self.comparison_inputs(cmp, ds))[1]

    def sparse_rule_inputs(self, net: str, ds: str) -> dict[str, Any]:
        """The files of `sparse_inputs` but the layer results, and those results' batches."""
        return self.split(self.sparse_inputs(net, ds))[0]

    def sparse_cached(self, net: str, ds: str) -> dict[str, Any]:
        """The layer results of `sparse_inputs` (cache files: adjust_sparse's params)."""
        return self.split(self.sparse_inputs(net, ds))[1]

    def comparison_params(self, cmp: str, ds: str) -> dict[str, Any]:
        """Layer descriptions the table job reads (names, groups, mid channels, depthwise channel counts)."""
        net = self.baseline_name(cmp)
        edges = self.edges[(cmp, ds)]
        blocks = network_blocks(self.baseline_layers[(net, ds)])
        return {
            "title": f"{cmp} / {ds}",
            "fused_blocks": [self.fused_block_params(cmp, ds, b) for b in self.block_names(cmp, ds)],
            "baseline_blocks": [
                {"block": b["decom"].block, "cmid": b["comp"].in_channels, "groups": b["decom"].groups}
                for b in blocks
            ],
            "baseline_layers": [x.name for x in self.baseline_layers[(net, ds)] if x.block is not None],
            **{
                side: [
                    {
                        "name": e.layer.name,
                        "multiplier": e.multiplier,
                        "depthwise_channels": e.depthwise_channels,
                    }
                    for e in edges[side]
                ]
                for side in EDGE_SIDES
            },
        }

    def prune_inputs(self, net: str, ds: str) -> dict[str, str]:
        """The workload to prune and, when configured, the dataset's training data."""
        base = next(c.baseline for c in self.comparisons.values() if c.baseline.stem == net)
        data = (self.sparsity.get("datasets") or {}).get(ds)
        return {"workload": str(base), **({"data": str(data)} if data else {})}

    def workload_of(self, net: str) -> str:
        return str(next(c.baseline for c in self.comparisons.values() if c.baseline.stem == net))

    def totals_inputs(self) -> list[str]:
        return [f"{self.comparison_dir(c, d)}/totals.json" for c, d in self.pairs]

    def references(self) -> dict[str, dict[str, Any]]:
        """Each selected comparison's baseline workload name and published totals (write_final_table's params)."""
        return {
            c.name: {"source": c.reference_source, "totals": c.reference or {}, "baseline": self.baseline_name(c.name)}
            for c in self.comparisons.values()
            if any(name == c.name for name, _ in self.pairs)
        }

    def area_inputs(self) -> dict[str, list[str]]:
        """Arch files (and their components) of the dense baseline, ARCHON main and ARCHON overhead."""
        out = {}
        for role, arch in self.area_archs.items():
            comps = sorted(str(p) for p in (Path(arch).parent / "components").glob("*.yaml"))
            out[role] = [arch, *comps]
        return out

    def targets(self) -> list[str]:
        """What `rule all` builds for the comparison: per-(network, dataset) tables, the final and area tables."""
        out = []
        for cmp, ds in self.pairs:
            d = self.comparison_dir(cmp, ds)
            out += [f"{d}/res.csv", f"{d}/result.csv"]
        r = self.report_dir()
        return out + [f"{r}/final.csv", f"{r}/final.md", f"{r}/speedup.png", f"{r}/area.csv"]


def add_comparison_jobs(plan: Any, config: dict[str, Any], basedir: str | Path) -> ComparisonPlan:
    """Register the comparison's layer jobs in `plan` (a `fusionsim.workflow.Plan`); returns their index.

    Comparisons: `fusion.comparisons` (names in the comparisons file), or every configured network that has
    an entry; datasets: the configured ones each network defines."""
    fcfg = config["fusion"]
    basedir = Path(basedir)
    resolve = lambda v: Path(v) if Path(v).is_absolute() else basedir / v  # noqa: E731
    adir = resolve(config["accelerators_dir"])
    cmps = load_comparisons(resolve(fcfg["comparisons_file"]), resolve(config["workloads_dir"]))
    names = fcfg.get("comparisons") or [n for n in config["networks"] if n in cmps]
    for n in names:
        if n not in cmps:
            raise InputError(
                f"no comparison {n!r}",
                file="config.yaml",
                key="fusion.comparisons",
                fix=f"known: {' '.join(cmps)}",
            )
    cp = ComparisonPlan(
        out=plan.out,
        baseline_accel=fcfg["baseline_accelerator"],
        predictions_accel=fcfg["predictions_accelerator"],
        main_accel=fcfg["main_accelerator"],
        head_tail_accel=fcfg["head_tail_accelerator"],
        comparisons={n: cmps[n] for n in names},
        enabled_sparsity=bool(config["sparsity"]["enabled"]),
        sparsity=dict(config["sparsity"]),
        basedir=basedir,
        cached_split=plan.cached_split,
    )
    accels = {
        a: plan.accelerators.get(a) or load_accelerator(adir, a)
        for a in {
            cp.baseline_accel,
            cp.predictions_accel,
            cp.main_accel,
            cp.head_tail_accel,
            *(c.predictions_accelerator for c in cp.comparisons.values() if c.predictions_accelerator),
        }
    }
    version = model_version()
    mapper_keys: dict[tuple[str, str], str] = {}

    def register(acc_name: str, layer: Layer, user: str) -> str:
        acc = accels[acc_name]
        if acc_name not in plan.accelerators:
            plan.job_accelerators.setdefault(acc_name, acc)
        prob = layer_problem(layer)
        pkey = content_hash(prob)
        plan.problems[pkey] = prob
        mk = (acc_name, layer.kind)
        if mk not in mapper_keys:
            settings = layer_mapper_settings(
                acc.files_for(layer.kind).mapper, acc_name, config, bool(fcfg.get("seed_search_budget"))
            )
            mapper_keys[mk] = content_hash(settings)
            plan.mappers[mapper_keys[mk]] = settings
        return plan.add_map_job(acc_name, layer.kind, pkey, mapper_keys[mk], version, user=user, name=layer.name)

    cp.area_archs = {
        "baseline": str(accels[cp.baseline_accel].arch),
        "main": str(accels[cp.main_accel].arch),
        "overhead": str(resolve(fcfg["overhead_arch"])),
    }
    for name, c in cp.comparisons.items():
        base_net, fused_net = load_network(c.baseline), load_network(c.fused)
        for ds in config["datasets"]:
            if ds not in base_net.inputs or ds not in fused_net.inputs:
                continue
            cp.pairs.append((name, ds))
            bkey = (c.baseline.stem, ds)
            if bkey not in cp.baseline_layers:
                layers = expand_network(base_net, ds)
                cp.baseline_layers[bkey] = layers
                cp.baseline_keys[bkey] = {
                    x.name: register(cp.baseline_accel, x, f"archon/{c.baseline.stem}/{ds}")
                    for x in layers
                    if x.block is not None
                }
            flayers = expand_network(fused_net, ds)
            cp.fused_layers[(name, ds)] = flayers
            edges = derived_edges(cp.baseline_layers[bkey], flayers)
            if c.edges is not None:
                edges.update(load_edges(c.edges, ds, base_net.inputs[ds]["classes"]))
            cp.edges[(name, ds)] = edges
            cp.edge_keys[(name, ds)] = {
                side: [
                    register(
                        cp.baseline_accel if side in ("head", "tail") else cp.head_tail_accel,
                        e.layer,
                        f"archon/{name}/{ds}",
                    )
                    for e in edges[side]
                ]
                for side in EDGE_SIDES
            }
            pred_accel = c.predictions_accelerator or cp.predictions_accel
            keys: dict[str, str] = {}
            for b in network_blocks(flayers):
                blk = b["decom"].block
                user = f"archon/{name}/{ds}"
                keys[f"{blk}_decom"] = register(pred_accel, b["decom"], user)
                keys[f"{blk}_conv"] = register(pred_accel, b["conv"], user)
                keys[f"{blk}_main"] = register(cp.main_accel, main_layer(b["decom"], b["comp"], b["conv"]), user)
            cp.fused_keys[(name, ds)] = keys
    if not cp.pairs:
        raise InputError(
            "the fusion comparison selects no (network, dataset)",
            file="config.yaml",
            key="fusion",
            fix=f"add one of {' '.join(cmps)} to `networks` or `fusion.comparisons`",
        )
    return cp


# ------------------------------------------------------------------------------------------ job bodies


def comparison_plan(plan: Any, config: dict[str, Any], basedir: str | Path) -> Any:
    """The ARCHON comparison's jobs (registered into `plan`) when `fusion.enabled`, else None."""
    if not (config.get("fusion") or {}).get("enabled"):
        return None
    return add_comparison_jobs(plan, config, basedir)


def comparison_targets(comparison: Any) -> list[str]:
    """`rule all` targets of the ARCHON comparison (none when it is disabled)."""
    return comparison.targets() if comparison is not None else []
