"""Rule sweep_map_layer: one layer problem on one sweep variant (an unmappable layer is written as invalid)."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.sweeps.jobs import run_sweep_map_job


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    record = run_sweep_map_job(
        problem=smk.params.problem,
        mapper=smk.params.mapper,
        arch=smk.input.arch,
        ert=smk.input.ert,
        constraints=list(smk.input.constraints),
        components=smk.params.components or None,
        outputs=dict(smk.output.items()),
        key=smk.wildcards.key,
        engine=smk.params.engine,
        seed=smk.params.seed,
        threads=smk.threads,
    )
    logging.info("mapped %s: %s", smk.wildcards.key, record)


main(snakemake)  # noqa: F821
