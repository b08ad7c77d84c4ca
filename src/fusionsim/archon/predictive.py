"""Predictive layer fusion on ARCHON: per-block costs of a fused bottleneck (expand 1x1, depthwise, project 1x1).

A fused block runs in three parts, each priced from one engine result (`EvalResult`, native or Timeloop):

* prediction of the expand layer (`decom`, ARCHON `predictions` arch): a low-precision PW1 whose ternary
  weights turn multiplies into additions and whose `qtz_bits` activations shrink fmap traffic;
* prediction of the depthwise layer (`conv`, same arch), simulated as one input channel broadcast to Cmid
  filters; only 1-bit ReLU masks leave the PE array;
* the main computation (`main`, ARCHON `main` arch): the fused 3x3 weights applied directly to the block input
  for the activations predicted to survive ReLU; its weight traffic is charged in the overhead instead;

plus the ARCHON-only overhead (prediction GLB, binary decoder, per-PE prediction buffer, adders, masks, muxes)
from action counts times per-action energies, and the DRAM traffic of the pruned fused weights.

All energies returned are in uJ (the seed's unit), cycles in engine cycles. `SeedVariant` carries the
formula differences between the seed's per-network copies of its scripts (FusioNet/ShuffleNet vs
MobileNetV2/MnasNet); `FUSIONET_STYLE` and `MOBILENET_STYLE` are the two presets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fusionsim.errors import InputError
from fusionsim.model.result import DataspaceStats, EvalResult

PJ_PER_UJ = 1e6


@dataclass(frozen=True)
class FusedBlock:
    """One fused bottleneck block of the fusion network (shapes as the seed's `sim.py` lists give them).

    `p` is the block's output size, the prediction `decom` runs at input size `p * stride`."""

    name: str
    cin: int
    cmid: int
    cout: int
    p: int
    stride: int = 1
    groups: int = 1
    prune_factor: float = 0.014  # fraction of fused weights surviving (ReLU survival statistics)
    qtz_bits: int = 4  # prediction activation precision
    adders: int = 24  # adders per PE group that run the additions replacing ternary multiplies
    kernel: int = 3  # the block's depthwise kernel, hence the fused conv's (MnasNet has 5x5 blocks)

    def __post_init__(self) -> None:
        for key in ("cin", "cmid", "cout", "p", "stride", "groups", "qtz_bits", "adders", "kernel"):
            if getattr(self, key) <= 0:
                raise InputError(
                    f"must be a positive integer, got {getattr(self, key)}", key=f"{self.name}.{key}"
                )
        if not 0.0 <= self.prune_factor <= 1.0:
            raise InputError(f"must be in [0, 1], got {self.prune_factor}", key=f"{self.name}.prune_factor")

    @property
    def taps(self) -> int:
        """Taps of the fused kernel (the seed's 9 for its 3x3 blocks)."""
        return self.kernel * self.kernel


@dataclass(frozen=True)
class OverheadCountRule:
    """How the seed's action-count generator turns a block into Accelergy action counts (§5.3 of the spec).

    The FusioNet copy counts what the spec states; the MobileNet copy's committed numbers fit the same
    per-action energies with the counts scaled as below (inferred from its fusion_overhead.csv)."""

    glb_channels: str = "cmid+cin"  # "cmid+cin" | "cmid": channels written to / read from the prediction GLB
    glb_factor: int = 1  # multiplier on the GLB write/read counts
    decoder_ops_per_cycle_per_adder: int = 16
    half_ops_factor: float = 0.5  # adders, bit_masks_and and mux_ count factor * A * cycles
    mux_factor: float = 1.0  # mux counts factor * A * cycles
    pbuf_channels_per_write: int = 8  # prediction-buffer writes per PE pass: ceil(channels / this)


@dataclass(frozen=True)
class SeedVariant:
    """Formula differences between the seed's per-network script copies."""

    name: str
    conv_quant_dram_scaled_by_cmid: bool  # (1-r) reduction on DRAM inputs x Cmid (True) or unscaled (False)
    decom_quant_ifmap_spad: bool  # decom prediction also removes (1-r) of ifmap-spad input energy
    add_energy_scaled_by_r: bool  # the additions replacing ternary multiplies priced at r x add energy
    conv_mac_divisor: str  # "cin" (MACCs / block Cin) or "taps" (MACCs / kernel taps, the seed's 9)
    fused_weights_per_group: bool  # W_f = (Cin/G)(Cmid/G) taps Cout pf (True) or Cin Cmid taps Cout pf
    pred_dram_factor: float  # pred_DRAM = factor x E(pred_glb)
    counts: OverheadCountRule = field(default_factory=OverheadCountRule)


FUSIONET_STYLE = SeedVariant(
    name="fusionet",
    conv_quant_dram_scaled_by_cmid=False,
    decom_quant_ifmap_spad=False,
    add_energy_scaled_by_r=False,
    conv_mac_divisor="cin",
    fused_weights_per_group=True,
    pred_dram_factor=128 / 16,
)
MOBILENET_STYLE = SeedVariant(
    name="mobilenet",
    conv_quant_dram_scaled_by_cmid=True,
    decom_quant_ifmap_spad=True,
    add_energy_scaled_by_r=True,
    conv_mac_divisor="taps",
    fused_weights_per_group=False,
    pred_dram_factor=128 / 18,
    counts=OverheadCountRule(
        glb_channels="cmid",
        glb_factor=2,
        decoder_ops_per_cycle_per_adder=24,
        half_ops_factor=1.0,
        mux_factor=2.0,
        pbuf_channels_per_write=1,
    ),
)
# seed network -> the script copy it uses (ShuffleNet copies FusioNet's, MnasNet copies MobileNet's)
VARIANT_BY_NETWORK = {
    "fusionet": FUSIONET_STYLE,
    "shufflenet": FUSIONET_STYLE,
    "mobilenet": MOBILENET_STYLE,
    "mnasnet": MOBILENET_STYLE,
}


@dataclass(frozen=True)
class ArchonConstants:
    """Analytical constants of the seed (pJ unless named otherwise)."""

    dram_access_pJ: float = 128.0  # per 16-bit word
    dram_width_words: int = 16  # 1-bit masks packed 16 per DRAM word
    pred_weight_saving: float = 7 / 8  # 2-bit instead of 16-bit weights
    mac_pJ: float = 0.22  # low-precision multiply of the prediction
    add_pJ: float = 0.043  # addition replacing a ternary multiply
    word_bits: int = 16
    index_bits: int = 10  # compressed fused-weight index format
    n_pes: int = 64


@dataclass(frozen=True)
class OverheadEnergies:
    """Per-action energies (pJ) of ARCHON's overhead units (arch `fusion/overhead`).

    Defaults: fitted to the seed's fusion_overhead.csv (its Accelergy 0.3, 45 nm estimates, which the
    shared reference does not include); replace them with an ERT of the overhead arch when one is built."""

    pred_glb_write_pJ: float = 21.33
    pred_glb_read_pJ: float = 21.33
    binary_decoder_pJ: float = 0.01793
    prediction_buffer_write_pJ: float = 0.785
    prediction_buffer_read_pJ: float = 0.54495
    adder_pJ: float = 0.0540
    bit_masks_and_pJ: float = 0.0180
    mux_flag_pJ: float = 0.0180  # `mux_`: zero-replace flag
    mux_pJ: float = 0.0180  # zero replacing, 16-bit


@dataclass(frozen=True)
class StorageNames:
    """Level names the seed's parser looks at (ARCHON and Eyeriss-like arches)."""

    ifmap_spad: str = "ifmap_spad"
    weights_spad: str = "weights_spad"
    arithmetic: str = "mac"


@dataclass(frozen=True)
class PartCost:
    energy_uJ: float
    cycles: int


@dataclass(frozen=True)
class OverheadBreakdown:
    """fusion_overhead.csv row (uJ); PE terms already multiplied by the PE count."""

    weight_dram: float
    pred_dram: float
    pred_glb: float
    binary_decoder: float
    pred_buffer: float
    zero_replace_flag: float
    zero_replacing: float
    adders: float
    masks_and: float

    @property
    def total_uJ(self) -> float:
        return (
            self.weight_dram
            + self.pred_dram
            + self.pred_glb
            + self.binary_decoder
            + self.pred_buffer
            + self.zero_replace_flag
            + self.zero_replacing
            + self.adders
            + self.masks_and
        )

    def row(self) -> dict[str, float]:
        return {
            "1_weight_DRAM": self.weight_dram,
            "2_pred_DRAM": self.pred_dram,
            "3_pred_glb": self.pred_glb,
            "4_binary_decoder": self.binary_decoder,
            "5_pred_buffer": self.pred_buffer,
            "6_zero_replace_flag": self.zero_replace_flag,
            "7_zero_replacing": self.zero_replacing,
            "8_adders": self.adders,
            "9_masks_AND": self.masks_and,
        }


@dataclass(frozen=True)
class FusedBlockCosts:
    """One fusion_results.csv row plus the overhead breakdown."""

    block: str
    pred_decom: PartCost
    pred_conv: PartCost
    main: PartCost
    overhead: OverheadBreakdown

    @property
    def energy_uJ(self) -> float:
        return (
            self.pred_decom.energy_uJ
            + self.pred_conv.energy_uJ
            + self.main.energy_uJ
            + self.overhead.total_uJ
        )

    @property
    def cycles(self) -> int:
        return self.pred_decom.cycles + self.pred_conv.cycles + self.main.cycles

    def row(self) -> dict[str, float]:
        """The seed's fusion_results.csv columns."""
        return {
            "1_pred_decom_e": self.pred_decom.energy_uJ,
            "2_pred_conv_e": self.pred_conv.energy_uJ,
            "3_main_e": self.main.energy_uJ,
            "4_overhead_e": self.overhead.total_uJ,
            "5_pred_decom_c": self.pred_decom.cycles,
            "6_pred_conv_c": self.pred_conv.cycles,
            "7_main_c": self.main.cycles,
        }


FUSION_RESULT_COLUMNS = list(
    FusedBlockCosts("", PartCost(0, 0), PartCost(0, 0), PartCost(0, 0), OverheadBreakdown(*[0.0] * 9)).row()
)
FUSION_OVERHEAD_COLUMNS = list(OverheadBreakdown(*[0.0] * 9).row())


# --- reading energies out of an engine result the way the seed's parser does ------------------------------


def storage_index(result: EvalResult, which: str) -> int:
    """Index in `result.levels` of the outermost storage level (`which="dram"`) or the one inside it
    (`which="glb"`)."""
    idx = [i for i, lv in enumerate(result.levels) if lv.kind == "storage"]
    if len(idx) < 2:
        raise InputError(
            "result has fewer than two storage levels", key="levels", fix="pass a full layer result"
        )
    return idx[-1] if which == "dram" else idx[-2]


def dataspace_energy_from(result: EvalResult, dataspace: str, start: int) -> float:
    """Energy (pJ) of `dataspace` at the first storage level at or outside index `start` that keeps it.

    This is the seed's rule: it reads the first `<dataspace>:` block after the line `Level <start>`, so a
    level that bypasses the dataspace hands the lookup to the next one out. 0 when no level keeps it.
    A level keeps the dataspace when it lists it with any capacity or traffic: the stats reader omits bypassed
    dataspaces, the native engine lists them with all-zero counts."""
    for lv in result.levels[start:]:
        ds = lv.dataspaces.get(dataspace) if lv.kind == "storage" else None
        if ds is not None and _keeps(ds):
            return ds.energy_pJ
    return 0.0


def _keeps(ds: DataspaceStats) -> bool:
    """Whether a level's entry for a dataspace is a kept (not bypassed) dataspace."""
    return bool(ds.utilized_capacity or ds.reads or ds.fills or ds.updates or ds.energy_pJ)


def level_dataspace_energy(result: EvalResult, level: str, dataspace: str) -> float:
    """Energy (pJ) of one dataspace at a named level; 0 when the level bypasses it."""
    try:
        lv = result.level(level)
    except KeyError as exc:
        raise InputError(f"no level named '{level}' in the result", key=level, fix="check the arch") from exc
    ds = lv.dataspaces.get(dataspace)
    return ds.energy_pJ if ds else 0.0


def _dram_output_tile(result: EvalResult) -> int:
    dram = result.levels[storage_index(result, "dram")]
    out = dram.dataspaces.get("Outputs")
    return out.partition_size if out else 0


def _arithmetic_energy(result: EvalResult, names: StorageNames) -> float:
    """Energy (pJ) of the arithmetic level (the 16-bit MACs the prediction does not use)."""
    for lv in result.levels:
        if lv.kind == "arithmetic" or lv.name == names.arithmetic:
            return lv.energy_pJ
    raise InputError("result has no arithmetic level", key="levels", fix="pass a full layer result")


# --- the three engine-priced parts ---------------------------------------------------------------------------


def predict_decom(
    block: FusedBlock,
    result: EvalResult,
    variant: SeedVariant = FUSIONET_STYLE,
    const: ArchonConstants = ArchonConstants(),
    names: StorageNames = StorageNames(),
) -> PartCost:
    """`pred_decom_e` / `pred_decom_c`: PW1 prediction from the engine result of PW1 (C=Cin/G, M=Cmid/G,
    at input resolution) on ARCHON's predictions arch; energy and cycles cover all G groups."""
    r = block.qtz_bits / const.word_bits
    dram, glb = storage_index(result, "dram"), storage_index(result, "glb")
    e = result.energy_pJ
    e -= (1 - r) * dataspace_energy_from(result, "Outputs", dram)
    e -= (1 - r) * (
        dataspace_energy_from(result, "Inputs", dram) + dataspace_energy_from(result, "Inputs", glb)
    )
    if variant.decom_quant_ifmap_spad:
        e -= (1 - r) * level_dataspace_energy(result, names.ifmap_spad, "Inputs")
    e += _mask_write_pJ(result, const)
    e -= const.pred_weight_saving * (
        dataspace_energy_from(result, "Weights", dram)
        + level_dataspace_energy(result, names.weights_spad, "Weights")
    )
    e -= _arithmetic_energy(result, names)
    e_uJ = e / PJ_PER_UJ + _prediction_compute_uJ(result.macs, block.cin, r, variant, const)
    return PartCost(e_uJ * block.groups, (result.cycles * block.groups) // block.adders)


def predict_conv(
    block: FusedBlock,
    result: EvalResult,
    variant: SeedVariant = FUSIONET_STYLE,
    const: ArchonConstants = ArchonConstants(),
    names: StorageNames = StorageNames(),
) -> PartCost:
    """`pred_conv_e` / `pred_conv_c`: depthwise prediction from the engine result of a C=1, M=Cmid 3x3 conv
    at output resolution (one input channel broadcast to all filters, hence the Cmid input correction)."""
    r = block.qtz_bits / const.word_bits
    dram, glb = storage_index(result, "dram"), storage_index(result, "glb")
    dram_in = dataspace_energy_from(result, "Inputs", dram)
    e = result.energy_pJ + (block.cmid - 1) * dram_in
    near = dataspace_energy_from(result, "Inputs", glb) + level_dataspace_energy(
        result, names.ifmap_spad, "Inputs"
    )
    if variant.conv_quant_dram_scaled_by_cmid:
        e -= (1 - r) * (dram_in * block.cmid + near)
    else:
        e -= (1 - r) * (dram_in + near)
    # predicted DW outputs never leave the PE array: only masks are written
    e -= dataspace_energy_from(result, "Outputs", dram) + dataspace_energy_from(result, "Outputs", glb)
    e += _mask_write_pJ(result, const)
    e -= const.pred_weight_saving * (
        dataspace_energy_from(result, "Weights", dram)
        + level_dataspace_energy(result, names.weights_spad, "Weights")
    )
    e -= _arithmetic_energy(result, names)
    divisor = block.cin if variant.conv_mac_divisor == "cin" else block.taps
    e_uJ = e / PJ_PER_UJ + _prediction_compute_uJ(result.macs, divisor, r, variant, const)
    return PartCost(e_uJ, result.cycles // block.adders)


def main_computation(block: FusedBlock, result: EvalResult) -> PartCost:
    """`main_e` / `main_c`: the fused conv (Cin/G -> Cout, 3x3, output resolution, stride s) on ARCHON's main
    arch, without its DRAM weight traffic (charged as the pruned fused weights in the overhead)."""
    weights = dataspace_energy_from(result, "Weights", storage_index(result, "glb"))
    return PartCost((result.energy_pJ - weights) / PJ_PER_UJ, int(result.cycles))


def _mask_write_pJ(result: EvalResult, const: ArchonConstants) -> float:
    """1-bit prediction masks written to DRAM, `dram_width_words` per access."""
    return _dram_output_tile(result) * const.dram_access_pJ / const.dram_width_words


def _prediction_compute_uJ(
    macs: int, divisor: int, r: float, variant: SeedVariant, const: ArchonConstants
) -> float:
    """Low-precision multiplies (MACCs / divisor) plus the additions replacing ternary multiplies."""
    add = const.add_pJ * macs * (r if variant.add_energy_scaled_by_r else 1.0)
    return (const.mac_pJ * macs / divisor + add) / PJ_PER_UJ


# --- analytical overhead ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverheadActionCounts:
    """Accelergy action counts of one block; `per PE` counts are for one of the `n_pes` PEs."""

    pred_glb_writes: int
    pred_glb_reads: int
    binary_decoder_ops: int
    prediction_buffer_writes: int  # per PE
    prediction_buffer_reads: int  # per PE
    adder_ops: int  # per PE
    bit_masks_and_ops: int  # per PE
    mux_flag_ops: int  # per PE
    mux_ops: int  # per PE


def overhead_action_counts(
    block: FusedBlock,
    main_cycles: int,
    rule: OverheadCountRule = OverheadCountRule(),
    n_pes: int = 64,
) -> OverheadActionCounts:
    """Action counts of ARCHON's overhead units for one block whose main computation takes `main_cycles`."""
    a = block.adders
    p2 = block.p * block.p
    channels = block.cmid + block.cin if rule.glb_channels == "cmid+cin" else block.cmid
    glb = rule.glb_factor * math.ceil(channels * p2 / n_pes)
    half = math.ceil(rule.half_ops_factor * a * main_cycles)
    return OverheadActionCounts(
        pred_glb_writes=glb,
        pred_glb_reads=glb,
        binary_decoder_ops=math.ceil(main_cycles * rule.decoder_ops_per_cycle_per_adder * a),
        prediction_buffer_writes=math.ceil((block.cmid + block.cin) / rule.pbuf_channels_per_write)
        * math.ceil(p2 / n_pes),
        prediction_buffer_reads=a * main_cycles + 1,
        adder_ops=half,
        bit_masks_and_ops=half,
        mux_flag_ops=half,
        mux_ops=math.ceil(rule.mux_factor * a * main_cycles),
    )


def fused_weight_count(block: FusedBlock, variant: SeedVariant) -> float:
    """Surviving fused weights W_f of the block (prune_factor of the composed Cin x Cmid x k x k x Cout)."""
    g = block.groups if variant.fused_weights_per_group else 1
    return (block.cin / g) * (block.cmid / g) * block.taps * block.cout * block.prune_factor


def fusion_overhead(
    block: FusedBlock,
    main_cycles: int,
    variant: SeedVariant = FUSIONET_STYLE,
    energies: OverheadEnergies = OverheadEnergies(),
    const: ArchonConstants = ArchonConstants(),
) -> OverheadBreakdown:
    """`overhead_e` and its breakdown (uJ): fused-weight DRAM traffic (compressed index format, refetched per
    PE pass over the output), prediction-mask DRAM traffic and the ARCHON-only units."""
    n = const.n_pes
    counts = overhead_action_counts(block, main_cycles, variant.counts, n)
    weight_dram = (
        fused_weight_count(block, variant)
        * const.dram_access_pJ
        * (const.word_bits / const.index_bits)
        * (block.p * block.p / n)
    )
    glb = (
        counts.pred_glb_writes * energies.pred_glb_write_pJ
        + counts.pred_glb_reads * energies.pred_glb_read_pJ
    )
    pbuf = (
        counts.prediction_buffer_writes * energies.prediction_buffer_write_pJ
        + counts.prediction_buffer_reads * energies.prediction_buffer_read_pJ
    )
    u = 1 / PJ_PER_UJ
    return OverheadBreakdown(
        weight_dram=weight_dram * u,
        pred_dram=variant.pred_dram_factor * glb * u,
        pred_glb=0.0,  # the seed charges the GLB's traffic as DRAM mask traffic (pred_DRAM) instead
        binary_decoder=counts.binary_decoder_ops * energies.binary_decoder_pJ * u,
        pred_buffer=n * pbuf * u,
        zero_replace_flag=n * counts.mux_flag_ops * energies.mux_flag_pJ * u,
        zero_replacing=n * counts.mux_ops * energies.mux_pJ * u,
        adders=n * counts.adder_ops * energies.adder_pJ * u,
        masks_and=n * counts.bit_masks_and_ops * energies.bit_masks_and_pJ * u,
    )


def fused_block_costs(
    block: FusedBlock,
    decom: EvalResult,
    conv: EvalResult,
    main: EvalResult,
    variant: SeedVariant = FUSIONET_STYLE,
    energies: OverheadEnergies = OverheadEnergies(),
    const: ArchonConstants = ArchonConstants(),
    overhead: OverheadBreakdown | None = None,
) -> FusedBlockCosts:
    """All seven fusion_results.csv columns of one block from its three engine results.

    `overhead` overrides the analytical overhead (e.g. a breakdown from a real Accelergy run)."""
    main_cost = main_computation(block, main)
    return FusedBlockCosts(
        block=block.name,
        pred_decom=predict_decom(block, decom, variant, const),
        pred_conv=predict_conv(block, conv, variant, const),
        main=main_cost,
        overhead=overhead
        if overhead is not None
        else fusion_overhead(block, main_cost.cycles, variant, energies, const),
    )
