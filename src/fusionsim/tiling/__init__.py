"""Tile geometry: tile enumeration and halo back-propagation through stacks of layers."""
