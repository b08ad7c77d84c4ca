"""Seed variants reproduce the DeepFrack AlexNet_Simba results exactly; exact is printed beside them."""

from __future__ import annotations

import pytest

from fusionsim.fusion.deepfrack_compat import search_seed
from fusionsim.fusion.plan import BufferLevels, Level
from fusionsim.fusion.search import search_chain
from fusionsim.fusion.tables import load_layers, load_tables, validate_tables

LEVELS = BufferLevels(Level("PEWeightBuffer", 524288), Level("PEInputBuffer", 65536), Level("PEAccuBuffer", 65536))


@pytest.fixture
def alexnet(deepfrack_ref):
    ex = deepfrack_ref / "Examples/AlexNet_Simba"
    tables, shapes = load_tables(ex / "BenchMarkLogFiles"), load_layers(ex / "AlexNet")
    validate_tables(tables, shapes)
    return tables, shapes


def test_simple_variant_matches_the_seed_log(alexnet) -> None:
    plan = search_seed(*alexnet, LEVELS, "deepfrack-simple")
    assert [(s.start, s.end, s.tile_widths, s.cached_weights) for s in plan.stacks] == [(0, 3, [13], [])]
    assert plan.fused_uJ == pytest.approx(1633.25, abs=0.005)
    assert plan.layer_by_layer_uJ == pytest.approx(2908.83, abs=0.005)
    assert plan.saving_pct == pytest.approx(43.85199547584424, abs=1e-9)


def test_fast_variant_matches_the_seed(alexnet) -> None:
    plan = search_seed(*alexnet, LEVELS, "deepfrack-fast")
    assert [(s.start, s.end, s.tile_widths[0], s.cached_weights) for s in plan.stacks] == [
        (0, 1, 9, [0]), (2, 2, 13, []), (3, 3, 13, [])]
    assert plan.fused_uJ == pytest.approx(2722.65, abs=0.005)
    assert plan.saving_pct == pytest.approx(6.401, abs=5e-4)


def test_exact_beside_the_seed(alexnet, capsys) -> None:
    exact = search_chain(*alexnet, LEVELS)
    simple = search_seed(*alexnet, LEVELS, "deepfrack-simple")
    fast = search_seed(*alexnet, LEVELS, "deepfrack-fast")
    with capsys.disabled():
        print(f"\nAlexNet_Simba fused uJ: simple {simple.fused_uJ:.2f}, fast {fast.fused_uJ:.2f}, "
              f"exact {exact.fused_uJ:.2f} (layer by layer {exact.layer_by_layer_uJ:.2f})")
    # exact computes every pixel of every layer (halos, padding, pooling), so it cannot claim the
    # seed's savings from skipped work; it never does worse than layer by layer
    assert exact.fused_uJ <= exact.layer_by_layer_uJ
    assert exact.fused_uJ > fast.fused_uJ
