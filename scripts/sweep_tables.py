"""Rule sweep_tables: points.csv, pareto.csv and pareto.png of one sweep."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.sweeps.pareto import write_sweep_tables


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    front = write_sweep_tables(
        sweep=smk.wildcards.sweep,
        rows=list(smk.params.rows),
        point_files=list(smk.input.points),
        art_files=dict(smk.params.arts),
        parameters=list(smk.params.parameters),
        fused_files=list(smk.input.fused),
        outputs={"points": smk.output.points, "pareto": smk.output.pareto, "plot": smk.output.plot},
    )
    logging.info("sweep %s: %d Pareto rows", smk.wildcards.sweep, len(front))


main(snakemake)  # noqa: F821
