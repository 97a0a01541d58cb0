"""The one base class of errors caused by what a user asked for.

A library function raises a subclass of `UserInputError` when the cause is the caller's
input (a file that is missing or damaged, a config value, a flag, a data set that cannot
be reached), never a bug. The command line (`improved_gan_tf.cli.common`) prints such an
error as one line on stderr and exits with status 2; any other exception is a bug and
keeps its traceback. Subclasses also derive from the built-in type a Python caller would
expect (`ValueError`, `FileNotFoundError`), so `except ValueError` keeps working.

TF-free: importable by the registry, the config and the command line before TensorFlow.
"""

from __future__ import annotations


class UserInputError(Exception):
    """An error caused by the user's input; its message names what was wrong.

    Examples:

    >>> class DataFileError(UserInputError, ValueError):
    ...     pass
    >>> str(DataFileError("train-images-idx3-ubyte: expected magic 2051, got 2049"))
    'train-images-idx3-ubyte: expected magic 2051, got 2049'
    """


def one_line(error: BaseException) -> str:
    """`error`'s message on one line (newlines folded), for a command-line report."""
    text = " ".join(str(error).split())
    return text or type(error).__name__
