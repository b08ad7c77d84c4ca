"""Rule write_layer_table: the layers of one (network, dataset) with their Timeloop problem sizes, as CSV."""

import logging

from fusionsim.workflow import write_layer_table


def main(smk) -> None:
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
    write_layer_table(smk.input.workload, smk.params.dataset, list(smk.params.layers), smk.output[0])
    logging.info("wrote %s", smk.output[0])


main(snakemake)  # noqa: F821
