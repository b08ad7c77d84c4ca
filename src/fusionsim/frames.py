"""Tables as pandas DataFrames, written atomically as CSV (`DataFrame.to_csv`) and Markdown (`to_markdown`,
tabulate's pipe tables): the one place where the pipeline's tables get their text form."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from fusionsim.atomic_io import write_text


def compact(v: float) -> str:
    """res.csv's number format: an integral float as an integer, any other with at most 6 decimals and no
    trailing zeros (12.5, not 12.500000)."""
    return str(int(v)) if v.is_integer() else f"{v:.6f}".rstrip("0")


def csv_text(
    frame: pd.DataFrame,
    float_format: str | Callable[[float], str] | None = compact,
    na_rep: str = "",
    header: bool = True,
) -> str:
    """CSV text of `frame` (no index, `\\n` line ends); float columns through `float_format`."""
    return frame.to_csv(
        index=False, header=header, lineterminator="\n", float_format=float_format, na_rep=na_rep
    )


def markdown_text(
    frame: pd.DataFrame, float_format: Callable[[float], str] | None = None, na_rep: str = "", **tabulate: Any
) -> str:
    """A Markdown pipe table of `frame` (no index). With `float_format` the float cells read exactly as in the
    CSV (numeric columns right-aligned); else `tabulate` options (e.g. `floatfmt`) format them."""
    if float_format is not None:
        align = ["right" if frame[c].dtype.kind in "iuf" else "left" for c in frame.columns]
        floats = [c for c in frame.columns if frame[c].dtype.kind == "f"]
        frame = frame.assign(**{c: frame[c].map(float_format, na_action="ignore") for c in floats})
        tabulate = {"disable_numparse": True, "colalign": align, **tabulate}
    return frame.to_markdown(index=False, tablefmt="pipe", missingval=na_rep, **tabulate) + "\n"


def format_columns(frame: pd.DataFrame, formats: Mapping[str, str]) -> pd.DataFrame:
    """`frame` with the columns named in `formats` as text (`format(value, spec)`), e.g. {"cycles": ".0f"}."""
    return frame.assign(**{c: frame[c].map(f"{{:{spec}}}".format) for c, spec in formats.items()})


def write_csv(frame: pd.DataFrame, path: str | os.PathLike, **fmt: Any) -> Path:
    """Write `frame` as CSV atomically (`csv_text` options)."""
    return write_text(path, csv_text(frame, **fmt))


def write_markdown(frame: pd.DataFrame, path: str | os.PathLike, **tabulate: Any) -> Path:
    """Write `frame` as a Markdown table atomically (`markdown_text` options)."""
    return write_text(path, markdown_text(frame, **tabulate))


def records_frame(rows: Iterable[Mapping[str, Any]], default_columns: Iterable[str] = ()) -> pd.DataFrame:
    """Records (dicts) as a DataFrame: columns in first-seen order, values kept as the Python objects they
    are (an int column with gaps stays ints), list/tuple/dict cells as JSON; `default_columns` when empty."""
    as_cell = lambda v: json.dumps(v) if isinstance(v, list | tuple | dict) else v  # noqa: E731
    cells = [{k: as_cell(v) for k, v in r.items()} for r in rows]
    return pd.DataFrame(cells, dtype=object) if cells else pd.DataFrame(columns=list(default_columns))
