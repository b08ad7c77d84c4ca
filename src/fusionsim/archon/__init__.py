"""ARCHON and predictive layer fusion: fused-block costs, the three-accelerator tables, plots and area."""
