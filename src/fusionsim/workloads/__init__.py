"""Workloads: network definitions (YAML) to layers to Timeloop problems."""

from fusionsim.workloads.network import (
    BOTTLENECK_ROLES,
    LAYER_KINDS,
    Layer,
    Network,
    expand_network,
    find_layer,
    load_network,
)
from fusionsim.workloads.problem import layer_problem, problem_instance, problem_yaml

__all__ = [
    "BOTTLENECK_ROLES",
    "LAYER_KINDS",
    "Layer",
    "Network",
    "expand_network",
    "find_layer",
    "layer_problem",
    "load_network",
    "problem_instance",
    "problem_yaml",
]
