"""Workloads: network definitions (YAML) to layers to Timeloop problems."""

from fusionsim.workloads.network import (
    BOTTLENECK_ROLES,
    LAYER_KINDS,
    Layer,
    Network,
    NetworkGraph,
    expand_network,
    find_layer,
    load_network,
    network_graph,
)
from fusionsim.workloads.problem import layer_problem, problem_instance, problem_yaml

__all__ = [
    "BOTTLENECK_ROLES",
    "LAYER_KINDS",
    "Layer",
    "Network",
    "NetworkGraph",
    "expand_network",
    "find_layer",
    "layer_problem",
    "load_network",
    "network_graph",
    "problem_instance",
    "problem_yaml",
]
