"""Rule write_final_table: final.csv/.md (per network and dataset: cycles and energy on the dense baseline,
the sparse baseline and ARCHON, speedups and energy ratios), final_vs_reference.csv/.md (against the published
totals the comparisons file states) and the speedup plot."""

import logging
import sys

from fusionsim.archon.pipeline import write_final


def main(smk) -> None:
    sys.stderr = open(smk.log[0], "a")  # tracebacks go to the rule's log too
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
    rows = write_final(list(smk.input.totals), smk.output.csv.rsplit("/", 1)[0], dict(smk.params.references))
    logging.info("final table: %s", rows)


main(snakemake)  # noqa: F821
