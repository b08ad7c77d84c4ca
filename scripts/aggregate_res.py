"""Rule aggregate_res: res.csv of one (network, dataset, accelerator) from its per-layer stats.json files,
in the seed's result.csv layout (energy in uJ, cycles)."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.paths import resolve_files
from fusionsim.workflow.tables import write_network_res


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    rows = write_network_res(
        resolve_files(smk.input, smk.params.workload, smk.scriptdir)["workload"],
        smk.params.dataset,
        list(smk.params.layers),
        list(smk.params.stats),
        list(smk.params.dw_levels),
        smk.output[0],
    )
    logging.info("wrote %s: total %s", smk.output[0], rows.iloc[-1].to_dict())


main(snakemake)  # noqa: F821
