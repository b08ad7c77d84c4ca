"""Rule search_fusion_plan: the fusion search of one (network, accelerator) on its cost tables; writes plan.json,
plan.log, statistics.csv, tiling.png, energy.png and comparison.csv (fused vs layer-by-layer), each atomically."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.fusion_tiling_jobs import run_fusion_search


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    plan = run_fusion_search(
        layers_dir=smk.input.layers,
        costs_dir=smk.input.costs.rsplit("/", 1)[0],
        levels=dict(smk.params.levels),
        objective=smk.params.objective,
        variant=smk.params.variant,
        out_dir=smk.output.plan.rsplit("/", 1)[0],
    )
    logging.info(
        "%s/%s %s %s on %s: fused %.4f uJ vs layer-by-layer %.4f uJ (%.3f %%), %.3f s",
        smk.wildcards.net,
        smk.wildcards.accel,
        plan.variant,
        plan.objective,
        " ".join(dict(smk.params.levels).values()),
        plan.fused_uJ,
        plan.layer_by_layer_uJ,
        plan.saving_pct,
        plan.seconds,
    )


main(snakemake)  # noqa: F821
