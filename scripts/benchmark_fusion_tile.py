"""Rule benchmark_fusion_tile: map one content-keyed tile problem under one dataflow type's DRAM rule; writes
problem.yaml, mapper.yaml, mapping.yaml, stats.json, stats.txt, then result.json (energy, cycles, MACs,
per-level pJ) last, each atomically, into the cache folder of that key."""

import logging

from fusionsim.rule_log import log_to
from fusionsim.workflow import run_fusion_tile_job


def main(smk) -> None:
    log_to(smk.log[0])  # logging records and tracebacks go to the rule's log
    tile = smk.params.tile
    result = run_fusion_tile_job(
        key=smk.wildcards.key,
        problem=tile["problem"],
        dram_keep=tile["dram_keep"],
        mapper=tile["mapper"],
        arch=smk.input.arch,
        ert=smk.input.ert,
        constraints=list(smk.input.constraints),
        components=tile["components"] or None,
        dram=tile["dram"],
        engine=smk.params.engine,
        seed=smk.params.seed,
        out_dir=smk.output.result.rsplit("/", 1)[0],
        threads=smk.threads,
    )
    logging.info(
        "tile %s: %.6g uJ, %.6g cycles, %.3f s",
        smk.wildcards.key,
        result["energy_uJ"],
        result["cycles"],
        result["seconds"],
    )


main(snakemake)  # noqa: F821
