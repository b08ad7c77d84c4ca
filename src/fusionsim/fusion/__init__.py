"""Fusion-tiling search over per-layer, per-tile cost tables (DeepFrack-compatible and exact)."""
