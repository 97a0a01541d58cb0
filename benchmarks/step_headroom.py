#!/usr/bin/env python3
"""How much of the MNIST feature-matching step its Gaussian noise and its weight
normalization cost, in ours and in the PyTorch peer: an ablation, measured side by side.

Each variant is the real step (`train_throughput.py --model mnist_fm`, or the peer's
`--bench N`) with a part replaced by nothing:

    library          the step as it is
    no_noise         the Gaussian noise layers add zeros (no random numbers are drawn)
    no_weight_norm   weight-normalized layers use `v` as their kernel (no norm, no scale)
    neither          both of the above

and the peer's `eager` and `no_noise` (its `torch.randn_like` returns zeros). The
variants are not models anyone should train: they bound what any faster noise or
weight-normalization code could gain (a part that costs nothing) and show whether our
noise costs more than the peer's. Variants run as separate processes in alternating
rounds, with the same thread count; each round's ratios to `library` (and the peer's
to its `eager`) are printed, since on a shared machine only ratios within a round mean
much.

    python benchmarks/step_headroom.py --rounds 2 --steps 100
    python benchmarks/step_headroom.py --rounds 2 --steps 100 --peer_python ../venv-torch/bin/python

Last line: `step_headroom: library=... no_noise=... no_weight_norm=... neither=...`
(median steps/s; and `peer_eager=... peer_no_noise=...` with `--peer_python`).
"""

import argparse
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "..", "..", "shared", "bench", "peer_torch_mnist_fm.py")
PEER_DATA = os.path.join(HERE, "..", "..", "shared", "data", "mnist")
sys.path.insert(0, HERE)
import compare_with_peer  # noqa: E402  (sibling benchmark script)

OURS_VARIANTS = ("library", "no_noise", "no_weight_norm", "neither")

# Run inside the peer's Python: torch.randn_like returns zeros, then the peer runs as
# its own __main__ with the arguments after the snippet.
PEER_WITHOUT_NOISE = (
    "import runpy, sys, torch\n"
    "torch.randn_like = lambda tensor, **kwargs: torch.zeros_like(tensor)\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def remove_parts(variant):
    """Replaces the parts `variant` leaves out, before any model is built."""
    import tensorflow as tf

    if variant in ("no_noise", "neither"):
        from improved_gan_tf.layers import noise

        def zeros(shape, seed, dtype=tf.float32, scale=1.0):
            del seed, scale
            return tf.zeros(shape, dtype)

        noise.stateless_standard_normal = zeros
    if variant in ("no_weight_norm", "neither"):
        from improved_gan_tf.layers import WeightNormalization

        WeightNormalization.normalized_kernel = lambda layer: layer.layer.kernel


def run_variant(variant, throughput_args):
    import train_throughput

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    remove_parts(variant)
    return train_throughput.main(throughput_args)


def steps_per_s(command):
    return float(compare_with_peer.run(command, r"steps_per_s=([0-9.]+)").group(1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100, help="timed steps per repeat (ours) and the peer's --bench")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows per measurement of ours")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--peer_python", help="a Python with torch: also measure the peer with and without noise")
    parser.add_argument("--variant", choices=OURS_VARIANTS, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.variant:
        return run_variant(args.variant, rest)

    ours_args = ["--model", "mnist_fm", "--threads", str(args.threads), "--steps", str(args.steps),
                 "--repeats", str(args.repeats), "--skip_peak"]
    commands = {variant: [sys.executable, os.path.abspath(__file__), "--variant", variant] + ours_args
                for variant in OURS_VARIANTS}
    if args.peer_python:
        peer_args = [PEER, "--data-dir", PEER_DATA, "--bench", str(args.steps), "--threads", str(args.threads)]
        commands["peer_eager"] = [args.peer_python] + peer_args
        commands["peer_no_noise"] = [args.peer_python, "-c", PEER_WITHOUT_NOISE] + peer_args
    rates = {name: [] for name in commands}
    for round_index in range(args.rounds):
        for name, command in commands.items():
            rates[name].append(steps_per_s(command))
        ours_ratios = ", ".join(f"{name} {rates[name][-1] / rates['library'][-1]:.2f}" for name in OURS_VARIANTS[1:])
        line = (f"round {round_index + 1}: " + "; ".join(f"{name} {values[-1]:.2f}" for name, values in rates.items())
                + f" steps/s | x library: {ours_ratios}")
        if args.peer_python:
            line += (f" | peer no_noise x eager: {rates['peer_no_noise'][-1] / rates['peer_eager'][-1]:.2f}"
                     f" | library / peer eager: {rates['library'][-1] / rates['peer_eager'][-1]:.2f}"
                     f", no_noise / peer no_noise: {rates['no_noise'][-1] / rates['peer_no_noise'][-1]:.2f}")
        print(line, flush=True)
    print("step_headroom: " + " ".join(f"{name}={statistics.median(values):.2f}" for name, values in rates.items())
          + f" threads={args.threads} rounds={args.rounds}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
