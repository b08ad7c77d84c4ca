"""fusionsim: Timeloop-compatible accelerator cost model, mapper and layer-fusion search."""

__version__ = "0.1.0"
