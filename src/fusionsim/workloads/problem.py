"""Convert a `Layer` into a Timeloop `CNN-Layer` problem (the dict behind a problem YAML)."""

from __future__ import annotations

from typing import Any

import yaml

from fusionsim.workloads.network import Layer

DIMENSIONS = ["C", "M", "R", "S", "N", "P", "Q"]


def _shape() -> dict[str, Any]:
    """Timeloop's CNN-Layer shape: dimensions, stride/dilation coefficients, three data-spaces."""
    return {
        "name": "CNN-Layer",
        "dimensions": list(DIMENSIONS),
        "coefficients": [
            {"name": "Wstride", "default": 1},
            {"name": "Hstride", "default": 1},
            {"name": "Wdilation", "default": 1},
            {"name": "Hdilation", "default": 1},
        ],
        "data-spaces": [
            {"name": "Weights", "projection": [[["C"]], [["M"]], [["R"]], [["S"]]]},
            {
                "name": "Inputs",
                "projection": [
                    [["N"]],
                    [["C"]],
                    [["R", "Wdilation"], ["P", "Wstride"]],
                    [["S", "Hdilation"], ["Q", "Hstride"]],
                ],
            },
            {"name": "Outputs", "projection": [[["N"]], [["M"]], [["Q"]], [["P"]]], "read-write": True},
        ],
    }


def problem_instance(layer: Layer) -> dict[str, int]:
    """The instance sizes of one per-group problem for `layer`.

    Grouped conv/pointwise/fc layers are one group's problem (C/G, M/G); the cost is multiplied by
    `layer.groups` downstream. Depthwise and pooling layers are a C=1 conv with M filters (the seed's
    convention: one input channel broadcast to all filters), their real channel count kept in `layer.channels`.
    R, P and Wstride run along the width, S, Q and Hstride along the height (Timeloop's CNN-Layer).
    """
    if layer.kind in ("depthwise", "pool"):
        c, m = 1, layer.out_channels
    else:
        c, m = layer.in_channels // layer.groups, layer.out_channels // layer.groups
    return {
        "C": c,
        "M": m,
        "R": layer.kernel,
        "S": layer.kernel_h,
        "N": 1,
        "P": layer.out_size,
        "Q": layer.out_h,
        "Wstride": layer.stride,
        "Hstride": layer.stride_h,
        "Wdilation": layer.dilation,
        "Hdilation": layer.dilation_h,
    }


def layer_problem(layer: Layer) -> dict[str, Any]:
    """The full Timeloop problem dict `{"problem": {"shape": ..., "instance": ...}}` for `layer`."""
    return {"problem": {"shape": _shape(), "instance": problem_instance(layer)}}


def problem_yaml(layer: Layer) -> str:
    """`layer_problem` as YAML text (stable key order, so equal layers give byte-equal files)."""
    return yaml.safe_dump(layer_problem(layer), sort_keys=True, default_flow_style=None)
