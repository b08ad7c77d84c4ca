"""Snakemake logger plugin `fusionsim` (`logger: [fusionsim]` in profiles/local): Snakemake's own filter and
formatter, minus the per-job blocks of a real run, with progress every 10% (fusionsim.console.ProgressGate)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from logging import LogRecord

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.settings import LogHandlerSettingsBase

from fusionsim.console import ProgressGate


@dataclass
class LogHandlerSettings(LogHandlerSettingsBase):
    """`--logger-fusionsim-step N`: print the progress line every N percent."""

    step: int = field(default=10, metadata={"help": "Print the progress line every N percent.", "type": int})


class LogHandler(LogHandlerBase):
    """Writes what ProgressGate keeps, formatted by Snakemake's default formatter, to Snakemake's stream."""

    def __post_init__(self) -> None:
        cs = self.common_settings
        step = getattr(self.settings, "step", 10) if self.settings is not None else 10
        self.gate = ProgressGate(bool(cs.dryrun), step or 10, bool(cs.printshellcmds))
        self.stream = sys.stdout if getattr(cs, "stdout", False) else sys.stderr

    def emit(self, record: LogRecord) -> None:
        if not self.gate.keep(record):
            return
        try:
            text = self.format(record)
            if text:
                self.stream.write(text + "\n")
                self.stream.flush()
        except Exception:  # noqa: BLE001 - logging must never stop the run
            self.handleError(record)

    @property
    def writes_to_stream(self) -> bool:
        return True

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return False  # Snakemake's default filter (quiet, printshellcmds) applies first

    @property
    def has_formatter(self) -> bool:
        return False  # Snakemake's default formatter

    @property
    def needs_rulegraph(self) -> bool:
        return False
