"""Import six keras.applications networks (weights=None, default input size) from .h5 and .keras, compare
every layer's MACs and weights with Keras' own, and print totals beside the published figures.

    PYTHONPATH=src python benchmarks/bench_import.py [VGG16 ResNet50 ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

# network -> (constructor kwargs, published multiply-accumulates, source)
PUBLISHED = {
    "VGG16": ({}, 15.5e9, "Simonyan & Zisserman 2015; ~15.5 GMACs"),
    "ResNet50": ({}, 3.8e9, "He et al. 2016 Table 1: 3.8e9 FLOPs (multiply-adds); ~4.1 G for torchvision v1.5"),
    "MobileNetV2": ({}, 300e6, "Sandler et al. 2018 Table 4: 300M MAdds"),
    "MobileNetV3Large": ({"input_shape": (224, 224, 3)}, 219e6, "Howard et al. 2019 Table 3: 219M MAdds"),
    "InceptionV3": ({}, 5.72e9, "Szegedy et al. 2016: 5.72e9 multiply-adds (299x299)"),
    "Xception": ({}, 8.4e9, "Chollet 2017 / keras.applications table: ~8.4 GMACs (299x299)"),
}


def main(names: list[str]) -> int:
    import keras

    from fusionsim.cli.import_cmd import import_model
    from fusionsim.workloads import load_network, network_graph
    from fusionsim.workloads.reference import keras_layer_counts

    print(f"{'network':17} {'fmt':6} {'layers':>6} {'MACs':>15} {'Keras MACs':>15} {'weights':>11} "
          f"{'published':>10}  per-layer  import_s")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            kwargs, published, _ = PUBLISHED[name]
            model = getattr(keras.applications, name)(weights=None, **kwargs)
            ref = keras_layer_counts(model)
            for suffix in (".h5", ".keras"):
                path = Path(tmp) / f"{name}{suffix}"
                model.save(path)
                t0 = time.perf_counter()
                import_model(path, "imagenet", path.with_suffix(".yaml"))
                seconds = time.perf_counter() - t0
                graph = network_graph(load_network(path.with_suffix(".yaml")), "imagenet")
                got = {x.name: (x.macs, x.weights) for x in graph.layers if x.kind != "pool"}
                same = got == ref
                ok &= same
                print(f"{name:17} {suffix:6} {len(graph.layers):6d} {sum(m for m, _ in got.values()):15,d} "
                      f"{sum(m for m, _ in ref.values()):15,d} {sum(w for _, w in got.values()):11,d} "
                      f"{published / 1e9:9.2f}G  {'equal' if same else 'DIFFER':9}  {seconds:.2f}")
    for name in names:
        print(f"  {name}: {PUBLISHED[name][2]}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:] or list(PUBLISHED)))
