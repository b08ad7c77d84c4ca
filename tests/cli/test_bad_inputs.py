"""Bad-input battery for the `fusionsim` CLI: every case exits 2 with one stderr line naming the file (and the
key where there is one) and a fix, within 5 s, writing nothing outside --out and nothing half-written.

Most cases run in-process through `fusionsim.cli.main` (a subprocess costs ~1 s each); the hostile ones (alias
bomb, 100 MB file, 50,000-deep nesting, huge numbers) also run as subprocesses under a 1 GB address-space
limit. `pytest -s` prints the table.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest

from fusionsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests/data/tiny"
LIMIT_S = 5.0
LIMIT_AS = 1 << 30  # 1 GB address space for the subprocess cases

ERT_ARCH = """\
architecture:
  version: 0.3
  subtree:
    - name: system
      local:
        - {name: DRAM, class: DRAM, attributes: {type: LPDDR4, width: 64, block-size: 4, word-bits: 16}}
      subtree:
        - name: chip
          attributes: {technology: 45nm}
          local:
            - {name: glb, class: SRAM, attributes: {width: 64, depth: 2048, n_banks: 4, block-size: 4,
               word-bits: 16}}
          subtree:
            - name: PE[0..15]
              local:
                - {name: spad, class: regfile, attributes: {width: 16, depth: 12, word-bits: 16}}
                - {name: mac, class: intmac, attributes: {datawidth: 16}}
"""
WORKLOAD = """\
layers:
  - {name: pw1, type: pointwise, in_channels: 4, out_channels: 6, in_size: 4}
"""
LAYER_PROBLEM = """\
problem:
  shape: {name: CNN-Layer}
  instance: {C: 4, M: 4, R: 3, S: 3, N: 1, P: 8, Q: 8}
"""


def _alias_bomb() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def _huge(path: Path) -> None:
    with open(path, "wb") as fh:
        fh.truncate(100 * 1024 * 1024)  # sparse: 100 MB to read, no disk used


def _replace_with_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


# corruption name -> (make it, words the error line must contain (any of), heavy: also run in a subprocess)
CORRUPTIONS: dict[str, tuple[Callable[[Path], None], tuple[str, ...], bool]] = {
    "binary": (lambda p: p.write_bytes(b"\x89HDF\r\n\x1a\n\x00\x00\x00\x00garbage"), ("binary",), False),
    "not-utf8": (lambda p: p.write_bytes(b"name: caf\xe9\nx: 1\n"), ("UTF-8",), False),
    "empty": (lambda p: p.write_text(""), ("empty",), False),
    "alias-bomb": (lambda p: p.write_text(_alias_bomb()), ("alias bomb", "malformed JSON"), True),
    "100MB": (_huge, ("larger than",), True),
    "deep-50000": (lambda p: p.write_text("[" * 50000 + "]" * 50000), ("nesting", "not a storage level"), True),
    "syntax": (lambda p: p.write_text("a: [1, 2\nb: {\n"), ("malformed",), False),
    "folder": (_replace_with_folder, ("folder",), False),
    "missing": (lambda p: p.unlink(), ("not found", "no accelerator manifest"), False),
    "scalar": (lambda p: p.write_text("just a sentence\n"), ("mapping", "must", "expected", "malformed", "not"),
               False),
}


@dataclass
class Case:
    """One bad invocation: argv (with {name} placeholders for files in the case folder) and what to check."""

    id: str
    argv: list[str]
    target: str | None  # the file the error line must name (a placeholder name), None: no file involved
    words: tuple[str, ...]  # the line contains at least one of these
    key: str | None = None  # the key the line must name
    setup: Callable[[Path], None] | None = None  # edits the case folder before the run
    heavy: bool = False


def _files(d: Path) -> dict[str, Path]:
    """The valid inputs every case starts from, written into `d`."""
    for name in ("arch.yaml", "conv1d.yaml", "constraints.yaml", "mapper.yaml", "ert.yaml", "conv1d_map.yaml"):
        shutil.copy(TINY / name, d / name)
    (d / "ert_arch.yaml").write_text(ERT_ARCH)
    (d / "w.yaml").write_text(WORKLOAD)
    with h5py.File(d / "m.h5", "w") as f:
        root = f.create_group("model_weights")
        root.attrs["layer_names"] = np.array([b"pw1"])
        root.create_group("pw1").attrs["weight_names"] = np.array([b"pw1/kernel:0"])
        root["pw1"].create_dataset("pw1/kernel:0", data=np.ones((1, 1, 4, 6), np.float32))
    (d / "r.json").write_text('{"energy_pJ": 1.0, "cycles": 10, "levels": []}')
    (d / "layers").mkdir()
    (d / "layers/conv_layer1.yaml").write_text(LAYER_PROBLEM)
    (d / "costs").mkdir()
    (d / "costs/SLC.json").write_text("{}")
    (d / "acc").mkdir()
    (d / "acc/accelerator.yaml").write_text(
        "name: acc\narch: ../arch.yaml\nert: ../ert.yaml\n"
        "layer_kinds:\n  default: {constraints: [../constraints.yaml], mapper: ../mapper.yaml}\n"
    )
    return {p.name: p for p in d.iterdir()}


EVALUATE = ["evaluate", "--arch", "{arch.yaml}", "--problem", "{conv1d.yaml}", "--mapping", "{conv1d_map.yaml}",
            "--ert", "{ert.yaml}"]
MAP = ["map", "--arch", "{arch.yaml}", "--problem", "{conv1d.yaml}", "--constraints", "{constraints.yaml}",
       "--mapper", "{mapper.yaml}", "--ert", "{ert.yaml}", "--out", "{out}", "--quiet"]
ERT = ["ert", "--arch", "{ert_arch.yaml}", "--out", "{out}"]
SPARSE = ["sparse", "analyze", "--model", "{m.h5}", "--workload", "{w.yaml}", "--out", "{out}"]
FUSED = ["fused-block", "--decom", "{r.json}", "--conv", "{r.json}", "--main", "{r.json}", "--cin", "8", "--cmid",
         "8", "--cout", "8", "--p", "8"]
BENCH = ["fusion-benchmark", "--layers", "{layers}", "--accelerator", "{acc}", "--out", "{out}", "--dry-run"]
SEARCH = ["fusion-search", "--costs", "{costs}", "--layers", "{layers}", "--weights-level", "GLB:1000",
          "--inputs-level", "GLB:1000", "--outputs-level", "GLB:1000"]

# (command, the file of it that gets corrupted, its placeholder as the error names it)
READERS: list[tuple[str, list[str], str]] = [
    ("evaluate", EVALUATE, "arch.yaml"),
    ("evaluate", EVALUATE, "conv1d.yaml"),
    ("evaluate", EVALUATE, "conv1d_map.yaml"),
    ("evaluate", EVALUATE, "ert.yaml"),
    ("map", MAP, "constraints.yaml"),
    ("map", MAP, "mapper.yaml"),
    ("ert", ERT, "ert_arch.yaml"),
    ("sparse", SPARSE, "w.yaml"),
    ("fused-block", FUSED, "r.json"),
    ("fusion-benchmark", BENCH, "acc/accelerator.yaml"),
    ("fusion-benchmark", BENCH, "layers/conv_layer1.yaml"),
    ("fusion-search", SEARCH, "layers/conv_layer1.yaml"),
    ("fusion-search", SEARCH, "costs/SLC.json"),
]


def _corrupt(rel: str, how: str) -> Callable[[Path], None]:
    return lambda d: CORRUPTIONS[how][0](d / rel)


def _edit(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def run(d: Path) -> None:
        text = (d / rel).read_text()
        assert old in text, (rel, old)
        (d / rel).write_text(text.replace(old, new))

    return run


def _write(rel: str, text: str) -> Callable[[Path], None]:
    return lambda d: (d / rel).write_text(text)


def _cases() -> list[Case]:
    cases = []
    for cmd, argv, rel in READERS:
        for how, (_, words, heavy) in CORRUPTIONS.items():
            if rel.endswith(".json") and how == "scalar":
                words = ("malformed JSON",)
            if rel.startswith("layers/") and how in ("folder", "missing"):
                continue  # a folder of layers with one removed is still a valid folder of layers
            cases.append(Case(f"{cmd}:{rel}:{how}", argv, rel, words, setup=_corrupt(rel, how), heavy=heavy))
    dims = "instance: {C: 1, M: 2, R: 3, S: 1, N: 1, P: 4, Q: 1}"
    for label, value, words in [
        ("2^61-1", "2305843009213693951", ("exceeds the maximum",)),
        ("1e20", "1e20", ("exceeds the maximum",)),
        ("2^31", "2147483648", ("exceeds the maximum",)),
        ("zero", "0", (">= 1",)),
        ("negative", "-3", (">= 1",)),
        ("fraction", "2.5", ("integer",)),
        ("word", "many", ("integer",)),
        ("inf", ".inf", ("integer",)),
    ]:
        cases.append(Case(f"map:conv1d.yaml:C={label}", MAP, "conv1d.yaml", words, key="problem.instance.C",
                          setup=_edit("conv1d.yaml", dims, dims.replace("C: 1", f"C: {value}")),
                          heavy=label == "2^61-1"))
    cases.append(Case("map:conv1d.yaml:product>2^53", MAP, "conv1d.yaml", ("2**53",), key="problem.instance",
                      setup=_edit("conv1d.yaml", dims, "instance: {C: 2000000000, M: 2000000000, R: 3, S: 1, "
                                  "N: 1, P: 4, Q: 1}")))
    spad = "{width: 16, depth: 12, word-bits: 16}"
    for label, depth, words in [
        ("9**9**9**9", "9**9**9**9", ("out of bounds",)),
        ("2**300", "'2**300'", ("out of bounds",)),
        ("2**200", "'2**200'", ("2**48",)),
        ("1e300", "1e300", ("2**48",)),
        ("nan", ".nan", ("2**48",)),
        ("deep-parens", "'" + "(" * 5000 + "1" + ")" * 5000 + "'", ("out of bounds", "nests")),
    ]:
        cases.append(Case(f"ert:ert_arch.yaml:depth={label}", ERT, "ert_arch.yaml", words,
                          key="system.chip.PE[0..15].spad", heavy=True,
                          setup=_edit("ert_arch.yaml", spad, spad.replace("depth: 12", f"depth: {depth}"))))
    glb = "n_banks: 4"
    cases.append(Case("ert:ert_arch.yaml:range-1e9", ERT, "ert_arch.yaml", ("more than 65,536",),
                      key="system.chip.glb", heavy=True,
                      setup=_edit("ert_arch.yaml", glb, "n_banks: 1000000000")))
    cases.append(Case("evaluate:arch.yaml:instances-2^40", EVALUATE, "arch.yaml", ("instances",),
                      key="PE", setup=_edit("arch.yaml", "PE[0..3]", "PE[0..1099511627775]")))
    # --out that can never be a writable folder
    for cmd, argv in (("map", MAP), ("ert", ERT), ("sparse", SPARSE), ("fusion-benchmark", BENCH)):
        for label, out, words in [
            ("a-file", "{arch.yaml}", ("is a file",)),
            ("under-a-file", "{arch.yaml}/sub", ("which is a file",)),
            ("sys", "/sys/fusionsim-test/out", ("cannot write",)),
            ("proc", "/proc/fusionsim-test/out", ("cannot write",)),
        ]:
            new = [out if a == "{out}" else a for a in argv]
            cases.append(Case(f"{cmd}:--out:{label}", new, None, words, key="--out"))
    # names that would become paths outside --out
    for name in ("../../../X", "..", "a/b", "."):
        cases.append(Case(f"sparse:w.yaml:layer-name={name}", SPARSE, "w.yaml", ("cannot be used as a file name",),
                          key="layers", setup=_edit("w.yaml", "name: pw1", f"name: '{name}'")))
    # fusion-benchmark: validated before anything is written
    for tiles in ("0,-3", "0", "-1", "x", "99999999"):
        argv = [*BENCH, "--tiles", tiles]
        cases.append(Case(f"fusion-benchmark:--tiles={tiles}", argv, None, ("--tiles", "tile"), key="--tiles"))
    for label, text, key in [
        ("list", "- arch.yaml\n", None),
        ("arch-list", "name: acc\narch: [a, b]\n", "arch"),
        ("kinds-list", "name: acc\narch: ../arch.yaml\nlayer_kinds: [1]\n", "layer_kinds"),
        ("constraints-int", "name: acc\narch: ../arch.yaml\nlayer_kinds: {default: {constraints: 3}}\n",
         "layer_kinds.default.constraints"),
        ("fusion-str", "name: acc\narch: ../arch.yaml\nfusion: yes-please\n", "fusion"),
    ]:
        cases.append(Case(f"fusion-benchmark:accelerator.yaml:{label}", BENCH, "acc/accelerator.yaml",
                          ("must be", "expected", "mapping"), key=key, setup=_write("acc/accelerator.yaml", text)))
    # HDF5 models that are not what they claim
    cases.append(Case("sparse:m.h5:corrupt", SPARSE, "m.h5", ("HDF5",), setup=_write("m.h5", "not an hdf5 file")))
    cases.append(Case("sparse:m.h5:empty", SPARSE, "m.h5", ("HDF5", "empty"), setup=_write("m.h5", "")))
    cases.append(Case("sparse:m.h5:missing", SPARSE, "m.h5", ("not found",), setup=lambda d: (d / "m.h5").unlink()))

    def no_weights(d: Path) -> None:
        with h5py.File(d / "m.h5", "w") as f:
            f.create_group("other")

    cases.append(Case("sparse:m.h5:no-weights", SPARSE, "m.h5", ("no Keras weights",), setup=no_weights))

    def wrong_shape(d: Path) -> None:
        with h5py.File(d / "m.h5", "a") as f:
            del f["model_weights/pw1/pw1/kernel:0"]
            f["model_weights/pw1"].create_dataset("pw1/kernel:0", data=np.ones((1, 1, 5, 6), np.float32))

    cases.append(Case("sparse:m.h5:kernel-shape", SPARSE, "m.h5", ("shape",), setup=wrong_shape))
    # models whose config lies (fusionsim import): one line, nothing written
    imp = ["import", "{model.h5}", "--dataset", "cifar10", "-o", "{out}/net.yaml"]
    for label, cfg in [
        ("layers-not-dicts", {"class_name": "Sequential", "config": {"layers": [1, 2, 3]}}),
        ("conv-without-filters", {"class_name": "Sequential", "config": {"layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 32, 32, 3]}},
            {"class_name": "Conv2D", "config": {"name": "c", "kernel_size": [3, 3]}}]}}),
        ("config-not-json", "{not json"),
    ]:
        def model(d: Path, cfg: object = cfg) -> None:
            import json

            with h5py.File(d / "model.h5", "w") as f:
                f.attrs["model_config"] = cfg if isinstance(cfg, str) else json.dumps(cfg)

        cases.append(Case(f"import:model.h5:{label}", imp, "model.h5", ("inconsistent", "not JSON", "model"),
                          setup=model))
    cases.append(Case("import:model.h5:not-hdf5", imp, "model.h5", ("HDF5", "h5", "readable"),
                      setup=_write("model.h5", "plain text, not a model")))
    # a missing ERT entry is an error by default (Timeloop v1.0's fallback only behind --missing-ert)
    cases.append(Case("evaluate:ert.yaml:no-tables", EVALUATE, "ert.yaml", ("no energies", "no ERT"),
                      setup=_write("ert.yaml", "ERT:\n  version: 0.3\n  tables: []\n")))
    return cases


CASES = _cases()
RESULTS: list[tuple[str, int, float, str]] = []


def _argv(case: Case, d: Path) -> list[str]:
    names = {f"{{{p.relative_to(d)}}}": str(p) for p in d.rglob("*")} | {"{out}": str(d / "out")}
    names |= {f"{{{n}}}": str(d / n) for n in ("layers", "costs", "acc", "arch.yaml", "m.h5", "model.h5")}
    out = []
    for a in case.argv:
        for ph, real in names.items():
            a = a.replace(ph, real)
        out.append(a)
    return out


def _snapshot(d: Path) -> dict[str, tuple[int, float]]:
    return {str(p.relative_to(d)): (p.stat().st_size, p.stat().st_mtime) for p in d.rglob("*") if p.is_file()}


def _check(case: Case, d: Path, code: int, err: str, took: float, before: dict) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    RESULTS.append((case.id, code, took, lines[0] if lines else ""))
    assert code == 2, f"exit {code}: {err[-2000:]}"
    assert len(lines) == 1, err[-3000:]
    line = lines[0]
    assert "Traceback" not in err and "fix:" in line, line
    if case.target is not None:
        assert str(d / case.target) in line or case.target in line, line
    if case.key is not None:
        assert case.key in line, line
    assert any(w in line for w in case.words), line
    assert took < LIMIT_S, f"{took:.2f} s"
    after = _snapshot(d)
    changed = {k for k in after if before.get(k) != after[k]}
    outside = {k for k in changed if not k.startswith("out/")}
    assert not outside, f"written outside --out: {sorted(outside)}"
    written = [k for k in after if k.startswith("out/")]
    assert not written, f"written before failing: {written}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    _files(tmp_path)
    if case.setup:
        case.setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    argv = _argv(case, tmp_path)
    capsys.readouterr()
    start = time.perf_counter()
    code = main(argv)
    took = time.perf_counter() - start
    _check(case, tmp_path, code, capsys.readouterr().err, took, before)


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_AS, LIMIT_AS))


HEAVY = [c for c in CASES if c.heavy and c.id.split(":")[0] in ("evaluate", "ert", "map")]


@pytest.mark.parametrize("case", HEAVY, ids=[f"subprocess-1GB:{c.id}" for c in HEAVY])
def test_bad_input_bounded_subprocess(case: Case, tmp_path: Path) -> None:
    """The hostile cases again as a real `python -m fusionsim` under RLIMIT_AS = 1 GB."""
    _files(tmp_path)
    if case.setup:
        case.setup(tmp_path)
    before = _snapshot(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fusionsim", *_argv(case, tmp_path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, preexec_fn=_limit)
    took = time.perf_counter() - start
    case = Case(f"subprocess-1GB:{case.id}", case.argv, case.target, case.words, case.key)
    _check(case, tmp_path, proc.returncode, proc.stderr, took, before)


def test_zz_print_table() -> None:
    """The battery's table (pytest -s shows it): case, exit code, seconds, the one error line."""
    if not RESULTS:
        pytest.skip("run with the battery")
    width = max(len(r[0]) for r in RESULTS)
    print(f"\n{'case':<{width}}  exit  secs  error line")
    for cid, code, took, line in RESULTS:
        print(f"{cid:<{width}}  {code:>4}  {took:4.2f}  {line[:150]}")
    slow = max(r[2] for r in RESULTS)
    print(f"{len(RESULTS)} cases, {sum(r[1] == 2 for r in RESULTS)} exit 2, slowest {slow:.2f} s")
    assert len(RESULTS) >= 100
