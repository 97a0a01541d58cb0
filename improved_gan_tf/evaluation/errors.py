"""Errors and warnings of the evaluation package.

Every error here is caused by what the caller passed (a sample set too small for the
requested splits, statistics that are not a Gaussian's, a GraphDef with file ops, a
weights file that is not there), so each derives from `errors.UserInputError` and from
the built-in type a Python caller expects; the command line reports them as one line
with exit status 2.
"""
from __future__ import annotations

from improved_gan_tf.errors import UserInputError

__all__ = [
    "MetricInputError",
    "MissingWeightsError",
    "SmallSampleWarning",
    "StatisticsFileError",
    "UnsafeGraphError",
    "WeightsFileError",
]


class MetricInputError(UserInputError, ValueError):
    """A metric's input cannot give a meaningful number (empty, non-finite, too few
    samples for the splits, mismatched or asymmetric statistics, ...)."""


class MissingWeightsError(UserInputError, FileNotFoundError):
    """The Inception weights are neither at the given path, in the cache, nor downloadable."""


class StatisticsFileError(UserInputError, ValueError):
    """A reference-statistics `.npz` file is missing, damaged, or not TTUR's layout
    (arrays `mu` of shape (D,) and `sigma` of shape (D, D))."""


class UnsafeGraphError(UserInputError, ValueError):
    """A GraphDef holds an op an image classifier does not need (file, process, Python
    or control-flow ops); it is refused before TensorFlow imports it."""


class WeightsFileError(UserInputError, ValueError):
    """A weights or GraphDef file exists but is not the network it should be (not
    loadable into InceptionV3, not a GraphDef, no `pool_3` tensor, ...)."""


class SmallSampleWarning(UserWarning):
    """A Fréchet distance from fewer samples than feature dimensions: the covariance
    estimate is singular and the distance is biased upwards (not comparable with
    published 50,000-sample numbers)."""
