"""Spec readers: Timeloop arch, problem, constraints, mapper, mapping and Accelergy ERT files."""
