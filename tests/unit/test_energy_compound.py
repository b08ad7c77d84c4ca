"""Compound component expansion: expressions, argument ranges, subcomponent sums, and bad input."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fusionsim.energy.compound import ComponentModel, evaluate_expression, load_compound_classes, parse_range
from fusionsim.energy.ert import build_tables
from fusionsim.energy.primitives import NativeEstimator, Where
from fusionsim.errors import InputError

RF_CLASS = textwrap.dedent("""\
    compound_components:
      version: 0.3
      classes:
      - name: tiny_buffer
        attributes: {technology: 45nm, memory_depth: 12, memory_width: 16, n_banks: 1}
        subcomponents:
          - name: storage
            class: regfile
            attributes: {technology: technology, width: memory_width, depth: memory_depth}
          - name: address_generators[0..1]
            class: intadder
            attributes: {technology: technology, width: log(memory_depth)}
        actions:
          - name: read
            arguments: {data_delta: 0..1, address_delta: 0..n_banks}
            subcomponents:
              - name: storage
                actions: [{name: read, arguments: {data_delta: data_delta, address_delta: address_delta}}]
              - name: address_generators[1]
                actions: [{name: add}]
              - name: address_generators[0]
                actions: [{name: idle}]
          - name: idle
            subcomponents:
              - name: storage
                actions: [{name: idle}]
              - name: address_generators[0..1]
                actions: [{name: idle}]
    """)


def _arch(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "arch.yaml"
    p.write_text(textwrap.dedent(body))
    return p


def test_log_is_ceil_log2_and_hyphenated_names_resolve():
    assert evaluate_expression("log(memory_depth)", {"memory_depth": 24}) == 5
    assert evaluate_expression("word-bits * 2", {"word-bits": 16}) == 32
    assert evaluate_expression("LPDDR4", {}) == "LPDDR4"
    assert evaluate_expression("45nm", {}) == "45nm"
    assert parse_range("0..n_banks", {"n_banks": 3}) == [0, 1, 2, 3]


def test_compound_energy_is_sum_of_subcomponent_actions(tmp_path: Path):
    (tmp_path / "components").mkdir()
    (tmp_path / "components" / "tiny.yaml").write_text(RF_CLASS)
    arch = _arch(
        tmp_path,
        """\
        architecture:
          version: 0.3
          subtree:
            - name: chip
              attributes: {technology: 45nm}
              local:
                - name: buf[0..3]
                  class: tiny_buffer
                  attributes: {memory_depth: 16}
                - name: rf
                  class: regfile
                  attributes: {width: 16, depth: 16}
        """,
    )
    t = build_tables(arch)
    names = [c.name for c in t.components]
    assert names == ["chip.rf", "chip.buf[0..3]"]  # primitives first, as Accelergy prints
    buf, rf = t.by_name()["chip.buf[0..3]"], t.by_name()["chip.rf"]
    adder_add = 0.0857 * 16 / 32  # Aladdin 32-bit adder at 5 ns, scaled to the default 16-bit datawidth
    adder_idle = 0.0119 * 16 / 32
    assert buf.energy("read", address_delta=1, data_delta=1) == pytest.approx(
        rf.energy("read", address_delta=1, data_delta=1) + adder_add + adder_idle
    )
    assert buf.energy("idle") == pytest.approx(rf.energy("idle") + 2 * adder_idle)
    assert buf.area_um2 == pytest.approx(rf.area_um2 + 2 * 179 * 16 / 32)
    assert len(buf.actions) == 2 * 2 + 1


def test_unknown_class_names_component_and_file(tmp_path: Path):
    arch = _arch(
        tmp_path,
        """\
        architecture:
          version: 0.3
          subtree:
            - name: chip
              local:
                - name: widget
                  class: flux_capacitor
                  attributes: {technology: 45nm}
        """,
    )
    with pytest.raises(InputError) as exc:
        build_tables(arch)
    line = exc.value.line()
    assert "chip.widget" in line and "flux_capacitor" in line and str(arch) in line
    assert "\n" not in line


def test_missing_attribute_names_component_attribute_and_file(tmp_path: Path):
    classes = tmp_path / "cls.yaml"
    classes.write_text(RF_CLASS.replace("depth: memory_depth}", "depth: memory_depthh}"))
    cc = load_compound_classes([classes])
    model = ComponentModel(cc, NativeEstimator())
    r = model.resolve("tiny_buffer", {}, Where("sys.buf", "arch.yaml"))
    with pytest.raises(InputError) as exc:
        model.area_um2(r)
    line = exc.value.line()
    assert "memory_depthh" in line and "sys.buf" in line and str(classes) in line


def test_missing_required_primitive_attribute(tmp_path: Path):
    arch = _arch(
        tmp_path,
        """\
        architecture:
          version: 0.3
          subtree:
            - name: chip
              attributes: {technology: 45nm}
              local:
                - name: fifo
                  class: FIFO
                  attributes: {datawidth: 8, depth: deep}
        """,
    )
    with pytest.raises(InputError) as exc:
        build_tables(arch)
    line = exc.value.line()
    assert "chip.fifo" in line and "depth" in line and str(arch) in line


def test_unknown_subcomponent_primitive(tmp_path: Path):
    classes = tmp_path / "cls.yaml"
    classes.write_text(RF_CLASS.replace("class: regfile", "class: quantum_regfile"))
    model = ComponentModel(load_compound_classes([classes]), NativeEstimator())
    r = model.resolve("tiny_buffer", {}, Where("sys.buf", "arch.yaml"))
    with pytest.raises(InputError) as exc:
        model.area_um2(r)
    line = exc.value.line()
    assert "quantum_regfile" in line and "sys.buf.storage" in line and str(classes) in line
