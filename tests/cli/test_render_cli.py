"""`fusionsim render-accelerator`: a point rendered into a plain accelerator folder, the plain files generated
from their templates (--plain, byte for byte the shipped ones), and one-line errors with exit code 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from fusionsim.cli import main
from fusionsim.errors import InputError
from fusionsim.sweeps import params as P
from fusionsim.workflow.accelerators import load_accelerator

ROOT = Path(__file__).resolve().parents[2]
SIMBA = ROOT / "accelerators" / "simba_like"


def test_render_a_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "simba_pe4"
    assert main(["render-accelerator", str(SIMBA), "--set", "pe_count=4", "--set", "glb_kib=256",
                 "--out", str(out)]) == 0
    assert "fusionsim ert --arch" in capsys.readouterr().out
    arch = yaml.safe_load((out / "arch.yaml").read_text())["architecture"]
    ws = arch["subtree"][0]["subtree"][0]
    assert ws["subtree"][0]["name"] == "PE[0..3]" and ws["local"][0]["attributes"]["memory_depth"] == 4096
    manifest = yaml.safe_load((out / "accelerator.yaml").read_text())
    assert "parameters" not in manifest and "ert" not in manifest
    assert manifest["rendered_from"]["parameters"] == {"pe_count": 4, "glb_kib": 256, "word_bits": 16}
    assert manifest["fusion"]["weights_level"] == f"PEWeightBuffer:{4 * 8 * 512 * 8}"
    assert manifest["fusion"]["inputs_level"] == f"PEInputBuffer:{256 * 1024 * 8 // 16}"
    acc = load_accelerator(tmp_path, "simba_pe4")  # an ordinary accelerator folder
    assert acc.ert is None and acc.arch == out / "arch.yaml"
    # files without a template are taken as they are (text), the component classes copied
    assert (out / "constraints/map.yaml").read_text() == (SIMBA / "constraints/map.yaml").read_text()
    assert sorted(p.name for p in (out / "components").iterdir()) == sorted(
        p.name for p in (SIMBA / "components").glob("*.yaml"))


def test_plain_files_are_generated_from_the_templates(tmp_path: Path) -> None:
    acc = tmp_path / "simba_like"
    shutil.copytree(SIMBA, acc)
    (acc / "arch.yaml").unlink()
    assert main(["render-accelerator", str(acc), "--plain"]) == 0
    # the shipped arch.yaml is exactly the template at the defaults: plain content keys do not change
    assert (acc / "arch.yaml").read_bytes() == (SIMBA / "arch.yaml").read_bytes()
    P.check_defaults(acc)
    tpl = acc / "arch.yaml.j2"
    tpl.write_text(tpl.read_text().replace("memory_depth: 1024", "memory_depth: 2048"))
    with pytest.raises(InputError) as err:
        P.check_defaults(acc)
    assert "render-accelerator" in err.value.line() and "--plain" in err.value.line()
    assert main(["render-accelerator", str(acc), "--plain"]) == 0
    P.check_defaults(acc)
    assert "memory_depth: 2048" in (acc / "arch.yaml").read_text()


@pytest.mark.parametrize(("args", "words"), [
    (["--set", "pe_rows=4"], ["key '--set pe_rows'", "pe_count, glb_kib, word_bits"]),
    (["--set", "glb_kib=abc"], ["key '--set glb_kib'", "integer values"]),
    (["--set", "glb_kib"], ["expected NAME=VALUE"]),
    (["--set", "glb_kib=[1, 2]"], ["expected a number, boolean or text"]),
    (["--set", "word_bits=0"], ["arch.yaml.j2", "division"]),
])
def test_bad_values_are_one_line_and_exit_2(args: list[str], words: list[str], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render-accelerator", str(SIMBA), *args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("fusionsim render-accelerator: error:")
    assert all(w in err for w in words), err
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_an_accelerator_without_parameters_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render-accelerator", str(ROOT / "accelerators/eyeriss_like"), "--out", str(tmp_path)]) == 2
    assert "declares no `parameters:`" in capsys.readouterr().err
