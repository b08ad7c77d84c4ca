"""Drop the SLURM executor plugin's account-guessing noise (the profile sets `slurm-no-account`).

snakemake-executor-plugin-slurm 2.8.0 never reads its `--slurm-no-account` flag: with no `slurm_account` it
runs `sacct ... | tail -1` without a shell (so sacct prints `invalid option -- '1'`) and logs three warnings
before submitting without -A, which is what `slurm-no-account` asks for anyway. A guessed account
("Guessed SLURM account: ...") and every other message still show."""

from __future__ import annotations

import logging

_NOISE = (
    "No SLURM account given, trying to guess",
    "No account was given, not able to get a SLURM account via sacct",
    "Unable to guess SLURM account",
)


class _DropAccountGuessing(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(_NOISE)


def install() -> None:
    """Filter the three warnings out of Snakemake's loggers (idempotent)."""
    for name in ("snakemake.logging", "snakemake"):
        log = logging.getLogger(name)
        if not any(isinstance(f, _DropAccountGuessing) for f in log.filters):
            log.addFilter(_DropAccountGuessing())
