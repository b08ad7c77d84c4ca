"""Rules map_layer and sweep_map_layer: write one content-keyed layer problem and its mapper settings, run the
mapper on them; writes problem.yaml, mapper.yaml, mapping.yaml, stats.json, stats.txt and run.json (mapper
effort and time) atomically into the cache folder of that key. With the rule param `unmappable_is_result`
(sweep_map_layer) a layer no mapping fits is written as an invalid result instead of failing the job."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.jobs import run_map_job
from fusionsim.workflow.paths import resolve_files


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    run = run_map_job
    if getattr(smk.params, "unmappable_is_result", False):
        from fusionsim.sweeps.jobs import run_sweep_map_job as run
    # files of the workflow folder come as `{workflow}/...` params (fusionsim.workflow.paths), the rest as inputs
    files = resolve_files(smk.input, {**getattr(smk.params, "files", {}), "dir": smk.params.components},
                          smk.scriptdir)
    record = run(
        problem=smk.params.problem,
        mapper=smk.params.mapper,
        arch=files["arch"],
        ert=files["ert"],
        constraints=list(files["constraints"]),
        components=files["dir"] or None,
        outputs=dict(smk.output.items()),
        key=smk.wildcards.key,
        engine=smk.params.engine,
        seed=smk.params.seed,
        threads=smk.threads,
    )
    logging.info("mapped %s: %s", smk.wildcards.key, record)


main(snakemake)  # noqa: F821
