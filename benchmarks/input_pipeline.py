#!/usr/bin/env python3
"""How fast the semi-supervised `tf.data` stream yields batches.

Loads a training split (local standard files with `--data_dir`, else TFDS), chooses the
labeled subset as the trainer does, builds `data.semi_supervised_dataset` with the
dataset's default preprocessing and times `--num_batches` batches after a warm-up that
fills the prefetch buffers. Prints one JSON object: load time, batches per second and
the element spec.

    python benchmarks/input_pipeline.py --name mnist --data_dir ../shared/data/mnist
"""

import argparse
import json
import time


def benchmark_dataset(ds, num_batches: int = 600, warmup: int = 20) -> dict:
    """Measures how fast a dataset yields batches.

    Args:
      ds: the `tf.data.Dataset` (at least `warmup + num_batches` elements).
      num_batches: batches to time.
      warmup: batches consumed before timing (fills the prefetch buffers).

    Returns:
      `{"batches_per_sec": ..., "seconds": ..., "num_batches": ...}`.
    """
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    start = time.perf_counter()
    for _ in range(num_batches):
        next(it)
    seconds = time.perf_counter() - start
    return {
        "batches_per_sec": num_batches / seconds,
        "seconds": seconds,
        "num_batches": float(num_batches),
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="mnist", help="dataset name (registry.canonical_name)")
    parser.add_argument("--data_dir", default="", help="local standard files; empty: TFDS")
    parser.add_argument("--num_labeled", type=int, default=100)
    parser.add_argument("--batch_size", type=int, default=100)
    parser.add_argument("--num_batches", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def main(argv=None):
    from improved_gan_tf import data
    from improved_gan_tf import registry

    args = parse_args(argv)
    spec = registry.DATASETS[registry.canonical_name(args.name)]
    start = time.perf_counter()
    images, labels = data.load_arrays(spec.name, "train", args.data_dir or None)
    load_s = time.perf_counter() - start
    indices = data.select_labeled_subset(labels, args.num_labeled, spec.num_classes, args.seed)
    ds = data.semi_supervised_dataset(
        images, labels, indices, preprocess=spec.default_preprocess,
        batch_size=args.batch_size, seed=args.seed,
    )
    result = benchmark_dataset(ds, args.num_batches)
    print(json.dumps({
        "dataset": spec.name,
        "train_examples": int(images.shape[0]),
        "load_seconds": round(load_s, 3),
        "batch_size": args.batch_size,
        "batches_per_sec": round(result["batches_per_sec"], 1),
        "num_batches": args.num_batches,
        "element_spec": {k: str(v) for k, v in ds.element_spec.items()},
    }, indent=1))


if __name__ == "__main__":
    main()
