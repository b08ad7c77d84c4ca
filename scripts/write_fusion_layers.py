"""Rule write_fusion_layers: a network's fusion layers (one Timeloop problem YAML per conv, numbered in order,
and graph.json with the residual edges), written whole into a scratch folder and renamed into place."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.fusion_tiling_jobs import write_fusion_layers
from fusionsim.workflow.paths import resolve_files


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    paths = write_fusion_layers(
        resolve_files(smk.input, smk.params.workload, smk.scriptdir)["workload"], smk.params.dataset, list(smk.params.layers), smk.output[0]
    )
    logging.info("wrote %d fusion layers of %s (%s)", len(paths), smk.wildcards.net, smk.params.dataset)


main(snakemake)  # noqa: F821
