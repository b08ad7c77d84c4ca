"""Rule fused_block: one ARCHON fused block's pred_decom/pred_conv/main/overhead energy and cycles (JSON)
from its three layer jobs' engine results and the block's shape and prediction parameters."""

import logging
import sys

from fusionsim.archon.pipeline import write_fused_block


def main(smk) -> None:
    sys.stderr = open(smk.log[0], "a")  # tracebacks go to the rule's log too
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
    costs = write_fused_block(
        smk.input.decom, smk.input.conv, smk.input.main, dict(smk.params.block), smk.output[0]
    )
    logging.info("wrote %s: %s", smk.output[0], costs.row())


main(snakemake)  # noqa: F821
