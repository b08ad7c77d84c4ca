"""Rule map_layer_batch: map a batch of content-keyed layers in one process; each key's problem.yaml,
mapper.yaml, mapping.yaml, stats.json, stats.txt and run.json go atomically into its cache folder (a key
already complete there is reused), then the batch's results.json (every key's run record) is written last."""

import logging
from pathlib import Path

from fusionsim.rule_log import log_to
from fusionsim.workflow.jobs import run_map_job
from fusionsim.workflow.map_batches import run_map_batch
from fusionsim.workflow.paths import resolve


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    workflow_dir = Path(smk.scriptdir).parent  # `{workflow}/...` references resolve against it
    body = run_map_batch(
        smk.params.layers,
        smk.output.results,
        run_map_job,
        lambda ref: resolve(ref, workflow_dir),
        engine=smk.params.engine,
        seed=smk.params.seed,
        threads=smk.threads,
    )
    logging.info("batch %s: %d keys (%d reused), %.3f s", smk.wildcards.batch, body["keys"], body["reused"],
                 body["seconds"])  # fmt: skip


main(snakemake)  # noqa: F821
