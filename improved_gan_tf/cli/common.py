"""What every `improved-gan` subcommand shares: absl flag parsing and user-error reports.

A subcommand module defines its absl flags at import time (names with underscores,
`--num_samples`), a `main(argv)` that calls the library, and

    def run(argv):
        common.run_command(main, argv)

`run_command` gives every subcommand the same behaviour:

- a flag that does not parse, an unknown flag, or a `UsageError` raised by `main`
  prints `<program>: <message>` on stderr and exits with status 2;
- so does any `errors.UserInputError` (a missing or damaged file, a bad config value, an
  unreachable data set) and any `OSError` about the user's files (missing, unreadable,
  a directory where a file was expected);
- `--verbose` shows the traceback of those errors as well;
- every other exception is a bug: it keeps its traceback and exits with status 1.

The libraries never import this module, parse flags, print, or call `sys.exit`.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence

from absl import app
from absl import flags

from improved_gan_tf.errors import UserInputError
from improved_gan_tf.errors import one_line

USER_ERROR_EXIT_STATUS = 2

# Errors from the file system that a user's path causes. Others (e.g. `OSError` with
# ENOSPC) are reported the same way: none of them is a bug of the program.
USER_ERRORS: tuple[type[BaseException], ...] = (UserInputError, app.UsageError, OSError)

_VERBOSE = flags.DEFINE_boolean(
    "verbose", False, "On a user error, also print the Python traceback.")


def program_name(argv: Sequence[str]) -> str:
    """The name a subcommand reports itself as (`improved-gan train`)."""
    return argv[0] if argv else "improved-gan"


def fail(program: str, error: BaseException | str) -> None:
    """Prints `program: message` (one line) on stderr and exits with status 2."""
    message = error if isinstance(error, str) else one_line(error)
    print(f"{program}: {message}", file=sys.stderr, flush=True)
    sys.exit(USER_ERROR_EXIT_STATUS)


def _wants_verbose(argv: Sequence[str]) -> bool:
    return any(arg in ("--verbose", "--verbose=true", "--verbose=True") for arg in argv)


def parse_flags(argv: Sequence[str]) -> list[str]:
    """absl's flag parsing with one-line errors and exit status 2 (absl: a block, 1)."""
    try:
        return flags.FLAGS(list(argv))
    except flags.Error as error:
        fail(program_name(argv), f"{one_line(error)} (see --help)")


def run_command(main: Callable[[list[str]], object], argv: Sequence[str] | None = None) -> None:
    """Runs an absl `main` as an `improved-gan` subcommand (see the module docstring)."""
    argv = list(sys.argv if argv is None else argv)
    program = program_name(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    def guarded_main(remaining: list[str]):
        try:
            return main(remaining)
        except USER_ERRORS as error:
            if _VERBOSE.value:
                traceback.print_exc()
            fail(program, error)

    try:
        app.run(guarded_main, argv=argv, flags_parser=parse_flags)
    except USER_ERRORS as error:  # Raised before main, e.g. by absl's own init.
        if _wants_verbose(argv):
            traceback.print_exc()
        fail(program, error)
