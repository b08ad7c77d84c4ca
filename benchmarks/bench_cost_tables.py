"""Real fusion-tiling cost tables through the pipeline, and the full ARCHON comparison: wall and CPU times.

Each case runs the real workflow (snakemake CLI, `profiles/local`) in a fresh temporary folder (cold caches):
  alexnet, vgg16, resnet18: the fusion-tiling stage on simba_like (all seven types, every width, ImageNet),
      targets the plan only; prints the tile and batch counts, the mapper's own seconds, the plan's stacks and
      the layer-by-layer and fused energies and cycles;
  full: docs/report.md's full.yaml over the default config (4 networks x CIFAR-10/100 x dense, sparse and
      ARCHON, and the default's fusion-tiling plan) and its final table.
CPU time is the children's user + system time (the machine may be shared: wall alone can mislead).
With `--before FILE` (JSON {"tiles": {key: {"energy_uJ", "cycles", "instance", "keep"}}}, e.g. from an older
checkout's tile store, or the output folder of `fusionsim fusion-benchmark`, the per-tile mapper) the AlexNet
tiles are compared with it on the mapper's objective (delay, then energy): the counts improved, equal and
worse are printed.

    python benchmarks/bench_cost_tables.py [--cores 2] [--cases alexnet,vgg16,resnet18,full] [--before F]
                                           [--keep DIR]
Targets (issue 18, 2 cores): AlexNet < 90 s, VGG-16 and ResNet-18 < 10 min each, full comparison < 2 min.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
ACCEL = "simba_like"
FULL = {"datasets": ["cifar10", "cifar100"]}  # docs/report.md's full.yaml over the default (headline) config


def cpu_children() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run(work: Path, cores: int, overlay: dict, targets: list[str]) -> tuple[float, float]:
    """Snakemake on the repository's Snakefile in `work` with `overlay`; (wall s, CPU s of every child)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "overlay.yaml").write_text(yaml.safe_dump(overlay))
    cmd = [
        SNAKEMAKE,
        *targets,
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(work),
        "--workflow-profile",
        str(ROOT / "profiles/local"),
        "--cores",
        str(cores),
        "--configfile",
        str(work / "overlay.yaml"),
        "--quiet",
        "all",
    ]
    c0, t0 = cpu_children(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, cpu_children() - c0
    if proc.returncode != 0:
        sys.exit(f"snakemake failed in {work}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return wall, cpu


def fusion_case(net: str, work: Path, cores: int) -> dict:
    """The fusion-tiling stage of `net` on simba_like, cold; prints and returns its figures."""
    overlay = {
        "fusion_tiling": {
            "enabled": True,
            "networks": [net],
            "datasets": ["imagenet"],
            "accelerators": [ACCEL],
            "tiles": "all",
        },
        "sparsity": {"enabled": False},
    }
    plan_dir = f"fusion_tiling/{net}/{ACCEL}/plan"
    wall, cpu = run(
        work, cores, overlay, [f"results/{plan_dir}/plan.json", f"results/{plan_dir}/comparison.csv"]
    )
    out = work / "results"
    batches = [json.loads(p.read_text()) for p in (out / "cache/fusion_batches").glob("*/results.json")]
    tiles = sum(b["tiles"] for b in batches)
    mapper_s = sum(r.get("seconds") or 0.0 for b in batches for r in b["results"].values())
    costs = json.loads((out / f"fusion_tiling/{net}/{ACCEL}/costs/costs.json").read_text())
    entries = sum(len(row) for rows in costs["entries"].values() for row in rows.values())
    skipped = len(costs.get("skipped") or [])
    plan = json.loads((out / f"{plan_dir}/plan.json").read_text())
    with open(out / f"{plan_dir}/comparison.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    print(
        f"{net}/{ACCEL} fusion-tiling stage: {wall:.1f} s wall, {cpu:.1f} s CPU on {cores} cores; "
        f"{len(costs['layers'])} layers, {entries} table entries ({skipped} more skipped), {tiles} tiles in "
        f"{len(batches)} batch jobs, "
        f"mapper {mapper_s:.1f} s ({mapper_s / max(1, tiles):.3f} s a tile)"
    )
    for r in rows:
        print(
            f"  {r['schedule']:<24} {float(r['energy_uJ']):14.3f} uJ  {r['cycles']:>14} cycles  "
            f"saving {float(r['saving_pct']):6.2f} %  stacks {r['stacks']}"
        )
    for st in plan.get("stacks", []):
        widths = sorted(set(st.get("tile_widths") or []))
        print(
            f"  plan stack layers {st['layers'][0]}-{st['layers'][1]}: {len(st.get('tile_widths') or [])} tiles "
            f"of widths {widths}, cached weights {st.get('cached_weights')}, {st.get('energy_uJ')} uJ, "
            f"{st.get('cycles')} cycles"
        )
    return {"wall_s": wall, "cpu_s": cpu, "tiles": tiles, "store": out / "cache/fusion_tiles"}


def before_tiles(before: Path) -> dict[str, dict]:
    """{key: {energy_uJ, cycles, instance, keep}} from a before-table JSON, or from the output folder of
    `fusionsim fusion-benchmark` (the per-tile mapper: runs/<key>/result.json and problem.yaml)."""
    if before.is_file():
        return json.loads(before.read_text())["tiles"]
    out = {}
    for f in sorted(before.glob("runs/*/result.json")):
        res = json.loads(f.read_text())
        inst = yaml.safe_load((f.parent / "problem.yaml").read_text())["problem"]["instance"]
        out[res["key"]] = {"energy_uJ": res["energy_uJ"], "cycles": res["cycles"], "instance": inst,
                           "keep": res.get("dram_keep")}
    return out


def compare_tiles(store: Path, before_file: Path, accel: Path = ROOT / "accelerators" / ACCEL) -> None:
    """Tiles of this run vs a before-table, on (cycles, energy) lexicographically (the budget's metrics). For a
    fusion-benchmark folder also its mappings re-evaluated with today's model (`fusionsim.model`): objectives
    of an older model (e.g. before the batch engine honoured the outermost bypass) are not comparable."""
    from fusionsim.model.evaluate import evaluate_files

    before = before_tiles(before_file)

    def ident(instance: dict, keep: object) -> str:
        return json.dumps([instance, None if keep is None else sorted(keep)], sort_keys=True)

    def verdict(a: tuple[float, float], b: tuple[float, float]) -> str:
        if a == b or (a[0] == b[0] and abs(a[1] - b[1]) <= 1e-9 * abs(b[1])):
            return "equal"
        return "improved" if a < b else "worse"

    old = {ident(v["instance"], v["keep"]): (k, v) for k, v in before.items()}
    counts = {"improved": 0, "equal": 0, "worse": 0, "not in it": 0}
    now = {"improved": 0, "equal": 0, "worse": 0}
    for f in store.glob("*/result.json"):
        res = json.loads(f.read_text())
        inst = yaml.safe_load((f.parent / "problem.yaml").read_text())["problem"]["instance"]
        key, ref = old.get(ident(inst, res.get("dram_keep")), (None, None))
        if ref is None:
            counts["not in it"] += 1
            continue
        a = (float(res["cycles"]), float(res["energy_uJ"]))
        counts[verdict(a, (float(ref["cycles"]), float(ref["energy_uJ"])))] += 1
        run = before_file / "runs" / str(key)
        if before_file.is_dir() and (run / "mapping.yaml").exists():
            ev = evaluate_files(str(accel / "arch.yaml"), str(run / "problem.yaml"), str(run / "mapping.yaml"),
                                str(accel / "ERT.yaml"), str(accel / "components"))
            now[verdict(a, (float(ev.cycles), ev.energy_pJ / 1e6))] += 1
    print(f"tiles vs {before_file.name}: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
    if sum(now.values()):
        print(f"tiles vs {before_file.name}'s mappings evaluated with today's model: "
              + ", ".join(f"{n} {what}" for what, n in now.items()))


def full_case(work: Path, cores: int) -> None:
    wall, cpu = run(work, cores, FULL, [])
    jobs = len(list((work / "results/cache/layers").glob("*/run.json")))
    logs = work / "results/logs"
    per_rule = {d.name.removesuffix(".log"): sum(1 for f in d.rglob("*.log")) if d.is_dir() else 1
                for d in sorted(logs.iterdir())}
    print(f"full ARCHON comparison: {wall:.1f} s wall, {cpu:.1f} s CPU on {cores} cores, {jobs} layer jobs; "
          f"{sum(per_rule.values())} Snakemake jobs {per_rule}")
    print((work / "results/report/final.md").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--cases", default="alexnet,vgg16,resnet18,full")
    ap.add_argument("--before", type=Path,
                    help="per-tile objectives (JSON, or a fusion-benchmark folder) to compare the AlexNet tiles with")
    ap.add_argument("--keep", type=Path, help="run in this folder (kept) instead of a temporary one")
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="fusionsim-costs-"))
    for case in args.cases.split(","):
        work = base / case
        if case == "full":
            full_case(work, args.cores)
            continue
        res = fusion_case(case, work, args.cores)
        if case == "alexnet" and args.before is not None:
            compare_tiles(res["store"], args.before)
    print(f"(folders under {base})")


if __name__ == "__main__":
    main()
