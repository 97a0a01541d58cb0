"""`improved-gan`: the command-line entry point, one subcommand per tool.

    improved-gan train --config quickstart --workdir RUN [--config.KEY=VALUE ...]
    improved-gan export --workdir RUN --output EXPORT_BASE [--version N] [--overwrite]
    improved-gan score --workdir RUN ...
    improved-gan classifier train|evaluate --dataset mnist --data_dir DIR ...
    improved-gan humaneval serve|report ...
    improved-gan stats --dataset cifar10 --split train --data_dir DIR --output FILE.npz ...
    improved-gan verify-inception --graph classify_image_graph_def.pb --cifar10 DIR
    improved-gan <subcommand> --help

Each subcommand is a module with a `run(argv)` function that parses its own absl flags
(`argv[0]` is the program name, e.g. "improved-gan export"); every flag name is
written with underscores (`--num_samples`), and every subcommand reports user errors
the same way (`improved_gan_tf.cli.common.run_command`: one line on stderr, exit
status 2, `--verbose` for the traceback). The dispatcher imports only the chosen
module. Adding a subcommand is one line in `SUBCOMMANDS`:
`"name": ("package.module", "one-line description")`.

A subcommand with actions (`classifier train|evaluate`, `humaneval serve|report`)
dispatches them itself: its module gives each action a `main` and a
`flags.FlagValues` of its own and calls `common.run_actions`, so `improved-gan
classifier --help` lists the actions and `improved-gan classifier train --help` the
flags of `train`. The dispatcher only ever looks at the first word.
"""

from __future__ import annotations

import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("improved_gan_tf.cli.train", "train an experiment config; resumes from --workdir"),
    "export": ("improved_gan_tf.cli.export", "export a run's generator/classifier as TF Serving SavedModels"),
    "score": ("improved_gan_tf.cli.score", "score a run's generator; write the figures into its report"),
    "classifier": ("improved_gan_tf.cli.classifier", "train or check the dataset classifier of the MNIST-like scores"),
    "humaneval": ("improved_gan_tf.cli.humaneval", "the visual Turing test: serve its page, report error rates"),
    "stats": ("improved_gan_tf.cli.stats", "FID reference statistics of a dataset split (TTUR .npz)"),
    "verify-inception": ("improved_gan_tf.cli.verify_inception",
                         "check a local 2015 Inception graph against the published CIFAR-10 figures"),
}


def usage() -> str:
    lines = ["usage: improved-gan <subcommand> [flags]", "", "subcommands:"]
    width = max(len(name) for name in SUBCOMMANDS)
    for name, (_, description) in SUBCOMMANDS.items():
        lines.append(f"  {name.ljust(width)}  {description}")
    lines += ["", "Run `improved-gan <subcommand> --help` for its flags."]
    return "\n".join(lines)


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point (`improved-gan`, declared in setup.cfg)."""
    from improved_gan_tf.cli import common

    argv = list(sys.argv if argv is None else argv)
    names = ", ".join(SUBCOMMANDS)
    if len(argv) < 2:
        common.fail("improved-gan", f"a subcommand is required: one of {names} (see --help)")
    if argv[1] in common.HELP_FLAGS or argv[1] == "help":
        print(usage())
        sys.exit(0)
    name = argv[1]
    if name not in SUBCOMMANDS:
        common.fail("improved-gan", f"unknown subcommand {name!r}: expected one of {names} (see --help)")
    module = importlib.import_module(SUBCOMMANDS[name][0])
    module.run([f"improved-gan {name}"] + argv[2:])


if __name__ == "__main__":
    run()
