"""fusionsim: Timeloop-compatible accelerator cost model, mapper and layer-fusion search."""

__version__ = "0.1.0"

# Part of every cached layer job's key: bump when a change alters any number the engine, mapper or energy
# tables produce, so the pipeline recomputes exactly the results that depend on it.
MODEL_VERSION = "engine-3+timeloop-v1.0"
