"""`improved-gan stats`: FID reference statistics of a dataset split, in TTUR's `.npz` layout.

    improved-gan stats --dataset cifar10 --split train --data_dir DIR --output cifar10_train.npz
        [--inception_graph classify_image_graph_def.pb | --inception_weights WEIGHTS.h5]
        [--num_examples N] [--batch_size 50] [--overwrite]

runs the split's images (uint8 pixels, the files' order; the first N with
--num_examples) through Inception-v3 batch by batch and writes the mean `mu` and
covariance `sigma` (float64, `np.cov(rowvar=False)`) of its pool_3 features to
--output: an `.npz` holding exactly `mu` and `sigma`, as TTUR's
`precalc_stats_example.py` writes it, which TTUR, pytorch-fid and clean-fid read, and
`improved-gan score`'s scorers take as a reference. With --inception_graph (the 2015
graph the paper and TTUR used) the statistics are comparable with published ones; with
Keras weights (--inception_weights, or neither flag: the Keras cache) they are not.
Prints one JSON line: the file, the number of images, the statistics' SHA-256
(`evaluation.statistics_sha256`) and the scorer's metric card.

A missing dataset or network file, a bad --output name, or an existing --output
without --overwrite prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import json
import pathlib
import sys

from absl import app
from absl import flags

from improved_gan_tf.cli import common

FLAGS = flags.FlagValues()
_DATASET = flags.DEFINE_string(
    "dataset", None, "Dataset name, e.g. cifar10, svhn_cropped, mnist. Required.",
    flag_values=FLAGS)
_SPLIT = flags.DEFINE_string("split", "train", "Split: train, test (or extra for SVHN).",
                             flag_values=FLAGS)
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Directory of the dataset's distribution files (default: TFDS).",
    flag_values=FLAGS)
_OUTPUT = flags.DEFINE_string("output", None, "The .npz to write. Required.", flag_values=FLAGS)
_INCEPTION_GRAPH = flags.DEFINE_string(
    "inception_graph", None, "The 2015 classify_image_graph_def.pb (comparable with "
    "published statistics).", flag_values=FLAGS)
_INCEPTION_WEIGHTS = flags.DEFINE_string(
    "inception_weights", None, "Keras InceptionV3 ImageNet .h5 weights (not comparable with "
    "published statistics; default when neither flag is given: the Keras cache).",
    flag_values=FLAGS)
_NUM_EXAMPLES = flags.DEFINE_integer(
    "num_examples", None, "Use only the first N images of the split.", lower_bound=2,
    flag_values=FLAGS)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 50, "Images per forward pass.", lower_bound=1,
                                   flag_values=FLAGS)
_OVERWRITE = flags.DEFINE_boolean("overwrite", False, "Replace an existing --output.",
                                  flag_values=FLAGS)
flags.mark_flags_as_required(["dataset", "output"], flag_values=FLAGS)


def _check_dataset(name: str, split: str) -> None:
    from improved_gan_tf import registry

    names = sorted(n for n, spec in registry.DATASETS.items() if not spec.streamed)
    try:
        spec = registry.DATASETS[registry.canonical_name(name)]
    except (KeyError, ValueError):
        spec = None
    if spec is None or spec.streamed:
        raise app.UsageError(f"--dataset {name!r} is not one of {names}")
    if split not in spec.split_sizes:
        raise app.UsageError(
            f"--split {split!r} is not a split of {spec.name}: one of {sorted(spec.split_sizes)}")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    graph, weights = _INCEPTION_GRAPH.value, _INCEPTION_WEIGHTS.value
    if graph and weights:
        raise app.UsageError("give --inception_graph or --inception_weights, not both")
    if graph and not graph.endswith(".pb"):
        raise app.UsageError(f"--inception_graph must be a GraphDef .pb file; got {graph!r}")
    _check_dataset(_DATASET.value, _SPLIT.value)
    output = pathlib.Path(_OUTPUT.value)
    if output.suffix != ".npz":
        raise app.UsageError(f"--output must end in .npz (TTUR's layout); got {str(output)!r}")
    if output.exists() and not _OVERWRITE.value:
        raise app.UsageError(f"--output {output} exists; pass --overwrite to replace it")
    # Imports TensorFlow: after the flag checks.
    from improved_gan_tf.evaluation import InceptionScorer
    from improved_gan_tf.evaluation import dataset_statistics
    from improved_gan_tf.evaluation import save_statistics

    scorer = InceptionScorer(graph or weights or "imagenet", batch_size=_BATCH_SIZE.value,
                             verbose=0)
    result = dataset_statistics(scorer, _DATASET.value, _SPLIT.value, _DATA_DIR.value,
                                num_examples=_NUM_EXAMPLES.value)
    written = save_statistics(output, result["mu"], result["sigma"])
    print(json.dumps({
        "output": str(written.resolve()), "dataset": result["dataset"], "split": result["split"],
        "num_examples": result["num_examples"], "sha256": result["sha256"],
        "scorer": result.get("scorer"),
    }))


def run(argv: list[str] | None = None) -> None:
    """Entry point of `improved-gan stats` (`argv[0]` is the program name)."""
    common.run_command(main, sys.argv if argv is None else argv, flag_values=FLAGS)
