"""Rule sweep_point: res.csv and point.json (totals, validity) of one sweep point on one (network, dataset)."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.sweeps.jobs import write_point
from fusionsim.workflow.paths import resolve_files


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    body = write_point(
        resolve_files(smk.input, smk.params.workload, smk.scriptdir)["workload"],
        smk.wildcards.dataset,
        list(smk.params.layers),
        list(smk.params.stats),  # the layers' cached stats (the batches' results are the inputs)
        list(smk.params.dw_levels),
        smk.output.res,
        smk.output.point,
    )
    logging.info("point %s on %s/%s: %s", smk.wildcards.point, smk.wildcards.net, smk.wildcards.dataset, body)


main(snakemake)  # noqa: F821
