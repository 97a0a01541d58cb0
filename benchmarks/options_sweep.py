#!/usr/bin/env python3
"""The measured effect of each TensorFlow option on the training step, side by side.

Runs `train_throughput.py` once per option per round, in alternating rounds (so a
neighbour's load hits every option alike), and prints each option's median step rate
and its per-round ratio to the float32 baseline:

    python benchmarks/options_sweep.py --model mnist_fm --rounds 2

Options: mixed_bfloat16, XLA (`jit_compile`), steps_per_execution 10, one inter-op
thread, oneDNN off (`TF_ENABLE_ONEDNN_OPTS=0`), and the real `tf.data` pipeline
instead of in-memory tensors (the input pipeline must not starve the step).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

OPTIONS = {
    "baseline (float32, synthetic data)": ([], {}),
    "real tf.data pipeline": (["--data", "real"], {}),
    "mixed_bfloat16": (["--mixed_bfloat16"], {}),
    "XLA jit_compile": (["--jit_compile"], {}),
    "steps_per_execution=10": (["--steps_per_execution", "10", "--warmup", "50"], {}),
    "inter_op_threads=1": (["--inter_op_threads", "1"], {}),
    "oneDNN off": ([], {"TF_ENABLE_ONEDNN_OPTS": "0"}),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("mnist_fm", "cifar10_fm", "mnist_md"), default="mnist_fm")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="a subset of the option names")
    return parser.parse_args(argv)


def run(model, extra, env_overrides, args):
    command = [sys.executable, os.path.join(HERE, "train_throughput.py"), "--model", model,
               "--threads", str(args.threads), "--steps", str(args.steps),
               "--repeats", str(args.repeats), "--skip_peak", *extra]
    env = {**os.environ, **env_overrides}
    completed = subprocess.run(command, env=env, capture_output=True, text=True)
    match = re.search(r"train_throughput: .*steps_per_s=([0-9.]+)", completed.stdout)
    if completed.returncode != 0 or match is None:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    return float(match.group(1))


def main(argv=None):
    args = parse_args(argv)
    names = [name for name in OPTIONS if not args.only or name in args.only]
    rates = {name: [] for name in names}
    baseline = next(iter(OPTIONS))
    for round_index in range(args.rounds):
        for name in names:
            extra, env = OPTIONS[name]
            rates[name].append(run(args.model, extra, env, args))
            print(f"round {round_index + 1}: {name}: {rates[name][-1]:.2f} steps/s", flush=True)
    print(f"\n{args.model}, {args.threads} threads, {args.rounds} rounds")
    for name in names:
        line = f"  {name:36s} median {statistics.median(rates[name]):6.2f} steps/s"
        if baseline in rates and name != baseline:
            ratios = [a / b for a, b in zip(rates[name], rates[baseline])]
            line += f"   x{statistics.median(ratios):.2f} of baseline (rounds {min(ratios):.2f}-{max(ratios):.2f})"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
