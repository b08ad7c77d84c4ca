"""Rule collect_fusion_costs: the cost tables of one (network, accelerator) from its tile jobs: the seed's
<TYPE>.json and <TYPE>/Layer<k>.json, <TYPE>_cycles.json, and our costs.json (written last), all atomic."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.fusion_tiling_jobs import write_fusion_costs


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    folder = smk.output.costs.rsplit("/", 1)[0]
    tables = write_fusion_costs(
        smk.input.layers,
        list(smk.input.results),
        dict(smk.params.uses),
        folder,
        skipped=list(smk.params.skipped),
    )
    logging.info(
        "%s/%s: %d layers, %d jobs, %.1f job-seconds, %d entries skipped",
        smk.wildcards.net,
        smk.wildcards.accel,
        len(tables.layers),
        tables.jobs,
        tables.seconds,
        len(tables.skipped),
    )


main(snakemake)  # noqa: F821
