"""Rule write_final_table: final.csv/.md (per network and dataset: cycles and energy on the dense baseline,
the sparse baseline and ARCHON, speedups and energy ratios), final_vs_reference.csv/.md (against the published
totals the comparisons file states) and the speedup plot."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.archon_jobs import write_final


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    rows = write_final(list(smk.input.totals), smk.output.csv.rsplit("/", 1)[0], dict(smk.params.references))
    logging.info("final table: %s", rows)


main(snakemake)  # noqa: F821
