"""Rule write_area_table: area (um^2) of the dense baseline and of ARCHON (main arch plus overhead units)
from their arches' area tables, as CSV and Markdown."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.archon_jobs import write_area
from fusionsim.workflow.paths import resolve_files


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    files = resolve_files(smk.input, smk.params.files, smk.scriptdir)  # `{workflow}/...` params resolved
    archs = {role: files[role][0] for role in ("baseline", "main", "overhead")}
    rows = write_area(archs, smk.params.adders, smk.output.csv)
    logging.info("area: %s", rows)


main(snakemake)  # noqa: F821
