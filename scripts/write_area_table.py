"""Rule write_area_table: area (um^2) of the dense baseline and of ARCHON (main arch plus overhead units)
from their arches' area tables, as CSV and Markdown."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.archon_jobs import write_area


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    archs = {"baseline": smk.input.baseline[0], "main": smk.input.main[0], "overhead": smk.input.overhead[0]}
    rows = write_area(archs, smk.params.adders, smk.output.csv)
    logging.info("area: %s", rows)


main(snakemake)  # noqa: F821
