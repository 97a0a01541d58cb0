#!/usr/bin/env python3
"""Ours vs a PyTorch peer on the feature-matching train step, side by side.

Runs `benchmarks/train_throughput.py --model M` (ours) and the PyTorch peer of the same
model with `--bench N` (eager and optionally `--compile`) back to back in one process
tree, alternating for several rounds, with the same thread count, and prints each one's
median steps/s and the ratios ours/peer measured within the same run. The fp32 matmul
peak is measured by our benchmark in every round, so the fraction of peak comes from
the same run too.

Models (`--model`):
    mnist_fm    (default) permutation-invariant MNIST vs ../shared/bench/peer_torch_mnist_fm.py
                on ../shared/data/mnist; ours warms up 50 steps, the peer N (its contract).
    cifar10_fm  the CIFAR-10 CNN vs benchmarks/peer_torch_cifar10_fm.py (the same networks,
                losses and optimizer, written in PyTorch) on ../shared/data/cifar10. About
                200 times the matrix-product work of an mnist_fm step (seconds per step on
                2 cores), so the defaults are --rounds 3 --steps 10 --warmup 3, and both
                sides run the same warm-up and timed step counts (the peer gets
                `--bench N --warmup W`).

The peer needs PyTorch, a benchmark-only dependency (never a package dependency):

    python3 -m venv ../venv-torch && ../venv-torch/bin/pip install torch==2.13.0
    python benchmarks/compare_with_peer.py --peer_python ../venv-torch/bin/python --rounds 10
    python benchmarks/compare_with_peer.py --model cifar10_fm --peer_python ../venv-torch/bin/python

Last line: `compare_with_peer: ours_steps_per_s=... peer_eager_steps_per_s=... ratio_eager=...`
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared")
# Per model: the peer script, the peer's data directory, and the defaults of --rounds,
# --steps and --warmup (warmup None: ours 50 steps, the peer N, as before).
MODELS = {
    "mnist_fm": dict(peer=os.path.join(SHARED, "bench", "peer_torch_mnist_fm.py"),
                     data_dir=os.path.join(SHARED, "data", "mnist"), rounds=10, steps=200, warmup=None),
    "cifar10_fm": dict(peer=os.path.join(HERE, "peer_torch_cifar10_fm.py"),
                       data_dir=os.path.join(SHARED, "data", "cifar10"), rounds=3, steps=10, warmup=3),
}
DEFAULT_PEER = MODELS["mnist_fm"]["peer"]
DEFAULT_DATA = MODELS["mnist_fm"]["data_dir"]


def run(command, pattern, env=None):
    """Runs `command` (with environment `env`, default this one's) and returns the match
    of `pattern` on the last stdout line it matches; a failed run or no match raises."""
    completed = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    match = None
    for line in completed.stdout.splitlines():
        match = re.search(pattern, line) or match
    if completed.returncode != 0 or match is None:
        raise RuntimeError(
            f"{' '.join(command)} failed (exit {completed.returncode}):\n{completed.stdout[-2000:]}\n"
            f"{completed.stderr[-2000:]}"
        )
    return match


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=tuple(MODELS), default="mnist_fm")
    parser.add_argument("--rounds", type=int, default=None, help="default: 10 (mnist_fm), 3 (cifar10_fm)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per measurement (both sides); default: 200 (mnist_fm), 10 (cifar10_fm)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed steps before timing; cifar10_fm: both sides (default 3); mnist_fm: "
                             "ours only (default 50; its peer always warms up --steps steps)")
    parser.add_argument("--peer", default=None, help="the peer script (default: the model's)")
    parser.add_argument("--peer_python", default=sys.executable, help="a Python with torch installed")
    parser.add_argument("--data_dir", default=None,
                        help="the peer's data directory (default: ../shared/data/mnist or cifar10); ours "
                             "reads train_throughput.py's default data directory")
    parser.add_argument("--no_compile", action="store_true", help="skip the peer's torch.compile mode")
    parser.add_argument("--ours_args", default="", help="extra arguments for train_throughput.py")
    args = parser.parse_args(argv)
    defaults = MODELS[args.model]
    for key in ("peer", "data_dir", "rounds", "steps"):
        if getattr(args, key) is None:
            setattr(args, key, defaults[key])
    warmup = args.warmup if args.warmup is not None else defaults["warmup"]
    # steps/s of the slow CIFAR-10 model need more digits than MNIST's
    digits = 2 if args.model == "mnist_fm" else 4

    ours_command = [
        sys.executable, os.path.join(HERE, "train_throughput.py"), "--model", args.model,
        "--threads", str(args.threads), "--steps", str(args.steps),
        "--warmup", str(50 if warmup is None else warmup), "--repeats", "1", "--data", "real",
    ] + args.ours_args.split()
    ours_json = os.path.join(tempfile.mkdtemp(prefix="compare_with_peer_"), "ours.json")
    peer_command = [
        args.peer_python, args.peer, "--data-dir", args.data_dir, "--bench", str(args.steps),
        "--threads", str(args.threads),
    ]
    if args.model != "mnist_fm" and warmup is not None:
        peer_command += ["--warmup", str(warmup)]
    modes = {"eager": peer_command} if args.no_compile else {"eager": peer_command, "compile": peer_command + ["--compile"]}
    ours, peaks, fractions = [], [], []
    peer = {mode: [] for mode in modes}
    for round_index in range(args.rounds):
        match = run(ours_command + ["--json", ours_json], r"train_throughput: .*steps_per_s=([0-9.]+)")
        ours.append(float(match.group(1)))
        with open(ours_json) as handle:
            measured = json.load(handle)
        peaks.append(measured["matmul_peak_gflops"]["median"])
        fractions.append(measured["fraction_of_peak"])
        for mode, command in modes.items():
            peer[mode].append(float(run(command, r"steps_per_s=([0-9.]+)").group(1)))
        print(f"round {round_index + 1}: ours {ours[-1]:.{digits}f} steps/s; "
              + "; ".join(f"peer {mode} {values[-1]:.{digits}f}" for mode, values in peer.items())
              + f"; matmul peak {peaks[-1]:.0f} GFLOP/s, ours at {100 * fractions[-1]:.0f}% of it", flush=True)

    def summary(values, digits=2):
        return (f"median {statistics.median(values):.{digits}f} "
                f"(min {min(values):.{digits}f}, max {max(values):.{digits}f})")

    print(f"ours: {summary(ours, digits)} steps/s")
    print(f"fp32 matmul peak (2048^2): {summary(peaks)} GFLOP/s; ours at {summary([100 * f for f in fractions])} % of it")
    for mode, values in peer.items():
        print(f"peer {mode}: {summary(values, digits)} steps/s")
    ratios = {mode: [o / p for o, p in zip(ours, values)] for mode, values in peer.items()}
    for mode, values in ratios.items():
        print(f"ratio ours/peer {mode} (per round): {summary(values)}")
    tail = " ".join(
        f"peer_{mode}_steps_per_s={statistics.median(peer[mode]):.4f} ratio_{mode}={statistics.median(ratios[mode]):.4f}"
        for mode in peer
    )
    print(f"compare_with_peer: ours_steps_per_s={statistics.median(ours):.4f} {tail} threads={args.threads} "
          f"rounds={args.rounds}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
