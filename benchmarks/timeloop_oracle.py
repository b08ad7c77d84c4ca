"""Generate the Timeloop v1.0 mapper oracle set (tests/data/timeloop_mapper_oracle/) with a local Timeloop build.

Each case is a random small layer on one of four accelerators (Simba-like 16-bit and 8-bit, Eyeriss-like,
Gemmini-like) under one of DeepFrack's seven dataflow types (a `datatype` keep/bypass rule on DRAM, as
`fusionsim.fusion.benchmark_stage.type_constraints` writes it) and, for some cases, randomly changed inner-level
keep/bypass rules. `timeloop-mapper` runs on the case's own files with a small, deterministic budget
(`num-threads: 1`: Timeloop's random-pruned search then always draws the same sequence); the case keeps its
inputs and Timeloop's `timeloop-mapper.map.txt` and `timeloop-mapper.stats.txt` (gzipped: 30 KB -> 2 KB; v1.0
writes no mapping YAML).
The `--count` cases cycle over every (arch, dataflow type, layer kind) triple, so 168 cover each once.

Timeloop v1.0 concatenates its input files into one YAML document, so a second file with the same root key
(e.g. another `architecture_constraints`) is silently dropped; each case therefore has one constraints file
holding the arch constraints, the DRAM rule and the mapspace constraints.

usage: PYTHONPATH=src python benchmarks/timeloop_oracle.py --timeloop-bin /path/to/timeloop/bin
           [--out tests/data/timeloop_mapper_oracle] [--count 168] [--seed 14000] [--jobs 2]
(the shared libraries are looked up in ../lib beside the bin folder; docs/conformance.md has the details)
"""

from __future__ import annotations

import argparse
import copy
import gzip
import os
import random
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from fusionsim.fusion.benchmark_stage import DATASPACES, DRAM_KEEP, SEED_TYPE_ORDER, type_constraints
from fusionsim.spec.problem import load_problem

ROOT = Path(__file__).resolve().parent.parent
ACCEL = ROOT / "accelerators"
ARCHS = ("simba16", "simba8", "eyeriss", "gemmini")
LAYER_KINDS = ("conv", "strided", "dilated", "batched", "fc", "pointwise")
# what Timeloop writes that a case keeps (v1.0 prints no mapping YAML; map+stats.xml and the log are large)
# enough work that the total energy is well above 5000 pJ, where the 2 decimals Timeloop prints resolve 1e-6
MIN_MACS = 8192
ATTEMPTS = 4  # draws per case index when Timeloop finds no valid mapping
KEPT_OUTPUTS = ("timeloop-mapper.map.txt", "timeloop-mapper.stats.txt")


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def _simba8_arch() -> dict[str, Any]:
    """Simba-like arch with 8-bit words (datapath, buffers; accumulators stay 32-bit), blocks = width / word."""
    arch = _load(ACCEL / "simba_like" / "arch.yaml")

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            at = node.get("attributes")
            if isinstance(at, dict):
                if "datawidth" in at:
                    at["datawidth"] = 8
                if at.get("word-bits") == 16:
                    at["word-bits"] = 8
                    width = at.get("memory_width", at.get("width"))
                    if width is not None:
                        at["block-size"] = max(1, int(width) // 8)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(arch)
    return arch


def _fusionsim_ert(arch_text: str, components: Path | None, work: Path) -> str:
    """The ERT `fusionsim ert` builds for an arch (Timeloop only reads it; any consistent table will do)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "arch.yaml").write_text(arch_text)
    cmd = [sys.executable, "-m", "fusionsim", "ert", "--arch", str(work / "arch.yaml"), "--out", str(work / "out")]
    if components is not None:
        cmd += ["--components", str(components)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return (work / "out" / "ERT.yaml").read_text()


def arch_inputs(name: str, work: Path) -> tuple[str, str, dict[str, Any]]:
    """(arch YAML text, ERT YAML text, merged constraints dict) of one of ARCHS."""
    if name == "simba16":
        base = ACCEL / "simba_like"
        arch, ert = (base / "arch.yaml").read_text(), (base / "ERT.yaml").read_text()
        files = ["constraints/arch.yaml", "constraints/map.yaml"]
    elif name == "simba8":
        base = ACCEL / "simba_like"
        arch = _dump(_simba8_arch())
        ert = _fusionsim_ert(arch, base / "components", work / "ert_simba8")
        files = ["constraints/arch.yaml", "constraints/map.yaml"]
    elif name == "eyeriss":
        base = ACCEL / "eyeriss_like"
        arch, ert = (base / "arch.yaml").read_text(), (base / "ERT.yaml").read_text()
        files = ["constraints/arch.yaml", "constraints/map.yaml"]
    elif name == "gemmini":
        base = ACCEL / "gemmini_like"
        arch = (base / "arch.yaml").read_text()
        ert = _fusionsim_ert(arch, None, work / "ert_gemmini")
        files = ["constraints/arch.yaml"]
    else:
        raise ValueError(name)
    cons: dict[str, Any] = {}
    for f in files:
        for root, body in _load(base / f).items():
            cons.setdefault(root, {"targets": []})["targets"] += list(body["targets"])
    return arch, ert, cons


def random_layer(kind: str, arch: str, rng: random.Random) -> dict[str, int]:
    """A small CNN-layer instance of `kind` with at least MIN_MACS MACs; channels favour the arch's array sizes."""
    while True:
        inst = _draw_layer(kind, arch, rng)
        if inst["C"] * inst["M"] * inst["R"] * inst["S"] * inst["N"] * inst["P"] * inst["Q"] >= MIN_MACS:
            return inst


def _draw_layer(kind: str, arch: str, rng: random.Random) -> dict[str, int]:
    lanes = {"simba16": 8, "simba8": 8, "eyeriss": 4, "gemmini": 16}[arch]

    def ch(hi: int) -> int:
        return rng.choice([lanes * rng.randint(1, max(1, hi // lanes)), rng.randint(1, hi)])

    inst = {"C": ch(32), "M": ch(32), "R": rng.choice([1, 3, 3, 5]), "S": 0, "N": 1,
            "P": rng.randint(2, 8), "Q": rng.randint(2, 8),
            "Wstride": 1, "Hstride": 1, "Wdilation": 1, "Hdilation": 1}
    inst["S"] = inst["R"] if rng.random() < 0.8 else rng.choice([1, 3])
    if kind == "strided":
        inst["Wstride"] = rng.choice([2, 3])
        inst["Hstride"] = rng.choice([1, 2, inst["Wstride"]])
        inst["R"], inst["S"] = rng.choice([(3, 3), (5, 5), (3, 1)])
    elif kind == "dilated":
        inst["Wdilation"] = rng.choice([2, 3])
        inst["Hdilation"] = rng.choice([1, 2, inst["Wdilation"]])
        inst["R"], inst["S"] = rng.choice([(3, 3), (2, 2), (3, 2)])
    elif kind == "batched":
        inst["N"] = rng.randint(2, 4)
        inst["P"], inst["Q"] = rng.randint(2, 5), rng.randint(2, 5)
    elif kind == "fc":
        inst.update(R=1, S=1, P=1, Q=1, C=ch(96), M=ch(96), N=rng.choice([1, 1, 2, 4]))
    elif kind == "pointwise":
        inst.update(R=1, S=1, C=ch(48), M=ch(48))
    return inst


def mutate_inner_keep(cons: dict[str, Any], dram: str, rng: random.Random) -> list[str]:
    """Randomly flip or free one or two inner-level keep/bypass entries; returns what changed (for the log)."""
    targets = [t for t in cons["architecture_constraints"]["targets"]
               if t.get("type") in ("datatype", "bypass") and t.get("target") != dram]
    changes = []
    for t in rng.sample(targets, k=min(len(targets), rng.choice([1, 1, 2]))):
        keep, byp = list(t.get("keep") or []), list(t.get("bypass") or [])
        ds = rng.choice(DATASPACES)
        action = rng.choice(["flip", "free"])
        for lst in (keep, byp):
            if ds in lst:
                lst.remove(ds)
        if action == "flip":
            (byp if ds in (t.get("keep") or []) else keep).append(ds)
        t["keep"], t["bypass"] = keep, byp
        changes.append(f"{t['target']}:{action}:{ds}")
    return changes


def random_mapper(rng: random.Random) -> dict[str, Any]:
    metrics = rng.choice([["energy", "delay"], ["energy", "delay"], ["delay", "energy"], ["edp"], ["energy"]])
    return {"mapper": {
        "optimization-metrics": metrics,
        "live-status": False,
        "num-threads": 1,
        "algorithm": rng.choice(["random-pruned", "random-pruned", "random-pruned", "linear-pruned", "hybrid"]),
        "timeout": rng.choice([500, 1000, 2000]),
        "victory-condition": rng.choice([50, 100, 200]),
        "max-permutations-per-if-visit": rng.choice([4, 8, 16]),
        "search-size": rng.choice([0, 0, 2000]),
    }}


def build_case(index: int, seed: int, archs: dict[str, tuple[str, str, dict]], attempt: int = 0) -> dict[str, Any]:
    """The files and features of case `index` (a pure function of index, seed and attempt)."""
    rng = random.Random(seed * 1000 + index + 1_000_003 * attempt)
    arch = ARCHS[index % len(ARCHS)]
    kind = SEED_TYPE_ORDER[(index // len(ARCHS)) % len(SEED_TYPE_ORDER)]
    layer = LAYER_KINDS[(index // (len(ARCHS) * len(SEED_TYPE_ORDER))) % len(LAYER_KINDS)]
    arch_text, ert_text, base_cons = archs[arch]
    cons = copy.deepcopy(base_cons)
    feats = {f"arch_{arch}", f"df_{kind}", f"layer_{layer}"}
    rule = type_constraints(kind)
    if rule is not None:
        cons["architecture_constraints"]["targets"] += rule["architecture_constraints"]["targets"]
        feats.add("outermost_bypass")
        feats |= {f"dram_keeps_{d}" for d in DRAM_KEEP[kind]}
    changes = mutate_inner_keep(cons, "DRAM", rng) if rng.random() < 0.45 else []
    if changes:
        feats.add("inner_keep_bypass_random")
    inst = random_layer(layer, arch, rng)
    if inst["Wstride"] > 1 or inst["Hstride"] > 1:
        feats.add("stride")
    if inst["Wdilation"] > 1 or inst["Hdilation"] > 1:
        feats.add("dilation")
    if inst["N"] > 1:
        feats.add("batched")
    if inst["P"] == inst["Q"] == inst["R"] == inst["S"] == 1:
        feats.add("fc")
    elif inst["R"] == inst["S"] == 1:
        feats.add("pointwise")
    mapper = random_mapper(rng)
    m = mapper["mapper"]
    feats |= {f"metric_{m['optimization-metrics'][0]}", f"algo_{m['algorithm']}"}
    return {"name": f"m{index:03d}_{arch}_{kind}_{layer}", "arch": arch_text, "ert": ert_text,
            "constraints": cons, "instance": inst, "mapper": mapper, "features": sorted(feats),
            "changes": changes}


def problem_yaml(inst: dict[str, int]) -> str:
    """A CNN-Layer problem with the shape spelled out (Timeloop v1.0 has no built-in shapes)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(_dump({"problem": {"shape": {"name": "CNN-Layer"}, "instance": inst}}))
    try:
        return _dump(load_problem(Path(f.name)).to_yaml_dict())
    finally:
        os.unlink(f.name)


def run_case(case: dict[str, Any], bin_dir: Path, out: Path, time_limit: float) -> str:
    """Write the case's inputs, run timeloop-mapper on them and keep its outputs; returns a status line."""
    files = {"arch.yaml": case["arch"], "prob.yaml": problem_yaml(case["instance"]),
             "constraints.yaml": _dump(case["constraints"]), "mapper.yaml": _dump(case["mapper"]),
             "ERT.yaml": case["ert"]}
    env = dict(os.environ, LD_LIBRARY_PATH=str(bin_dir.parent / "lib"))
    with tempfile.TemporaryDirectory(prefix="tl-oracle-") as tmp:
        work = Path(tmp)
        for name, text in files.items():
            (work / name).write_text(text)
        try:
            proc = subprocess.run([str(bin_dir / "timeloop-mapper"), *files], cwd=work, env=env,
                                  capture_output=True, text=True, timeout=time_limit)
        except subprocess.TimeoutExpired:
            return f"{case['name']}: timeloop-mapper took over {time_limit} s, skipped"
        if not all((work / f).is_file() for f in KEPT_OUTPUTS):
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
            return f"{case['name']}: no mapping ({tail[0][:100]}), skipped"
        dest = out / case["name"]
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for name, text in files.items():
            (dest / name).write_text(text)
        shutil.copyfile(work / KEPT_OUTPUTS[0], dest / KEPT_OUTPUTS[0])
        with open(work / KEPT_OUTPUTS[1], "rb") as src, open(dest / (KEPT_OUTPUTS[1] + ".gz"), "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:  # byte-identical reruns
                shutil.copyfileobj(src, gz)
        (dest / "features.txt").write_text(" ".join(case["features"]) + "\n")
    changed = f" inner changes {','.join(case['changes'])}" if case["changes"] else ""
    return f"{case['name']}: ok{changed}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timeloop-bin", type=Path, required=True, help="folder with Timeloop v1.0 timeloop-mapper")
    ap.add_argument("--out", type=Path, default=ROOT / "tests/data/timeloop_mapper_oracle")
    ap.add_argument("--count", type=int, default=len(ARCHS) * len(SEED_TYPE_ORDER) * len(LAYER_KINDS))
    ap.add_argument("--seed", type=int, default=14000)
    ap.add_argument("--jobs", type=int, default=2, help="timeloop-mapper processes at once (each 1 thread)")
    ap.add_argument("--time-limit", type=float, default=120.0, help="seconds per timeloop-mapper run")
    args = ap.parse_args(argv)
    exe = args.timeloop_bin / "timeloop-mapper"
    if not exe.is_file():
        print(f"{exe}: not found; pass the bin folder of a Timeloop v1.0 build (--timeloop-bin)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tl-oracle-erts-") as tmp:
        archs = {a: arch_inputs(a, Path(tmp)) for a in ARCHS}

    def one(index: int) -> str:
        """Case `index`, redrawn (same arch, type and layer kind) when Timeloop finds no mapping."""
        for attempt in range(ATTEMPTS):
            line = run_case(build_case(index, args.seed, archs, attempt), args.timeloop_bin, args.out,
                            args.time_limit)
            if ": ok" in line:
                return line + (f" (attempt {attempt + 1})" if attempt else "")
        return line

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        lines = list(pool.map(one, range(args.count)))
    for ln in lines:
        print(ln)
    ok = sum(": ok" in ln for ln in lines)
    print(f"{ok}/{len(lines)} cases written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
