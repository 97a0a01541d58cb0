"""`improved-gan classifier train|evaluate`: the dataset classifier of the MNIST-like scores.

    improved-gan classifier train --dataset mnist --data_dir DIR --output mnist_classifier.keras
    improved-gan classifier evaluate --dataset mnist --data_dir DIR --classifier mnist_classifier.keras

`train` fits the small CNN whose predictions give the classifier score and whose
features give the classifier FD of `improved-gan score` on MNIST and Fashion-MNIST
(`improved_gan_tf.evaluation.dataset_classifier`), and writes the `.keras` file
atomically with a `.json` sidecar (test accuracy, the real test set's score); it prints
that JSON. `evaluate` prints the accuracy and classifier score of a real split.
"""

from __future__ import annotations

import json
import sys

from absl import app
from absl import flags

from improved_gan_tf.cli import common

# The datasets `dataset_classifier.DATASETS` knows (that module imports Keras; `--help`
# should not).
DATASET_NAMES = ("mnist", "fashion_mnist")

TRAIN_FLAGS = flags.FlagValues()
flags.DEFINE_enum("dataset", None, DATASET_NAMES, "Data set. Required.", flag_values=TRAIN_FLAGS)
flags.DEFINE_string("data_dir", None, "Directory with the data set's four IDX files. Required.",
                    flag_values=TRAIN_FLAGS)
flags.DEFINE_string("output", None, "Where to write the classifier (a .keras file; its .json "
                    "sidecar goes beside it). Required.", flag_values=TRAIN_FLAGS)
flags.DEFINE_integer("epochs", None, "Training epochs (default: 6 for mnist, 10 for "
                     "fashion_mnist).", lower_bound=1, flag_values=TRAIN_FLAGS)
flags.DEFINE_integer("batch_size", 128, "Batch size.", lower_bound=1, flag_values=TRAIN_FLAGS)
flags.DEFINE_float("learning_rate", 1e-3, "Adam's initial learning rate (cosine decay).",
                   lower_bound=0.0, flag_values=TRAIN_FLAGS)
flags.DEFINE_integer("width", 32, "Filters of the first convolution (the others scale with it).",
                     lower_bound=1, flag_values=TRAIN_FLAGS)
flags.DEFINE_list("dropout_rates", ["0.3", "0.5"], "Two dropout rates: before and after the "
                  "dense layer.", flag_values=TRAIN_FLAGS)
flags.DEFINE_boolean("augment", True, "Random translations of up to 2 pixels (--noaugment: "
                     "none).", flag_values=TRAIN_FLAGS)
flags.DEFINE_integer("max_train_examples", None, "Train on only the first N training "
                     "examples (default: all).", lower_bound=1, flag_values=TRAIN_FLAGS)
flags.DEFINE_integer("max_test_examples", None, "Measure on only the first N test examples "
                     "(default: all).", lower_bound=1, flag_values=TRAIN_FLAGS)
flags.DEFINE_integer("seed", 0, "Seed of Keras, NumPy and TensorFlow.", flag_values=TRAIN_FLAGS)
flags.DEFINE_enum("fit_verbose", "2", ["0", "1", "2"], "Keras' fit verbosity: 0 silent, 1 "
                  "progress bar, 2 one line per epoch.", flag_values=TRAIN_FLAGS)
flags.mark_flags_as_required(["dataset", "data_dir", "output"], flag_values=TRAIN_FLAGS)
flags.register_validator(
    "output", lambda path: path is None or path.endswith(".keras"),
    "--output must end in .keras", flag_values=TRAIN_FLAGS)


def _two_rates(rates) -> bool:
    try:
        return len(rates) == 2 and all(0.0 <= float(rate) < 1.0 for rate in rates)
    except ValueError:
        return False


flags.register_validator(
    "dropout_rates", _two_rates, "--dropout_rates must be two numbers in [0, 1), e.g. 0.3,0.5",
    flag_values=TRAIN_FLAGS)

EVALUATE_FLAGS = flags.FlagValues()
flags.DEFINE_enum("dataset", None, DATASET_NAMES, "Data set. Required.",
                  flag_values=EVALUATE_FLAGS)
flags.DEFINE_string("data_dir", None, "Directory with the data set's four IDX files. Required.",
                    flag_values=EVALUATE_FLAGS)
flags.DEFINE_string("classifier", None, "A .keras file written by `improved-gan classifier "
                    "train`. Required.", flag_values=EVALUATE_FLAGS)
flags.DEFINE_enum("split", "test", ["train", "test"], "The split to measure.",
                  flag_values=EVALUATE_FLAGS)
flags.mark_flags_as_required(["dataset", "data_dir", "classifier"], flag_values=EVALUATE_FLAGS)


def _no_arguments(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")


def train(argv: list[str]) -> None:
    """`classifier train`: trains, saves, prints the sidecar's JSON and a summary."""
    _no_arguments(argv)
    from improved_gan_tf.evaluation import dataset_classifier  # Imports Keras.

    values = TRAIN_FLAGS
    _, info = dataset_classifier.train_dataset_classifier(
        values.dataset, values.data_dir, values.output, epochs=values.epochs,
        batch_size=values.batch_size, learning_rate=values.learning_rate, width=values.width,
        dropout_rates=tuple(float(rate) for rate in values.dropout_rates),
        augment=values.augment, max_train_examples=values.max_train_examples,
        max_test_examples=values.max_test_examples, seed=values.seed,
        verbose=int(values.fit_verbose),
    )
    print(json.dumps(info, indent=2))
    print(f"saved {values.output} ({values.dataset} test accuracy "
          f"{100 * info['test_accuracy']:.2f}%)")


def evaluate(argv: list[str]) -> None:
    """`classifier evaluate`: prints the accuracy and classifier score of a real split."""
    _no_arguments(argv)
    from improved_gan_tf.evaluation import dataset_classifier  # Imports Keras.

    values = EVALUATE_FLAGS
    classifier = dataset_classifier.load_dataset_classifier(values.classifier)
    result = dataset_classifier.real_data_classifier_score(
        classifier, values.dataset, values.data_dir, split=values.split)
    print(json.dumps(result, indent=2))


ACTIONS = {
    "train": common.Action(train, TRAIN_FLAGS, "train the classifier on a training split and save it"),
    "evaluate": common.Action(evaluate, EVALUATE_FLAGS, "accuracy and classifier score of a real split"),
}


def run(argv: list[str] | None = None) -> None:
    """Entry point of `improved-gan classifier` (`argv[0]` is the program name)."""
    common.run_actions(sys.argv if argv is None else argv, ACTIONS, __doc__)
