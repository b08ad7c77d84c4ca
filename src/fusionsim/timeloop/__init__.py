"""The Timeloop side of fusionsim: reading real Timeloop v1.0 outputs (stats.txt) into `EvalResult`."""

from fusionsim.timeloop.stats_reader import parse_stats, read_stats

__all__ = ["parse_stats", "read_stats"]
