"""The native per-layer cost model (Timeloop v1.0 semantics)."""
