"""Rule write_comparison: one (network, dataset)'s res.csv, res_summary.csv, result.csv (+ .md), per-block
plots and totals.json with dense, sparse and ARCHON columns."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.archon_jobs import write_comparison
from fusionsim.workflow.map_batches import job_files


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    files = job_files(smk.input, dict(smk.params.cached))  # layer results come from the cache (params)
    inputs = {k: (list(v) if k != "sparse" else v) for k, v in files.items()}
    totals = write_comparison(
        inputs,
        dict(smk.params.tables),
        smk.output.totals.rsplit("/", 1)[0],
        smk.params.sigma,
        smk.params.index_bits,
    )
    logging.info("totals: %s", totals)


main(snakemake)  # noqa: F821
