"""Rule collect_layers: the per-layer folders of one (network, dataset, accelerator) -- problem.yaml, mapping.yaml,
stats.json and stats.txt of each layer, copied from its map job's cache folder -- written as a whole."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.jobs import collect_layers
from fusionsim.workflow.plan import COLLECTED


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    n = collect_layers([list(c) for c in smk.params.copies], smk.output[0], COLLECTED)
    logging.info("%s: %d layers", smk.output[0], n)


main(snakemake)  # noqa: F821
