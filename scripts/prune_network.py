"""Rule prune_network: a compact network's Keras model pruned by weight magnitude to the target sparsity
(fine-tuned on the configured dataset, or the untrained network labelled magnitude-untrained); writes the
stripped .h5 and its label JSON. The only script that loads TensorFlow (envs/sparsity.yaml)."""

import logging
import sys

from fusionsim.archon.pipeline import prune_network


def main(smk) -> None:
    sys.stderr = open(smk.log[0], "a")  # tracebacks go to the rule's log too
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
    record = prune_network(
        smk.input.workload,
        smk.params.dataset,
        smk.output.model,
        smk.params.sparsity,
        dict(smk.input.items()).get("data"),
        smk.params.epochs,
        smk.params.seed,
    )
    logging.info("pruned %s: %s", smk.output.model, record)


main(snakemake)  # noqa: F821
