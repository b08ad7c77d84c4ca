"""Parametric accelerators: Jinja2 templates rendered at the defaults are the plain files; bad templates and
unknown parameters are one-line errors naming file, key and fix; sweep points plan as content-keyed variants."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from fusionsim.errors import InputError
from fusionsim.sweeps import params as P
from fusionsim.sweeps.plan import expand_points, sweep_plan
from fusionsim.workflow.plan import build_plan

ROOT = Path(__file__).resolve().parents[2]
SIMBA = ROOT / "accelerators" / "simba_like"


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "accels" / "simba_like"
    shutil.copytree(SIMBA, dest)
    return dest


def test_simba_defaults_render_to_the_plain_arch() -> None:
    defaults = P.parameters(SIMBA)
    assert defaults == {"pe_count": 16, "glb_kib": 128, "word_bits": 16}
    texts = P.render_texts(SIMBA, defaults)
    assert yaml.safe_load(texts["arch.yaml"]) == yaml.safe_load((SIMBA / "arch.yaml").read_text())
    # files without a template are taken byte for byte
    assert texts["constraints/map.yaml"] == (SIMBA / "constraints/map.yaml").read_text()
    P.check_defaults(SIMBA)


def test_parameters_change_the_rendered_arch() -> None:
    values = P.resolve_values(SIMBA, {"pe_count": 4, "glb_kib": 64, "word_bits": 8})
    arch = yaml.safe_load(P.render_texts(SIMBA, values)["arch.yaml"])["architecture"]
    glb = arch["subtree"][0]["subtree"][0]["local"][0]
    assert glb["attributes"]["memory_depth"] == 64 * 1024 * 8 // 512
    assert glb["attributes"]["block-size"] == 512 // 8
    assert arch["subtree"][0]["subtree"][0]["subtree"][0]["name"] == "PE[0..3]"


def test_unknown_parameter_names_key_and_fix() -> None:
    with pytest.raises(InputError) as err:
        P.resolve_values(SIMBA, {"pe_rows": 4}, "sweeps.s.grid")
    line = err.value.line()
    assert "key 'sweeps.s.grid.pe_rows'" in line and "pe_count, glb_kib, word_bits" in line
    assert "\n" not in line


def test_undefined_name_in_a_template_names_the_template_and_line(tmp_path: Path) -> None:
    acc = _copy(tmp_path)
    tpl = acc / "arch.yaml.j2"
    tpl.write_text(tpl.read_text().replace("{{ glb_kib * 1024 * 8 // 512 }}", "{{ glb_kb * 1024 }}"))
    with pytest.raises(InputError) as err:
        P.render_texts(acc, P.parameters(acc))
    line = err.value.line()
    assert str(tpl) in line and "glb_kb" in line and "fix:" in line


def test_template_syntax_error_and_sandbox(tmp_path: Path) -> None:
    acc = _copy(tmp_path)
    tpl = acc / "arch.yaml.j2"
    tpl.write_text("a: {{ pe_count + }}\n")
    with pytest.raises(InputError, match="line 1"):
        P.render_texts(acc, P.parameters(acc))
    tpl.write_text("a: {{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    with pytest.raises(InputError, match="arch.yaml.j2"):
        P.render_texts(acc, P.parameters(acc))


def test_drifted_plain_file_is_reported(tmp_path: Path) -> None:
    acc = _copy(tmp_path)
    arch = acc / "arch.yaml"
    arch.write_text(arch.read_text().replace("memory_depth: 2048", "memory_depth: 4096"))
    with pytest.raises(InputError, match="is not its template rendered at the manifest's defaults"):
        P.check_defaults(acc)
    arch.write_text(P.render_file(acc, "arch.yaml", P.parameters(acc)) + "# a hand edit\n")
    with pytest.raises(InputError, match="render-accelerator"):  # generated: even a comment counts
        P.check_defaults(acc)


def test_render_accelerator_is_plain_and_leaves_unchanged_files_alone(tmp_path: Path) -> None:
    values = P.resolve_values(SIMBA, {"pe_count": 8})
    dest = P.render_accelerator(SIMBA, values, tmp_path / "v")
    manifest = yaml.safe_load((dest / "accelerator.yaml").read_text())
    assert "ert" not in manifest and "parameters" not in manifest
    assert (dest / "components" / "lmac.yaml").is_file()
    mtime = (dest / "arch.yaml").stat().st_mtime_ns
    P.render_accelerator(SIMBA, values, tmp_path / "v")
    assert (dest / "arch.yaml").stat().st_mtime_ns == mtime


def test_expand_points_grid_then_points() -> None:
    pts = expand_points({"grid": {"a": [1, 2], "b": [3]}, "points": [{"a": 9}]}, "sweeps.s")
    assert pts == [{"a": 1, "b": 3}, {"a": 2, "b": 3}, {"a": 9}]
    with pytest.raises(InputError, match="grid"):
        expand_points({}, "sweeps.s")


def _config(tmp_path: Path, sweeps: dict) -> dict:
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg.update({"output_dir": str(tmp_path / "out"), "networks": ["alexnet"], "datasets": ["imagenet"],
                "accelerators": {"simba_like": {}}, "layers": {"alexnet": ["conv2", "fc8"]}, "sweeps": sweeps})
    return cfg


def test_sweeps_leave_plain_keys_alone_and_share_equal_points(tmp_path: Path) -> None:
    plain = build_plan(_config(tmp_path, {}), ROOT)
    grid = {"accelerator": "simba_like", "networks": ["alexnet"], "datasets": ["imagenet"],
            "layers": {"alexnet": ["conv2", "fc8"]}, "grid": {"pe_count": [4, 16], "glb_kib": [64, 128]}}
    cfg = _config(tmp_path, {"a": grid, "b": {**grid, "grid": {"pe_count": [4]}}})
    plan = build_plan(cfg, ROOT)
    sp = sweep_plan(plan, cfg, ROOT)
    assert plan.layer_keys == plain.layer_keys and set(plan.jobs) == set(plain.jobs)
    assert len(sp.variants) == 4 and len(sp.jobs) == 8  # sweep b's points are sweep a's: no new jobs
    assert set(sp.sweeps["b"].points) < set(sp.sweeps["a"].points)
    assert set(sp.variants) <= set(plan.ert_builds)  # each variant's ERT is built by rule build_ert
    # the default point renders the plain arch
    default = next(p for p, v in sp.sweeps["a"].points.items() if v["pe_count"] == 16 and v["glb_kib"] == 128)
    assert yaml.safe_load(sp.variants[default].arch.read_text()) == yaml.safe_load((SIMBA / "arch.yaml").read_text())


def test_each_point_maps_its_layers_in_its_own_batch(tmp_path: Path) -> None:
    """A sweep point's (network, dataset) layers share one sweep_map_batch job; sweep_point waits for it and
    reads the cached stats as params, in layer order."""
    grid = {"accelerator": "simba_like", "networks": ["alexnet"], "datasets": ["imagenet"],
            "layers": {"alexnet": ["conv2", "fc8"]}, "grid": {"pe_count": [4, 16]}}
    cfg = _config(tmp_path, {"a": grid})
    plan = build_plan(cfg, ROOT)
    sp = sweep_plan(plan, cfg, ROOT)
    batches = sp.batching.batches()
    assert len(batches) == 2 and sorted(k for keys in batches.values() for k in keys) == sorted(sp.jobs)
    for pid in sp.sweeps["a"].points:
        keys = sp.sweeps["a"].keys[(pid, "alexnet", "imagenet")]
        inputs = sp.point_inputs("a", "alexnet", "imagenet", pid)
        assert inputs["map_batches"] == [sp.batch_file_of(keys[0])] == [sp.batch_file_of(keys[1])]
        assert sp.point_stats("a", "alexnet", "imagenet", pid) == [f"{sp.map_dir(k)}/stats.json" for k in keys]
        (entry, _) = sp.batch_params(sp.batching.batch_of(keys[0]))
        assert entry["files"]["ert"] in sp.batch_inputs(sp.batching.batch_of(keys[0]))  # the built ERT
