"""Rule collect_fusion_costs: the cost tables of one (network, accelerator) from its tile jobs: the seed's
<TYPE>.json and <TYPE>/Layer<k>.json, <TYPE>_cycles.json, and our costs.json (written last), all atomic."""

import logging
import sys

from fusionsim.workflow import write_fusion_costs


def main(smk) -> None:
    sys.stderr = open(smk.log[0], "a")  # tracebacks go to the rule's log too
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
    folder = smk.output.costs.rsplit("/", 1)[0]
    tables = write_fusion_costs(smk.input.layers, list(smk.input.results), dict(smk.params.uses), folder)
    logging.info(
        "%s/%s: %d layers, %d jobs, %.1f job-seconds",
        smk.wildcards.net,
        smk.wildcards.accel,
        len(tables.layers),
        tables.jobs,
        tables.seconds,
    )


main(snakemake)  # noqa: F821
