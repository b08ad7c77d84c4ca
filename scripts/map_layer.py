"""Rule map_layer: write one content-keyed layer problem and its mapper settings, run the mapper on them;
writes problem.yaml, mapper.yaml, mapping.yaml, stats.json, stats.txt and run.json (mapper effort and
time) atomically into the cache folder of that key."""

import logging
import sys

from fusionsim.workflow import run_map_job


def main(smk) -> None:
    sys.stderr = open(smk.log[0], "a")  # tracebacks go to the rule's log too
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
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
