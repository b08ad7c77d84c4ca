"""Rule build_ert: the ERT and ART of one accelerator that ships no ERT, each written atomically."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.jobs import run_ert_job
from fusionsim.workflow.paths import resolve_files


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    files = resolve_files(smk.input, smk.params.files, smk.scriptdir)  # `{workflow}/...` params resolved
    record = run_ert_job(
        arch=files["arch"],
        components=list(files["components"]),
        technology=smk.params.technology,
        backend=smk.params.backend,
        outputs={"ert": smk.output.ert, "art": smk.output.art},
    )
    logging.info("built ERT of %s (key %s): %s", smk.wildcards.accel, smk.params.key, record)


main(snakemake)  # noqa: F821
