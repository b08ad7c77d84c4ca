"""Primitive models: closed-form checks against Aladdin/CACTI arithmetic, monotonicity, scaling, bad input."""

from __future__ import annotations

import pytest

from fusionsim.energy.primitives import NativeEstimator, Where, energy_scale, sram_figures, vdd_volts
from fusionsim.errors import InputError

EST = NativeEstimator()
T45 = {"technology": "45nm"}


def sram_read(depth: int, width: int, banks: int = 1, ports: int = 2, tech: str = "45nm") -> float:
    attrs = {"technology": tech, "width": width, "depth": depth, "n_banks": banks, "n_rdwr_ports": ports}
    return EST.energy_pJ("SRAM", attrs, "read", {"address_delta": 1, "data_delta": 1})


def test_intmac_16bit_matches_aladdin_arithmetic():
    # adder 0.0857 pJ * 16/32 + multiplier 8.63 pJ * (16/32)^2 (Aladdin 40 nm tables at 5 ns)
    assert EST.energy_pJ("intmac", {**T45, "datawidth": 16}, "mac_random") == pytest.approx(2.2004, abs=1e-4)
    assert EST.energy_pJ("intmac", {**T45, "datawidth": 16}, "mac_reused") == pytest.approx(1.8767, abs=1e-4)
    assert EST.area_um2("intmac", {**T45, "datawidth": 16}) == pytest.approx(1239.5)


@pytest.mark.parametrize("action", ["mac_random", "mac_reused", "mac_gated"])
def test_mac_energy_grows_with_bit_width(action: str):
    energies = [EST.energy_pJ("intmac", {**T45, "datawidth": b}, action) for b in (2, 4, 8, 16, 24, 32)]
    assert all(a < b for a, b in zip(energies, energies[1:]))


def test_sram_energy_grows_with_depth():
    for width, banks in ((16, 1), (64, 1), (64, 8), (64, 32)):
        energies = [sram_read(d, width, banks) for d in (256, 512, 1024, 2048, 4096, 8192, 16384, 32768)]
        assert all(a < b for a, b in zip(energies, energies[1:])), (width, banks, energies)


def test_sram_energy_grows_with_width():
    for depth in (256, 1024, 8192):
        energies = [sram_read(depth, w) for w in (8, 16, 32, 64, 128, 256)]
        assert all(a < b for a, b in zip(energies, energies[1:])), (depth, energies)


def test_sram_reproduces_cacti_at_table_points():
    # CACTI 7, 45 nm, 16-bit x 128 words, 2 ports, 1 bank: 256 B is a table point (read 0.6137 pJ)
    f = sram_figures(45, 16, 128, 2, 1)
    assert f.read_pJ == pytest.approx(0.6137, rel=0.01)
    assert f.area_um2 == pytest.approx(2140.32, rel=0.01)


def test_sram_access_split_follows_the_cacti_plugin():
    attrs = {"technology": "45nm", "width": 64, "depth": 4096, "n_banks": 4}
    leak = EST.energy_pJ("SRAM", attrs, "idle")
    full = EST.energy_pJ("SRAM", attrs, "read", {"address_delta": 1, "data_delta": 1})
    data_only = EST.energy_pJ("SRAM", attrs, "read", {"address_delta": 0, "data_delta": 1})
    addr_only = EST.energy_pJ("SRAM", attrs, "read", {"address_delta": 4, "data_delta": 0})
    assert data_only - leak == pytest.approx(0.7 * (sram_figures(45, 64, 4096, 1, 4).read_pJ - leak))
    assert addr_only - leak == pytest.approx(0.3 / 0.7 * (data_only - leak))
    assert full == pytest.approx(data_only + (addr_only - leak) / 4)


def test_sram_under_64_bytes_is_a_register_file():
    attrs = {"technology": "45nm", "width": 16, "depth": 16}
    assert EST.energy_pJ("SRAM", attrs, "read", {"address_delta": 1, "data_delta": 1}) == pytest.approx(
        EST.energy_pJ("regfile", attrs, "read", {"address_delta": 1, "data_delta": 1})
    )


def test_regfile_dummybuffer_row():
    # 16 x 16 regfile: 16 register bits at 0.009 pJ + 16 comparators of 4 bits at 0.029015 * 4/32 pJ
    attrs = {"technology": "45nm", "width": 16, "depth": 16}
    assert EST.energy_pJ("regfile", attrs, "read", {"address_delta": 1, "data_delta": 1}) == pytest.approx(
        0.144 + 16 * 0.029015 * 4 / 32, rel=1e-6
    )


def test_dram_energy_per_bit():
    assert EST.energy_pJ("DRAM", {"type": "LPDDR4", "width": 64}, "read") == pytest.approx(512)
    assert EST.energy_pJ("DRAM", {"type": "HBM2", "width": 64}, "write") == pytest.approx(3.9 * 64)
    assert EST.energy_pJ("DRAM", {"type": "DDR4", "width": 64}, "idle") == 0


def test_technology_scaling_rule():
    assert energy_scale(45, 45) == 1
    assert vdd_volts(65) == pytest.approx(1.1)
    assert energy_scale(45, 65) == pytest.approx(65 / 45 * 1.21)
    e40 = EST.energy_pJ("intadder", {"technology": "40nm", "datawidth": 16}, "add")
    e45 = EST.energy_pJ("intadder", {"technology": "45nm", "datawidth": 16}, "add")
    e65 = EST.energy_pJ("intadder", {"technology": "65nm", "datawidth": 16}, "add")
    assert e40 == e45 < e65  # Aladdin's 40 nm tables serve 45 nm unscaled, as in Accelergy
    assert sram_read(1024, 64, tech="40nm") < sram_read(1024, 64, tech="65nm")


def test_bad_inputs_give_one_line_errors():
    where = Where("sys.PE[0..3].buf", "arch.yaml")
    with pytest.raises(InputError, match="unknown primitive class 'warp_core'"):
        EST.energy_pJ("warp_core", T45, "read", None, where)
    with pytest.raises(InputError) as exc:
        EST.energy_pJ("DRAM", {"type": "SDR9", "width": 64}, "read", None, where)
    assert "sys.PE[0..3].buf.attributes.type" in exc.value.line()
    with pytest.raises(InputError) as exc:
        EST.energy_pJ("intadder", {"technology": "fast", "datawidth": 8}, "add", None, where)
    assert "technology" in exc.value.line() and "arch.yaml" in exc.value.line()
