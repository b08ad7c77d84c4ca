"""Where a Snakemake rule's script writes: its `log:` file gets the logging records and any traceback."""

from __future__ import annotations

import logging
import sys


def log_to(path: str) -> None:
    """Send logging (INFO, timestamped) and stderr, hence tracebacks, to the rule's log file."""
    sys.stderr = open(path, "a")  # noqa: SIM115 - stays open for the script's lifetime
    logging.basicConfig(filename=path, level=logging.INFO, format="%(asctime)s %(message)s")
