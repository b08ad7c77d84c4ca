"""Rule write_area_table: area (um^2) of the dense baseline and of ARCHON (main arch plus overhead units)
from their arches' area tables, as CSV and Markdown."""

import logging
import sys

from fusionsim.archon.pipeline import write_area


def main(smk) -> None:
    sys.stderr = open(smk.log[0], "a")  # tracebacks go to the rule's log too
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
    archs = {"baseline": smk.input.baseline[0], "main": smk.input.main[0], "overhead": smk.input.overhead[0]}
    rows = write_area(archs, smk.params.adders, smk.output.csv)
    logging.info("area: %s", rows)


main(snakemake)  # noqa: F821
