"""Atomic file writes (temp file in the same folder, then rename) so a killed run never leaves half a file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_SYNC = [True]


@contextmanager
def without_fsync() -> Iterator[None]:
    """Writes inside stay atomic (temp file, then rename) but skip the fsync: for a job that writes hundreds of
    small cache files whose reader recomputes any it cannot parse (fsync costs ~6 ms a file here)."""
    old = _SYNC[0]
    _SYNC[0] = False
    try:
        yield
    finally:
        _SYNC[0] = old


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` atomically, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            if _SYNC[0]:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write `data` as indented JSON atomically."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")
