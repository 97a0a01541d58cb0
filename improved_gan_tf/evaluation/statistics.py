"""Reference statistics for the FID: TTUR's `.npz` files, their hashes, dataset splits.

A reference set enters the FID only through the mean `mu` and covariance `sigma` of its
features, so those two arrays are what users exchange: TTUR publishes them for CIFAR-10,
SVHN, ImageNet, ... as `.npz` files with exactly two arrays, `mu` `(2048,)` and `sigma`
`(2048, 2048)`, and pytorch-fid and clean-fid read the same layout. `save_statistics`
writes that layout and `load_statistics` reads it (files written by TTUR included), so
statistics made here can be used there and the other way round.

`statistics_sha256` hashes the numbers themselves (not the file, whose zip container
records timestamps), so a metric card can say which reference statistics a FID used,
whether they came from a file or were computed on the spot.
"""
from __future__ import annotations

import hashlib
import io
import os
import pathlib
import zipfile

import numpy as np

from improved_gan_tf import fileio
from improved_gan_tf.evaluation.errors import MetricInputError, StatisticsFileError
from improved_gan_tf.evaluation.metrics import _check_gaussian

__all__ = [
    "dataset_statistics",
    "file_sha256",
    "load_statistics",
    "save_statistics",
    "statistics_sha256",
]


def file_sha256(path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def statistics_sha256(mu, sigma) -> str:
    """Hex SHA-256 of Gaussian statistics as numbers, independent of how they are stored.

    Hashes the ASCII shapes `"D;D,D;"` followed by the little-endian float64 bytes of
    `mu` and then of `sigma` (C order). Statistics saved with `save_statistics` and
    loaded back hash the same as before saving.

    Args:
      mu: mean vector `(D,)`.
      sigma: covariance `(D, D)`.

    Returns:
      64 hexadecimal characters.
    """
    mu = np.ascontiguousarray(np.asarray(mu, dtype="<f8"))
    sigma = np.ascontiguousarray(np.asarray(sigma, dtype="<f8"))
    digest = hashlib.sha256()
    digest.update(f"{','.join(map(str, mu.shape))};{','.join(map(str, sigma.shape))};".encode())
    digest.update(mu.tobytes())
    digest.update(sigma.tobytes())
    return digest.hexdigest()


def save_statistics(path, mu, sigma) -> pathlib.Path:
    """Writes `mu` and `sigma` to `path` in TTUR's `.npz` layout, atomically.

    The file holds exactly the arrays `mu` `(D,)` and `sigma` `(D, D)` in float64
    (`np.savez_compressed`), as TTUR's `precalc_stats_example.py` writes them, so
    TTUR's `fid.py`, pytorch-fid and clean-fid read it. A reader never sees half a file.

    Args:
      path: destination; its name must end in `.npz` (TTUR recognises statistics files
        by that suffix).
      mu: mean vector `(D,)`, finite.
      sigma: covariance `(D, D)`, finite and symmetric.

    Returns:
      The path written, as a `pathlib.Path`.

    Raises:
      StatisticsFileError: if `path` does not end in `.npz`.
      MetricInputError: if `mu`/`sigma` are not the statistics of a Gaussian (see
        `frechet_distance`).

    Examples:

    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "cifar10_train.npz"
    >>> _ = save_statistics(path, np.zeros(3), np.eye(3))
    >>> mu, sigma = load_statistics(path)
    >>> sigma.shape
    (3, 3)
    """
    path = pathlib.Path(path)
    if path.suffix != ".npz":
        raise StatisticsFileError(
            f"statistics file name must end in .npz (TTUR's layout); got {str(path)!r}"
        )
    mu, sigma = _check_gaussian(mu, sigma, "")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, mu=mu, sigma=sigma)
    return fileio.atomic_write_bytes(path, buffer.getvalue())


def load_statistics(path) -> tuple[np.ndarray, np.ndarray]:
    """Reads `(mu, sigma)` from a TTUR-layout `.npz` file (TTUR's published ones too).

    Pickled objects are refused (`allow_pickle=False`): a statistics file holds numbers
    only. Other arrays in the file besides `mu` and `sigma` are ignored, as TTUR does.

    Args:
      path: the `.npz` file.

    Returns:
      `(mu, sigma)` as float64 arrays of shapes `(D,)` and `(D, D)`.

    Raises:
      StatisticsFileError: (a `ValueError`) if the file is missing, is not an `.npz`
        archive, lacks `mu` or `sigma`, holds pickled objects, or holds arrays that
        are not a Gaussian's statistics (wrong shapes, non-finite, asymmetric).
    """
    path = pathlib.Path(path).expanduser()
    if not path.is_file():
        raise StatisticsFileError(f"statistics file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in ("mu", "sigma") if key not in archive.files]
            if missing:
                raise StatisticsFileError(
                    f"{path} has no array {missing[0]!r} (it holds {sorted(archive.files)}); "
                    "TTUR's layout is an .npz with 'mu' (D,) and 'sigma' (D, D)"
                )
            mu, sigma = archive["mu"], archive["sigma"]
    except StatisticsFileError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise StatisticsFileError(f"{path} is not a readable .npz statistics file: {err}") from err
    try:
        return _check_gaussian(mu, sigma, "")
    except MetricInputError as err:
        raise StatisticsFileError(f"{path}: {err}") from err


def dataset_statistics(scorer, dataset: str, split: str = "train",
                       data_dir: str | os.PathLike | None = None, *,
                       num_examples: int | None = None) -> dict:
    """FID reference statistics of a dataset split's features, batch by batch.

    Loads the split with `improved_gan_tf.data.load_arrays` (uint8 pixels in [0, 255],
    the file order of a local directory), keeps its first `num_examples` images, and
    runs them through `scorer` (an `InceptionScorer`, or any object with
    `activation_statistics(images) -> (mu, sigma)` and, optionally, `card() -> dict`),
    accumulating the statistics in float64 without holding the features.

    Args:
      scorer: the feature network, e.g. `InceptionScorer("classify_image_graph_def.pb")`.
      dataset: a dataset name `load_arrays` knows ("cifar10", "svhn_cropped", ...).
      split: "train" or "test" (or "extra" for SVHN).
      data_dir: local directory of the distribution files (None uses TFDS).
      num_examples: use only the first this many images (all when None).

    Returns:
      dict with `mu`, `sigma`, `num_examples`, `dataset`, `split`, `sha256`
      (`statistics_sha256`) and `scorer` (the scorer's card, when it has one). Write
      the file with `save_statistics(path, result["mu"], result["sigma"])`.

    Raises:
      MetricInputError: if `num_examples` is not a positive integer or the split has
        fewer than 2 images.
    """
    from improved_gan_tf import data as data_lib

    if num_examples is not None and (
        isinstance(num_examples, bool) or not isinstance(num_examples, (int, np.integer))
        or num_examples < 2
    ):
        raise MetricInputError(f"num_examples must be None or an integer >= 2; got {num_examples!r}")
    images, _ = data_lib.load_arrays(dataset, split, data_dir)
    if num_examples is not None:
        images = images[:num_examples]
    mu, sigma = scorer.activation_statistics(images)
    result = {
        "mu": mu,
        "sigma": sigma,
        "num_examples": int(len(images)),
        "dataset": dataset,
        "split": split,
        "sha256": statistics_sha256(mu, sigma),
    }
    if hasattr(scorer, "card"):
        result["scorer"] = scorer.card()
    return result
