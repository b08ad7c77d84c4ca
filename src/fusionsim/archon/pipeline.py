"""The ARCHON comparison in the Snakemake pipeline: which layer jobs it needs and the bodies of its rules.

`add_comparison_jobs(plan, config, basedir)` registers, as ordinary content-keyed `map_layer` jobs of the
plan, every layer the three-accelerator comparison needs: the compact (baseline) network on the dense
baseline accelerator, the fusion network's head/tail and block predictions on ARCHON `predictions`, and one
fused main computation per block on ARCHON `main`. Keys are composed exactly as `build_plan` composes them,
so a layer that the dense pipeline also maps is one job. The job bodies below are what the thin scripts
under `scripts/` call: fused-block costs, the sparse adjustment, the per-(network, dataset) tables, the
final table and the area table.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionsim.archon.predictive import (
    FUSIONET_STYLE,
    MOBILENET_STYLE,
    FusedBlock,
    FusedBlockCosts,
    OverheadBreakdown,
    PartCost,
    fused_block_costs,
)
from fusionsim.archon.tables import (
    REFERENCE_METRICS,
    BaselineBlockResults,
    EdgeLayerResult,
    SparseCycles,
    build_network_tables,
    write_final_table,
    write_network_tables,
)
from fusionsim.atomic_io import write_json, write_text
from fusionsim.errors import InputError
from fusionsim.model.result import EvalResult
from fusionsim.spec.yaml_io import load_json, load_yaml
from fusionsim.workloads import Layer, expand_network, layer_problem, load_network

VARIANTS = {"fusionet": FUSIONET_STYLE, "mobilenet": MOBILENET_STYLE}
# `sparsity.pe_work`: file name of a layer's per-PE work in the seed's layout (`<k>_<part>_raw_80.csv`)
PE_WORK_PATTERN = "{k}_{part}_raw_80.csv"
PE_WORK_PART = {"decom": "decomp", "conv": "conv", "comp": "comp"}
PARTS = ("decom", "conv", "main")


# ------------------------------------------------------------------------------------------ comparisons


@dataclass(frozen=True)
class Comparison:
    """One row of the final table: a compact network (dense and sparse baselines) vs its fusion network."""

    name: str
    baseline: Path
    fused: Path
    variant: str
    prune_factor: float
    qtz_bits: int | list[int]
    adders: int | dict[str, int]
    edges: Path | None = None  # explicit head/tail layers (`load_edges`), replacing the derived ones
    predictions_accelerator: str | None = None  # overrides `fusion.predictions_accelerator` for this network
    # published totals to compare with, per dataset (`reference:` in the comparisons file), and their source
    reference: dict[str, dict[str, float]] = field(default_factory=dict)
    reference_source: str = ""

    def qtz_for(self, k: int) -> int:
        return self.qtz_bits[k] if isinstance(self.qtz_bits, list) else int(self.qtz_bits)

    def adders_for(self, dataset: str) -> int:
        return int(self.adders[dataset]) if isinstance(self.adders, dict) else int(self.adders)


def load_comparisons(path: str | Path, workloads_dir: str | Path) -> dict[str, Comparison]:
    """Read `comparisons.yaml`; `baseline`/`fused` are workload names or files relative to it."""
    path = Path(path)
    if not path.is_file():
        raise InputError("comparisons file not found", file=path, key="fusion.comparisons_file")
    raw = load_yaml(path)
    out = {}
    for name, spec in raw.items():

        def where(value: str, key: str, _name: str = name) -> Path:
            p = (
                path.parent / value
                if value.endswith((".yaml", ".yml"))
                else Path(workloads_dir) / f"{value}.yaml"
            )
            if not p.is_file():
                raise InputError(f"{p} does not exist", file=path, key=f"{_name}.{key}")
            return p

        if spec.get("variant") not in VARIANTS:
            raise InputError(f"variant must be one of {sorted(VARIANTS)}", file=path, key=f"{name}.variant")
        out[name] = Comparison(
            name=name,
            baseline=where(spec["baseline"], "baseline"),
            fused=where(spec["fused"], "fused"),
            variant=spec["variant"],
            prune_factor=float(spec["prune_factor"]),
            qtz_bits=spec.get("qtz_bits", 4),
            adders=spec.get("adders", 24),
            edges=where(spec["edges"], "edges") if spec.get("edges") else None,
            predictions_accelerator=spec.get("predictions_accelerator"),
            **_reference(spec.get("reference"), path, name),
        )
    return out


def _reference(raw: Any, path: Path, name: str) -> dict[str, Any]:
    """`reference: {source: text, <dataset>: {<final-table total>: number}}` -> Comparison fields."""
    if raw is None:
        return {}
    key = f"{name}.reference"
    if not isinstance(raw, dict):
        raise InputError(
            "must map datasets to totals", file=path, key=key, fix="see accelerators/archon/comparisons.yaml"
        )
    out: dict[str, dict[str, float]] = {}
    for ds, totals in raw.items():
        if ds == "source":
            continue
        if not isinstance(totals, dict):
            raise InputError("must map totals to numbers", file=path, key=f"{key}.{ds}")
        for metric, value in totals.items():
            if metric not in REFERENCE_METRICS:
                raise InputError(f"unknown total '{metric}'", file=path, key=f"{key}.{ds}.{metric}",
                                 fix=f"one of {', '.join(REFERENCE_METRICS)}")
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise InputError(
                    f"must be a positive number, got {value!r}", file=path, key=f"{key}.{ds}.{metric}"
                )
        out[str(ds)] = {m: float(v) for m, v in totals.items()}
    return {"reference": out, "reference_source": str(raw.get("source", ""))}


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


EDGE_SIDES = ("head", "tail", "head_fused", "tail_fused")
_EDGE_KINDS = ("conv", "pointwise", "depthwise", "fc", "pool")


@dataclass(frozen=True)
class EdgeLayer:
    """One head/tail layer of a comparison: the layer job's shape and how its cost enters the tables."""

    layer: Layer
    multiplier: int  # cost multiplier (the groups it stands for)
    depthwise_channels: int | None = None  # fused-head DW: + (channels-1) x GLB input energy


def load_edges(path: str | Path, dataset: str, classes: int) -> dict[str, list[EdgeLayer]]:
    """Explicit head/tail layers of a comparison (the `edges:` file of a comparisons.yaml entry).

    Each of `head`, `tail` (compact network, dense and sparse baselines) and `head_fused`, `tail_fused` (ARCHON,
    on the predictions arch) is an optional list of layers with explicit shapes, so that definitions which do not
    chain with the bottleneck blocks (the seed's head/tail runs) can be stated as run:
    `{name, type: conv|pointwise|depthwise|fc|pool, in_channels, out_channels (or `classes`), kernel, stride,
    size (input size), groups (the problem is one group: C/G -> M/G), multiplier (cost multiplier, default
    groups), depthwise_channels (fused DW input correction, default the channel count on fused sides)}`.
    A side that is not listed keeps the layers derived from the network files."""
    path = Path(path)
    raw = load_yaml(path)
    bad = set(raw) - set(EDGE_SIDES) - {"description", "source"}
    if bad:
        raise InputError(f"unknown key (allowed: {' '.join(EDGE_SIDES)})", file=path, key=sorted(bad)[0])
    out: dict[str, list[EdgeLayer]] = {}
    for side in EDGE_SIDES:
        if side not in raw:
            continue
        layers: list[EdgeLayer] = []
        for i, e in enumerate(raw[side] or []):
            key = f"{side}[{i}]"
            kind = e.get("type")
            if kind not in _EDGE_KINDS:
                raise InputError(f"type must be one of {' '.join(_EDGE_KINDS)}", file=path, key=f"{key}.type")

            def num(k: str, default: int | None = None, _e: dict = e, _key: str = key) -> int:
                v = _e.get(k, default)
                if v == "classes":
                    v = classes
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    raise InputError(f"must be a positive integer, got {v!r}", file=path, key=f"{_key}.{k}")
                return v

            cin = num("in_channels")
            cout = num("out_channels", cin)
            groups = num("groups", 1)
            if kind == "fc":
                kernel, stride, size, out_size = 1, 1, 1, 1
            else:
                kernel = num("kernel", 1 if kind == "pointwise" else 3)
                stride = num("stride", 1)
                size = num("size")
                pad = 0 if kind == "pool" else kernel // 2
                out_size = (size + 2 * pad - kernel) // stride + 1
            if cin % groups or cout % groups:
                raise InputError(f"channels not divisible by groups={groups}", file=path, key=f"{key}.groups")
            dw = kind in ("depthwise", "pool")
            layer = Layer(
                str(e.get("name") or f"{side}{i + 1}"),
                kind,
                cin,
                cout,
                kernel,
                stride,
                size,
                out_size,
                groups=1 if dw else groups,
                channels=cin if dw else 1,
            )
            dwc = e.get(
                "depthwise_channels", cin if (kind == "depthwise" and side.endswith("fused")) else None
            )
            layers.append(EdgeLayer(layer, num("multiplier", 1 if dw else groups), dwc))
        out[side] = layers
    return out


def derived_edges(baseline: list[Layer], fused: list[Layer]) -> dict[str, list[EdgeLayer]]:
    """Head/tail layers of the network files: grouped layers x groups, fused-side DW with its GLB correction."""

    def side(layers: list[Layer], fused_side: bool) -> list[EdgeLayer]:
        return [
            EdgeLayer(x, x.groups, x.channels if (fused_side and x.kind == "depthwise") else None)
            for x in layers
        ]

    head, tail = _edges(baseline)
    fhead, ftail = _edges(fused)
    return {
        "head": side(head, False),
        "tail": side(tail, False),
        "head_fused": side(fhead, True),
        "tail_fused": side(ftail, True),
    }


def main_layer(decom: Layer, comp: Layer, conv: Layer) -> Layer:
    """The fused main computation of a block: a k x k conv Cin/G -> Cout at output resolution, stride s, with
    the block's depthwise kernel k (PW1, DW k x k and PW2 compose into one k x k conv)."""
    g = decom.groups
    return Layer(
        name=f"{decom.block}_main",
        kind="conv",
        in_channels=decom.in_channels // g,
        out_channels=comp.out_channels,
        kernel=conv.kernel,
        stride=conv.stride,
        in_size=conv.in_size,
        out_size=conv.out_size,
        groups=1,
        block=decom.block,
        role="main",
    )


def _blocks(layers: list[Layer]) -> list[dict[str, Layer]]:
    """Bottleneck blocks in order, each {"decom", "conv", "comp"} -> layer."""
    by: dict[str, dict[str, Layer]] = {}
    for x in layers:
        if x.block is not None:
            by.setdefault(x.block, {})[x.role or ""] = x
    return list(by.values())


def _edges(layers: list[Layer]) -> tuple[list[Layer], list[Layer]]:
    """Head (before the first block) and tail (after the last) layers."""
    idx = [i for i, x in enumerate(layers) if x.block is not None]
    if not idx:
        return layers, []
    return layers[: idx[0]], layers[idx[-1] + 1 :]


# ------------------------------------------------------------------------------------------ plan


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

    # -- names
    def baseline_name(self, cmp: str) -> str:
        return self.comparisons[cmp].baseline.stem

    def baseline_pairs(self) -> list[tuple[str, str]]:
        return sorted({(self.baseline_name(c), d) for c, d in self.pairs})

    def block_names(self, cmp: str, ds: str) -> list[str]:
        return [b["decom"].block for b in _blocks(self.fused_layers[(cmp, ds)])]  # type: ignore[misc]

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
        blocks = _blocks(self.fused_layers[(cmp, ds)])
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

    def comparison_params(self, cmp: str, ds: str) -> dict[str, Any]:
        """Layer descriptions the table job reads (names, groups, mid channels, depthwise channel counts)."""
        net = self.baseline_name(cmp)
        edges = self.edges[(cmp, ds)]
        blocks = _blocks(self.baseline_layers[(net, ds)])
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
    from fusionsim.workflow import content_hash, layer_mapper_settings, load_accelerator, model_version

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

    def register(acc_name: str, layer: Layer) -> str:
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
        return plan.add_map_job(acc_name, layer.kind, pkey, mapper_keys[mk], version)

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
                    x.name: register(cp.baseline_accel, x) for x in layers if x.block is not None
                }
            flayers = expand_network(fused_net, ds)
            cp.fused_layers[(name, ds)] = flayers
            edges = derived_edges(cp.baseline_layers[bkey], flayers)
            if c.edges is not None:
                edges.update(load_edges(c.edges, ds, base_net.inputs[ds]["classes"]))
            cp.edges[(name, ds)] = edges
            cp.edge_keys[(name, ds)] = {
                side: [
                    register(cp.baseline_accel if side in ("head", "tail") else cp.head_tail_accel, e.layer)
                    for e in edges[side]
                ]
                for side in EDGE_SIDES
            }
            pred_accel = c.predictions_accelerator or cp.predictions_accel
            keys: dict[str, str] = {}
            for b in _blocks(flayers):
                blk = b["decom"].block
                keys[f"{blk}_decom"] = register(pred_accel, b["decom"])
                keys[f"{blk}_conv"] = register(pred_accel, b["conv"])
                keys[f"{blk}_main"] = register(cp.main_accel, main_layer(b["decom"], b["comp"], b["conv"]))
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


def _result(path: str | os.PathLike) -> EvalResult:
    """An engine result from a stats.json (EvalResult JSON) or a Timeloop stats.txt."""
    p = Path(path)
    if p.suffix == ".txt":
        from fusionsim.timeloop import read_stats

        return read_stats(p)
    return EvalResult.from_json(json.loads(p.read_text()))


def write_fused_block(decom: str, conv: str, main: str, params: dict[str, Any], out: str) -> FusedBlockCosts:
    """One fused block's seven columns and overhead breakdown (JSON) from its three engine results."""
    p = dict(params)
    variant = VARIANTS[p.pop("variant")]
    block = FusedBlock(**p)
    costs = fused_block_costs(block, _result(decom), _result(conv), _result(main), variant)
    write_json(
        out,
        {
            "block": block.name,
            "columns": costs.row(),
            "overhead": costs.overhead.row(),
            "params": dict(params),
        },
    )
    return costs


def read_fused_block(path: str | os.PathLike) -> FusedBlockCosts:
    """A `write_fused_block` JSON back as `FusedBlockCosts`."""
    d = load_json(path)
    c, o = d["columns"], d["overhead"]
    return FusedBlockCosts(
        block=d["block"],
        pred_decom=PartCost(c["1_pred_decom_e"], int(c["5_pred_decom_c"])),
        pred_conv=PartCost(c["2_pred_conv_e"], int(c["6_pred_conv_c"])),
        main=PartCost(c["3_main_e"], int(c["7_main_c"])),
        overhead=OverheadBreakdown(*(float(v) for v in o.values())),
    )


def loops_from_mapping_yaml(path: str | os.PathLike) -> tuple:
    """Dense mapping loops (outermost first, `fusionsim.sparsity.imbalance.Loop`) of a Timeloop mapping YAML."""
    from fusionsim.sparsity.imbalance import Loop

    data = load_yaml(path)
    loops = []
    for d in data.get("mapping", []):
        if d.get("type") not in ("temporal", "spatial"):
            continue
        factors = dict(tok.split("=") for tok in str(d.get("factors", "")).split())
        perm = d.get("permutation") or ""
        order = list(perm) if isinstance(perm, str) else list(perm)
        order += [k for k in factors if k not in order]
        for dim in reversed(order):  # permutation is innermost first
            f = int(factors.get(dim, 1))
            if f > 1:
                loops.append(Loop(dim, f, d["type"] == "spatial"))
    return tuple(loops)


def write_sparse_layers(
    model: str,
    workload: str,
    dataset: str,
    names: list[str],
    stats: list[str],
    mappings: list[str],
    energy_model: str,
    out: str,
) -> list[dict[str, Any]]:
    """The sparse baseline of a network's bottleneck layers: per layer its weight sparsity, per-PE imbalance
    statistics, `sparse_c` (per group x groups) and `sparse_e_uJ`, from the pruned model and the dense jobs."""
    from fusionsim.sparsity.adjust import SparseEnergyModel, analyze_layer
    from fusionsim.sparsity.weights import read_pruned_model

    layers, kernels = read_pruned_model(model, workload, dataset, match="name")
    by_name = {lw.spec.name: lw for lw in layers}
    rows = []
    for name, st, mp in zip(names, stats, mappings, strict=True):
        lw = by_name.get(name)
        if lw is None:
            raise InputError(f"the pruned model has no layer {name!r}", file=model, key=name)
        emodel = SparseEnergyModel.seed(lw.spec.kind) if energy_model == "seed" else SparseEnergyModel()
        rec, _ = analyze_layer(lw, loops_from_mapping_yaml(mp), _result(st), emodel)
        rec["pruning"] = (getattr(kernels, "provenance", {}) or {}).get("method", "user model")
        rows.append(rec)
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (json.dumps(v) if isinstance(v, (list, tuple, dict)) else v) for k, v in r.items()})
    write_text(out, buf.getvalue())
    return rows


def write_sparse_layers_from_pe_work(
    names: list[str], groups: list[int], files: list[str], out: str
) -> list[dict[str, Any]]:
    """The sparse baseline's cycles from given per-PE non-zero work (`sparsity.pe_work`, e.g. the seed's
    `sparse_baseline/csvs/<k>_<part>_raw_80.csv`): per layer the slowest PE's work summed over passes, x groups
    (one group's grid stands for all, the seed's x G). Same table as `write_sparse_layers` (`sparse_c` per layer);
    the sparse energy is priced from the dense jobs by the tables (`fusion.sigma`)."""
    import io

    from fusionsim.sparsity.imbalance import read_pe_work_csv

    rows = []
    for name, g, f in zip(names, groups, files, strict=True):
        grid = read_pe_work_csv(f)
        per_pass = grid.max(axis=0)
        rows.append(
            {
                "layer": name,
                "groups": g,
                "pes": grid.shape[0],
                "passes": grid.shape[1],
                "sparse_macs": int(grid.sum()) * g,
                "sparse_c": int(per_pass.sum()) * g,
                "best_sparse_mac_cycles": int(grid.sum()) // grid.shape[0] * g,
                "pruning": f"pe_work:{Path(f).name}",
            }
        )
    buf = io.StringIO()
    w = csv.DictWriter(buf, list(rows[0]) if rows else ["layer", "sparse_c"], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_text(out, buf.getvalue())
    return rows


def prune_network(
    workload: str, dataset: str, out: str, sparsity: float, data: str | None, epochs: int, seed: int
) -> dict[str, Any]:
    """Prune a workload's Keras model to `sparsity` (TensorFlow, imported here only) and save `.h5` plus
    `<out>.json` with the pruning label (magnitude-untrained without `data`) and per-layer sparsity."""
    from fusionsim.sparsity.prune import prune_workload
    from fusionsim.sparsity.weights import load_layer_specs

    specs, info = load_layer_specs(workload, dataset)
    res = prune_workload(specs, info, out, sparsity=sparsity, dataset=data, epochs=epochs, seed=seed)
    record = {**res.label, "layer_sparsity": res.layer_sparsity}
    write_json(out + ".json", record)
    return record


def _sparse_cycles(path: str, layer_names: list[str], blocks: list[dict[str, Any]]) -> list[SparseCycles]:
    """Per-block sparse cycles of one group per layer from a `write_sparse_layers` table."""
    with open(path, newline="") as fh:
        rows = {r["layer"]: r for r in csv.DictReader(fh)}
    out = []
    for b in blocks:
        blk, g = b["block"], b["groups"]

        def per_group(role: str, groups: int, _blk: str = blk) -> int:
            r = rows.get(f"{_blk}_{role}")
            if r is None:
                raise InputError(f"no sparse result for {_blk}_{role}", file=path, key=f"{_blk}_{role}")
            return int(float(r["sparse_c"])) // groups

        out.append(SparseCycles(pw1=per_group("decom", g), dw=per_group("conv", 1), pw2=per_group("comp", g)))
    return out


def write_comparison(
    inputs: dict[str, Any], params: dict[str, Any], outdir: str, sigma: float = 0.91, index_bits: int = 10
) -> dict[str, float]:
    """res.csv/.md, res_summary, result.csv/.md and per-block plots of one (network, dataset); returns totals.

    `inputs` as `ComparisonPlan.comparison_inputs` (engine results: stats.json or stats.txt files), `params`
    as `ComparisonPlan.comparison_params`. The fused blocks are priced here (`write_fused_block`, one JSON each
    under `<outdir>/blocks/`: a job per block cost more in process start than the arithmetic), unless
    `inputs["blocks"]` already lists such JSON files."""
    blocks = params["baseline_blocks"]
    sparse = (
        _sparse_cycles(inputs["sparse"], params["baseline_layers"], blocks)
        if inputs.get("sparse")
        else [None] * len(blocks)
    )
    res = [_result(f) for f in inputs["baseline"]]
    baseline = [
        BaselineBlockResults(res[3 * k], res[3 * k + 1], res[3 * k + 2], b["cmid"], b["groups"], sparse[k])
        for k, b in enumerate(blocks)
    ]

    def edge(files: list[str], specs: list[dict[str, Any]]) -> list[EdgeLayerResult]:
        return [
            EdgeLayerResult(s["name"], _result(f), int(s["multiplier"]), s.get("depthwise_channels"))
            for f, s in zip(files, specs, strict=True)
        ]

    block_files = inputs.get("blocks")
    if not block_files:  # the pipeline: price every fused block here, its JSON in <outdir>/blocks/<block>.json
        block_files = []
        parts = zip(inputs["block_decom"], inputs["block_conv"], inputs["block_main"], params["fused_blocks"],
                    strict=True)  # fmt: skip
        for decom, conv, main, bp in parts:
            block_files.append(os.path.join(outdir, "blocks", f"{bp['name']}.json"))
            write_fused_block(decom, conv, main, bp, block_files[-1])
    tables = build_network_tables(
        baseline,
        [read_fused_block(f) for f in block_files],
        edge(inputs["head"], params["head"]),
        edge(inputs["head_fused"], params["head_fused"]),
        edge(inputs["tail"], params["tail"]),
        edge(inputs["tail_fused"], params["tail_fused"]),
        sigma=sigma,
        index_bits=index_bits,
    )
    write_network_tables(tables, outdir, title=params.get("title", ""))
    write_json(os.path.join(outdir, "totals.json"), tables.totals)
    return tables.totals


def write_final(
    totals_files: list[str], outdir: str, references: dict[str, Any] | None = None
) -> list[dict]:
    """final.csv/.md, final_vs_reference.csv/.md and speedup.png from per-(network, dataset) `totals.json`
    files (`<out>/archon/<network>/<dataset>/totals.json`); `references`: network -> {source, dataset totals}
    (`ComparisonPlan.references()`)."""
    totals = {}
    for f in totals_files:
        parts = Path(f).parts
        totals[(parts[-3], parts[-2])] = json.loads(Path(f).read_text())
    refs = {
        net: (r.get("source", ""), r.get("totals") or {})
        for net, r in (references or {}).items()
        if r.get("totals")
    }
    baselines = {net: r["baseline"] for net, r in (references or {}).items() if r.get("baseline")}
    return write_final_table(totals, outdir, refs, baselines)


def write_area(archs: dict[str, str], adders: int, out: str) -> list[tuple[str, str, float]]:
    """Area table (um^2) of the dense baseline and ARCHON from their arches' ART (built with `fusionsim ert`)."""
    from fusionsim.archon.area import archon_area_spec, area_table, baseline_area_spec
    from fusionsim.energy import build_tables

    units: dict[str, dict[str, float]] = {"baseline": {}, "archon": {}}
    pes: dict[str, int] = {}
    for role, arch in archs.items():
        acc = "baseline" if role == "baseline" else "archon"
        t = build_tables(Path(arch), [Path(arch).parent / "components"], None, "native")
        for comp in t.components:
            units[acc].setdefault(comp.name.split(".")[-1].split("[")[0], comp.area_um2)
            if "PE[" in comp.name and role != "overhead":
                pes[acc] = max(pes.get(acc, 0), comp.instances)
    rows = [
        ("baseline", n, a)
        for n, a in area_table(units["baseline"], baseline_area_spec(pes.get("baseline", 72)))
    ]
    rows += [
        ("archon", n, a)
        for n, a in area_table(units["archon"], archon_area_spec(adders, pes.get("archon", 64)))
    ]
    lines = ["accelerator,component,area_um2"] + [f"{acc},{n},{a:.2f}" for acc, n, a in rows]
    write_text(out, "\n".join(lines) + "\n")
    md = ["| accelerator | component | area (um^2) |", "|---|---|---|"]
    md += [f"| {acc} | {n} | {a:,.2f} |" for acc, n, a in rows]
    write_text(out.removesuffix(".csv") + ".md", "\n".join(md) + "\n")
    return rows
