"""`improved-gan train` / `python -m improved_gan_tf.train`: train one experiment.

    improved-gan train --config configs/mnist_feature_matching.py --workdir runs/mnist_fm \\
        [--config.data.dir=../shared/data/mnist] [--config.data.num_labeled=50] ...

`--config` takes a path, or the bare name of a config in the repository's `configs/`
(`--config mnist_feature_matching`). Re-running the same command resumes from the run directory's last checkpoint. Every
config key can be overridden with `--config.KEY=VALUE`; a misspelled key or a value of
the wrong type is refused before anything starts, naming the key. `--help` lists every
flag and every config key with its default (and the experiment's value when `--config`
is given).
"""

from __future__ import annotations

import difflib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from improved_gan_tf.config import ConfigError  # noqa: E402
from improved_gan_tf.config import base_config  # noqa: E402
from improved_gan_tf.config import flatten  # noqa: E402
from improved_gan_tf.config import load_config_file  # noqa: E402
from improved_gan_tf.config import resolve_config_spec  # noqa: E402
from improved_gan_tf.config import validate_config  # noqa: E402

FLAGS = flags.FLAGS
_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file, e.g. configs/mnist_feature_matching.py, or the "
    "name of one in the repository's configs/ (e.g. quickstart).",
    lock_config=True,
)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Run directory: checkpoints, samples, logs and the report go here. "
    "Re-running with the same directory resumes from its last checkpoint.",
)


def _config_spec(argv: list[str]) -> str | None:
    for index, arg in enumerate(argv):
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
        if arg == "--config" and index + 1 < len(argv):
            return argv[index + 1]
    return None


def resolve_config_argv(argv: list[str]) -> list[str]:
    """`argv` with the `--config` value resolved by `config.resolve_config_spec`, so that
    `--config quickstart` names `configs/quickstart.py` for ml_collections' flag too."""
    argv = list(argv)
    for index, arg in enumerate(argv):
        if arg.startswith("--config="):
            argv[index] = "--config=" + resolve_config_spec(arg.split("=", 1)[1])
        elif arg == "--config" and index + 1 < len(argv):
            argv[index + 1] = resolve_config_spec(argv[index + 1])
    return argv


def check_override_keys(argv: list[str]) -> None:
    """Refuses `--config.KEY` overrides whose KEY the config does not have.

    ml_collections would fail too, but with a bare traceback; this names the key and the
    closest valid ones.
    """
    spec = _config_spec(argv)
    keys = set(flatten(load_config_file(spec))) if spec else None
    for arg in argv:
        if not arg.startswith("--config."):
            continue
        key = arg[len("--config."):].split("=", 1)[0]
        if keys is None:
            keys = set(flatten(load_config_file(spec) if spec else base_config()))
        if key not in keys:
            close = difflib.get_close_matches(key, sorted(keys), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"Unknown config key {key!r} in {arg!r}.{hint}")


def help_text(argv: list[str]) -> str:
    """The `--help` text: flags, then every config key with its default / value."""
    base = flatten(base_config())
    spec = _config_spec(argv)
    chosen = flatten(load_config_file(spec)) if spec else {}
    lines = [__doc__.strip(), "", "flags:",
             "  --config: experiment config file (configs/<experiment>.py, or just <experiment>).",
             "  --workdir: run directory (resumes from its last checkpoint).",
             "  --config.KEY=VALUE: override one config key (keys below).", "",
             "config keys (default" + (f"; value in {spec}" if spec else "") + "):"]
    for key in sorted(set(base) | set(chosen)):
        default = base.get(key, "(architecture argument)")
        line = f"  --config.{key}  (default {default!r}"
        if key in chosen and chosen[key] != base.get(key):
            line += f"; {chosen[key]!r} in this config"
        lines.append(line + ")")
    lines += ["", "See improved_gan_tf/config.py for what each key does."]
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if _CONFIG.value is None:
        raise app.UsageError("--config is required (e.g. --config configs/quickstart.py).")
    if not _WORKDIR.value:
        raise app.UsageError("--workdir is required.")
    config = _CONFIG.value
    try:
        validate_config(config)
    except ConfigError as error:
        print(f"improved-gan train: {error}", file=sys.stderr)
        sys.exit(2)
    from improved_gan_tf import training  # Imports TensorFlow: after flag checks.

    training.configure_devices(config)
    try:
        report = training.train(config, _WORKDIR.value)
    except training.NonFiniteLossError as error:
        print(f"improved-gan train: {error}", file=sys.stderr)
        sys.exit(1)
    summary = f"done: {report['epochs_completed']} epochs, {report['wall_seconds']:.0f} s"
    if "test_errors" in report:
        summary += (
            f", test error {report['test_errors']}/{report['test_examples']} "
            f"({report['test_error_percent']:.2f}%)"
        )
    print(f"[improved-gan] {summary}; report: {os.path.join(_WORKDIR.value, 'report.md')}")


def run(argv: list[str] | None = None) -> None:
    """Entry point of `improved-gan train` and `python -m improved_gan_tf.train`."""
    argv = list(sys.argv if argv is None else argv)
    try:
        if any(arg in ("-h", "--help", "-help", "--helpshort") for arg in argv[1:]):
            print(help_text(argv[1:]))
            sys.exit(0)
        check_override_keys(argv[1:])
    except ConfigError as error:
        print(f"improved-gan train: {error}", file=sys.stderr)
        sys.exit(2)
    app.run(main, argv=resolve_config_argv(argv))


if __name__ == "__main__":
    run()
