"""`improved-gan export`: a run's generator (and classifier) as TF Serving SavedModels.

    improved-gan export --workdir RUN --output EXPORT_BASE [--version N] [--overwrite]
        [--max_batch_size 1024]

writes EXPORT_BASE/generator/<version>/ and, for a semi-supervised run,
EXPORT_BASE/classifier/<version>/ (the signatures: `improved_gan_tf.export`), both or
neither; then prints one JSON line: {"version", "step", "generator", "classifier",
"classifier_weights", "max_batch_size"}. The classifier is the D whose test error the
run reports ("classifier_weights": "polyak_average", or "current" when the config's
`model.test_with_polyak_average` is False or the model keeps no average). Every served
signature refuses a batch above --max_batch_size (and non-finite or out-of-range
inputs) with INVALID_ARGUMENT.
The version defaults to the next free one of either model; an existing version is
refused unless --overwrite. A missing run directory or checkpoint, an existing
version or a bad model name is a user error: one line on stderr, exit status 2.
"""

from __future__ import annotations

import json
import pathlib
import sys

from absl import app
from absl import flags

from improved_gan_tf.cli import common

FLAGS = flags.FlagValues()
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Run directory of `improved-gan train`. Required.", flag_values=FLAGS)
_OUTPUT = flags.DEFINE_string(
    "output", None, "EXPORT_BASE, TF Serving's model base directory. Required.",
    flag_values=FLAGS)
_VERSION = flags.DEFINE_integer(
    "version", None, "Version number (default: the next free one of either model).",
    lower_bound=1, flag_values=FLAGS)
_OVERWRITE = flags.DEFINE_boolean(
    "overwrite", False, "Replace an existing version.", flag_values=FLAGS)
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "Checkpoint path prefix, e.g. RUN/checkpoints/ckpt-1200 "
    "(default: the run's latest).", flag_values=FLAGS)
_GENERATOR_NAME = flags.DEFINE_string(
    "generator_name", "generator", "Model name (directory under --output) of the generator.",
    flag_values=FLAGS)
_CLASSIFIER_NAME = flags.DEFINE_string(
    "classifier_name", "classifier", "Model name (directory under --output) of the "
    "classifier.", flag_values=FLAGS)
_MAX_BATCH_SIZE = flags.DEFINE_integer(
    "max_batch_size", 1024, "Largest batch (and `sample` num_samples) every served signature "
    "accepts; larger requests are refused with INVALID_ARGUMENT "
    "(improved_gan_tf.export.MAX_BATCH_SIZE).", lower_bound=1, flag_values=FLAGS)
flags.mark_flags_as_required(["workdir", "output"], flag_values=FLAGS)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from improved_gan_tf import export  # Imports TensorFlow: after the flag checks.

    result = export.export_run(
        _WORKDIR.value, _OUTPUT.value, version=_VERSION.value, overwrite=_OVERWRITE.value,
        checkpoint=_CHECKPOINT.value, generator_name=_GENERATOR_NAME.value,
        classifier_name=_CLASSIFIER_NAME.value, max_batch_size=_MAX_BATCH_SIZE.value,
    )
    print(json.dumps({key: str(value) if isinstance(value, pathlib.Path) else value
                      for key, value in result.items()}))


def run(argv: list[str] | None = None) -> None:
    """Entry point of `improved-gan export` (`argv[0]` is the program name)."""
    common.run_command(main, sys.argv if argv is None else argv, flag_values=FLAGS)
