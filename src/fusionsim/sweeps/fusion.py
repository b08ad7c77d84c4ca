"""The exact fusion-tiling search per sweep point (`sweeps.NAME.fusion_tiling: true`).

Each point's variant joins the fusion-tiling stage's plan (`fusionsim.workflow.fusion_tiling.FusionTilingPlan`)
as one more accelerator, on the sweep's networks: the stage's own rules run its tile batches (content-keyed
tiles in the shared tile store), cost tables and search. The search's buffer levels come from the variant's
rendered manifest (`fusion:` values may be templates over the parameters), so they follow the point. The
global `fusion_tiling` knobs (types, tiles, mapper, objective, variant, full_tables) apply;
`fusion_tiling.enabled` need not be set.
"""

from __future__ import annotations

from typing import Any

from fusionsim.errors import InputError
from fusionsim.sweeps.plan import SweepPlan
from fusionsim.workflow.fusion_tiling import (
    FUSION_TYPES,
    FusionTilingPlan,
    add_fusion_accelerator,
    batch_fusion_tiles,
    fusion_layer_set,
    stage_settings,
)
from fusionsim.workflow.keys import content_hash, model_version
from fusionsim.workflow.plan import Plan


def fusion_network_id(net: str, dataset: str, names: list[str] | None) -> str:
    """The stage's network name of a sweep's (network, dataset, layer subset): `alexnet.imagenet`, plus a hash
    of the subset's names when the sweep picks layers (equal selections of several sweeps share it)."""
    return f"{net}.{dataset}" + (f".{content_hash(sorted(names), 8)}" if names else "")


def add_sweep_fusion(ft: FusionTilingPlan, sp: SweepPlan, plan: Plan, config: dict[str, Any]) -> FusionTilingPlan:
    """Register every fused sweep's points and networks into `ft` and record, per (point, network, dataset),
    the search's comparison.csv that sweep_tables reads. InputError when the fusion_tiling knobs cannot search."""
    fused = {name: s for name, s in sp.sweeps.items() if s.fusion_tiling}
    if not fused:
        return ft
    cfg = config["fusion_tiling"]
    where = f"sweeps.{next(iter(fused))}.fusion_tiling"
    if set(cfg["types"]) != set(FUSION_TYPES):
        raise InputError("the search per point reads all seven dataflow types", file="config.yaml",
                         key="fusion_tiling.types", fix=f"list all seven or set {where}: false")
    tiles, skip_unused = stage_settings(ft, config)  # the same settings as the stage's own (when it runs too)
    version = model_version()
    for name, sweep in fused.items():
        sets: dict[str, Any] = {}
        ids: dict[tuple[str, str], str] = {}
        for net, ds in sweep.layers:
            workload = sweep.workloads[net]
            full = fusion_layer_set(workload, ds, None)
            wanted = sweep.layer_subsets.get(net)
            names = [x.name for x in full.layers if not wanted or x.name in set(wanted)]
            if not names:
                raise InputError(f"none of the layers of {net} this sweep picks is a fusion layer (a conv)",
                                 file="config.yaml", key=f"sweeps.{name}.layers.{net}",
                                 fix="the fusion layers are: " + " ".join(x.name for x in full.layers))
            fid = fusion_network_id(net, ds, names if wanted else None)
            ids[(net, ds)] = fid
            if fid not in sets:
                sets[fid] = fusion_layer_set(workload, ds, names if wanted else None)
                ft.datasets[fid] = ds
                ft.workloads[fid] = str(workload)
                ft.layer_names[fid] = [x.name for x in sets[fid].layers]
        for pid in sweep.points:
            add_fusion_accelerator(ft, plan, sp.variants[pid], sets, tiles, [config["mapper"], cfg["mapper"]],
                                   version, skip_unused=skip_unused)
            for (net, ds), fid in ids.items():
                sweep.fused[(pid, net, ds)] = f"{ft.plan_dir(fid, pid)}/comparison.csv"
    batch_fusion_tiles(ft)
    return ft
