#!/usr/bin/env python3
"""Training throughput of `ImprovedGAN.train_step` on the paper's models.

Times the real train step inside one `model.fit` call (the compiled function `fit`
uses, fed by `fit`'s own iterator) with the paper's batch sizes and the configs'
optimizer (the authors' Adam): a callback stamps the end of every batch, and after the
warm-up steps each repeat is a window of `--steps` consecutive steps, so the figure is
the steady-state step rate, as the peer's timed loop measures it. Median and spread
over the repeats are reported. In the same run it measures the machine's fp32 matmul peak
(2048 x 2048 products) and counts the FLOPs of one train step from the traced graph
(TensorFlow's graph profiler: MatMul/Conv2D and their gradients), so the fraction of
peak is measured, not assumed.

    python benchmarks/train_throughput.py --model mnist_fm --threads 2
    # last line: train_throughput: model=mnist_fm steps_per_s=<float> images_per_s=<float> threads=<n>

Models (batch sizes from the authors' scripts):
    mnist_fm    permutation-invariant MNIST, feature matching, semi-supervised
                (100 labeled + 100 unlabeled + 100 generated rows per D step)
    cifar10_fm  CIFAR-10 CNN, feature matching, semi-supervised, same batch sizes
    mnist_md    MNIST CNN with minibatch discrimination, 3 G steps per D step

`--data real` feeds the `improved_gan_tf.data` pipeline on real MNIST files
(`--data_dir`); `--data synthetic` feeds in-memory tensors of the same shapes, to
check that the input pipeline does not starve the step.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("mnist_fm", "cifar10_fm", "mnist_md"), default="mnist_fm")
    parser.add_argument("--threads", type=int, default=2, help="TF intra- and inter-op threads (0: TF default)")
    parser.add_argument("--inter_op_threads", type=int, default=None,
                        help="TF inter-op threads, if different from --threads")
    parser.add_argument("--steps", type=int, default=200, help="timed steps per repeat")
    parser.add_argument("--warmup", type=int, default=50, help="untimed steps before timing")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", choices=("synthetic", "real"), default="synthetic")
    parser.add_argument("--data_dir", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    parser.add_argument("--jit_compile", action="store_true", help="compile the train step with XLA")
    parser.add_argument("--steps_per_execution", type=int, default=1)
    parser.add_argument("--mixed_bfloat16", action="store_true", help="keras mixed_bfloat16 policy")
    parser.add_argument("--deterministic", action="store_true",
                        help="tf.config.experimental.enable_op_determinism() (config.deterministic=True)")
    parser.add_argument("--skip_peak", action="store_true", help="do not measure the matmul peak")
    parser.add_argument("--json", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def configure_threads(threads, inter_op_threads=None):
    import tensorflow as tf

    if threads > 0:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    if inter_op_threads is not None:
        tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads)


def measure_matmul_peak(repeats=10, size=2048):
    """Median fp32 GFLOP/s of size x size matrix products (2 * size^3 FLOPs each)."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))

    @tf.function
    def product(a, b):
        return tf.reduce_sum(tf.matmul(a, b))

    product(a, b).numpy()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b).numpy()
        rates.append(2 * size**3 / (time.perf_counter() - start) / 1e9)
    return statistics.median(rates), min(rates), max(rates)


def build_model(name, jit_compile, steps_per_execution):
    import keras

    from improved_gan_tf import ImprovedGAN
    from improved_gan_tf import architectures

    from improved_gan_tf.optimizers import AuthorsAdam

    adam = lambda lr: AuthorsAdam(lr, beta_1=0.5)  # noqa: E731  (the configs' optimizer)
    if name == "mnist_fm":
        gan = ImprovedGAN(architectures.mnist_mlp_generator(), architectures.mnist_mlp_discriminator(seed=1),
                          num_classes=10, feature_layer="features", polyak_rate=1e-4, seed=1)
        gan.compile(adam(0.003), adam(0.003), generator_loss="feature_matching", unsupervised_weight=0.5,
                    jit_compile=jit_compile, steps_per_execution=steps_per_execution)
        return gan, (784,), 3
    if name == "cifar10_fm":
        gan = ImprovedGAN(architectures.cifar10_generator(), architectures.cifar10_discriminator(seed=1),
                          num_classes=10, feature_layer="features", polyak_rate=1e-4, seed=1)
        gan.compile(adam(3e-4), adam(3e-4), generator_loss="feature_matching", feature_matching_norm="l1",
                    unsupervised_weight=0.5, jit_compile=jit_compile, steps_per_execution=steps_per_execution)
        return gan, (32, 32, 3), 3
    gan = ImprovedGAN(architectures.mnist_conv_generator(), architectures.mnist_conv_discriminator(seed=1),
                      num_classes=10, feature_layer="features", polyak_rate=1e-4, seed=1)
    gan.compile(adam(3e-4), adam(3e-4), generator_loss="minimax", unsupervised_weight=0.5, generator_steps=3,
                jit_compile=jit_compile, steps_per_execution=steps_per_execution)
    return gan, (28, 28, 1), 3


# The experiment config whose data each benchmark model trains on.
CONFIGS = {"mnist_fm": "mnist_feature_matching", "cifar10_fm": "cifar10_feature_matching",
           "mnist_md": "mnist_minibatch_discrimination"}


def make_dataset(args, image_shape, batch=100):
    import numpy as np
    import tensorflow as tf

    from improved_gan_tf import data
    from improved_gan_tf.config import load_config_file
    from improved_gan_tf.registry import data_facts

    if args.data == "real":
        facts = data_facts(load_config_file(CONFIGS[args.model]))
        images, labels = data.load_arrays(facts.name, "train", data_dir=os.path.join(args.data_dir, facts.name))
        labeled = data.select_labeled_subset(labels, 100, facts.num_classes, seed=1)
        dataset = data.semi_supervised_dataset(images, labels, labeled, preprocess=facts.preprocess,
                                               batch_size=batch, seed=1)
        init = data.preprocess_array(images[:500], facts.preprocess)
        return dataset.repeat(), init
    rng = np.random.default_rng(0)
    pool = rng.uniform(size=(batch * 8,) + image_shape).astype("float32")
    tensors = {
        "labeled_images": pool[:batch], "labels": rng.integers(0, 10, batch),
        "unlabeled_images": pool[batch: 2 * batch], "unlabeled_images_2": pool[2 * batch: 3 * batch],
    }
    return tf.data.Dataset.from_tensors(tensors).repeat(), pool[:500]


def count_step_flops(gan, dataset):
    """Matrix-product FLOPs of one train step, counted by TF's graph profiler on the
    traced step (every MatMul/Conv2D of the forward and backward passes)."""
    import tensorflow as tf

    element = next(iter(dataset))
    specs = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), element)
    graph = tf.function(gan.train_step).get_concrete_function(specs).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    # matrix products only (forward and gradient MatMul / Conv2D ops), as in the peer's count
    options["account_type_regexes"] = ["MatMul", "BatchMatMul.*", "Conv2D.*", "Conv2DBackprop.*"]
    profile = tf.compat.v1.profiler.profile(graph, options=options)
    return profile.total_float_ops


def main(argv=None):
    args = parse_args(argv)
    if args.warmup < args.steps_per_execution:
        raise SystemExit(f"--warmup must be >= --steps_per_execution; received {args.warmup}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    configure_threads(args.threads, args.inter_op_threads)
    import keras
    import tensorflow as tf

    if args.mixed_bfloat16:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    peak = None if args.skip_peak else measure_matmul_peak()
    gan, image_shape, rows_per_step = build_model(args.model, args.jit_compile, args.steps_per_execution)
    dataset, init_batch = make_dataset(args, image_shape)
    gan.initialize(init_batch)
    flops = count_step_flops(gan, dataset)

    class BatchClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.stamps = []

        def on_train_batch_end(self, batch, logs=None):
            self.stamps.append(time.perf_counter())

    clock = BatchClock()
    total = args.warmup + args.repeats * args.steps
    gan.fit(dataset, epochs=1, steps_per_epoch=total, verbose=0,
            callbacks=[clock])
    # With steps_per_execution > 1 the callback fires once per execution.
    stamps = clock.stamps
    per_stamp = args.steps_per_execution
    first = args.warmup // per_stamp
    window = args.steps // per_stamp
    rates = [
        window * per_stamp / (stamps[first + (r + 1) * window - 1] - stamps[first + r * window - 1])
        for r in range(args.repeats)
    ]
    steps_per_s = statistics.median(rates)
    images_per_s = steps_per_s * 100 * rows_per_step
    threads = args.threads or tf.config.threading.get_intra_op_parallelism_threads()
    result = {
        "model": args.model, "data": args.data, "jit_compile": args.jit_compile,
        "steps_per_execution": args.steps_per_execution, "mixed_bfloat16": args.mixed_bfloat16,
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
        "steps_per_s_median": steps_per_s, "steps_per_s_min": min(rates), "steps_per_s_max": max(rates),
        "images_per_s": images_per_s, "gflop_per_step": flops / 1e9,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "threads": threads,
    }
    if peak is not None:
        result["matmul_peak_gflops"] = {"median": peak[0], "min": peak[1], "max": peak[2]}
        result["fraction_of_peak"] = flops * steps_per_s / 1e9 / peak[0]
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    print(f"train_throughput: model={args.model} steps_per_s={steps_per_s:.4f} "
          f"images_per_s={images_per_s:.2f} threads={threads}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
