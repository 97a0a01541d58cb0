"""`improved-gan`: the command-line entry point, one subcommand per tool.

    improved-gan train --config configs/<experiment>.py --workdir DIR [--config.KEY=VALUE ...]
    improved-gan <subcommand> --help

Each subcommand is a module with a `run(argv)` function that parses its own absl flags
(`argv[0]` is the program name). The dispatcher imports only the chosen module, so
subcommands never see each other's flags. Adding a subcommand is one line in
`SUBCOMMANDS`: `"name": ("package.module", "one-line description")`; the module defines
its flags at import time and `run(argv)`, typically `absl.app.run(main, argv=argv)`.
"""

from __future__ import annotations

import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("improved_gan_tf.train", "train an experiment config; resumes from --workdir"),
    "export": ("improved_gan_tf.export", "export a run's generator/classifier as TF Serving SavedModels"),
    "score": ("improved_gan_tf.cli.score", "score a run's generator; write the figures into its report"),
    "humaneval": ("improved_gan_tf.humaneval.cli", "the visual Turing test: serve its page, report error rates"),
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
    argv = list(sys.argv if argv is None else argv)
    if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
        print(usage())
        sys.exit(0 if len(argv) >= 2 else 2)
    name = argv[1]
    if name not in SUBCOMMANDS:
        print(f"improved-gan: unknown subcommand {name!r}.\n\n{usage()}", file=sys.stderr)
        sys.exit(2)
    module = importlib.import_module(SUBCOMMANDS[name][0])
    module.run([f"improved-gan {name}"] + argv[2:])


if __name__ == "__main__":
    run()
