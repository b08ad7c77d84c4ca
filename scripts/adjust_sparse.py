"""Rule adjust_sparse: the sparse baseline of one compact network's bottleneck layers (per-layer weight
sparsity, per-PE imbalance, sparse cycles and energy) from its pruned model and dense layer jobs, or (with
`sparsity.pe_work`) the sparse cycles from given per-PE non-zero work files."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow.archon_jobs import write_sparse_layers, write_sparse_layers_from_pe_work
from fusionsim.workflow.paths import resolve_files


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    files = resolve_files(smk.input, smk.params.files, smk.scriptdir)  # `{workflow}/...` params resolved
    if "pe_work" in files:  # sparsity.pe_work: given per-PE non-zero work, no pruned model
        rows = write_sparse_layers_from_pe_work(
            list(smk.params.layers), list(smk.params.groups), list(files["pe_work"]), smk.output[0]
        )
        logging.info("wrote %s from per-PE work files: %d layers", smk.output[0], len(rows))
        return
    rows = write_sparse_layers(
        files["model"],
        files["workload"],
        smk.params.dataset,
        list(smk.params.layers),
        list(smk.params.cached["stats"]),  # layer results come from the cache (params)
        list(smk.params.cached["mappings"]),
        smk.params.energy_model,
        smk.output[0],
    )
    logging.info("wrote %s: %d layers", smk.output[0], len(rows))


main(snakemake)  # noqa: F821
