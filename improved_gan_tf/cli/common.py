"""What every `improved-gan` subcommand shares: absl flag parsing and user-error reports.

A subcommand module defines its absl flags (names with underscores, `--num_samples`)
at import time on a `flags.FlagValues` of its own, so that any number of subcommand
modules can be imported into one process (a test session) without their `--workdir`
flags colliding, writes a `main(argv)` that calls the library, and

    FLAGS = flags.FlagValues()
    _WORKDIR = flags.DEFINE_string("workdir", None, "...", flag_values=FLAGS)

    def run(argv):
        common.run_command(main, argv, flag_values=FLAGS)

(a module may also keep its flags on absl's global `flags.FLAGS`, the default). A
command with actions (`improved-gan classifier train|evaluate`) gives each action its
own `FlagValues` and `main` and calls `run_actions`.

`run_command` gives every subcommand the same behaviour:

- `--help` (`-h`, `--helpshort`, `--helpfull`) prints the module's docstring and every
  flag with its default, and exits with status 0;
- a flag that does not parse, an unknown flag, a missing required flag, or a
  `UsageError` raised by `main` prints `<program>: <message>` on stderr and exits with
  status 2;
- so does any `errors.UserInputError` (a missing or damaged file, a bad config value, an
  unreachable data set) and any `OSError` about the user's files (missing, unreadable,
  a directory where a file was expected);
- `--verbose` shows the traceback of those errors as well;
- every other exception is a bug: it keeps its traceback and exits with status 1;
- a `main` that returns None or 0 makes `run_command` return (exit status 0); another
  return value is the exit status, as with `absl.app.run`.

It can run again in the same process (each run starts from the flags' defaults), so a
test can call a subcommand's `run` in-process as well as in a subprocess.

The libraries never import this module, parse flags, print, or call `sys.exit`.
"""

from __future__ import annotations

import os
import sys
import textwrap
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from absl import app
from absl import flags

from improved_gan_tf.errors import UserInputError
from improved_gan_tf.errors import one_line

USER_ERROR_EXIT_STATUS = 2

# Errors from the file system that a user's path causes. Others (e.g. `OSError` with
# ENOSPC) are reported the same way: none of them is a bug of the program.
USER_ERRORS: tuple[type[BaseException], ...] = (UserInputError, app.UsageError, OSError)

HELP_FLAGS = ("-h", "--help", "-help", "--helpshort", "--helpfull")

VERBOSE_HELP = "On a user error, also print the Python traceback."
_VERBOSE = flags.DEFINE_boolean("verbose", False, VERBOSE_HELP)


def program_name(argv: Sequence[str]) -> str:
    """The name a subcommand reports itself as (`improved-gan train`)."""
    return argv[0] if argv else "improved-gan"


def fail(program: str, error: BaseException | str, status: int = USER_ERROR_EXIT_STATUS) -> None:
    """Prints `program: message` (one line) on stderr and exits with `status` (2)."""
    message = error if isinstance(error, str) else one_line(error)
    print(f"{program}: {message}", file=sys.stderr, flush=True)
    sys.exit(status)


def wants_help(argv: Sequence[str]) -> bool:
    """Whether the command line (after the program name) asks for `--help`."""
    return any(arg in HELP_FLAGS for arg in argv[1:])


def _wants_verbose(argv: Sequence[str]) -> bool:
    return any(arg in ("--verbose", "--verbose=true", "--verbose=True", "--verbose=1")
               for arg in argv)


def flags_help(flag_values: flags.FlagValues, module: str | None = None) -> str:
    """One entry per flag: `--name: help (default: value)`, `--verbose` included.

    Args:
        flag_values: the command's flags.
        module: with absl's global `flags.FLAGS`, only the flags this module defined
            (the global object also holds absl's and TensorFlow's own flags).
    """
    if module is not None:
        chosen = list(flag_values.get_flags_for_module(module))
        if "verbose" in flag_values and all(f.name != "verbose" for f in chosen):
            chosen.append(flag_values["verbose"])
    else:
        chosen = [flag_values[name] for name in flag_values]
        chosen = list({id(f): f for f in chosen}.values())  # short names repeat a flag
    lines = []
    for flag in sorted(chosen, key=lambda f: f.name):
        default = "" if flag.default is None else f" (default: {flag.default_as_str})"
        text = f"--{flag.name}: {flag.help}{default}"
        lines.append(textwrap.fill(text, width=88, initial_indent="  ", subsequent_indent="    "))
    return "\n".join(lines)


def _with_verbose(flag_values: flags.FlagValues) -> flags.FlagValues:
    if "verbose" not in flag_values:
        flags.DEFINE_boolean("verbose", False, VERBOSE_HELP, flag_values=flag_values)
    return flag_values


def default_help(main: Callable, flag_values: flags.FlagValues) -> str:
    """The module docstring of `main`, then its flags (see `flags_help`)."""
    flag_values = _with_verbose(flag_values)
    module = sys.modules.get(main.__module__)
    doc = (getattr(module, "__doc__", None) or "").strip()
    only = main.__module__ if flag_values is flags.FLAGS else None
    return f"{doc}\n\nflags:\n{flags_help(flag_values, only)}".lstrip()


def parse_flags(argv: Sequence[str], flag_values: flags.FlagValues | None = None) -> list[str]:
    """absl's flag parsing with one-line errors and exit status 2 (absl: a block, 1).

    Every flag starts from its default, also when the flags were parsed before.
    """
    flag_values = _with_verbose(flags.FLAGS if flag_values is None else flag_values)
    if flag_values.is_parsed():
        flag_values.unparse_flags()
    try:
        remaining = flag_values(list(argv))
    except flags.Error as error:
        fail(program_name(argv), f"{one_line(error)} (see --help)")
    if not flags.FLAGS.is_parsed():
        # Libraries (absl logging) may read the global flags: give them their defaults.
        flags.FLAGS.mark_as_parsed()
    return remaining


def run_command(
    main: Callable[[list[str]], object],
    argv: Sequence[str] | None = None,
    *,
    flag_values: flags.FlagValues | Callable[[list[str]], tuple[flags.FlagValues, list[str]]]
    | None = None,
    help_text: Callable[[list[str]], str] | None = None,
) -> None:
    """Runs an absl `main` as an `improved-gan` subcommand (see the module docstring).

    Args:
        main: called with the arguments left after the flags (`[program]` when there
            are none); its return value is the exit status (None: 0).
        argv: the command line, `argv[0]` the program name (default: `sys.argv`).
        flag_values: the command's flags (default: absl's global `flags.FLAGS`), or a
            function of `argv` returning `(flag_values, argv)` for a command whose
            flags depend on its command line (`train`'s `--config.KEY` overrides). A
            user error it raises is reported like one of `main`.
        help_text: a function of `argv` returning the `--help` text (default:
            `default_help`).

    Raises:
        SystemExit: with status 0 after `--help`, 2 after a user error, or `main`'s
            return value when it is neither None nor 0.
    """
    argv = list(sys.argv if argv is None else argv)
    program = program_name(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    verbose = _wants_verbose(argv)
    try:
        if wants_help(argv):
            if help_text is not None:
                text = help_text(argv)
            else:
                values = flag_values
                if values is not None and not isinstance(values, flags.FlagValues):
                    values = values(argv)[0]
                text = default_help(main, flags.FLAGS if values is None else values)
            print(text)
            sys.exit(0)
        if flag_values is not None and not isinstance(flag_values, flags.FlagValues):
            flag_values, argv = flag_values(argv)
        remaining = parse_flags(argv, flag_values)
        verbose = (flags.FLAGS if flag_values is None else flag_values)["verbose"].value
        status = main(remaining)
    except USER_ERRORS as error:
        if verbose:
            traceback.print_exc()
        fail(program, error)
    if status not in (None, 0):
        sys.exit(status)


class Action(NamedTuple):
    """One action of a command with actions (`classifier train`): see `run_actions`."""

    main: Callable[[list[str]], object]
    flag_values: flags.FlagValues
    description: str


def actions_usage(program: str, actions: Mapping[str, Action], doc: str = "") -> str:
    """`usage: PROGRAM <action> [flags]`, then one line per action."""
    width = max(len(name) for name in actions)
    lines = [f"usage: {program} <{'|'.join(actions)}> [flags]", ""]
    if doc:
        lines += [doc.strip(), ""]
    lines.append("actions:")
    lines += [f"  {name.ljust(width)}  {action.description}" for name, action in actions.items()]
    lines += ["", f"Run `{program} <action> --help` for its flags."]
    return "\n".join(lines)


def run_actions(argv: Sequence[str], actions: Mapping[str, Action], doc: str = "") -> None:
    """Runs the action `argv[1]` of a command with actions through `run_command`.

    `PROGRAM ACTION [flags]` runs `actions[ACTION].main` as the program
    `PROGRAM ACTION` with that action's flags; `PROGRAM --help` lists the actions (exit
    0); no action or an unknown one is a user error (exit 2).
    """
    argv = list(argv)
    program = program_name(argv)
    if len(argv) < 2 or argv[1] in HELP_FLAGS or argv[1] == "help":
        text = actions_usage(program, actions, doc)
        if len(argv) >= 2:
            print(text)
            sys.exit(0)
        fail(program, f"an action is required: one of {', '.join(actions)} (see --help)")
    name = argv[1]
    if name not in actions:
        fail(program, f"unknown action {name!r}: expected one of {', '.join(actions)} (see --help)")
    action = actions[name]
    run_command(action.main, [f"{program} {name}"] + argv[2:], flag_values=action.flag_values)
