"""`improved-gan score`: score a trained generator and write the figures into its report.

    improved-gan score --workdir RUN_DIR [--num_samples 50000] [--classifier PATH]
        [--inception_weights PATH] [--batch_size N] [--data_dir DIR] [--seed S]

MNIST / Fashion-MNIST runs get the dataset classifier score and FD (the classifier is
trained into --classifier, or the user cache, the first time), CIFAR-10 / SVHN runs the
Inception score and FID, goodfellow2014 MNIST runs also the Parzen log-likelihood. The
figures go into the run's report.json ("scores") and report.md ("## Scores") and are
printed. See `improved_gan_tf.evaluation.scoring` for what is computed, and how.

A missing run directory, checkpoint, classifier or Inception weights file, and counts
that make no sense (a --batch_size, --splits or --num_samples below 1, or fewer than 2
samples per split: 5 samples in 10 splits is refused, not scored as "1.000 ± 0.000")
print one line on stderr and exit with status 2. Samples are generated and scored
--batch_size at a time: memory does not grow with --num_samples.
"""

from __future__ import annotations

import sys

from absl import app
from absl import flags

from improved_gan_tf.cli import common

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory of `improved-gan train`.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 50000, "Generated samples to score.", lower_bound=1)
_CLASSIFIER = flags.DEFINE_string(
    "classifier", None, "MNIST/Fashion-MNIST: dataset classifier (.keras); trained into this "
    "path if it does not exist (default: the user cache, "
    "~/.cache/improved_gan_tf/classifiers/<dataset>_classifier.keras).")
_INCEPTION_WEIGHTS = flags.DEFINE_string(
    "inception_weights", None, "CIFAR-10/SVHN: Keras InceptionV3 ImageNet .h5 weights or the "
    "2015 classify_image_graph_def.pb (default: the Keras cache, else a download).")
_BATCH_SIZE = flags.DEFINE_integer(
    "batch_size", None, "Generation batch size (default: the run's).", lower_bound=1)
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Dataset directory (default: the run's data.dir).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the scoring latents.")
_SPLITS = flags.DEFINE_integer(
    "splits", 10, "Splits of the classifier/Inception score.", lower_bound=1)
_PARZEN = flags.DEFINE_enum(
    "parzen", "auto", ["auto", "yes", "no"],
    "Parzen log-likelihood (auto: goodfellow2014 MNIST runs only).")
_PARZEN_SAMPLES = flags.DEFINE_integer(
    "parzen_samples", 10000, "Samples for the Parzen estimate (the paper: 10,000).", lower_bound=1)
_REFERENCE_EXAMPLES = flags.DEFINE_integer(
    "reference_examples", None, "Use only the first N test images as the reference (quick checks).",
    lower_bound=1)
_QUIET = flags.DEFINE_boolean("quiet", False, "No progress output.")


def summary(scores: dict) -> str:
    """The scores as the command prints them."""
    from improved_gan_tf.report import format_pair

    out = [f"scores of {scores['checkpoint']} ({scores['num_samples']} samples):"]
    c = scores.get("classifier")
    if c:
        out.append(f"  classifier score {format_pair(c['classifier_score'])} "
                   f"(real test set: {format_pair(c['real_test_classifier_score'])}); "
                   f"classifier FD {c['classifier_fd']:.3f}")
    i = scores.get("inception")
    if i:
        out.append(f"  Inception score {format_pair(i['inception_score'])} "
                   f"(real test set: {format_pair(i['real_test_inception_score'])}); "
                   f"FID {i['fid']:.3f}")
    p = scores.get("parzen")
    if p:
        out.append(f"  Parzen log-likelihood {p['log_likelihood']:.2f} ± {p['standard_error']:.2f} "
                   f"(sigma {p['sigma']:.4g}; paper {p['paper'][0]:g} ± {p['paper'][1]:g})")
    return "\n".join(out)


def _print_progress(message: str) -> None:
    print(f"[score] {message}", file=sys.stderr, flush=True)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if not _WORKDIR.value:
        raise app.UsageError("--workdir is required.")
    from improved_gan_tf.evaluation import scoring  # Imports TensorFlow: after flag checks.
    from improved_gan_tf.rundir import RunDir

    quiet = _QUIET.value
    scores = scoring.score_run(
        _WORKDIR.value, num_samples=_NUM_SAMPLES.value, classifier=_CLASSIFIER.value,
        inception_weights=_INCEPTION_WEIGHTS.value, batch_size=_BATCH_SIZE.value,
        data_dir=_DATA_DIR.value, seed=_SEED.value, splits=_SPLITS.value,
        parzen=_PARZEN.value, parzen_samples=_PARZEN_SAMPLES.value,
        reference_examples=_REFERENCE_EXAMPLES.value, verbose=0 if quiet else 1,
        progress=None if quiet else _print_progress,
    )
    run = RunDir(_WORKDIR.value)
    print(summary(scores))
    print(f"written to {run.report_json} and {run.report_md.name}")


def help_text() -> str:
    """`--help`: this docstring and the flags of `improved-gan score`."""
    module_flags = "\n".join(
        flags.FLAGS.module_help(module) for module in (sys.modules[__name__], common)
    )
    return f"{__doc__.strip()}\n\nflags:\n{module_flags}"


def run(argv=None) -> None:
    """Entry point of `improved-gan score` (see `improved_gan_tf.cli`)."""
    argv = list(sys.argv if argv is None else argv)
    if any(arg in ("-h", "--help", "-help", "--helpshort") for arg in argv[1:]):
        print(help_text())
        sys.exit(0)
    common.run_command(main, argv)


if __name__ == "__main__":
    run()
