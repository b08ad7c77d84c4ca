"""Rules map_layer_batch and sweep_map_batch: map a batch of content-keyed layers in one process; each key's
problem.yaml, mapper.yaml, mapping.yaml, stats.json, stats.txt and run.json go atomically into its cache folder
(a key already complete there is reused), then the batch's results.json (every key's run record) is written
last. With the rule param `unmappable_is_result` (sweep_map_batch) a layer no mapping fits is written as an
invalid result instead of failing the job."""

import logging
from pathlib import Path

from fusionsim.rule_log import log_to
from fusionsim.workflow.jobs import run_map_job
from fusionsim.workflow.map_batches import run_map_batch
from fusionsim.workflow.paths import resolve


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    workflow_dir = Path(smk.scriptdir).parent  # `{workflow}/...` references resolve against it
    map_one = run_map_job
    if getattr(smk.params, "unmappable_is_result", False):
        from fusionsim.sweeps.jobs import run_sweep_map_job as map_one
    body = run_map_batch(
        smk.params.layers,
        smk.output.results,
        map_one,
        lambda ref: resolve(ref, workflow_dir),
        engine=smk.params.engine,
        seed=smk.params.seed,
        threads=smk.threads,
    )
    logging.info("batch %s: %d keys (%d reused), %.3f s", smk.wildcards.batch, body["keys"], body["reused"],
                 body["seconds"])  # fmt: skip


main(snakemake)  # noqa: F821
