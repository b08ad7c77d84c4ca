"""Atomic file writes (temp file in the same folder, then rename) so a killed run never leaves half a file."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fusionsim.errors import InputError


def file_mode() -> int:
    """The mode a plain `open(path, "w")` would give a new file (0666 minus the umask; 0644 by default), so
    results shared with a group stay readable (mkstemp alone makes them 0600)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no /proc: read the umask by setting it (and put it back at once)
    os.umask(mask)
    return 0o666 & ~mask


def mkstemp_keep_umask(path: Path, suffix: str = ".tmp") -> tuple[int, str]:
    """A temp file beside `path` (for write-then-rename) whose mode follows the umask, as its final file's."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.fchmod(fd, file_mode())
    return fd, tmp


def check_out_dir(path: str | os.PathLike, key: str = "--out") -> Path:
    """Fail with one line, before any work, when `path` cannot become a writable output folder: it is a file,
    a parent is a file, or the place is read-only (/sys, /proc, no permission). Writes nothing that stays."""
    path = Path(path)
    probe = path
    while not probe.exists():
        if probe.is_symlink():
            raise InputError("is a dangling symbolic link", file=probe, key=key, fix="remove it or pick another folder")
        probe = probe.parent
    if not probe.is_dir():
        what = "is a file, not a folder" if probe == path else f"is under {probe}, which is a file, not a folder"
        raise InputError(what, file=path, key=key, fix="pick an output folder that is not inside a file")
    try:
        tmp = tempfile.mkdtemp(prefix=".fusionsim-probe-", dir=probe)
        os.rmdir(tmp)
    except OSError as exc:
        reason = {errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
                  errno.EPERM: "permission denied",
                  errno.ENOENT: "the folder accepts no new files"}.get(exc.errno, exc.strerror or "not writable")
        raise InputError(f"cannot write here ({reason} at {probe})", file=path, key=key,
                         fix="pick a writable output folder") from None
    return path


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
    fd, tmp = mkstemp_keep_umask(path)
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
