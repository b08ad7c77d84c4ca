"""Rule aggregate_res: res.csv of one (network, dataset, accelerator) from its per-layer stats.json files,
in the seed's result.csv layout (energy in uJ, cycles)."""

import logging
import sys

from fusionsim.workflow import write_network_res


def main(smk) -> None:
    sys.stderr = open(smk.log[0], "a")  # tracebacks go to the rule's log too
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
    rows = write_network_res(
        smk.input.workload,
        smk.params.dataset,
        list(smk.params.layers),
        list(smk.input.stats),
        list(smk.params.dw_levels),
        smk.output[0],
    )
    logging.info("wrote %s: total %s", smk.output[0], rows[-1])


main(snakemake)  # noqa: F821
