"""Dense per-layer result -> sparse-accelerator result (`sparse_*_e`, `sparse_*_c` and imbalance stats).

The sparse accelerator (seed: "sparse Eyeriss") reuses the dense run's mapping and access counts:

* cycles = groups x (sum over passes of the slowest PE's non-zero MACs), from `PeWork`; memory stalls
  are not modelled, as in the seed;
* energy = the dense energy minus what zero weights no longer cost. With zero fraction s, index bits b and
  word bits w: weight traffic at the compressed-weight levels is re-priced (a fraction s of it at b/w of
  its cost) and a fraction s of the input reads at the skipped-input levels disappears::

      E_sparse = E_dense - s*(1 - b/w) * sum(E[level, Weights]) - s * sum(E[level, Inputs])

  then x groups. The seed hard-codes s = 0.91 for 1x1 layers and leaves depthwise energy dense
  (`SparseEnergyModel.seed(...)`); by default we use each layer's measured weight sparsity, so energy
  scales with the work actually done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fusionsim.errors import InputError
from fusionsim.model.result import EvalResult
from fusionsim.sparsity.imbalance import ImbalanceStats, Loop, PeWork
from fusionsim.sparsity.weights import LayerWeights

SEED_ZERO_FRACTION = 0.91  # seed's hard-coded sigma for 1x1 layers (its cycles use the 80%-pruned model)


@dataclass(frozen=True)
class SparseEnergyModel:
    """Parameters of the energy adjustment; `zero_fraction=None` means the layer's measured weight sparsity."""

    zero_fraction: float | None = None
    index_bits: int = 10
    word_bits: int = 16
    weight_levels: tuple[str, ...] = ("DRAM", "weights_spad")
    skipped_input_levels: tuple[str, ...] = ("ifmap_spad",)

    def __post_init__(self) -> None:
        if self.zero_fraction is not None and not 0.0 <= self.zero_fraction <= 1.0:
            raise ValueError(f"zero_fraction must be in [0, 1], got {self.zero_fraction}")
        if not 0 <= self.index_bits <= self.word_bits:
            raise ValueError("index_bits must be in [0, word_bits]")

    @classmethod
    def seed(cls, kind: str) -> SparseEnergyModel:
        """The seed's choice: s = 0.91 for pointwise/conv layers, dense energy (s = 0) for depthwise."""
        return cls(zero_fraction=0.0 if kind == "depthwise" else SEED_ZERO_FRACTION)


def _dataspace_energy_pj(dense: EvalResult, levels: Sequence[str], dataspace: str) -> float:
    names = {lv.name for lv in dense.levels}
    total = 0.0
    for name in levels:
        if name not in names:
            raise InputError(
                f"dense result has no level '{name}' (levels: {', '.join(sorted(names))})",
                key=name,
                fix="set the sparse energy model's level names to this architecture's",
            )
        ds = dense.level(name).dataspaces.get(dataspace)
        total += ds.energy_pJ if ds is not None else 0.0  # bypassed dataspace: nothing to save
    return total


def sparse_energy_pj(dense: EvalResult, zero_fraction: float, model: SparseEnergyModel) -> float:
    """Energy of one dense run (one group) after the sparse re-pricing, in pJ."""
    s = float(zero_fraction)
    weights = _dataspace_energy_pj(dense, model.weight_levels, "Weights")
    inputs = _dataspace_energy_pj(dense, model.skipped_input_levels, "Inputs")
    return dense.energy_pJ - s * (1.0 - model.index_bits / model.word_bits) * weights - s * inputs


@dataclass(frozen=True)
class SparseLayerResult:
    """One layer on the sparse accelerator, all `groups` groups included (stats span every group's passes)."""

    name: str
    groups: int
    weight_sparsity: float
    energy_zero_fraction: float
    dense_energy_pj: float
    dense_cycles: int
    energy_pj: float
    cycles: int
    stats: ImbalanceStats
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def energy_uj(self) -> float:
        return self.energy_pj * 1e-6

    def row(self) -> dict[str, object]:
        """Flat record for CSV/JSON: identity, dense vs sparse totals, then the imbalance statistics."""
        out: dict[str, object] = {
            "layer": self.name,
            "groups": self.groups,
            "weight_sparsity": self.weight_sparsity,
            "energy_zero_fraction": self.energy_zero_fraction,
            "dense_e_uJ": self.dense_energy_pj * 1e-6,
            "dense_c": self.dense_cycles,
            "sparse_e_uJ": self.energy_uj,
            "sparse_c": self.cycles,
        }
        out.update(self.stats.as_dict())
        out.update(self.labels)
        return out


def adjust_layer(
    dense: EvalResult,
    work: PeWork | Sequence[PeWork],
    *,
    name: str = "",
    groups: int = 1,
    energy: SparseEnergyModel | None = None,
    weight_sparsity: float | None = None,
    labels: Mapping[str, str] | None = None,
) -> SparseLayerResult:
    """Sparse energy and cycles of one layer from its dense result (one group) and per-PE work.

    `work` is one group's `PeWork` (all `groups` groups assumed alike, the seed's x G) or a list of
    `groups` works, one per group, run one after the other. `weight_sparsity` defaults to 1 - non-zero /
    MAC slots of the work (for weight-only sparsity: the kernel's zero fraction); it is the energy zero
    fraction unless `energy.zero_fraction` is set.
    """
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    works = [work] * groups if isinstance(work, PeWork) else list(work)
    if len(works) != groups:
        raise ValueError(f"got {len(works)} per-group works for groups={groups}")
    combined = PeWork.concat_passes(works)
    model = energy or SparseEnergyModel()
    st = combined.stats()
    sparsity = 1.0 - st.weight_density if weight_sparsity is None else float(weight_sparsity)
    s = sparsity if model.zero_fraction is None else model.zero_fraction
    e = sparse_energy_pj(dense, s, model)
    return SparseLayerResult(
        name=name,
        groups=groups,
        weight_sparsity=sparsity,
        energy_zero_fraction=s,
        dense_energy_pj=groups * dense.energy_pJ,
        dense_cycles=groups * int(dense.cycles),
        energy_pj=groups * e,
        cycles=combined.sparse_cycles(),
        stats=st,
        labels=dict(labels or {}),
    )


def block_columns(layers: Mapping[str, SparseLayerResult]) -> dict[str, float | int]:
    """`res.csv`-style columns for one block: role (e.g. "PW1", "DW", "PW2") -> `sparse_<role>_e` (uJ) and
    `sparse_<role>_c` (cycles), energies first, in the order given."""
    out: dict[str, float | int] = {}
    for role, res in layers.items():
        out[f"sparse_{role}_e"] = res.energy_uj
    for role, res in layers.items():
        out[f"sparse_{role}_c"] = res.cycles
    return out


def analyze_layer(
    layer: LayerWeights,
    loops: Sequence[Loop] | None = None,
    dense: EvalResult | None = None,
    energy: SparseEnergyModel | None = None,
) -> tuple[dict[str, object], PeWork | None]:
    """One output record for a matched layer: its weight sparsity; with the dense mapping `loops` also the
    per-PE imbalance stats and `sparse_c`; with the dense result also `sparse_e_uJ`. Returns the record and
    the per-PE work of all groups (passes of group 0 first), or None without a mapping."""
    rec: dict[str, object] = dict(layer.summary())
    rec["groups"] = layer.spec.groups
    if loops is None:
        return rec, None
    sizes = layer.spec.problem_sizes()
    try:
        works = layer.per_pe_work(loops, sizes)
    except ValueError as exc:
        raise InputError(
            f"dense mapping does not fit the layer: {exc}", key=layer.spec.name, fix="map this layer's shape"
        ) from None
    combined = PeWork.concat_passes(works)
    if dense is None:
        rec.update(combined.stats().as_dict())
        rec["sparse_c"] = combined.sparse_cycles()
        return rec, combined
    res = adjust_layer(
        dense, works, name=layer.spec.name, groups=len(works), energy=energy, weight_sparsity=layer.sparsity
    )
    row = res.row()
    row.pop("layer")
    rec.update(row)
    return rec, combined
