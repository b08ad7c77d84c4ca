"""Rule map_layer: write one content-keyed layer problem and its mapper settings, run the mapper on them;
writes problem.yaml, mapper.yaml, mapping.yaml, stats.json, stats.txt and run.json (mapper effort and
time) atomically into the cache folder of that key."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.jobs import run_map_job


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    record = run_map_job(
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
