"""Rule adjust_sparse: the sparse baseline of one compact network's bottleneck layers (per-layer weight
sparsity, per-PE imbalance, sparse cycles and energy) from its pruned model and dense layer jobs."""

import logging
import sys

from fusionsim.archon.pipeline import write_sparse_layers


def main(smk) -> None:
    sys.stderr = open(smk.log[0], "a")  # tracebacks go to the rule's log too
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
    rows = write_sparse_layers(
        smk.input.model,
        smk.input.workload,
        smk.params.dataset,
        list(smk.params.layers),
        list(smk.input.stats),
        list(smk.input.mappings),
        smk.params.energy_model,
        smk.output[0],
    )
    logging.info("wrote %s: %d layers", smk.output[0], len(rows))


main(snakemake)  # noqa: F821
