"""Rule write_summary: the final table (network, dataset, accelerator totals) as CSV and Markdown."""

import logging
import sys

from fusionsim.workflow import write_summary


def main(smk) -> None:
    sys.stderr = open(smk.log[0], "a")  # tracebacks go to the rule's log too
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
    rows = write_summary(list(smk.input.res), smk.output.csv, smk.output.md)
    logging.info("wrote %d rows", len(rows))


main(snakemake)  # noqa: F821
