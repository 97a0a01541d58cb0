#!/usr/bin/env python3
"""The MNIST feature-matching step with the library's weight normalization (automatic
differentiation of `x @ (v * g / ||v||)`) against a candidate with a hand-written
gradient (`(x @ v) * g / ||v||`, the authors' form, four elementwise passes over
the kernel per forward and backward instead of about ten), in one process: both
models are built and traced, then timed in alternating windows of `--steps` steps, so
that the machine's drift between windows affects both alike. The candidate is not in
the library: measured, it did not make the step faster (benchmarks/README.md).

    python benchmarks/weight_norm_step.py --threads 1 --rounds 10 --steps 40

Prints per variant the median steps/s (wall) and CPU seconds per step (process time,
which steal time from other tenants of the machine does not inflate), and the
per-round ratios. Last line:
`weight_norm_step: wall_ratio=... cpu_ratio=... threads=...` (hand-written / autodiff).
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import train_throughput  # noqa: E402  (sibling benchmark script)


def hand_written_weight_normalized_matmul(x, v, g, epsilon):
    """`x @ w` for `w = v * g / sqrt(||v||^2 + epsilon)`, as `(x @ v) * s` with
    `s = g / sqrt(||v||^2 + epsilon)` and the gradient written out:

        t = dy * s                     dx = t @ v^T
        c = sum_batch(dy * (x @ v))    dg = c / sqrt(||v||^2 + epsilon)
        dv = x^T @ t - v * c * s / (||v||^2 + epsilon)
    """
    import tensorflow as tf

    @tf.custom_gradient
    def forward(x, v, g):
        inverse_norm = tf.math.rsqrt(tf.reduce_sum(tf.square(v), axis=0) + epsilon)
        scale = g * inverse_norm
        xv = tf.matmul(x, v)

        def gradient(dy):
            t = dy * scale
            c = tf.reduce_sum(dy * xv, axis=0)
            dv = tf.matmul(x, t, transpose_a=True) - v * (c * scale * tf.square(inverse_norm))
            return tf.matmul(t, v, transpose_b=True), dv, c * inverse_norm

        return xv * scale, gradient

    return forward(x, tf.cast(v, x.dtype), tf.cast(g, x.dtype))


class HandWrittenWeightNormalization:
    """Context: WeightNormalization layers traced inside it use the candidate for Dense
    layers on vectors (the layer's `call`, with `_linear` of the normalized kernel
    replaced)."""

    def __enter__(self):
        from improved_gan_tf.layers import WeightNormalization

        self._original = WeightNormalization.call

        def call(layer, inputs, training=None):
            if not (layer._is_dense and len(inputs.shape) == 2):
                return self._original(layer, inputs, training)
            layer._maybe_initialize(inputs, training)
            outputs = hand_written_weight_normalized_matmul(inputs, layer.layer.kernel, layer.g, layer.epsilon)
            if layer.layer.bias is not None:
                outputs = outputs + layer.layer.bias
            return outputs if layer._activation is None else layer._activation(outputs)

        WeightNormalization.call = call
        return self

    def __exit__(self, *exc_info):
        from improved_gan_tf.layers import WeightNormalization

        WeightNormalization.call = self._original


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=40, help="timed steps per window")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    train_throughput.configure_threads(args.threads)
    import keras

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.stamps = []

        def on_train_batch_end(self, batch, logs=None):
            self.stamps.append((time.perf_counter(), time.process_time()))

    class Synthetic:  # train_throughput.make_dataset's arguments
        data, model = "synthetic", "mnist_fm"

    import contextlib

    variants = {}
    for name, context in (("autodiff", contextlib.nullcontext()), ("hand_written", HandWrittenWeightNormalization())):
        # Each model's step is traced (its first fit) inside its own context.
        with context:
            gan, image_shape, _ = train_throughput.build_model("mnist_fm", False, 1)
            dataset, init_batch = train_throughput.make_dataset(Synthetic, image_shape)
            gan.initialize(init_batch)
            gan.fit(dataset, epochs=1, steps_per_epoch=20, verbose=0)
        variants[name] = (gan, dataset)

    wall = {name: [] for name in variants}
    cpu = {name: [] for name in variants}
    skip = 5
    for _ in range(args.rounds):
        for name, (gan, dataset) in variants.items():
            clock = Clock()
            gan.fit(dataset, epochs=1, steps_per_epoch=args.steps + skip, verbose=0, callbacks=[clock])
            (wall_0, cpu_0), (wall_1, cpu_1) = clock.stamps[skip - 1], clock.stamps[-1]
            wall[name].append(args.steps / (wall_1 - wall_0))
            cpu[name].append((cpu_1 - cpu_0) / args.steps)
    for name in variants:
        print(f"{name}: {statistics.median(wall[name]):.2f} steps/s (wall; "
              f"{min(wall[name]):.2f}-{max(wall[name]):.2f}), "
              f"{statistics.median(cpu[name]) * 1e3:.1f} ms CPU per step "
              f"({min(cpu[name]) * 1e3:.1f}-{max(cpu[name]) * 1e3:.1f})")
    wall_ratios = [b / a for a, b in zip(wall["autodiff"], wall["hand_written"])]
    cpu_ratios = [a / b for a, b in zip(cpu["autodiff"], cpu["hand_written"])]
    print("wall ratio per round: " + " ".join(f"{r:.3f}" for r in wall_ratios))
    print("CPU ratio per round:  " + " ".join(f"{r:.3f}" for r in cpu_ratios))
    print(f"weight_norm_step: wall_ratio={statistics.median(wall_ratios):.3f} "
          f"cpu_ratio={statistics.median(cpu_ratios):.3f} threads={args.threads}")


if __name__ == "__main__":
    main()
