"""Rule fused_block: one ARCHON fused block's pred_decom/pred_conv/main/overhead energy and cycles (JSON)
from its three layer jobs' engine results and the block's shape and prediction parameters."""

import logging

from fusionsim.archon.pipeline import write_fused_block
from fusionsim.rule_log import log_to


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    costs = write_fused_block(
        smk.input.decom, smk.input.conv, smk.input.main, dict(smk.params.block), smk.output[0]
    )
    logging.info("wrote %s: %s", smk.output[0], costs.row())


main(snakemake)  # noqa: F821
