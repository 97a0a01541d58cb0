"""`improved-gan train`: train one experiment config; resumes from its run directory.

    improved-gan train --config quickstart --workdir runs/quickstart
    improved-gan train --config configs/mnist_feature_matching.py --workdir runs/mnist_fm \\
        [--config.data.dir=../shared/data/mnist] [--config.data.num_labeled=50] ...

`--config` takes a path, or the bare name of a config in the repository's `configs/`
(`--config mnist_feature_matching`). Re-running the same command resumes from the run
directory's newest checkpoint that reads back intact (a damaged newer one is set aside and
named on stderr), or from `--restore_checkpoint`. Every config key can be overridden with
`--config.KEY=VALUE`; a misspelled key (the message names the closest ones) or a value
of the wrong type is refused before anything starts, naming the key.

A resume may change only `train.epochs`, `train.verbose`, `train.log_every_steps`,
`train.eval_every_epochs`, `checkpoint.every_steps`, `checkpoint.max_to_keep`,
`evaluation.score_every_epochs` and, unless `deterministic`, the thread counts
(`improved_gan_tf.config.RESUMABLE_KEYS`); any other difference from the run
directory's config.json is refused, listing each key as `key: old -> new`, before
anything is written: train a changed config into a new `--workdir`. Paths (`data.dir`,
...) are stored absolute. One process at a time trains in a run directory: a second
one is refused, naming the PID of the first (the lock file `WORKDIR/.lock` is released
when that process ends, also when it is killed).

Exit status: 0 when the run completes; 2 on a user error (a flag, config key or value,
a missing or damaged data file, a data set that cannot be reached, a resume with a
changed run-defining key, a run directory in use by another process), printed as one
line on stderr (`--verbose` adds the traceback); 1 when the training loss became NaN
or infinite (a diverged run is not a usage error: the message names the step and
the last good checkpoint) or on a bug.
"""

from __future__ import annotations

import difflib
import os
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from improved_gan_tf.cli import common
from improved_gan_tf.config import ConfigError
from improved_gan_tf.config import base_config
from improved_gan_tf.config import flatten
from improved_gan_tf.config import load_config_file
from improved_gan_tf.config import validate_config

NON_FINITE_LOSS_EXIT_STATUS = 1

CONFIG_HELP = ("experiment config: a file (configs/mnist_feature_matching.py) or the name "
               "of one in the repository's configs/ (quickstart). Required.")
WORKDIR_HELP = ("run directory: checkpoints, samples, logs and the report go here; "
                "re-running with the same directory resumes from its last checkpoint. "
                "Required.")
OVERRIDE_HELP = "override one config key (keys below), e.g. --config.train.epochs=3."
RESTORE_HELP = ("resume from this checkpoint of the run instead of the newest one that reads "
                "back intact, e.g. WORKDIR/checkpoints/ckpt-1200 (or ckpt-1200); the newer "
                "checkpoints are moved to WORKDIR/checkpoints/set_aside/, never deleted.")


def config_spec(argv: list[str]) -> str | None:
    """The value of `--config` in `argv` (`--config X` or `--config=X`), or None."""
    for index, arg in enumerate(argv):
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
        if arg == "--config" and index + 1 < len(argv):
            return argv[index + 1]
    return None


def _without_config(argv: list[str]) -> list[str]:
    kept, skip = [], False
    for index, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg.startswith("--config="):
            continue
        elif arg == "--config" and index + 1 < len(argv):
            skip = True
        else:
            kept.append(arg)
    return kept


def check_override_keys(argv: list[str], config=None) -> None:
    """Refuses `--config.KEY` overrides whose KEY the config does not have.

    Args:
        argv: the command line.
        config: the experiment's config (default: loaded from `--config`, else the
            base config).

    Raises:
        ConfigError: naming the key and the closest valid ones (ml_collections would
            only say that the flag is unknown).
    """
    keys = None
    for arg in argv:
        if not arg.startswith("--config."):
            continue
        if keys is None:
            if config is None:
                spec = config_spec(argv)
                config = load_config_file(spec) if spec else base_config()
            keys = sorted(flatten(config))
        key = arg[len("--config."):].split("=", 1)[0]
        if key not in keys:
            close = difflib.get_close_matches(key, keys, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"Unknown config key {key!r} in {arg!r}.{hint}")


def make_flags(argv: list[str]) -> tuple[flags.FlagValues, list[str]]:
    """The flags of one `train` command line: `(flag_values, argv)`.

    The config file is executed once, here; its keys become the `--config.KEY`
    override flags (ml_collections' `DEFINE_config_dict`, type-checked and locked).

    Raises:
        app.UsageError: no `--config`.
        ConfigError: the config cannot be loaded, or an override names an unknown key.
    """
    spec = config_spec(argv)
    if spec is None:
        raise app.UsageError(
            "--config is required (e.g. --config quickstart or --config configs/quickstart.py).")
    config = load_config_file(spec)
    check_override_keys(argv, config)
    argv = _without_config(argv)
    flag_values = flags.FlagValues()
    config_flags.DEFINE_config_dict(
        "config", config, CONFIG_HELP, flag_values=flag_values, lock_config=True, sys_argv=argv)
    flags.DEFINE_string("workdir", None, WORKDIR_HELP, flag_values=flag_values)
    flags.mark_flag_as_required("workdir", flag_values=flag_values)
    flags.DEFINE_string("restore_checkpoint", None, RESTORE_HELP, flag_values=flag_values)
    return flag_values, argv


def help_text(argv: list[str]) -> str:
    """The `--help` text: flags, then every config key with its default / value."""
    base = flatten(base_config())
    spec = config_spec(argv)
    chosen = flatten(load_config_file(spec)) if spec else {}
    lines = [__doc__.strip(), "", "flags:",
             f"  --config: {CONFIG_HELP}",
             f"  --workdir: {WORKDIR_HELP}",
             f"  --restore_checkpoint: {RESTORE_HELP}",
             f"  --config.KEY=VALUE: {OVERRIDE_HELP}",
             f"  --verbose: {common.VERBOSE_HELP}", "",
             "config keys (default" + (f"; value in {spec}" if spec else "") + "):"]
    for key in sorted(set(base) | set(chosen)):
        default = base.get(key, "(architecture argument)")
        line = f"  --config.{key}  (default {default!r}"
        if key in chosen and chosen[key] != base.get(key):
            line += f"; {chosen[key]!r} in this config"
        lines.append(line + ")")
    lines += ["", "See improved_gan_tf/config.py for what each key does."]
    return "\n".join(lines)


def main(argv: list[str], flag_values: flags.FlagValues) -> None:
    """Trains the parsed config into `--workdir` and prints a one-line summary."""
    program = common.program_name(argv)
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    config, workdir = flag_values.config, flag_values.workdir
    validate_config(config)
    from improved_gan_tf import training  # Imports TensorFlow: after the flag checks.
    from improved_gan_tf.evaluation import make_score_callback

    training.configure_devices(config)
    try:
        # Scores during training (config.evaluation.*): the trainer does not import
        # `evaluation`, so the command hands it the factory of the ScoreCallback.
        report = training.train(config, workdir, score_callback_factory=make_score_callback,
                                restore_checkpoint=flag_values.restore_checkpoint)
    except training.NonFiniteLossError as error:
        common.fail(program, error, status=NON_FINITE_LOSS_EXIT_STATUS)
    summary = f"done: {report['epochs_completed']} epochs, {report['wall_seconds']:.0f} s"
    if "test_errors" in report:
        summary += (
            f", test error {report['test_errors']}/{report['test_examples']} "
            f"({report['test_error_percent']:.2f}%)"
        )
    print(f"[improved-gan] {summary}; report: {os.path.join(workdir, 'report.md')}")


def run(argv: list[str] | None = None) -> None:
    """Entry point of `improved-gan train` (`argv[0]` is the program name)."""
    argv = list(sys.argv if argv is None else argv)
    parsed: dict[str, flags.FlagValues] = {}

    def flag_values(command_line):
        parsed["flags"], command_line = make_flags(command_line)
        return parsed["flags"], command_line

    common.run_command(lambda remaining: main(remaining, parsed["flags"]), argv,
                       flag_values=flag_values, help_text=help_text)
