"""Rule write_layer_table: the layers of one (network, dataset) with their Timeloop problem sizes, as CSV."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.paths import resolve_files
from fusionsim.workflow.tables import write_layer_table


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    workload = resolve_files(smk.input, smk.params.workload, smk.scriptdir)["workload"]
    write_layer_table(workload, smk.params.dataset, list(smk.params.layers), smk.output[0])
    logging.info("wrote %s", smk.output[0])


main(snakemake)  # noqa: F821
