"""Rule prune_network: a compact network's Keras model pruned by weight magnitude to the target sparsity
(fine-tuned on the configured dataset, or the untrained network labelled magnitude-untrained); writes the
stripped .h5 and its label JSON. The only script that loads TensorFlow (envs/sparsity.yaml)."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.archon_jobs import prune_network
from fusionsim.workflow.paths import resolve_files


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    files = resolve_files(smk.input, smk.params.files, smk.scriptdir)  # `{workflow}/...` params resolved
    record = prune_network(
        files["workload"],
        smk.params.dataset,
        smk.output.model,
        smk.params.sparsity,
        files.get("data"),
        smk.params.epochs,
        smk.params.seed,
    )
    logging.info("pruned %s: %s", smk.output.model, record)


main(snakemake)  # noqa: F821
