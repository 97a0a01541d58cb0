"""The errors and the warning of the data package.

Both errors are the user's to fix (a damaged file, a missing dataset), so they derive
from `improved_gan_tf.errors.UserInputError` (the command line prints them as one line
and exits with status 2) and from the built-in type a Python caller expects.
"""

from __future__ import annotations

from improved_gan_tf.errors import UserInputError

__all__ = ["DataFileError", "DataSubsetWarning", "DatasetNotFoundError"]


class DataFileError(UserInputError, ValueError):
    """A data file exists but is truncated or corrupt (the message names the file).

    Examples:

    >>> str(DataFileError("t10k-labels-idx1-ubyte: bad magic number 2051"))
    't10k-labels-idx1-ubyte: bad magic number 2051'
    """


class DatasetNotFoundError(UserInputError, FileNotFoundError):
    """A dataset is neither in the given local directory nor obtainable from TFDS."""


class DataSubsetWarning(UserWarning):
    """A local directory holds whole records but fewer than the official counts."""
