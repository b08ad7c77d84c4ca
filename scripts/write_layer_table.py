"""Rule write_layer_table: the layers of one (network, dataset) with their Timeloop problem sizes, as CSV."""

import logging
import sys

from fusionsim.workflow import write_layer_table


def main(smk) -> None:
    sys.stderr = open(smk.log[0], "a")  # tracebacks go to the rule's log too
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
    write_layer_table(smk.input.workload, smk.params.dataset, list(smk.params.layers), smk.output[0])
    logging.info("wrote %s", smk.output[0])


main(snakemake)  # noqa: F821
