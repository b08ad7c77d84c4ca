"""A layer's Timeloop problem cut to one output tile: what the fusion-tiling benchmark maps per table entry and
the skip rules bound (a leaf module, so both can use it without importing each other)."""

from __future__ import annotations

import copy
from typing import Any

from fusionsim.errors import InputError


def tile_problem(problem: dict[str, Any], tile: int) -> dict[str, Any]:
    """The layer's problem with `P = Q = tile` (all output channels of a tile x tile patch)."""
    out = copy.deepcopy(problem)
    inst = out["problem"]["instance"]
    if tile > int(inst["P"]):
        raise InputError(f"tile width {tile} is wider than the layer (P={inst['P']})", key="problem.instance.P")
    inst["P"] = inst["Q"] = tile
    return out
