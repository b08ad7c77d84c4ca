"""Rule benchmark_fusion_tiles: map a batch of content-keyed tiles (a few widths of one layer shape, every
dataflow type) in one process; each tile's files go to the tile store (reused when already there), and the
batch's results.json (every tile's energy, cycles, MACs, per-level pJ) is written last, atomically."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.fusion_tiling_jobs import run_fusion_tile_batch
from fusionsim.workflow.paths import resolve_files


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    batch = smk.params.batch
    # files of the workflow folder come as `{workflow}/...` params (fusionsim.workflow.paths), the rest as inputs
    files = resolve_files(smk.input, {**batch["files"], "dir": batch["components"]}, smk.scriptdir)
    body = run_fusion_tile_batch(
        tiles=batch["tiles"],
        mapper=batch["mapper"],
        arch=files["arch"],
        ert=files["ert"],
        constraints=list(files["constraints"]),
        components=files["dir"] or None,
        dram=batch["dram"],
        engine=smk.params.engine,
        seed=smk.params.seed,
        store=batch["store"],
        out=smk.output.results,
        threads=smk.threads,
    )
    logging.info(
        "batch %s: %d tiles (%d reused), %.3f s",
        smk.wildcards.batch,
        body["tiles"],
        body["reused"],
        body["seconds"],
    )


main(snakemake)  # noqa: F821
