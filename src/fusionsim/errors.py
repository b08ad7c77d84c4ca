"""The one exception type for bad user input; the CLI turns it into one stderr line and exit code 2."""

from __future__ import annotations

import re

_LONG_WORD = re.compile(r"\S{241,}")


MAX_MESSAGE = 1000
"""Longest message part of the one error line: a value echoed from a hostile input is cut, not printed whole."""


class InputError(Exception):
    """Bad input: says which file and key are wrong and how to fix it, in one line."""

    def __init__(self, message: str, *, file: object = None, key: str | None = None, fix: str | None = None):
        self.message, self.file, self.key, self.fix = message, file, key, fix
        super().__init__(self.line())

    def line(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(str(self.file))
        if self.key:
            key = self.key if len(self.key) <= 120 else self.key[:120] + "..."
            parts.append(f"key '{key}'")
        head = ": ".join(parts)
        message = _LONG_WORD.sub(lambda m: m.group(0)[:100] + "...", self.message)  # echoed hostile values
        message = message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + "..."
        text = f"{head}: {message}" if head else message
        if self.fix:
            text += f" (fix: {self.fix})"
        return " ".join(text.split())
