#!/usr/bin/env python3
"""The MNIST discriminator's matrix products in TensorFlow (Eigen, and oneDNN's ops)
and in PyTorch: is the matrix-product part of the step faster in one of them?

One measurement is the D step's products on 300 rows (784-1000-500-250-250-250-10):
for every layer the forward product `x @ w`, the input gradient `dy @ w^T` and the
weight gradient `x^T @ dy`, 2.77 GFLOP, as one `tf.function` (or one eager PyTorch
loop); GFLOP/s is the median over `--windows` windows of `--calls` calls. The three
implementations run as separate processes in alternating rounds with the same thread
count:

    tf_eigen    TensorFlow as installed (on CPUs without AVX-512 its MatMul is Eigen's)
    tf_onednn   the same with TF_ENABLE_ONEDNN_OPTS=1 (oneDNN's MatMul)
    torch       PyTorch's `F.linear` and `@` (with `--peer_python`)

    python benchmarks/step_matmuls.py --rounds 2 --peer_python ../venv-torch/bin/python

Last line: `step_matmuls: tf_eigen=... tf_onednn=... torch=...` (median GFLOP/s).
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_with_peer  # noqa: E402  (sibling benchmark script)

DIMS = (784, 1000, 500, 250, 250, 250, 10)
ROWS = 300
FLOPS = sum(3 * 2 * ROWS * fan_in * fan_out for fan_in, fan_out in zip(DIMS[:-1], DIMS[1:]))


def rates_of(call, calls, windows):
    for _ in range(20):
        call()
    rates = []
    for _ in range(windows):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        rates.append(FLOPS * calls / (time.perf_counter() - start) / 1e9)
    return rates


def tensorflow_products(threads):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    shapes = list(zip(DIMS[:-1], DIMS[1:]))
    weights = [tf.random.normal((fan_in, fan_out)) for fan_in, fan_out in shapes]
    inputs = [tf.random.normal((ROWS, fan_in)) for fan_in, _ in shapes]
    output_gradients = [tf.random.normal((ROWS, fan_out)) for _, fan_out in shapes]

    @tf.function
    def products():
        # One element of each product is returned, so that none is pruned.
        total = 0.0
        for x, w, dy in zip(inputs, weights, output_gradients):
            total += tf.matmul(x, w)[0, 0]
            total += tf.matmul(dy, w, transpose_b=True)[0, 0]
            total += tf.matmul(x, dy, transpose_a=True)[0, 0]
        return total

    return lambda: products().numpy()


def torch_products(threads):
    import torch

    torch.set_num_threads(threads)
    shapes = list(zip(DIMS[:-1], DIMS[1:]))
    weights = [torch.randn(fan_out, fan_in) for fan_in, fan_out in shapes]  # nn.Linear's layout
    inputs = [torch.randn(ROWS, fan_in) for fan_in, _ in shapes]
    output_gradients = [torch.randn(ROWS, fan_out) for _, fan_out in shapes]

    def products():
        total = 0.0
        for x, w, dy in zip(inputs, weights, output_gradients):
            total += float(torch.nn.functional.linear(x, w)[0, 0])
            total += float((dy @ w)[0, 0])
            total += float((dy.t() @ x)[0, 0])
        return total

    return products


def measure(framework, threads, calls, windows):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    call = torch_products(threads) if framework == "torch" else tensorflow_products(threads)
    rates = rates_of(call, calls, windows)
    print(f"gflops_per_s={statistics.median(rates):.2f}", flush=True)
    return 0


def gflops_per_s(command, environment):
    return float(compare_with_peer.run(command, r"gflops_per_s=([0-9.]+)", env=environment).group(1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calls", type=int, default=100, help="calls per timed window")
    parser.add_argument("--windows", type=int, default=7, help="timed windows per measurement")
    parser.add_argument("--peer_python", help="a Python with torch: also measure PyTorch")
    parser.add_argument("--measure", choices=("tensorflow", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        return measure(args.measure, args.threads, args.calls, args.windows)

    shared = ["--threads", str(args.threads), "--calls", str(args.calls), "--windows", str(args.windows)]
    this = os.path.abspath(__file__)
    eigen = dict(os.environ)
    eigen.pop("TF_ENABLE_ONEDNN_OPTS", None)
    implementations = {
        "tf_eigen": ([sys.executable, this, "--measure", "tensorflow"] + shared, eigen),
        "tf_onednn": ([sys.executable, this, "--measure", "tensorflow"] + shared,
                      dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1")),
    }
    if args.peer_python:
        implementations["torch"] = ([args.peer_python, this, "--measure", "torch"] + shared, dict(os.environ))
    rates = {name: [] for name in implementations}
    print(f"the D step's matrix products on {ROWS} rows: {FLOPS / 1e9:.2f} GFLOP per call", flush=True)
    for round_index in range(args.rounds):
        for name, (command, environment) in implementations.items():
            rates[name].append(gflops_per_s(command, environment))
        print(f"round {round_index + 1}: " + "; ".join(f"{name} {values[-1]:.1f}" for name, values in rates.items())
              + " GFLOP/s", flush=True)
    print("step_matmuls: " + " ".join(f"{name}={statistics.median(values):.1f}" for name, values in rates.items())
          + f" threads={args.threads} rounds={args.rounds}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
