"""fusionsim.workflow: the plan (pairs, layers, content keys), mapper settings, tables, atomic copies."""

from __future__ import annotations

import copy
import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from fusionsim.errors import InputError
from fusionsim.workflow.accelerators import load_accelerator
from fusionsim.workflow.keys import content_hash
from fusionsim.workflow.mapper_settings import merge_mapper_settings
from fusionsim.workflow.plan import Plan, build_plan, select_layers, select_pairs, wildcard_pattern
from fusionsim.workflow.tables import layer_cost, res_rows, write_summary
from fusionsim.workloads import Layer, load_network

ROOT = Path(__file__).resolve().parents[2]


def base_config(**over) -> dict:
    cfg = {
        "output_dir": "results",
        "networks": ["mobilenetv2"],
        "datasets": ["cifar10"],
        "accelerators": {"eyeriss_like": {}},
        "engine": "native",
        "mapper": {
            "algorithm": None,
            "optimization_metrics": None,
            "timeout": None,
            "victory_condition": None,
            "max_permutations_per_if_visit": None,
            "seed": 0,
            "threads": 1,
        },
        "layers": {},
        "workloads_dir": "workloads",
        "accelerators_dir": "accelerators",
    }
    cfg.update(over)
    return cfg


@pytest.fixture
def two_accels(tmp_path: Path) -> Path:
    """An accelerators folder with the baseline twice (a and b)."""
    for name in ("a", "b"):
        shutil.copytree(ROOT / "accelerators/eyeriss_like", tmp_path / name)
    return tmp_path


def test_plan_dedups_equal_problems_across_datasets() -> None:
    plan = build_plan(base_config(datasets=["cifar10", "cifar100"]), ROOT)
    assert plan.pairs() == [("mobilenetv2", "cifar10"), ("mobilenetv2", "cifar100")]
    n_layers = sum(len(v) for v in plan.layers.values())
    assert n_layers == 2 * 55
    # only the classifier differs between CIFAR-10 and CIFAR-100
    k10 = plan.key_of("mobilenetv2", "cifar10", "eyeriss_like", "b3_decom", "full")
    k100 = plan.key_of("mobilenetv2", "cifar100", "eyeriss_like", "b3_decom", "full")
    assert k10 == k100
    assert plan.key_of("mobilenetv2", "cifar10", "eyeriss_like", "FC1", "full") != plan.key_of(
        "mobilenetv2", "cifar100", "eyeriss_like", "FC1", "full"
    )
    assert len(plan.jobs) < n_layers // 2


def test_keys_change_only_for_the_edited_accelerator(two_accels: Path) -> None:
    cfg = base_config(
        accelerators={"a": {}, "b": {}},
        accelerators_dir=str(two_accels),
        layers={"mobilenetv2": ["conv1", "b1_conv", "b1_comp"]},
    )
    before = build_plan(cfg, ROOT)
    # keys are per accelerator (name and paths are key parts), so each key has one fixed set of input paths
    assert (
        before.layer_keys[("mobilenetv2", "cifar10", "a", "conv1", "full")]
        != before.layer_keys[("mobilenetv2", "cifar10", "b", "conv1", "full")]
    )
    cfg2 = copy.deepcopy(cfg)
    cfg2["accelerators"]["b"] = {"mapper": {"timeout": 77}}
    after = build_plan(cfg2, ROOT)
    for (net, ds, acc, layer, tile), key in before.layer_keys.items():
        changed = after.layer_keys[(net, ds, acc, layer, tile)] != key
        assert changed == (acc == "b"), (acc, layer)
    # editing a file of accelerator a changes a's keys only
    (two_accels / "a/constraints/map.yaml").write_text(
        (two_accels / "a/constraints/map.yaml").read_text() + "\n#x\n"
    )
    edited = build_plan(cfg, ROOT)
    for k, key in before.layer_keys.items():
        assert (edited.layer_keys[k] != key) == (k[2] == "a")


def test_key_covers_engine_seed_and_model_version(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = base_config(layers={"mobilenetv2": ["conv1"]})
    ref = build_plan(cfg, ROOT).key_of("mobilenetv2", "cifar10", "eyeriss_like", "conv1", "full")
    cfg_seed = copy.deepcopy(cfg)
    cfg_seed["mapper"]["seed"] = 1
    cfg_eng = base_config(layers={"mobilenetv2": ["conv1"]}, engine="timeloop")
    for other in (cfg_seed, cfg_eng):
        assert (
            build_plan(other, ROOT).key_of("mobilenetv2", "cifar10", "eyeriss_like", "conv1", "full") != ref
        )
    cfg_threads = copy.deepcopy(cfg)
    cfg_threads["mapper"]["threads"] = 2
    assert (
        build_plan(cfg_threads, ROOT).key_of("mobilenetv2", "cifar10", "eyeriss_like", "conv1", "full") == ref
    )
    # with the real Timeloop the searcher count changes the mapping: it is stated in the job's mapper file
    # (config mapper.threads, never the machine's core count) and so keys the job; native jobs do not carry it
    plans = {}
    for threads in (1, 2):
        cfg_tl = base_config(layers={"mobilenetv2": ["conv1"]}, engine="timeloop")
        cfg_tl["mapper"]["threads"] = threads
        plans[threads] = build_plan(cfg_tl, ROOT)
    key1 = plans[1].key_of("mobilenetv2", "cifar10", "eyeriss_like", "conv1", "full")
    assert key1 != plans[2].key_of("mobilenetv2", "cifar10", "eyeriss_like", "conv1", "full")
    assert plans[2].mappers[plans[2].jobs[plans[2].key_of(
        "mobilenetv2", "cifar10", "eyeriss_like", "conv1", "full")].mapper_key]["mapper"]["num-threads"] == 2
    native = build_plan(cfg, ROOT)
    assert all("num-threads" not in m["mapper"] for m in native.mappers.values())
    import fusionsim

    monkeypatch.setattr(fusionsim, "MODEL_VERSION", "test-bump", raising=False)
    assert build_plan(cfg, ROOT).key_of("mobilenetv2", "cifar10", "eyeriss_like", "conv1", "full") != ref


def test_map_job_inputs_pick_files_per_layer_kind() -> None:
    plan = build_plan(base_config(layers={"mobilenetv2": ["b1_decom", "b1_conv"]}), ROOT)
    pw = plan.map_job_inputs(plan.key_of("mobilenetv2", "cifar10", "eyeriss_like", "b1_decom", "full"))
    dw = plan.map_job_inputs(plan.key_of("mobilenetv2", "cifar10", "eyeriss_like", "b1_conv", "full"))
    assert len(pw["constraints"]) == 2 and pw["arch"].endswith("eyeriss_like/arch.yaml")
    assert len(pw["components"]) == 2
    key_pw = plan.key_of("mobilenetv2", "cifar10", "eyeriss_like", "b1_decom", "full")
    key_dw = plan.key_of("mobilenetv2", "cifar10", "eyeriss_like", "b1_conv", "full")
    settings_pw = plan.mappers[plan.jobs[key_pw].mapper_key]["mapper"]
    settings_dw = plan.mappers[plan.jobs[key_dw].mapper_key]["mapper"]
    assert (settings_pw["timeout"], settings_dw["timeout"]) == (50000, 10000)
    assert "live-status" not in settings_pw
    assert dw["constraints"] == pw["constraints"]
    # one collect job per (network, dataset, accelerator) copies every layer's cached files
    copies = plan.collect_copies("mobilenetv2", "cifar10", "eyeriss_like")
    assert copies == [[f"results/cache/layers/{key_pw}", "b1_decom/full"], [f"results/cache/layers/{key_dw}", "b1_conv/full"]]
    # ... and waits for the batch jobs that map them (the cache files themselves are no rule's outputs)
    batches = plan.collect_inputs("mobilenetv2", "cifar10", "eyeriss_like")["map_batches"]
    assert batches == sorted({plan.batch_file_of(key_pw), plan.batch_file_of(key_dw)})


def test_targets_cover_every_layer_res_and_summary() -> None:
    plan = build_plan(base_config(layers={"mobilenetv2": ["conv1", "b1_decom"]}, output_dir="out/"), ROOT)
    t = plan.targets()
    assert "out/mobilenetv2/cifar10/eyeriss_like/layers" in t  # collect_layers' folder of every layer
    assert "out/mobilenetv2/cifar10/eyeriss_like/res.csv" in t
    assert t[-2:] == ["out/summary.csv", "out/summary.md"]
    assert plan.layer_stats("mobilenetv2", "cifar10", "eyeriss_like") == [
        f"out/mobilenetv2/cifar10/eyeriss_like/layers/{x}/full/stats.json" for x in ("conv1", "b1_decom")
    ]


def test_merge_mapper_settings_applies_non_null_in_order() -> None:
    base = {
        "mapper": {"algorithm": "random-pruned", "timeout": 5, "victory-condition": 9, "live-status": True}
    }
    merged = merge_mapper_settings(
        base,
        {"timeout": 10, "victory_condition": None, "seed": 3},
        {"timeout": 20, "optimization_metrics": ["edp"]},
    )
    assert merged == {
        "mapper": {
            "algorithm": "random-pruned",
            "timeout": 20,
            "victory-condition": 9,
            "optimization-metrics": ["edp"],
        }
    }
    assert base["mapper"]["timeout"] == 5


def test_select_pairs_and_layers_errors() -> None:
    nets = {
        "mobilenetv2": load_network(ROOT / "workloads/mobilenetv2.yaml"),
        "alexnet": load_network(ROOT / "workloads/alexnet.yaml"),
    }
    assert select_pairs(nets, ["cifar10", "imagenet"]) == [
        ("mobilenetv2", "cifar10"),
        ("alexnet", "imagenet"),
    ]
    with pytest.raises(InputError) as exc:
        select_pairs(nets, ["cifar10"])
    assert exc.value.key == "networks" and "alexnet" in exc.value.line()
    layers = [Layer("a", "conv", 3, 8, 3, 1, 8, 8), Layer("b", "fc", 8, 10, 1, 1, 1, 1)]
    assert select_layers(layers, [], "n") == layers
    assert [x.name for x in select_layers(layers, ["b"], "n")] == ["b"]
    with pytest.raises(InputError, match="unknown layer 'c'"):
        select_layers(layers, ["c"], "n")


def test_build_plan_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        build_plan(base_config(networks=["nosuchnet"]), ROOT)
    assert exc.value.key == "networks" and "mobilenetv2" in exc.value.line()
    with pytest.raises(InputError) as exc:
        build_plan(base_config(accelerators={"nosuch": {}}), ROOT)
    assert exc.value.key == "accelerators.nosuch"
    with pytest.raises(InputError) as exc:
        build_plan(base_config(layers={"vgg16": ["fc6"]}), ROOT)
    assert exc.value.key == "layers.vgg16"


def test_accelerator_manifest_errors(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "accelerators/eyeriss_like", tmp_path / "x")
    man = tmp_path / "x/accelerator.yaml"
    raw = yaml.safe_load(man.read_text())
    raw["layer_kinds"]["depthwise"]["mapper"] = "mapper/missing.yaml"
    man.write_text(yaml.safe_dump(raw))
    with pytest.raises(InputError) as exc:
        load_accelerator(tmp_path, "x")
    assert exc.value.key == "layer_kinds.depthwise.mapper"
    raw["layer_kinds"] = {"depthwise": raw["layer_kinds"]["default"]}
    man.write_text(yaml.safe_dump(raw))
    with pytest.raises(InputError, match="default"):
        load_accelerator(tmp_path, "x")


def stats(energy: float, cycles: int, glb_in: float = 0.0, dram_in: float = 0.0) -> dict:
    return {
        "energy_pJ": energy,
        "cycles": cycles,
        "utilization": 1.0,
        "macs": 1,
        "levels": [
            {"name": "shared_glb", "energy_pJ": glb_in, "dataspaces": {"Inputs": {"energy_pJ": glb_in}}},
            {"name": "DRAM", "energy_pJ": dram_in, "dataspaces": {"Inputs": {"energy_pJ": dram_in}}},
        ],
    }


def test_layer_cost_groups_and_depthwise_correction() -> None:
    pw = Layer("b1_decom", "pointwise", 24, 216, 1, 1, 32, 32, groups=3, block="b1", role="decom")
    assert layer_cost(pw, stats(1e6, 100), ["shared_glb", "DRAM"]) == (3.0, 300.0)
    dw = Layer("b1_conv", "depthwise", 60, 60, 3, 1, 32, 32, block="b1", role="conv", channels=240)
    e, c = layer_cost(dw, stats(1e6, 100, glb_in=10.0, dram_in=5.0), ["shared_glb", "DRAM"])
    assert c == 100 and e == pytest.approx((1e6 + 239 * 15.0) * 1e-6)
    assert layer_cost(dw, stats(1e6, 100, 10.0, 5.0), [])[0] == pytest.approx(1.0)


def test_res_rows_seed_layout() -> None:
    layers = [
        Layer("conv1", "conv", 3, 16, 3, 1, 32, 32),
        Layer("b1_decom", "pointwise", 16, 96, 1, 1, 32, 32, block="b1", role="decom"),
        Layer("b1_conv", "depthwise", 96, 96, 3, 1, 32, 32, block="b1", role="conv", channels=96),
        Layer("b1_comp", "pointwise", 96, 24, 1, 1, 32, 32, block="b1", role="comp"),
        Layer("FC1", "fc", 24, 10, 1, 1, 1, 1),
    ]
    costs = [(1.0, 10.0), (2.0, 20.0), (3.0, 30.0), (4.0, 40.0), (5.0, 50.0)]
    rows = res_rows(layers, costs)
    assert rows["layer"].tolist() == ["conv1", "b1", "FC1", "total"]
    b1 = rows.iloc[1]
    assert (b1["PW1/L1_e"], b1["DW_e"], b1["PW2_e"], b1["DW_c"]) == (2.0, 3.0, 4.0, 30.0)
    assert rows.iloc[-1]["PW1/L1_e"] == 8.0 and rows.iloc[-1]["PW2_c"] == 40.0
    # an invalid sweep point's NaN cost stays NaN in its block and the total, and is written as nan
    costs[2] = (float("nan"), float("nan"))
    nan_rows = res_rows(layers, costs)
    assert nan_rows.iloc[1].isna()[["DW_e", "DW_c"]].all() and pd.isna(nan_rows.iloc[-1]["DW_e"])
    assert nan_rows.iloc[-1]["PW1/L1_e"] == 8.0


def test_summary_from_res_files(tmp_path: Path) -> None:
    res = tmp_path / "net/ds/acc/res.csv"
    res.parent.mkdir(parents=True)
    res.write_text("layer,PW1/L1_e,DW_e,PW2_e,PW1/L1_c,DW_c,PW2_c\nb1,1,2,3,10,20,30\ntotal,1,2,3,10,20,30\n")
    rows = write_summary([str(res)], str(tmp_path / "s.csv"), str(tmp_path / "s.md"))
    assert rows.iloc[0]["energy_uJ"] == 6.0 and rows.iloc[0]["cycles"] == 60.0
    assert (tmp_path / "s.csv").read_text() == (
        "network,dataset,accelerator,energy_uJ,cycles,edp_uJ_cycles\nnet,ds,acc,6,60,360\n"
    )
    md = (tmp_path / "s.md").read_text().splitlines()
    assert [c.strip() for c in md[2].strip("|").split("|")] == ["net", "ds", "acc", "6.00", "60", "360"]


def test_content_hash_and_wildcard_pattern() -> None:
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1})
    assert len(content_hash({})) == 16
    import re

    pat = wildcard_pattern(["cifar10", "cifar100"])
    assert re.fullmatch(pat, "cifar100") and re.fullmatch(pat, "cifar10") and not re.fullmatch(pat, "cifar1")
    assert not re.fullmatch(wildcard_pattern([]), "")


def test_plan_is_plain_data() -> None:
    plan = build_plan(base_config(layers={"mobilenetv2": ["conv1"]}), ROOT)
    assert isinstance(plan, Plan) and plan.out == "results" and plan.engine == "native"
    assert plan.layer_table_path("n", "d") == "results/n/d/layers.csv"
    with pytest.raises(InputError):
        plan.key_of("mobilenetv2", "cifar10", "eyeriss_like", "b9_comp", "full")


# ---------------------------------------------------------------------------------------------- built ERTs


@pytest.fixture
def ertless(tmp_path: Path) -> Path:
    """An accelerators folder with the baseline (ships an ERT) and a copy of it without `ert:` (built)."""
    shutil.copytree(ROOT / "accelerators/eyeriss_like", tmp_path / "shipped")
    shutil.copytree(ROOT / "accelerators/eyeriss_like", tmp_path / "built")
    man = tmp_path / "built/accelerator.yaml"
    raw = yaml.safe_load(man.read_text())
    del raw["ert"]
    man.write_text(yaml.safe_dump(raw))
    (tmp_path / "built/ERT.yaml").unlink()
    return tmp_path


def ert_config(accels: Path, **over) -> dict:
    cfg = {
        "accelerators": {"shipped": {}, "built": {}},
        "accelerators_dir": str(accels),
        "layers": {"mobilenetv2": ["conv1", "b1_conv"]},
    }
    return base_config(**{**cfg, **over})


def keys_of(plan: Plan, accel: str) -> set[str]:
    return {k for (n, d, a, lay, t), k in plan.layer_keys.items() if a == accel}


def test_accelerator_without_ert_gets_a_build_job(ertless: Path) -> None:
    acc = load_accelerator(ertless, "built")
    assert acc.ert is None and acc.technology is None
    plan = build_plan(ert_config(ertless), ROOT)  # the built ERT need not exist to plan
    assert plan.ert_build_names() == ["built"]
    assert plan.ert_settings("built") == {"technology": "45nm", "backend": "native"}
    inputs = plan.ert_build_inputs("built")
    assert inputs["arch"] == str(ertless / "built/arch.yaml") and len(inputs["components"]) == 2
    key = plan.key_of("mobilenetv2", "cifar10", "built", "conv1", "full")
    assert plan.map_job_inputs(key)["ert"] == "results/ert/built/ERT.yaml"
    shipped = plan.key_of("mobilenetv2", "cifar10", "shipped", "conv1", "full")
    assert plan.map_job_inputs(shipped)["ert"] == str(ertless / "shipped/ERT.yaml")
    # an accelerator that ships its ERT keeps the key it had before built ERTs existed
    alone = build_plan(ert_config(ertless, accelerators={"shipped": {}}), ROOT)
    assert keys_of(alone, "shipped") == keys_of(plan, "shipped") and not alone.ert_builds


def test_built_ert_key_covers_arch_components_and_energy_settings(
    ertless: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = build_plan(ert_config(ertless), ROOT)
    ref_built, ref_shipped = keys_of(ref, "built"), keys_of(ref, "shipped")

    def check(plan: Plan, built_changes: bool = True) -> None:
        assert keys_of(plan, "shipped") == ref_shipped
        assert (keys_of(plan, "built").isdisjoint(ref_built)) == built_changes

    check(build_plan(ert_config(ertless, energy={"technology": "65nm", "backend": "native"}), ROOT))
    check(build_plan(ert_config(ertless, energy={"technology": None, "backend": "native"}), ROOT))
    check(build_plan(ert_config(ertless, energy={"technology": "45nm", "backend": "hwcomponents"}), ROOT))
    check(build_plan(ert_config(ertless, energy={"technology": "45nm", "backend": "native"}), ROOT), False)
    # a manifest `technology:` overrides the config's
    man = ertless / "built/accelerator.yaml"
    raw = yaml.safe_load(man.read_text())
    man.write_text(yaml.safe_dump({**raw, "technology": "40nm"}))
    plan = build_plan(ert_config(ertless), ROOT)
    assert plan.ert_settings("built")["technology"] == "40nm"
    check(plan)
    man.write_text(yaml.safe_dump(raw))
    # a buffer depth in the arch, a component class file
    arch = ertless / "built/arch.yaml"
    text = arch.read_bytes()
    arch.write_bytes(text.replace(b"memory_depth: 13824", b"memory_depth: 6912", 1))
    assert arch.read_bytes() != text
    check(build_plan(ert_config(ertless), ROOT))
    arch.write_bytes(text)
    comp = ertless / "built/components/smartbuffer_RF.yaml"
    original = comp.read_bytes()  # (CRLF file: restore the bytes, not the text)
    comp.write_bytes(original + b"# edited\n")
    check(build_plan(ert_config(ertless), ROOT))
    comp.write_bytes(original)
    check(build_plan(ert_config(ertless), ROOT), False)
    import fusionsim

    monkeypatch.setattr(fusionsim, "MODEL_VERSION", "test-bump", raising=False)
    bumped = build_plan(ert_config(ertless), ROOT)
    assert keys_of(bumped, "built").isdisjoint(ref_built) and keys_of(bumped, "shipped").isdisjoint(
        ref_shipped
    )


def test_ert_manifest_and_energy_config_errors(ertless: Path) -> None:
    man = ertless / "built/accelerator.yaml"
    raw = yaml.safe_load(man.read_text())
    man.write_text(yaml.safe_dump({**raw, "ert": "missing/ERT.yaml"}))
    with pytest.raises(InputError) as exc:
        load_accelerator(ertless, "built")
    assert (
        exc.value.key == "ert" and "missing/ERT.yaml" in exc.value.line() and "build_ert" in exc.value.line()
    )
    man.write_text(yaml.safe_dump({**raw, "ert": 3}))
    with pytest.raises(InputError, match="must be a path"):
        load_accelerator(ertless, "built")
    man.write_text(yaml.safe_dump({**raw, "technology": "7nm"}))
    with pytest.raises(InputError) as exc:
        load_accelerator(ertless, "built")
    assert exc.value.key == "technology" and "45nm" in exc.value.line()
    shipped = ertless / "shipped/accelerator.yaml"
    shipped.write_text(shipped.read_text() + "technology: 65nm\n")
    with pytest.raises(InputError, match="ships one") as exc:
        load_accelerator(ertless, "shipped")
    with pytest.raises(InputError) as exc:
        build_plan(base_config(energy={"technology": "7nm", "backend": "native"}), ROOT)
    assert exc.value.key == "energy.technology"
    with pytest.raises(InputError) as exc:
        build_plan(base_config(energy={"technology": "45nm", "backend": "accelergy"}), ROOT)
    assert exc.value.key == "energy.backend"


def test_run_ert_job_writes_loadable_tables(ertless: Path, tmp_path: Path) -> None:
    from fusionsim.spec.ert import load_ert
    from fusionsim.workflow.jobs import run_ert_job

    plan = build_plan(ert_config(ertless), ROOT)
    inputs = plan.ert_build_inputs("built")
    outputs = {"ert": str(tmp_path / "o/ERT.yaml"), "art": str(tmp_path / "o/ART.yaml")}
    record = run_ert_job(**inputs, **plan.ert_settings("built"), outputs=outputs)
    assert record["components"] > 0
    load_ert(outputs["ert"])
    assert yaml.safe_load(Path(outputs["art"]).read_text())["ART"]["version"] == 0.3
    assert not [p for p in (tmp_path / "o").iterdir() if p.name.endswith(".tmp")]
    # only the manifest's component files count: without them the compound classes are unknown
    with pytest.raises(InputError):
        run_ert_job(**{**inputs, "components": []}, **plan.ert_settings("built"), outputs=outputs)


def test_archon_comparison_builds_the_ert_of_an_accelerator_without_one(ertless: Path) -> None:
    """The comparison's baseline on an ERT-less accelerator: build_plan registers its build_ert job (before
    rules/energy.smk reads the names) and the comparison's jobs on it read the built ERT, keyed by its build key."""
    from fusionsim.workflow.archon_comparison import comparison_plan

    for name in ("archon_predictions", "archon_predictions_mobilenet", "archon_main", "archon_head_tail"):
        shutil.copytree(ROOT / "accelerators" / name, ertless / name)
    cfg = ert_config(ertless, networks=["fusionet"], layers={"fusionet": ["conv1"]})
    defaults = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["sparsity"] = defaults["sparsity"]
    cfg["fusion"] = {**defaults["fusion"], "enabled": True, "baseline_accelerator": "built", "comparisons": ["fusionet"]}
    plan = build_plan(cfg, ROOT)
    assert set(plan.ert_builds) == {"built"}
    cp = comparison_plan(plan, cfg, ROOT)
    base = set(cp.baseline_keys[(cp.baseline_name("fusionet"), "cifar10")].values())
    assert base and {plan.map_job_inputs(k)["ert"] for k in base} == {plan.built_ert_path("built")}
    fused = {k for fk in cp.fused_keys.values() for k in fk.values()}
    assert all(plan.map_job_inputs(k)["ert"].endswith("archon_predictions/ERT.yaml")
               or plan.map_job_inputs(k)["ert"].endswith("archon_main/ERT.yaml") for k in fused)


# ---------------------------------------------------------------------------------------------- fusion tiling

SEVEN = ["SLC", "Start", "LBLC", "ELBLC", "WCC", "EWCC", "OutWCC"]


def fusion_config(**over) -> dict:
    """base_config with an enabled `fusion_tiling` section (schema defaults, AlexNet conv4-conv5 on simba_like)."""
    section = {
        "enabled": True,
        "networks": ["alexnet"],
        "datasets": ["imagenet"],
        "accelerators": ["simba_like"],
        "layers": {"alexnet": ["conv4", "conv5"]},
        "types": list(SEVEN),
        "tiles": [6, 13],
        "objective": "energy",
        "variant": "exact",
        "mapper": {"timeout": 200, "victory_condition": 20},
    }
    section.update(over)
    return base_config(fusion_tiling=section)


def fusion_plan(cfg: dict):
    from fusionsim.workflow.fusion_tiling import fusion_tiling_plan

    return fusion_tiling_plan(build_plan(cfg, ROOT), cfg, ROOT)


def test_fusion_tiling_disabled_adds_nothing() -> None:
    from fusionsim.workflow.fusion_tiling import fusion_tiling_targets

    cfg = base_config()
    ft = fusion_plan(cfg)
    assert not ft.enabled and fusion_tiling_targets(ft) == [] and ft.jobs == {}
    assert wildcard_pattern(ft.network_names()) == "(?!)"
    cfg["fusion_tiling"] = {**fusion_config()["fusion_tiling"], "enabled": False}
    assert fusion_tiling_targets(fusion_plan(cfg)) == []


def test_fusion_tiling_jobs_are_plan_jobs_keyed_and_targets_follow_the_types() -> None:
    from fusionsim.workflow.fusion_tiling import fusion_tiling_targets

    # 2 layers: SLC at the full width, six types at widths 6 and 13 -- all of them with full_tables
    full = fusion_plan(fusion_config(full_tables=True))
    assert len(full.jobs) == len(full.uses[("alexnet", "simba_like")]) == 2 + 6 * 2 * 2
    assert full.skipped[("alexnet", "simba_like")] == []
    # by default the 13 entries no stack option fitting on chip reads are not mapped (fusion/skip.py)
    ft = fusion_plan(fusion_config())
    uses = ft.uses[("alexnet", "simba_like")]
    skipped = ft.skipped[("alexnet", "simba_like")]
    assert len(ft.jobs) == len(uses) == 2 + 6 * 2 * 2 - 13 and len(skipped) == 13
    assert ["Start", 2, 13, "unused"] in skipped and ["WCC", 1, 6, "unused"] in skipped
    assert sorted(u for us in uses.values() for u in us)[0] == ["ELBLC", 1, 13]
    assert set(ft.jobs) <= set(full.jobs)  # the same tiles, fewer of them
    targets = fusion_tiling_targets(ft)
    base = "results/fusion_tiling/alexnet/simba_like"
    assert f"{base}/costs/Start.json" in targets and f"{base}/costs/costs.json" in targets
    assert f"{base}/plan/plan.json" in targets and f"{base}/plan/comparison.csv" in targets
    # a subset of types: tables only (the search reads all seven)
    sub = fusion_plan(fusion_config(types=["SLC", "Start"]))
    assert len(sub.jobs) == 2 + 2 * 2 and set(sub.jobs) <= set(full.jobs)  # same content, same keys
    assert not [t for t in fusion_tiling_targets(sub) if "/plan/" in t]
    job = next(iter(ft.jobs))
    assert set(ft.tile_inputs(job)) == {"arch", "ert", "constraints", "components"}
    params = ft.tile_params(job)
    assert params["dram"] == "DRAM" and params["mapper"]["mapper"]["timeout"] == 200
    # batches: per layer shape, widths 1-8 and 9-16 apart, every DRAM rule together; each tile in one batch
    assert sorted(len(v) for v in ft.batches.values()) == [2, 2, 4, 5]
    assert sorted(k for v in ft.batches.values() for k in v) == sorted(ft.jobs)
    batch = ft.batch_of[job]
    assert set(ft.batch_inputs(batch)) == set(ft.tile_inputs(job))
    bp = ft.batch_params(batch)
    assert [t["key"] for t in bp["tiles"]] == ft.batches[batch] and bp["store"] == "results/cache/fusion_tiles"
    assert len(ft.costs_inputs("alexnet", "simba_like")["results"]) == 4
    # the batches of a subset of types are other keys; a changed width list leaves untouched blocks alone
    assert not set(sub.batches) & set(ft.batches)
    more = fusion_plan(fusion_config(tiles=[6, 7, 13]))  # width 7 joins the block of 6; 13 (+ SLC) is untouched
    assert {b for b, v in ft.batches.items() if len(v) > 2} == set(more.batches) & set(ft.batches)
    assert ft.levels("simba_like")["weights_level"] == "PEWeightBuffer:524288"


def test_fusion_tile_keys_cover_budget_and_version_not_search_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import fusionsim

    keys = set(fusion_plan(fusion_config()).jobs)
    assert set(fusion_plan(fusion_config(objective="latency", variant="exact")).jobs) == keys
    assert not set(fusion_plan(fusion_config(mapper={"timeout": 300})).jobs) & keys
    monkeypatch.setattr(fusionsim, "MODEL_VERSION", "fusion-test-version", raising=False)
    assert not set(fusion_plan(fusion_config()).jobs) & keys


def test_fusion_tiles_are_shared_by_equal_layers() -> None:
    ft = fusion_plan(
        fusion_config(networks=["vgg16"], layers={"vgg16": ["conv3_2", "conv3_3"]}, tiles=[7], full_tables=True)
    )
    uses = ft.uses[("vgg16", "simba_like")]
    # conv3_2 and conv3_3 have one shape: every job answers both layers
    assert len(ft.jobs) == 1 + 6
    assert all(sorted(u[1] for u in us) == [1, 2] for us in uses.values())


def test_select_layer_set_renumbers_and_keeps_inner_edges() -> None:
    from fusionsim.workflow.fusion_tiling import fusion_layer_set

    full = fusion_layer_set(ROOT / "workloads/resnet18.yaml", "imagenet", None)
    assert full.adds[3] == (1,)  # layer1_0_conv2 adds pool1's output
    sub = fusion_layer_set(
        ROOT / "workloads/resnet18.yaml", "imagenet", ["pool1", "layer1_0_conv1", "layer1_0_conv2"]
    )
    assert [(x.number, x.name) for x in sub.layers] == [
        (1, "pool1"),
        (2, "layer1_0_conv1"),
        (3, "layer1_0_conv2"),
    ]
    assert sub.srcs == (None, 0, 1) and sub.adds == {2: (0,)}
    cut = fusion_layer_set(ROOT / "workloads/resnet18.yaml", "imagenet", ["layer1_0_conv1", "layer1_0_conv2"])
    assert cut.srcs == (None, 0) and cut.adds == {}
    with pytest.raises(InputError, match="fusion_tiling.layers.resnet18"):
        fusion_layer_set(ROOT / "workloads/resnet18.yaml", "imagenet", ["conv9"])


def test_fusion_tiling_config_errors_name_the_key() -> None:
    with pytest.raises(InputError, match="fusion_tiling.objective"):
        fusion_plan(fusion_config(variant="deepfrack-fast", objective="edp"))
    with pytest.raises(InputError, match="fusion_tiling.datasets"):
        fusion_plan(fusion_config(datasets=["cifar10"]))
    with pytest.raises(InputError, match="fusion_tiling.layers.vgg16"):
        fusion_plan(fusion_config(layers={"vgg16": ["conv1_1"]}))
    # eyeriss_like's manifest has no fusion levels
    with pytest.raises(InputError, match="fusion.weights_level"):
        fusion_plan(fusion_config(accelerators=["eyeriss_like"]))


def test_fusion_costs_and_search_from_tile_results(tmp_path: Path) -> None:
    """The collect and search job bodies on synthetic tile results (energy and cycles proportional to area)."""
    import json

    from fusionsim.fusion.tables import load_tables
    from fusionsim.workflow.fusion_tiling_jobs import (
        run_fusion_search,
        write_fusion_costs,
        write_fusion_layers,
    )

    ft = fusion_plan(fusion_config())
    layers = tmp_path / "layers"
    write_fusion_layers(ft.workloads["alexnet"], "imagenet", ft.layer_names["alexnet"], str(layers))
    assert sorted(p.name for p in layers.iterdir()) == [
        "conv4_layer01.yaml",
        "conv5_layer02.yaml",
        "graph.json",
    ]
    results = []
    for batch, keys in ft.batches.items():
        found = {}
        for key in keys:
            job = ft.jobs[key]
            width = job.problem["problem"]["instance"]["P"]
            scale = 1.0 if job.dram_keep is None else 0.5 + 0.1 * len(job.dram_keep)
            found[key] = {"key": key, "energy_uJ": scale * width**2, "cycles": 10.0 * width**2,
                          "macs": 100 * width**2, "levels_pJ": {"DRAM": 1.0}, "seconds": 0.5}  # fmt: skip
        f = tmp_path / "batches" / batch / "results.json"
        f.parent.mkdir(parents=True)
        f.write_text(json.dumps({"format": "fusionsim-fusion-batch/1", "results": found}))
        results.append(str(f))
    costs = tmp_path / "costs"
    skipped = ft.skipped[("alexnet", "simba_like")]
    tables = write_fusion_costs(str(layers), results, ft.uses[("alexnet", "simba_like")], str(costs), skipped)
    assert tables.jobs == len(ft.jobs) and tables.seconds == pytest.approx(0.5 * len(ft.jobs))
    loaded = load_tables(costs)
    assert loaded.energy["SLC"] == {1: {13: 169.0}, 2: {13: 169.0}} and loaded.cycles is not None
    plan_dir = tmp_path / "plan"
    plan = run_fusion_search(layers_dir=str(layers), costs_dir=str(costs), levels=ft.levels("simba_like"),
                             objective="energy", variant="exact", out_dir=str(plan_dir))  # fmt: skip
    assert plan.fused_uJ <= plan.layer_by_layer_uJ == pytest.approx(2 * 169.0)
    assert loaded.energy["WCC"] == {1: {}, 2: {}}  # every WCC entry skipped: the rows stay
    assert any(n.startswith("13 of 26 table entries not computed") for n in plan.notes)
    assert {p.name for p in plan_dir.iterdir()} == {
        "plan.json", "plan.log", "statistics.csv", "tiling.png", "energy.png", "comparison.csv"
    }  # fmt: skip
    rows = list(csv.DictReader(open(plan_dir / "comparison.csv", newline="")))
    assert float(rows[0]["energy_uJ"]) == pytest.approx(plan.layer_by_layer_uJ)
    assert float(rows[1]["saving_pct"]) == pytest.approx(plan.saving_pct, abs=1e-4)


def test_collect_layers_writes_the_whole_folder(tmp_path: Path) -> None:
    from fusionsim.workflow.jobs import collect_layers

    for key in ("k1", "k2"):
        (tmp_path / "cache" / key).mkdir(parents=True)
        for name in ("problem.yaml", "mapping.yaml", "stats.json", "stats.txt"):
            (tmp_path / "cache" / key / name).write_text(f"{key} {name}")
    out = tmp_path / "net" / "layers"
    (out / "stale").mkdir(parents=True)  # an older folder is replaced as a whole
    copies = [[str(tmp_path / "cache/k1"), "a/full"], [str(tmp_path / "cache/k2"), "b/full"]]
    assert collect_layers(copies, str(out)) == 2
    assert sorted(p.name for p in out.iterdir()) == ["a", "b"]
    assert (out / "b/full/stats.json").read_text() == "k2 stats.json"
    assert [p.name for p in out.parent.iterdir()] == ["layers"]  # no scratch folder left
    (tmp_path / "cache/k2/stats.txt").unlink()
    with pytest.raises(FileNotFoundError):
        collect_layers(copies, str(out))
    assert (out / "a/full/stats.txt").is_file() and [p.name for p in out.parent.iterdir()] == ["layers"]


def test_unknown_layer_errors_keep_their_key_and_fix() -> None:
    """One helper (plan.check_layer_names) serves `layers`, `fusion_tiling.layers` and sweeps: each keeps its key
    and its fix (closest name / the fusion layers / where names are listed)."""
    from fusionsim.workflow.fusion_tiling import fusion_layer_set, select_layer_set
    from fusionsim.workflow.plan import check_layer_names

    layers = [Layer("conv1", "conv", 3, 8, 3, 1, 8, 8), Layer("fc", "fc", 8, 10, 1, 1, 1, 1)]
    with pytest.raises(InputError) as exc:
        select_layers(layers, ["conv2"], "n")
    assert (exc.value.file, exc.value.key) == ("config.yaml", "layers.n") and "conv1" in exc.value.fix
    full = fusion_layer_set(ROOT / "workloads/alexnet.yaml", "imagenet", None)
    with pytest.raises(InputError) as exc:
        select_layer_set(full, ["conv9"], "alexnet")
    assert exc.value.key == "fusion_tiling.layers.alexnet" and exc.value.message == "unknown layer 'conv9' of network alexnet"
    assert exc.value.fix.startswith("the fusion layers of alexnet are: conv1 conv2")
    with pytest.raises(InputError) as exc:
        check_layer_names(["x"], ["a"], "n", "sweeps.s.layers.n", fix="layer names are in layers.csv")
    assert (exc.value.key, exc.value.fix) == ("sweeps.s.layers.n", "layer names are in layers.csv")
    check_layer_names(["a"], ["a"], "n", "layers.n")  # known names pass
