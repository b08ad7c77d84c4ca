"""The vectorised batch engine agrees with the scalar engine on random mappings (energy, cycles, validity)."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np
import pytest

from fusionsim.mapper.objectives import score_of
from fusionsim.model.batch import evaluate_batch
from fusionsim.model.evaluate import MappingError, evaluate
from fusionsim.model.random_mapping import random_mapping
from fusionsim.model.semantics_v1 import price_levels
from fusionsim.spec.arch import load_arch
from fusionsim.spec.ert import load_ert
from fusionsim.spec.problem import load_problem

TINY = Path(__file__).resolve().parent.parent / "data" / "tiny"


def _compare(arch, problem, prices, n, seed, keep=None, weights=None) -> int:
    rng = random.Random(seed)
    maps = [random_mapping(arch, problem, rng, keep=keep(rng) if keep else None, level_weights=weights)
            for _ in range(n)]
    res = evaluate_batch(arch, problem, maps, prices)
    n_valid = 0
    for i, m in enumerate(maps):
        try:
            ref = evaluate(arch, problem, m, prices)
        except MappingError:
            assert not res.valid[i], f"mapping {i} is invalid for the scalar engine only"
            continue
        n_valid += 1
        assert res.valid[i]
        assert res.cycles[i] == ref.cycles
        assert res.energy_pJ[i] == pytest.approx(ref.energy_pJ, rel=1e-12)
    return n_valid


def test_tiny_arch_random_mappings() -> None:
    arch = load_arch(TINY / "arch.yaml")
    problem = load_problem(TINY / "conv1d.yaml")
    prices = price_levels(arch, load_ert(TINY / "ert.yaml"))
    ds = problem.dataspace_names()

    def keep(rng):
        return [frozenset(d for d in ds if rng.random() < 0.7) for _ in arch.storage]

    assert _compare(arch, problem, prices, 300, 1, keep) > 50


def test_reference_arch_random_mappings(timeloop_ref: Path) -> None:
    case = timeloop_ref / "fusion-timeloop-model/fusionet/cifar10/bottlenecks/baseline/b4/conv"
    out = case / "output"
    arch = load_arch(out / "timeloop-mapper.flattened_architecture.yaml")
    problem = load_problem(case / "prob/prob.yaml")
    prices = price_levels(arch, load_ert(out / "timeloop-mapper.ERT.yaml"))
    ds = problem.dataspace_names()
    rng = np.random.default_rng(3)

    def keep(r):
        return [frozenset(d for d in ds if rng.random() < 0.6) for _ in arch.storage]

    # most factors at the outer levels so that a fair share of the mappings fit the small PE buffers
    assert _compare(arch, problem, prices, 600, 2, keep, weights=[1, 1, 1, 1, 6, 12]) > 20



def test_outermost_level_bypass_agrees_with_the_scalar_engine() -> None:
    """A dataspace the outermost level bypasses (DeepFrack's WCC/EWCC/... DRAM rules) is stored nowhere: no
    DRAM accesses in either engine (the batch engine used to force the outermost level to keep everything)."""
    arch = load_arch(TINY / "arch.yaml")
    problem = load_problem(TINY / "conv1d.yaml")
    prices = price_levels(arch, load_ert(TINY / "ert.yaml"))
    ds = problem.dataspace_names()
    rng = random.Random(3)
    maps = []
    for _ in range(300):
        m = random_mapping(arch, problem, rng, keep=[frozenset(d for d in ds if rng.random() < 0.7)
                                                     for _ in arch.storage])
        top = dataclasses.replace(m.levels[-1], keep=frozenset(rng.sample(ds, rng.randrange(len(ds)))))
        maps.append(dataclasses.replace(m, levels=(*m.levels[:-1], top)))
    res = evaluate_batch(arch, problem, maps, prices)
    compared = 0
    for i, m in enumerate(maps):
        try:
            ref = evaluate(arch, problem, m, prices)
        except MappingError:
            assert not res.valid[i]
            continue
        compared += 1
        assert res.valid[i] and res.cycles[i] == ref.cycles
        assert res.energy_pJ[i] == pytest.approx(ref.energy_pJ, rel=1e-12), i
        assert res.last_level_accesses[i] == score_of(ref).last_level_accesses
    assert compared > 50
