#!/usr/bin/env python3
"""Where the time of one training step goes: a `tf.profiler` trace, summarized.

Builds the same model as `train_throughput.py`, runs warm-up steps through
`model.fit`, traces `--steps` more with `tf.profiler.experimental`, and prints the
TensorFlow op statistics of the trace (TensorBoard's "framework op stats" tool, read
from the trace without TensorBoard) grouped by op type and by the part of the step
(D step, G step, optimizer updates, Polyak average, noise), per step.

    python benchmarks/profile_step.py --model mnist_fm --steps 50
    # the trace itself stays in --logdir for `tensorboard --logdir ...` (Profile tab)

Times are op self-times in the profiler's accounting, which adds overhead; use the
ratios between rows, and `train_throughput.py` for step rates. XLA-compiled clusters
(the fused optimizer and Polyak updates, `improved_gan_tf.fused`) do not appear in
TensorFlow's op statistics, so "optimizer updates" shows only what runs outside them.
"""

import argparse
import collections
import glob
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import train_throughput  # noqa: E402  (sibling benchmark script)

# Substrings of op names, first match wins: which part of the step an op belongs to.
PARTS = (
    ("noise (Gaussian noise layers)", ("noise",)),
    ("optimizer updates", ("/adam", "authors_adam", "AssignVariableOp")),
    ("Polyak average", ("polyak",)),
    ("G step (D features, G forward/backward)", ("discriminator_features", "generator_3", "generator_2")),
    ("D step (G forward, D forward/backward)", ("discriminator", "generator")),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("mnist_fm", "cifar10_fm", "mnist_md"), default="mnist_fm")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=50, help="traced steps")
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--logdir", default=None, help="where the trace is written (default: a temp dir)")
    parser.add_argument("--top", type=int, default=25, help="how many single ops to list")
    return parser.parse_args(argv)


def op_stats(logdir):
    """Rows of the framework-op-stats table of the trace in `logdir`."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin

    paths = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    if not paths:
        raise RuntimeError(f"No *.xplane.pb trace under {logdir}")
    raw, ok = _pywrap_profiler_plugin.xspace_to_tools_data(paths, "framework_op_stats", {})
    if not ok:
        raise RuntimeError(f"TensorFlow could not convert the trace in {logdir}")
    table = json.loads(raw)[0]
    columns = [column["id"] for column in table["cols"]]
    return [dict(zip(columns, [cell.get("v") for cell in row["c"]])) for row in table["rows"]]


def part_of(operation):
    lowered = operation.lower()
    for part, needles in PARTS:
        if any(needle.lower() in lowered for needle in needles):
            return part
    return "other (losses, metrics, data, control)"


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    train_throughput.configure_threads(args.threads)
    import tensorflow as tf

    options = train_throughput.parse_args(["--model", args.model, "--skip_peak"])
    gan, image_shape, _ = train_throughput.build_model(args.model, False, 1)
    dataset, init_batch = train_throughput.make_dataset(options, image_shape)
    gan.initialize(init_batch)
    gan.fit(dataset, epochs=1, steps_per_epoch=args.warmup, verbose=0)
    logdir = args.logdir or tempfile.mkdtemp(prefix="profile_step_")
    tf.profiler.experimental.start(logdir)
    gan.fit(dataset, epochs=1, steps_per_epoch=args.steps, verbose=0)
    tf.profiler.experimental.stop()

    rows = [row for row in op_stats(logdir) if row["type"] != "IDLE"]
    per_step_ms = lambda microseconds: microseconds / args.steps / 1000  # noqa: E731
    total = sum(row["total_self_time"] for row in rows)
    print(f"trace: {logdir}")
    print(f"busy op time: {per_step_ms(total):.1f} ms per step (profiler accounting; "
          "XLA-compiled updates not included)\n")
    for title, key in (("by part of the step", lambda row: part_of(row["operation"])),
                       ("by op type", lambda row: row["type"])):
        sums = collections.Counter()
        for row in rows:
            sums[key(row)] += row["total_self_time"]
        print(f"{title}:")
        for name, microseconds in sums.most_common(15):
            print(f"  {name:45s} {per_step_ms(microseconds):7.2f} ms/step {100 * microseconds / total:5.1f}%")
        print()
    print(f"top {args.top} ops:")
    for row in sorted(rows, key=lambda row: -row["total_self_time"])[:args.top]:
        name = row["operation"].replace("StatefulPartitionedCall/", "")
        print(f"  {row['type']:24s} {name[:70]:70s} {per_step_ms(row['total_self_time']):6.2f} ms/step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
