"""Rule map_layer: run the mapper on one content-keyed layer problem; writes mapping.yaml, stats.json,
stats.txt and run.json (mapper effort and time) atomically into the cache folder of that key."""

import logging

from fusionsim.workflow import run_map_job


def main(smk) -> None:
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
    record = run_map_job(
        problem=smk.input.problem,
        mapper=smk.input.mapper,
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
