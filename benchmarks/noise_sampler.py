#!/usr/bin/env python3
"""Gaussian noise samplers side by side: `tf.random.stateless_normal` vs
`improved_gan_tf.rng.stateless_standard_normal` (Box-Muller on Philox uniforms), and
what else was tried: inverse-CDF sampling of the same uniforms (`tf.math.ndtri`,
`tf.math.erfinv`, one op each instead of Box-Muller's chain), and the Philox bits or
uniforms alone (the floor of any sampler built on TensorFlow's stateless RNG).

The MNIST discriminator's noise layers draw 300 x (784 + 1000 + 500 + 3 * 250) normals
in a D step; the default shape is a batch of that size. Alternating rounds, median ms.

    python benchmarks/noise_sampler.py --threads 2 --rounds 10
"""

import argparse
import math
import statistics
import time

import tensorflow as tf

from improved_gan_tf.rng import stateless_standard_normal


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--columns", type=int, default=784 + 1000 + 500 + 3 * 250)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    shape = (args.rows, args.columns)
    samplers = {
        "tf.random.stateless_normal": lambda seed: tf.random.stateless_normal(shape, seed=seed),
        "stateless_standard_normal": lambda seed: stateless_standard_normal(shape, seed),
        # u + 2^-24 keeps ndtri off -inf at u = 0 (the uniforms are multiples of 2^-23).
        "ndtri(uniform)": lambda seed: tf.math.ndtri(tf.random.stateless_uniform(shape, seed=seed) + 2.0**-24),
        "sqrt(2) erfinv(uniform)": lambda seed: math.sqrt(2.0) * tf.math.erfinv(
            tf.random.stateless_uniform(shape, seed=seed, minval=-1.0 + 2.0**-23, maxval=1.0)),
        "uniforms alone": lambda seed: tf.random.stateless_uniform(shape, seed=seed),
        "uint32 bits alone": lambda seed: tf.random.stateless_uniform(
            shape, seed=seed, minval=None, maxval=None, dtype=tf.uint32),
    }
    samplers = {name: tf.function(sampler) for name, sampler in samplers.items()}
    seed = tf.constant([1, 2])
    timings = {name: [] for name in samplers}
    for sampler in samplers.values():
        sampler(seed).numpy()
    for _ in range(args.rounds):
        for name, sampler in samplers.items():
            start = time.perf_counter()
            for _ in range(args.calls):
                result = sampler(seed)
            result.numpy()
            timings[name].append((time.perf_counter() - start) / args.calls * 1e3)
    for name, values in timings.items():
        print(f"{name}: median {statistics.median(values):.2f} ms (min {min(values):.2f}, max {max(values):.2f}) "
              f"for {shape[0]}x{shape[1]}")
    ratio = statistics.median(timings["tf.random.stateless_normal"]) / statistics.median(timings["stateless_standard_normal"])
    print(f"noise_sampler: speedup={ratio:.2f} threads={args.threads}")


if __name__ == "__main__":
    main()
