#!/usr/bin/env python3
"""Ours vs the PyTorch reference on the MNIST feature-matching step, side by side.

Runs `benchmarks/train_throughput.py --model mnist_fm` (ours) and
`../shared/bench/peer_torch_mnist_fm.py --bench N` (the peer, eager and optionally
`--compile`) back to back in one process tree, alternating for several rounds, with
the same thread count, and prints each one's median steps/s and the ratios ours/peer
measured within the same run. The fp32 matmul peak is measured by our benchmark in
every round, so the fraction of peak comes from the same run too.

The peer needs PyTorch, a benchmark-only dependency (never a package dependency):

    python3 -m venv /work/venv-torch && /work/venv-torch/bin/pip install torch==2.13.0
    python benchmarks/compare_with_peer.py --peer_python /work/venv-torch/bin/python --rounds 10

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
DEFAULT_PEER = os.path.join(HERE, "..", "..", "shared", "bench", "peer_torch_mnist_fm.py")
DEFAULT_DATA = os.path.join(HERE, "..", "..", "shared", "data", "mnist")


def run(command, pattern):
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
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
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=200, help="timed steps per measurement (both sides)")
    parser.add_argument("--peer", default=DEFAULT_PEER)
    parser.add_argument("--peer_python", default=sys.executable, help="a Python with torch installed")
    parser.add_argument("--data_dir", default=DEFAULT_DATA)
    parser.add_argument("--no_compile", action="store_true", help="skip the peer's torch.compile mode")
    parser.add_argument("--ours_args", default="", help="extra arguments for train_throughput.py")
    args = parser.parse_args(argv)

    ours_command = [
        sys.executable, os.path.join(HERE, "train_throughput.py"), "--model", "mnist_fm",
        "--threads", str(args.threads), "--steps", str(args.steps), "--warmup", "50", "--repeats", "1",
        "--data", "real",
    ] + args.ours_args.split()
    ours_json = os.path.join(tempfile.mkdtemp(prefix="compare_with_peer_"), "ours.json")
    peer_command = [
        args.peer_python, args.peer, "--data-dir", args.data_dir, "--bench", str(args.steps),
        "--threads", str(args.threads),
    ]
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
        print(f"round {round_index + 1}: ours {ours[-1]:.2f} steps/s; "
              + "; ".join(f"peer {mode} {values[-1]:.2f}" for mode, values in peer.items())
              + f"; matmul peak {peaks[-1]:.0f} GFLOP/s, ours at {100 * fractions[-1]:.0f}% of it", flush=True)

    def summary(values):
        return f"median {statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})"

    print(f"ours: {summary(ours)} steps/s")
    print(f"fp32 matmul peak (2048^2): {summary(peaks)} GFLOP/s; ours at {summary([100 * f for f in fractions])} % of it")
    for mode, values in peer.items():
        print(f"peer {mode}: {summary(values)} steps/s")
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
