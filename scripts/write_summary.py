"""Rule write_summary: the final table (network, dataset, accelerator totals) as CSV and Markdown."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.tables import write_summary


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    rows = write_summary(list(smk.input.res), smk.output.csv, smk.output.md)
    logging.info("wrote %d rows", len(rows))


main(snakemake)  # noqa: F821
