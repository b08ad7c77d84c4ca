"""Random mappings of a layer onto an arch (any factorisation, permutation and spatial split within the
fanouts), used to test the batch engine against the scalar one and to benchmark it on distinct mappings.
The mapper's constrained mapspace lives in `fusionsim.mapper`; this sampler ignores constraints."""

from __future__ import annotations

import random

from fusionsim.mapper.factor import prime_factors
from fusionsim.spec.arch import Arch
from fusionsim.spec.mapping import LevelMapping, Loop, Mapping
from fusionsim.spec.problem import Problem


def _prime_factors(n: int) -> list[int]:
    """Prime factors of n with multiplicity, ascending."""
    return [p for p, e in prime_factors(n).items() for _ in range(e)]


def random_mapping(arch: Arch, problem: Problem, rng: random.Random, keep: list[frozenset[str]] | None = None,
                   spatial_prob: float = 0.5, level_weights: list[float] | None = None) -> Mapping:
    """One random mapping: each prime factor of each bound goes to a random level, spatially when it still
    fits that level's X or Y fanout; random permutations; `keep` per level (default: keep everything)."""
    nlev = len(arch.storage)
    temporal: list[dict[str, int]] = [{} for _ in range(nlev)]
    spatial: list[dict[str, tuple[int, str]]] = [{} for _ in range(nlev)]
    room = [list(arch.fanout_xy(i)) for i in range(nlev)]
    for dim, bound in zip(problem.dims, problem.bounds):
        for f in _prime_factors(bound):
            k = rng.choices(range(nlev), weights=level_weights)[0] if level_weights else rng.randrange(nlev)
            axis = rng.choice((0, 1))
            if rng.random() < spatial_prob and room[k][axis] % f == 0 and dim not in _other_axis(spatial[k], axis):
                room[k][axis] //= f
                b, _ = spatial[k].get(dim, (1, ""))
                spatial[k][dim] = (b * f, "XY"[axis])
            else:
                temporal[k][dim] = temporal[k].get(dim, 1) * f
    levels = []
    all_ds = frozenset(problem.dataspace_names())
    for k, lv in enumerate(arch.storage):
        t = [Loop(d, b) for d, b in temporal[k].items()]
        rng.shuffle(t)
        s = [Loop(d, b, True, ax) for d, (b, ax) in spatial[k].items()]
        s.sort(key=lambda lp: lp.axis)  # X loops inside Y loops, as a split permutation gives
        kp = keep[k] if keep is not None else all_ds
        levels.append(LevelMapping(lv.name, tuple(t), tuple(s), kp if k < nlev - 1 else all_ds))
    return Mapping(tuple(levels))


def _other_axis(spatial: dict[str, tuple[int, str]], axis: int) -> set[str]:
    """Dimensions already split on the other axis of this level (one axis per dimension per level)."""
    return {d for d, (_, ax) in spatial.items() if ax != "XY"[axis]}
