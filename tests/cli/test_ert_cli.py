"""`fusionsim ert`: writes ERT.yaml and ART.yaml readable by the engine; bad input is one line, exit 2, no
outputs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fusionsim.cli import main
from fusionsim.spec.ert import load_ert
from fusionsim.spec.yaml_io import load_yaml

ARCH = textwrap.dedent("""\
    architecture:
      version: 0.3
      subtree:
        - name: system
          local:
            - name: DRAM
              class: DRAM
              attributes: {type: LPDDR4, width: 64, block-size: 4, word-bits: 16}
          subtree:
            - name: chip
              attributes: {technology: 45nm}
              local:
                - name: glb
                  class: SRAM
                  attributes: {width: 64, depth: 2048, n_banks: 4, block-size: 4, word-bits: 16}
              subtree:
                - name: PE[0..15]
                  local:
                    - name: spad
                      class: regfile
                      attributes: {width: 16, depth: 12, word-bits: 16}
                    - name: mac
                      class: intmac
                      attributes: {datawidth: 16}
    """)


def _arch(tmp_path: Path, text: str = ARCH) -> Path:
    p = tmp_path / "arch.yaml"
    p.write_text(text)
    return p


def test_writes_ert_and_art(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "out"
    assert main(["ert", "--arch", str(_arch(tmp_path)), "--out", str(out)]) == 0
    ert = load_ert(out / "ERT.yaml")
    # primitives in Accelergy's flattened order: innermost subtree first
    assert list(ert.tables) == [
        "system.chip.PE[0..15].spad",
        "system.chip.PE[0..15].mac",
        "system.chip.glb",
        "system.DRAM",
    ]
    glb = ert.tables["system.chip.glb"]
    assert len(glb) == 2 * 2 * 5 + 1  # read/write x data_delta 0..1 x address_delta 0..4, + idle
    assert {a.action for a in ert.tables["system.DRAM"]} == {"read", "write", "idle"}
    art = load_yaml(out / "ART.yaml")["ART"]
    assert art["version"] == 0.3 and {t["name"] for t in art["tables"]} == set(ert.tables)
    assert "wrote" in capsys.readouterr().out


def test_technology_override_changes_energies(tmp_path: Path):
    arch = _arch(tmp_path)
    main(["ert", "--arch", str(arch), "--out", str(tmp_path / "a"), "--technology", "45nm"])
    main(["ert", "--arch", str(arch), "--out", str(tmp_path / "b"), "--technology", "65nm"])
    mac45 = load_ert(tmp_path / "a" / "ERT.yaml").tables["system.chip.PE[0..15].mac"][0].energy_pJ
    mac65 = load_ert(tmp_path / "b" / "ERT.yaml").tables["system.chip.PE[0..15].mac"][0].energy_pJ
    assert mac65 > mac45


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (("class: intmac", "class: warp_drive"), ["system.chip.PE[0..15].mac", "warp_drive"]),
        (
            ("{width: 16, depth: 12, word-bits: 16}", "{width: 16, depth: many}"),
            ["system.chip.PE[0..15].spad", "depth"],
        ),
        (("type: LPDDR4", "type: SDR9"), ["system.DRAM", "type", "SDR9"]),
    ],
)
def test_bad_input_is_one_line_exit_2_no_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit, words
):
    arch = _arch(tmp_path, ARCH.replace(*edit))
    out = tmp_path / "out"
    assert main(["ert", "--arch", str(arch), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(arch) in err
    for w in words:
        assert w in err
    assert not out.exists()


def test_missing_components_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    arch = _arch(tmp_path)
    assert (
        main(
            ["ert", "--arch", str(arch), "--components", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]
        )
        == 2
    )
    assert "nope" in capsys.readouterr().err


def test_hwcomponents_backend_missing_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    try:
        import hwcomponents  # noqa: F401

        pytest.skip("hwcomponents is installed")
    except ImportError:
        pass
    arch = _arch(tmp_path)
    assert (
        main(["ert", "--arch", str(arch), "--energy-backend", "hwcomponents", "--out", str(tmp_path / "o")])
        == 2
    )
    assert "hwcomponents" in capsys.readouterr().err
