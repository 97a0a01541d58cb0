"""CPU latency of the exported SavedModels' signatures, batch 1 and 64.

Exports the MNIST (MLP) and CIFAR-10 (DCGAN generator, conv discriminator)
semi-supervised models -- weights after data-dependent initialization on random
data; latency does not depend on training -- or benchmarks an existing export
base, then loads each version with `tf.saved_model.load` (no improved_gan_tf
code runs in the timed calls) and times every signature:

    python benchmarks/export_latency.py                       # MNIST and CIFAR-10
    python benchmarks/export_latency.py --models mnist --repeats 100
    python benchmarks/export_latency.py --export-base EXPORT_BASE   # an existing export
    python benchmarks/export_latency.py --json latency.json

Each figure is the wall time of one signature call from Python (inputs already
tensors, outputs materialized), after warm-up calls: median and the 10th-90th
percentile spread over `--repeats` calls. The Python call overhead is included
(~0.1 ms); TF Serving adds its own request (de)serialization on top.
"""

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

BATCHES = (1, 64)


def _build_exports(models, base):
    import keras

    from improved_gan_tf import ImprovedGAN
    from improved_gan_tf import architectures
    from improved_gan_tf import export

    builders = {
        "mnist": (architectures.mnist_mlp_generator, architectures.mnist_mlp_discriminator, (784,)),
        "cifar10": (architectures.cifar10_generator, architectures.cifar10_discriminator, (32, 32, 3)),
    }
    exported = {}
    for name in models:
        make_g, make_d, input_shape = builders[name]
        gan = ImprovedGAN(make_g(), make_d(seed=0), num_classes=10, feature_layer=architectures.FEATURE_LAYER, seed=0)
        gan.compile(d_optimizer=keras.optimizers.Adam(), g_optimizer=keras.optimizers.Adam())
        gan.initialize(np.random.default_rng(0).random((100, *input_shape), dtype=np.float32))
        exported[f"{name}_generator"] = export.export_generator(gan, base / f"{name}_generator" / "1")
        exported[f"{name}_classifier"] = export.export_classifier(gan, base / f"{name}_classifier" / "1", dataset=name)
    return exported


def _existing_exports(base):
    found = {}
    for model_dir in sorted(p for p in pathlib.Path(base).iterdir() if p.is_dir()):
        versions = sorted((p for p in model_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        if versions:
            found[model_dir.name] = versions[-1]
    if not found:
        sys.exit(f"no EXPORT_BASE/<model_name>/<version> SavedModels under {base}")
    return found


def _inputs(signature, batch, rng):
    """Random inputs of `batch` examples for a signature, from its input specs."""
    _, specs = signature.structured_input_signature
    if set(specs) == {"seed", "num_samples"}:
        return {"seed": tf.constant(7, tf.int64), "num_samples": tf.constant(batch, tf.int32)}
    inputs = {}
    for key, spec in specs.items():
        shape = (batch, *spec.shape[1:])
        if spec.dtype == tf.uint8:
            inputs[key] = tf.constant(rng.integers(0, 256, shape, dtype=np.uint8))
        else:
            inputs[key] = tf.constant(rng.random(shape, dtype=np.float32))
    return inputs


def _time(fn, inputs, repeats, warmup):
    for _ in range(warmup):
        fn(**inputs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        outputs = fn(**inputs)
        for value in outputs.values():
            value.numpy()
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p10_ms": float(np.percentile(times, 10)),
        "p90_ms": float(np.percentile(times, 90)),
        "repeats": repeats,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="mnist,cifar10", help="comma-separated: mnist, cifar10")
    parser.add_argument("--export-base", help="benchmark the latest version of each model under this directory")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        if args.export_base:
            exports = _existing_exports(args.export_base)
        else:
            exports = _build_exports([m.strip() for m in args.models.split(",") if m.strip()], pathlib.Path(tmp))
        rng = np.random.default_rng(0)
        results = []
        print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, intra-op threads "
              f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}")
        print(f"{'model':<20} {'signature':<16} {'batch':>5} {'median ms':>10} {'p10-p90 ms':>16} {'ms/example':>11}")
        for model_name, path in exports.items():
            loaded = tf.saved_model.load(str(path))
            for signature_name in sorted(loaded.signatures):
                fn = loaded.signatures[signature_name]
                for batch in BATCHES:
                    figures = _time(fn, _inputs(fn, batch, rng), args.repeats, args.warmup)
                    results.append({"model": model_name, "signature": signature_name, "batch": batch, **figures})
                    print(f"{model_name:<20} {signature_name:<16} {batch:>5} {figures['median_ms']:>10.2f} "
                          f"{figures['p10_ms']:>7.2f}-{figures['p90_ms']:<8.2f} "
                          f"{figures['median_ms'] / batch:>11.3f}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
