"""Rule write_comparison: one (network, dataset)'s res.csv, res_summary.csv, result.csv (+ .md), per-block
plots and totals.json with dense, sparse and ARCHON columns."""

import logging
import sys

from fusionsim.archon.pipeline import write_comparison


def main(smk) -> None:
    sys.stderr = open(smk.log[0], "a")  # tracebacks go to the rule's log too
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
    inputs = {k: (list(v) if k not in ("sparse",) else v) for k, v in smk.input.items()}
    totals = write_comparison(
        inputs,
        dict(smk.params.tables),
        smk.output.totals.rsplit("/", 1)[0],
        smk.params.sigma,
        smk.params.index_bits,
    )
    logging.info("totals: %s", totals)


main(snakemake)  # noqa: F821
