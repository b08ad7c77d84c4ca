"""Rule build_ert: the ERT and ART of one accelerator that ships no ERT, each written atomically."""

import logging
import sys

from fusionsim.workflow import run_ert_job


def main(smk) -> None:
    sys.stderr = open(smk.log[0], "a")  # tracebacks go to the rule's log too
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
    record = run_ert_job(
        arch=smk.input.arch,
        components=list(smk.input.components),
        technology=smk.params.technology,
        backend=smk.params.backend,
        outputs={"ert": smk.output.ert, "art": smk.output.art},
    )
    logging.info("built ERT of %s (key %s): %s", smk.wildcards.accel, smk.params.key, record)


main(snakemake)  # noqa: F821
