"""Design-space sweeps: parametric accelerators (Jinja2 templates), sweep plans and Pareto fronts."""
