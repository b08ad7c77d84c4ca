"""The one exception type for bad user input; the CLI turns it into one stderr line and exit code 2."""

from __future__ import annotations


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
            parts.append(f"key '{self.key}'")
        head = ": ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.fix:
            text += f" (fix: {self.fix})"
        return " ".join(text.split())
