"""Where a Snakemake rule's script writes: its `log:` file gets the logging records and any traceback."""

from __future__ import annotations

import logging
import os
import sys


def log_to(path: str) -> None:
    """Send logging (INFO, timestamped), stderr (hence tracebacks) and stdout to the rule's log file, at the file
    descriptor level too, so native libraries (TensorFlow's C++ logging, Keras progress bars) do not reach the
    console."""
    log = open(path, "a")  # noqa: SIM115 - stays open for the script's lifetime
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    for fd in (1, 2):
        try:
            os.dup2(log.fileno(), fd)
        except OSError:  # no such descriptor (embedded interpreter): Python-level redirection below still holds
            pass
    sys.stdout = sys.stderr = log
    logging.basicConfig(filename=path, level=logging.INFO, format="%(asctime)s %(message)s")
