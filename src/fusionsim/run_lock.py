"""One run per output folder: an exclusive lock file inside the folder itself, so two runs started from
different working folders (each with its own .snakemake lock) cannot write, and clean up, the same results."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import IO

from fusionsim.errors import InputError

LOCK_NAME = ".fusionsim-run.lock"
_HELD: dict[str, IO[str]] = {}  # absolute output folder -> the open lock file (the lock lives as long as it)


def acquire(out_dir: str | os.PathLike, config_file: object = "config.yaml") -> Path:
    """Lock `<out_dir>/.fusionsim-run.lock` for this process (released at exit, even on kill -9: it is an
    flock); InputError naming the holder when another run has it. Re-acquiring in the same process is a no-op."""
    out = Path(out_dir).resolve()
    key = str(out)
    if key in _HELD:
        return out / LOCK_NAME
    try:
        out.mkdir(parents=True, exist_ok=True)
        fh = open(out / LOCK_NAME, "a+")  # noqa: SIM115 - held open for the process's life
    except OSError as exc:
        raise InputError(f"cannot create the output folder ({exc.strerror})", file=config_file, key="output_dir",
                         fix="pick a writable output_dir") from None
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        try:
            h = json.loads(fh.read() or "{}")
            holder = f"the run of pid {h['pid']} on {h['host']} (started {h['started']} in {h['cwd']})"
        except (ValueError, KeyError, TypeError):
            holder = "another run"
        fh.close()
        raise InputError(f"output folder {out} is in use by {holder}", file=config_file, key="output_dir",
                         fix="wait for that run to finish, or set another output_dir") from None
    fh.seek(0)
    fh.truncate()
    fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "cwd": os.getcwd(),
                         "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n")
    fh.flush()
    _HELD[key] = fh
    return out / LOCK_NAME


def release(out_dir: str | os.PathLike) -> None:
    """Drop the lock taken by `acquire` (the file stays; only the flock matters)."""
    fh = _HELD.pop(str(Path(out_dir).resolve()), None)
    if fh is not None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()


def acquire_or_exit(out_dir: str | os.PathLike, config_file: object = "config.yaml") -> None:
    """`acquire` for the Snakefile's onstart: on a held lock print the one line and exit 2 before any job runs."""
    try:
        acquire(out_dir, config_file)
    except InputError as exc:
        time.sleep(0.2)  # let Snakemake's logging thread write its queued lines first
        sys.stderr.write(f"fusionsim: error: {exc.line()}\n")  # one write: no other line can split it
        sys.stderr.flush()
        sys.exit(2)
