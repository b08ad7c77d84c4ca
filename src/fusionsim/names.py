"""The one gate through which a user-given name (a layer, a model, a network) becomes part of a path."""

from __future__ import annotations

import re

from fusionsim.errors import InputError

SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,200}")
"""Letters, digits, `_`, `.` and `-` (and not `.` or `..`): cannot leave the folder it is joined to."""


def is_safe_name(name: object) -> bool:
    """True when `name` can be used as one path component as is."""
    return isinstance(name, str) and SAFE_NAME.fullmatch(name) is not None and name not in (".", "..")


def safe_name(name: object, *, file: object = None, key: str | None = None) -> str:
    """`name` when it is a safe path component; else an InputError naming file and key."""
    if not is_safe_name(name):
        raise InputError(
            f"name {str(name)[:80]!r} cannot be used as a file name", file=file, key=key,
            fix="use only letters, digits, '_', '.' and '-' (not '.' or '..', at most 200 characters)",
        )
    return str(name)
