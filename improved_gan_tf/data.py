"""Datasets and `tf.data` input pipelines for the experiments of Salimans et al. (2016).

Two sources give the same arrays and the same element specs (uint8 images `[H, W, C]`,
int64 labels):

- a local directory holding a dataset's standard distribution files (`data_dir`):
  MNIST / Fashion-MNIST: the four IDX files (`train-images-idx3-ubyte.gz`, ...; `.gz` or
  uncompressed); CIFAR-10: the binary version `cifar-10-batches-bin/*.bin` (the directory
  itself or its parent); SVHN (cropped digits): `train_32x32.mat` / `test_32x32.mat` /
  `extra_32x32.mat`, or an `.npz` holding `x` uint8 `(N, 32, 32, 3)` and `y` labels 0-9;
- `tensorflow_datasets` (`tfds`), used when no local directory is given.

Nothing is ever unpickled: the CIFAR-10 "python version" is a pickle and is not supported,
and `.npz` files are opened with `allow_pickle=False`.

The semi-supervised trainer needs random access to the whole training set, so the loaders
return numpy arrays (`load_arrays`); the pipelines (`semi_supervised_dataset`,
`unsupervised_dataset`, `eval_dataset`) build `tf.data` streams from those arrays. The
training streams are pure functions of `(seed, epoch, step)`: two runs with the same seed
see the same batches, and a resumed run (`initial_step`) continues exactly where an
uninterrupted one would be.

The labeled subset follows the authors' scripts (openai/improved-gan,
`train_mnist_feature_matching.py`): the training set is permuted with
`numpy.random.RandomState(seed_data)` and the first `n / K` examples of each class of the
permuted set are kept (`select_labeled_subset`). The chosen indices are recorded in the run
directory (`save_labeled_indices`) so that a run can be audited and repeated.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import pathlib
import socket
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from improved_gan_tf import registry
from improved_gan_tf.fileio import atomic_write_text

__all__ = [
    "DATASETS",
    "DEFAULT_PREPROCESS",
    "DataFileError",
    "DataSubsetWarning",
    "DatasetNotFoundError",
    "DatasetSpec",
    "LABELED_INDICES_FILENAME",
    "benchmark_dataset",
    "canonical_name",
    "eval_dataset",
    "get_preprocess",
    "load_arrays",
    "load_dataset",
    "load_labeled_indices",
    "preprocess_array",
    "read_cifar10_bin",
    "read_idx",
    "save_labeled_indices",
    "select_labeled_subset",
    "semi_supervised_dataset",
    "unsupervised_dataset",
]

#: The flag that points the CLI at a local directory of standard files.
DATA_DIR_FLAG = "--config.data.dir"
#: File name of the labeled-subset record inside a run directory.
LABELED_INDICES_FILENAME = "labeled_indices.json"

_CIFAR10_RECORD_BYTES = 1 + 32 * 32 * 3
_CIFAR10_RECORDS_PER_FILE = 10000


# --------------------------------------------------------------------------------------
# Errors and warnings.
# --------------------------------------------------------------------------------------


class DataFileError(ValueError):
    """A data file exists but is truncated or corrupt (the message names the file)."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is neither in the given local directory nor obtainable from TFDS."""


class DataSubsetWarning(UserWarning):
    """A local directory holds whole records but fewer than the official counts."""


# --------------------------------------------------------------------------------------
# Dataset registry.
# --------------------------------------------------------------------------------------


# The facts live in `improved_gan_tf.registry` (TF-free); these names stay public here.
DatasetSpec = registry.DatasetSpec
DATASETS: dict[str, DatasetSpec] = registry.DATASETS
canonical_name = registry.canonical_name


def _check_split(spec: DatasetSpec, split: str) -> None:
    if split not in spec.split_sizes:
        raise ValueError(
            f"Unknown split {split!r} for dataset {spec.name!r}; "
            f"expected one of {sorted(spec.split_sizes)}."
        )


# --------------------------------------------------------------------------------------
# File parsers.
# --------------------------------------------------------------------------------------

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: pathlib.Path) -> bytes:
    """Reads a file, decompressing it when its name ends in `.gz`.

    Raises:
      DataFileError: if the gzip stream is corrupt or truncated.
    """
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except EOFError as e:
        raise DataFileError(
            f"{path}: gzip stream is truncated (the file ends before the end-of-stream "
            f"marker: {e}). Re-download the file."
        ) from e
    except (gzip.BadGzipFile, zlib.error, OSError) as e:
        raise DataFileError(
            f"{path}: corrupt gzip data ({e}). Re-download the file."
        ) from e


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Parses an IDX file (the MNIST / Fashion-MNIST format), gzip-compressed or not.

    Args:
      path: the file; a name ending in `.gz` is decompressed.
      expected_magic: if given, the magic number the file must have (2051 for image
        files, 2049 for label files).

    Returns:
      The array with the dimensions given by the header (e.g. `[N, 28, 28]` uint8).

    Raises:
      DataFileError: on a corrupt gzip stream, a bad magic number, or a payload whose
        size does not match the header's dimensions.
    """
    path = pathlib.Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataFileError(f"{path}: only {len(data)} bytes, too short for an IDX header.")
    magic = int.from_bytes(data[:4], "big")
    dtype_code, ndim = data[2], data[3]
    if data[0] != 0 or data[1] != 0 or dtype_code not in _IDX_DTYPES or ndim == 0:
        raise DataFileError(
            f"{path}: bad magic number {magic} (0x{magic:08x}); an IDX file starts with "
            "0x0000 then a type code and the number of dimensions "
            "(2051 for images, 2049 for labels)."
        )
    if expected_magic is not None and magic != expected_magic:
        raise DataFileError(
            f"{path}: bad magic number {magic} (0x{magic:08x}), expected {expected_magic} "
            f"(0x{expected_magic:08x})."
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataFileError(
            f"{path}: truncated header ({len(data)} bytes, the header of a {ndim}-d IDX "
            f"file needs {header_len})."
        )
    dims = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    dtype = _IDX_DTYPES[dtype_code]
    record_bytes = int(np.prod(dims[1:], dtype=np.int64)) * dtype.itemsize
    expected = dims[0] * record_bytes
    got = len(data) - header_len
    if got != expected:
        whole = got // record_bytes if record_bytes else 0
        what = "truncated" if got < expected else "has trailing bytes"
        raise DataFileError(
            f"{path}: {what}: the header says {dims[0]} records of shape {dims[1:]} "
            f"({expected} bytes of data) but the file holds {got} bytes "
            f"({whole} whole records)."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_cifar10_bin(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Parses one CIFAR-10 binary batch file (`data_batch_*.bin`, `test_batch.bin`).

    Each record is one label byte followed by 3072 pixel bytes (1024 red, 1024 green,
    1024 blue, row-major).

    Args:
      path: the `.bin` file.

    Returns:
      `(images, labels)`: uint8 `[N, 32, 32, 3]` (NHWC) and int64 `[N]`.

    Raises:
      DataFileError: if the size is not a whole number of records, the file holds more
        than the official 10000 records, or a label is not in 0-9.
    """
    path = pathlib.Path(path)
    data = path.read_bytes()
    if len(data) == 0 or len(data) % _CIFAR10_RECORD_BYTES:
        raise DataFileError(
            f"{path}: size {len(data)} bytes is not a whole number of "
            f"{_CIFAR10_RECORD_BYTES}-byte CIFAR-10 records "
            f"({len(data) // _CIFAR10_RECORD_BYTES} whole records and "
            f"{len(data) % _CIFAR10_RECORD_BYTES} bytes left over): truncated or corrupt."
        )
    n = len(data) // _CIFAR10_RECORD_BYTES
    if n > _CIFAR10_RECORDS_PER_FILE:
        raise DataFileError(
            f"{path}: {n} records, more than the {_CIFAR10_RECORDS_PER_FILE} of an "
            "official CIFAR-10 batch file."
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(n, _CIFAR10_RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise DataFileError(
            f"{path}: record {bad[0]} has label byte {labels[bad[0]]}, expected 0-9 "
            "(is this the CIFAR-100 binary version, or a corrupt file?)."
        )
    images = records[:, 1:].reshape(n, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _check_svhn_arrays(
    path: pathlib.Path, x: np.ndarray, y: np.ndarray, x_key: str, y_key: str
) -> tuple[np.ndarray, np.ndarray]:
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (32, 32, 3):
        raise DataFileError(
            f"{path}: {x_key!r} has dtype {x.dtype} and shape {x.shape}, "
            "expected uint8 (N, 32, 32, 3)."
        )
    y = np.asarray(y).reshape(-1)
    if y.shape[0] != x.shape[0]:
        raise DataFileError(
            f"{path}: {x_key!r} holds {x.shape[0]} images but {y_key!r} holds "
            f"{y.shape[0]} labels."
        )
    if not np.issubdtype(y.dtype, np.integer) and not np.all(np.mod(y, 1) == 0):
        raise DataFileError(f"{path}: {y_key!r} holds non-integer labels ({y.dtype}).")
    y = y.astype(np.int64)
    bad = np.flatnonzero((y < 0) | (y > 9))
    if bad.size:
        raise DataFileError(
            f"{path}: {y_key!r}[{bad[0]}] = {y[bad[0]]}, expected labels 0-9."
        )
    return np.ascontiguousarray(x), y


def read_svhn_mat(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Parses an SVHN cropped-digits MATLAB file (`train_32x32.mat`, ...).

    The file holds `X` uint8 `(32, 32, 3, N)` and `y` `(N, 1)` with labels 1-10, where
    10 stands for the digit 0; it is mapped to 0 as TFDS does.

    Args:
      path: the `.mat` file.

    Returns:
      `(images, labels)`: uint8 `[N, 32, 32, 3]` and int64 `[N]` in 0-9.

    Raises:
      DataFileError: if the file cannot be read or does not hold the expected arrays.
    """
    import scipy.io  # Imported lazily: only SVHN .mat files need it.

    path = pathlib.Path(path)
    try:
        mat = scipy.io.loadmat(str(path))
    except NotImplementedError as e:  # MATLAB v7.3 (HDF5) files.
        raise DataFileError(f"{path}: unsupported MATLAB file version ({e}).") from e
    except Exception as e:  # scipy raises several types on corrupt files.
        raise DataFileError(f"{path}: cannot read MATLAB file ({e}).") from e
    for key in ("X", "y"):
        if key not in mat:
            found = sorted(k for k in mat if not k.startswith("__"))
            raise DataFileError(f"{path}: no variable {key!r} (found {found}).")
    x = mat["X"]
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise DataFileError(
            f"{path}: 'X' has shape {x.shape}, expected (32, 32, 3, N)."
        )
    y = np.asarray(mat["y"]).reshape(-1).astype(np.int64)
    y = np.where(y == 10, 0, y)
    return _check_svhn_arrays(path, np.transpose(x, (3, 0, 1, 2)), y, "X", "y")


def read_svhn_npz(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Parses an `.npz` holding SVHN images `x` uint8 `(N, 32, 32, 3)` and labels `y` 0-9.

    Args:
      path: the `.npz` file (opened with `allow_pickle=False`).

    Returns:
      `(images, labels)`: uint8 `[N, 32, 32, 3]` and int64 `[N]`.

    Raises:
      DataFileError: if the file is corrupt or lacks `x`/`y` of the expected form.
    """
    path = pathlib.Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.keys())
            if "x" not in keys or "y" not in keys:
                raise DataFileError(f"{path}: expected arrays 'x' and 'y', found {keys}.")
            x, y = npz["x"], npz["y"]
    except DataFileError:
        raise
    except Exception as e:  # zipfile.BadZipFile, ValueError (pickled object arrays), ...
        raise DataFileError(f"{path}: cannot read .npz file ({e}).") from e
    return _check_svhn_arrays(path, x, y, "x", "y")


# --------------------------------------------------------------------------------------
# Local directories.
# --------------------------------------------------------------------------------------


def _find_file(directory: pathlib.Path, names: Sequence[str]) -> pathlib.Path | None:
    for name in names:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def _warn_subset(spec: DatasetSpec, split: str, found: int, where: Any, detail: str = "") -> None:
    expected = spec.split_sizes[split]
    if found < expected:
        warnings.warn(
            f"{spec.name} {split}: found {found} examples in {where}, fewer than the "
            f"official {expected}{detail}. Loading the {found} whole records found; "
            "results will not be comparable with the paper's.",
            DataSubsetWarning,
            stacklevel=5,  # The caller of `load_arrays`.
        )


def _load_local_idx(spec: DatasetSpec, split: str, directory: pathlib.Path):
    prefix = "train" if split == "train" else "t10k"
    paths = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        stem = f"{prefix}-{kind}"
        dotted = stem.replace("-idx", ".idx")  # Some mirrors use train-images.idx3-ubyte.
        path = _find_file(
            directory, (stem + ".gz", stem, dotted + ".gz", dotted)
        )
        if path is None:
            raise DatasetNotFoundError(
                f"{spec.name} {split}: no {stem}.gz (or uncompressed {stem}) in "
                f"{directory}; expected the standard files "
                f"{', '.join(spec.local_files[split])}."
            )
        paths.append(path)
    images = read_idx(paths[0], expected_magic=2051)
    labels = read_idx(paths[1], expected_magic=2049)
    h, w, _ = spec.image_shape
    if images.shape[1:] != (h, w):
        raise DataFileError(
            f"{paths[0]}: images of shape {images.shape[1:]}, expected {(h, w)}."
        )
    if images.shape[0] != labels.shape[0]:
        raise DataFileError(
            f"{paths[0]} holds {images.shape[0]} images but {paths[1]} holds "
            f"{labels.shape[0]} labels."
        )
    if labels.size and labels.max() >= spec.num_classes:
        raise DataFileError(
            f"{paths[1]}: label {int(labels.max())} out of range 0-{spec.num_classes - 1}."
        )
    _warn_subset(spec, split, images.shape[0], directory)
    return images[..., None], labels.astype(np.int64)


def _load_local_cifar10(spec: DatasetSpec, split: str, directory: pathlib.Path):
    bin_dir = directory / "cifar-10-batches-bin"
    if not bin_dir.is_dir():
        bin_dir = directory
    names = [pathlib.PurePath(f).name for f in spec.local_files[split]]
    present = [bin_dir / n for n in names if (bin_dir / n).is_file()]
    if not present:
        raise DatasetNotFoundError(
            f"cifar10 {split}: none of {', '.join(names)} in {bin_dir} (nor in "
            f"{directory / 'cifar-10-batches-bin'}); expected the CIFAR-10 binary version "
            "(cifar-10-binary.tar.gz extracted). The python (pickle) version is not "
            "supported."
        )
    parts = [read_cifar10_bin(p) for p in present]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    missing = [n for n in names if not (bin_dir / n).is_file()]
    counts = ", ".join(f"{p.name}: {len(l)}" for p, (_, l) in zip(present, parts))
    detail = f" ({counts}"
    if missing:
        detail += f"; missing {', '.join(missing)}"
    detail += ")"
    _warn_subset(spec, split, images.shape[0], bin_dir, detail)
    return images, labels


def _load_local_svhn(spec: DatasetSpec, split: str, location: pathlib.Path):
    if location.is_file():
        path = location
    else:
        path = _find_file(location, (f"{split}_32x32.mat", f"{split}_32x32.npz"))
        if path is None:
            npz = sorted(
                p
                for p in location.glob("*.npz")
                if split in p.stem.lower().replace("-", "_").split("_")
            )
            if len(npz) > 1:
                raise DatasetNotFoundError(
                    f"svhn_cropped {split}: several candidate .npz files in {location}: "
                    f"{[p.name for p in npz]}; pass the file itself as the data directory."
                )
            path = npz[0] if npz else None
        if path is None:
            raise DatasetNotFoundError(
                f"svhn_cropped {split}: no {split}_32x32.mat in {location}, nor an .npz "
                f"with '{split}' in its name holding x uint8 (N, 32, 32, 3) and y 0-9."
            )
    if path.suffix == ".mat":
        images, labels = read_svhn_mat(path)
    elif path.suffix == ".npz":
        images, labels = read_svhn_npz(path)
    else:
        raise DatasetNotFoundError(f"{path}: expected a .mat or .npz SVHN file.")
    _warn_subset(spec, split, images.shape[0], path)
    return images, labels


def _load_local(spec: DatasetSpec, split: str, data_dir: str | os.PathLike):
    location = pathlib.Path(data_dir).expanduser()
    if not location.exists():
        raise DatasetNotFoundError(
            f"{spec.name}: data directory {location} does not exist; expected it to hold "
            f"{', '.join(spec.local_files[split])}."
        )
    if spec.name in ("mnist", "fashion_mnist"):
        return _load_local_idx(spec, split, location)
    if spec.name == "cifar10":
        return _load_local_cifar10(spec, split, location)
    return _load_local_svhn(spec, split, location)


# --------------------------------------------------------------------------------------
# TFDS.
# --------------------------------------------------------------------------------------


def _can_reach(host: str, port: int = 443, timeout: float = 5.0) -> tuple[bool, str]:
    """Tries a TCP connection with a hard time limit (DNS included).

    Returns:
      `(reachable, reason)`.
    """
    result: list[Any] = []

    def attempt():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append((True, "connected"))
        except OSError as e:
            result.append((False, f"{type(e).__name__}: {e}"))

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    if not result:
        return False, f"no answer within {timeout:g} s"
    return result[0]


def _unavailable_message(spec: DatasetSpec, split: str, tfds_data_dir: str, why: str) -> str:
    return (
        f"Dataset {spec.name!r} ({split} split) is not prepared in the TFDS data directory "
        f"{tfds_data_dir} and cannot be downloaded: {why}. Pass a local directory holding "
        f"the standard files ({', '.join(spec.local_files[split])}) with "
        f"{DATA_DIR_FLAG}=DIR (data_dir=DIR in Python), or prepare the TFDS dataset on a "
        "machine with network access and copy it into the TFDS data directory."
    )


def _load_tfds(
    spec: DatasetSpec,
    split: str,
    tfds_data_dir: str | os.PathLike | None,
    download: bool,
    network_timeout: float,
):
    import tensorflow_datasets as tfds  # Imported lazily: the local path doesn't need it.

    builder = tfds.builder(
        spec.name, data_dir=None if tfds_data_dir is None else os.fspath(tfds_data_dir)
    )
    where = os.fspath(tfds_data_dir) if tfds_data_dir is not None else builder.data_dir
    if not builder.is_prepared():
        if not download:
            raise DatasetNotFoundError(
                _unavailable_message(spec, split, where, "downloading is disabled")
            )
        proxied = any(
            os.environ.get(v) for v in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY")
        )
        if not proxied:
            host, port = spec.download_address
            ok, reason = _can_reach(host, port, network_timeout)
            if not ok:
                raise DatasetNotFoundError(
                    _unavailable_message(
                        spec, split, where, f"cannot reach {host}:{port} ({reason})"
                    )
                )
        try:
            builder.download_and_prepare()
        except Exception as e:  # Any download/prepare failure becomes one clear error.
            raise DatasetNotFoundError(
                _unavailable_message(
                    spec, split, where, f"download failed ({type(e).__name__}: {e})"
                )
            ) from e
    ds = builder.as_dataset(split=split, as_supervised=True, batch_size=-1)
    images, labels = tfds.as_numpy(ds)
    return np.asarray(images, dtype=np.uint8), np.asarray(labels, dtype=np.int64)


# --------------------------------------------------------------------------------------
# Public loaders.
# --------------------------------------------------------------------------------------


def load_arrays(
    name: str,
    split: str,
    data_dir: str | os.PathLike | None = None,
    *,
    tfds_data_dir: str | os.PathLike | None = None,
    download: bool = True,
    network_timeout: float = 5.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Loads a whole split as numpy arrays.

    Args:
      name: `"mnist"`, `"fashion_mnist"`, `"cifar10"` or `"svhn_cropped"` (`"svhn"`).
      split: `"train"` or `"test"` (`"extra"` for SVHN too).
      data_dir: local directory of standard distribution files (see the module
        docstring); for SVHN also a `.mat` / `.npz` file. `None` (or `""`) uses TFDS.
      tfds_data_dir: TFDS data directory (TFDS's default when `None`).
      download: whether TFDS may download and prepare a missing dataset.
      network_timeout: seconds allowed to reach the download host before failing.

    Returns:
      `(images, labels)`: uint8 `[N, H, W, C]` and int64 `[N]`. A local directory gives
      the official file order; TFDS gives its own (deterministic) order, since TFDS
      shuffles examples when it prepares a dataset. Pixel values and labels are the same
      either way, but indices (e.g. a labeled subset) are specific to the source.

    Raises:
      ValueError: unknown dataset or split.
      DatasetNotFoundError: the local files are missing, or TFDS has not prepared the
        dataset and it cannot be downloaded (message names the dataset, the files
        expected and `--config.data.dir`).
      DataFileError: a local file is truncated or corrupt (message names the file).

    Warns:
      DataSubsetWarning: a local directory holds fewer examples than the official count.
    """
    spec = DATASETS[canonical_name(name)]
    if spec.streamed:
        raise ValueError(
            f"{spec.name} is streamed from TFDS by the trainer (a manual download, see "
            "--config.data.tfds_manual_dir), not loaded as arrays."
        )
    _check_split(spec, split)
    if data_dir:
        images, labels = _load_local(spec, split, data_dir)
    else:
        images, labels = _load_tfds(spec, split, tfds_data_dir, download, network_timeout)
    if images.shape[1:] != spec.image_shape:
        raise DataFileError(
            f"{spec.name} {split}: images of shape {images.shape[1:]}, expected "
            f"{spec.image_shape}."
        )
    return images, labels


def load_dataset(
    name: str,
    split: str,
    data_dir: str | os.PathLike | None = None,
    **kwargs: Any,
) -> tf.data.Dataset:
    """Loads a split as an unbatched `tf.data.Dataset` of `(image, label)`.

    The element spec is the same for both sources: `(TensorSpec([H, W, C], tf.uint8),
    TensorSpec([], tf.int64))`.

    Args:
      name: dataset name (see `load_arrays`).
      split: split name.
      data_dir: local directory of standard files, or `None` for TFDS.
      **kwargs: passed to `load_arrays`.

    Returns:
      The dataset, in file order.

    Raises:
      Same as `load_arrays`.
    """
    images, labels = load_arrays(name, split, data_dir, **kwargs)
    return tf.data.Dataset.from_tensor_slices((images, labels))


# --------------------------------------------------------------------------------------
# Labeled subset.
# --------------------------------------------------------------------------------------


def select_labeled_subset(
    labels: np.ndarray, num_labeled: int, num_classes: int = 10, seed: int = 1
) -> np.ndarray:
    """Chooses a class-balanced labeled subset as the authors' scripts do.

    `inds = RandomState(seed).permutation(N)`; then for each class `j` in order, the first
    `num_labeled / num_classes` examples of the permuted set with label `j`.

    Args:
      labels: int labels `[N]` of the whole training set.
      num_labeled: total number of labeled examples n (divisible by `num_classes`).
      num_classes: number of classes K.
      seed: the authors' `seed_data`.

    Returns:
      int64 indices `[num_labeled]` into the original arrays, grouped by class (class 0
      first), each group in permuted order.

    Raises:
      ValueError: if `num_labeled` is not a positive multiple of `num_classes`, `labels`
        is not 1-d, or a class has fewer than `num_labeled / num_classes` examples.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-d, got shape {labels.shape}.")
    if num_labeled <= 0 or num_labeled % num_classes:
        raise ValueError(
            f"num_labeled={num_labeled} must be a positive multiple of "
            f"num_classes={num_classes} (the subset holds num_labeled/num_classes "
            "examples of each class)."
        )
    per_class = num_labeled // num_classes
    inds = np.random.RandomState(seed).permutation(labels.shape[0])
    permuted = labels[inds]
    chosen = []
    for j in range(num_classes):
        members = inds[permuted == j]
        if members.shape[0] < per_class:
            raise ValueError(
                f"class {j} has only {members.shape[0]} examples, fewer than the "
                f"{per_class} per class that num_labeled={num_labeled} needs."
            )
        chosen.append(members[:per_class])
    return np.concatenate(chosen).astype(np.int64)


def save_labeled_indices(
    path: str | os.PathLike,
    indices: np.ndarray,
    *,
    seed: int,
    labels: np.ndarray | None = None,
    num_classes: int = 10,
    dataset: str | None = None,
    extra: dict[str, Any] | None = None,
) -> pathlib.Path:
    """Writes the labeled subset's indices to a JSON file, atomically.

    Args:
      path: a run directory (the file is `labeled_indices.json` in it) or a file path.
      indices: indices into the training set.
      seed: the seed that chose them.
      labels: the training set's labels; when given, the per-class counts and the
        labels of the chosen examples are recorded too.
      num_classes: number of classes K.
      dataset: dataset name to record.
      extra: more JSON-serializable entries to record (e.g. the data source).

    Returns:
      The path written.

    Raises:
      ValueError: if `extra` uses a reserved key.
    """
    path = pathlib.Path(path)
    if path.is_dir() or not path.suffix:
        path = path / LABELED_INDICES_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    record: dict[str, Any] = {
        "dataset": dataset,
        "seed": int(seed),
        "num_labeled": int(indices.shape[0]),
        "num_classes": int(num_classes),
    }
    if labels is not None:
        chosen = np.asarray(labels)[indices]
        record["per_class_counts"] = np.bincount(chosen, minlength=num_classes).tolist()
        record["labels"] = chosen.astype(int).tolist()
    for key, value in (extra or {}).items():
        if key in record or key == "indices":
            raise ValueError(f"extra key {key!r} is reserved.")
        record[key] = value
    record["indices"] = indices.tolist()
    return atomic_write_text(path, json.dumps(record, indent=1) + "\n")


def load_labeled_indices(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, Any]]:
    """Reads a file written by `save_labeled_indices`.

    Args:
      path: the file, or the run directory holding `labeled_indices.json`.

    Returns:
      `(indices, record)`: int64 indices and the whole JSON record (seed, counts, ...).

    Raises:
      FileNotFoundError: no such file.
      DataFileError: the file is not valid JSON or lacks the `indices` key.
    """
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / LABELED_INDICES_FILENAME
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataFileError(f"{path}: not valid JSON ({e}).") from e
    if not isinstance(record, dict) or "indices" not in record:
        raise DataFileError(f"{path}: no 'indices' key.")
    indices = np.asarray(record["indices"], dtype=np.int64)
    if "num_labeled" in record and record["num_labeled"] != indices.shape[0]:
        raise DataFileError(
            f"{path}: 'num_labeled' is {record['num_labeled']} but 'indices' holds "
            f"{indices.shape[0]} entries."
        )
    return indices, record


# --------------------------------------------------------------------------------------
# Preprocessing.
# --------------------------------------------------------------------------------------


def _unit_flat(x: tf.Tensor) -> tf.Tensor:
    x = tf.cast(x, tf.float32) / 255.0
    return tf.reshape(x, [tf.shape(x)[0], math.prod(x.shape[1:])])


def _unit(x: tf.Tensor) -> tf.Tensor:
    return tf.cast(x, tf.float32) / 255.0


def _symmetric(x: tf.Tensor) -> tf.Tensor:
    return (tf.cast(x, tf.float32) - 127.5) / 128.0


_PREPROCESSORS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    # The authors' MNIST data: pixels in [0, 1], flattened to 784 (permutation-invariant).
    "unit_flat": _unit_flat,
    # Pixels in [0, 1], NHWC.
    "unit": _unit,
    # The authors' CIFAR-10 / SVHN data: (x - 127.5) / 128, NHWC.
    "symmetric": _symmetric,
}

#: The authors' input range for each dataset (`DatasetSpec.default_preprocess`).
DEFAULT_PREPROCESS = {name: spec.default_preprocess for name, spec in DATASETS.items()}


def get_preprocess(
    preprocess: str | Callable[[tf.Tensor], tf.Tensor],
) -> Callable[[tf.Tensor], tf.Tensor]:
    """Returns the function mapping a uint8 image batch `[B, H, W, C]` to model input.

    Args:
      preprocess: `"unit_flat"` (x / 255 flattened to `[B, H*W*C]`), `"unit"` (x / 255,
        NHWC), `"symmetric"` ((x - 127.5) / 128, NHWC), or a callable on a uint8 batch
        returning float32.

    Returns:
      The callable.

    Raises:
      ValueError: unknown name.
    """
    if callable(preprocess):
        return preprocess
    try:
        return _PREPROCESSORS[preprocess]
    except KeyError:
        raise ValueError(
            f"Unknown preprocess {preprocess!r}; expected one of {sorted(_PREPROCESSORS)} "
            "or a callable."
        ) from None


def preprocess_array(images: np.ndarray, preprocess: str | Callable) -> np.ndarray:
    """Applies `preprocess` to a uint8 numpy batch (e.g. for data-dependent init).

    Args:
      images: uint8 `[B, H, W, C]`.
      preprocess: see `get_preprocess`.

    Returns:
      float32 numpy array in the model's input range.
    """
    return get_preprocess(preprocess)(tf.convert_to_tensor(images)).numpy()


# --------------------------------------------------------------------------------------
# tf.data pipelines.
# --------------------------------------------------------------------------------------

_INFINITE_EPOCHS = 2**62


def _options() -> tf.data.Options:
    options = tf.data.Options()
    options.deterministic = True
    # The data lives in memory: under a multi-worker strategy every worker builds the same
    # stream and keeps its share of each batch.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return options


def _permutations(count: int, length: int, seed: tf.Tensor) -> tf.Tensor:
    """`count` independent random permutations of `range(length)`, as `[count, length]`."""
    keys = tf.random.stateless_uniform([count, length], seed=seed)
    return tf.argsort(keys, axis=1, stable=True)


def _epoch_seed(seed: int, epoch: tf.Tensor, stream: int) -> tf.Tensor:
    return tf.stack([tf.constant(seed, tf.int64), epoch * 8 + stream])


def _stream_indices(
    pool_size: int, needed: int, seed: int, epoch: tf.Tensor, stream: int
) -> tf.Tensor:
    """Indices into a pool: the pool tiled, each tile independently permuted."""
    reps = -(-needed // pool_size)
    perms = _permutations(reps, pool_size, _epoch_seed(seed, epoch, stream))
    return tf.reshape(perms, [-1])[:needed]


def _check_images(images: np.ndarray, what: str = "images") -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(
            f"{what} must be uint8 [N, H, W, C], got {images.dtype} {images.shape}."
        )
    return images


def _epoch_range(
    steps_per_epoch: int, num_epochs: int | None, initial_step: int
) -> tuple[tf.data.Dataset, int, int | None]:
    if steps_per_epoch <= 0:
        raise ValueError(f"steps_per_epoch must be positive, got {steps_per_epoch}.")
    if initial_step < 0:
        raise ValueError(f"initial_step must be >= 0, got {initial_step}.")
    start_epoch, skip = divmod(initial_step, steps_per_epoch)
    stop = _INFINITE_EPOCHS if num_epochs is None else num_epochs
    if num_epochs is not None and initial_step > num_epochs * steps_per_epoch:
        raise ValueError(
            f"initial_step={initial_step} is past the end of {num_epochs} epochs of "
            f"{steps_per_epoch} steps."
        )
    total = None if num_epochs is None else num_epochs * steps_per_epoch - initial_step
    return tf.data.Dataset.range(start_epoch, max(stop, start_epoch)), skip, total


def _finish(ds: tf.data.Dataset, total: int | None) -> tf.data.Dataset:
    cardinality = tf.data.INFINITE_CARDINALITY if total is None else total
    ds = ds.apply(tf.data.experimental.assert_cardinality(cardinality))
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options())


def semi_supervised_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    labeled_indices: np.ndarray,
    *,
    preprocess: str | Callable[[tf.Tensor], tf.Tensor],
    batch_size: int = 100,
    labeled_batch_size: int | None = None,
    seed: int = 1,
    steps_per_epoch: int | None = None,
    num_epochs: int | None = None,
    initial_step: int = 0,
) -> tf.data.Dataset:
    """The semi-supervised training stream of the authors' scripts.

    Per epoch (as in `train_mnist_feature_matching.py`): the labeled set is tiled to the
    epoch's length, each tile independently permuted; the unlabeled set (the whole
    training set) is permuted; a second, independent permutation of it feeds the
    generator's feature statistics. Step `t` of an epoch takes the `t`-th batch of each.
    The permutations are stateless functions of `(seed, epoch)`, so the stream is
    deterministic and `initial_step` resumes it exactly.

    Args:
      images: uint8 `[N, H, W, C]`, the whole training set (unlabeled data).
      labels: int `[N]` labels of `images`.
      labeled_indices: indices into `images` of the labeled subset
        (`select_labeled_subset`).
      preprocess: see `get_preprocess` (`DEFAULT_PREPROCESS[name]` for the paper).
      batch_size: unlabeled batch size (100 in the paper).
      labeled_batch_size: labeled batch size; defaults to `batch_size`.
      seed: seed of the per-epoch permutations.
      steps_per_epoch: steps per epoch; defaults to `N // batch_size` (one pass over the
        unlabeled data, 600 for MNIST).
      num_epochs: number of epochs; `None` repeats forever.
      initial_step: global step to start from (for resuming a run).

    Returns:
      A `tf.data.Dataset` of dicts, each one step:
      `{"labeled_images": float32 [Bl, ...], "labels": int64 [Bl],
        "unlabeled_images": float32 [B, ...], "unlabeled_images_2": float32 [B, ...]}`
      where `...` is the preprocessed image shape (`[784]` for `"unit_flat"` MNIST).

    Raises:
      ValueError: on inconsistent shapes, empty or out-of-range `labeled_indices`, or
        non-positive sizes.
    """
    images = _check_images(images)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"labels has {labels.shape[0]} entries but images has {images.shape[0]}."
        )
    labeled_indices = np.asarray(labeled_indices, dtype=np.int64).reshape(-1)
    if labeled_indices.size == 0:
        raise ValueError("labeled_indices is empty.")
    if labeled_indices.min() < 0 or labeled_indices.max() >= images.shape[0]:
        raise ValueError(
            f"labeled_indices out of range [0, {images.shape[0]}): "
            f"min {labeled_indices.min()}, max {labeled_indices.max()}."
        )
    labeled_batch_size = labeled_batch_size or batch_size
    if batch_size <= 0 or labeled_batch_size <= 0:
        raise ValueError(
            f"batch sizes must be positive, got {batch_size} and {labeled_batch_size}."
        )
    n = images.shape[0]
    steps = steps_per_epoch or n // batch_size
    epochs, skip, total = _epoch_range(steps, num_epochs, initial_step)
    fn = get_preprocess(preprocess)
    n_lab = labeled_indices.shape[0]

    # The labeled examples are copied out so that labeled batches gather from a small array.
    lab_images = tf.constant(images[labeled_indices])
    lab_labels = tf.constant(labels[labeled_indices])
    all_images = tf.constant(images)

    def epoch_batches(epoch):
        lab = _stream_indices(n_lab, steps * labeled_batch_size, seed, epoch, 0)
        unl = _stream_indices(n, steps * batch_size, seed, epoch, 1)
        unl2 = _stream_indices(n, steps * batch_size, seed, epoch, 2)
        return tf.data.Dataset.from_tensor_slices(
            (
                tf.reshape(lab, [steps, labeled_batch_size]),
                tf.reshape(unl, [steps, batch_size]),
                tf.reshape(unl2, [steps, batch_size]),
            )
        )

    def gather(lab, unl, unl2):
        return {
            registry.LABELED: fn(tf.gather(lab_images, lab)),
            registry.LABELS: tf.gather(lab_labels, lab),
            registry.UNLABELED: fn(tf.gather(all_images, unl)),
            registry.UNLABELED_FOR_GENERATOR: fn(tf.gather(all_images, unl2)),
        }

    ds = epochs.flat_map(epoch_batches).skip(skip)
    ds = ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return _finish(ds, total)


def unsupervised_dataset(
    images: np.ndarray,
    *,
    preprocess: str | Callable[[tf.Tensor], tf.Tensor],
    batch_size: int = 100,
    seed: int = 1,
    steps_per_epoch: int | None = None,
    num_epochs: int | None = None,
    initial_step: int = 0,
) -> tf.data.Dataset:
    """A stream of shuffled image batches (for sample-quality GAN training).

    Each epoch is an independent permutation of `images` (stateless in `(seed, epoch)`);
    batches are full (the last partial batch of an epoch is dropped).

    Args:
      images: uint8 `[N, H, W, C]`.
      preprocess: see `get_preprocess`.
      batch_size: batch size.
      seed: seed of the per-epoch permutations.
      steps_per_epoch: defaults to `N // batch_size`.
      num_epochs: number of epochs; `None` repeats forever.
      initial_step: global step to start from (for resuming a run).

    Returns:
      A `tf.data.Dataset` of float32 `[batch_size, ...]` image batches.

    Raises:
      ValueError: on bad shapes or sizes.
    """
    images = _check_images(images)
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}.")
    n = images.shape[0]
    steps = steps_per_epoch or n // batch_size
    if steps <= 0:
        raise ValueError(f"{n} images are fewer than one batch of {batch_size}.")
    epochs, skip, total = _epoch_range(steps, num_epochs, initial_step)
    fn = get_preprocess(preprocess)
    all_images = tf.constant(images)

    def epoch_batches(epoch):
        idx = _stream_indices(n, steps * batch_size, seed, epoch, 3)
        return tf.data.Dataset.from_tensor_slices(tf.reshape(idx, [steps, batch_size]))

    ds = epochs.flat_map(epoch_batches).skip(skip)
    ds = ds.map(
        lambda i: fn(tf.gather(all_images, i)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return _finish(ds, total)


def eval_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    preprocess: str | Callable[[tf.Tensor], tf.Tensor],
    batch_size: int = 100,
    cache: bool = True,
) -> tf.data.Dataset:
    """The test / evaluation dataset, in file order, every example exactly once.

    Args:
      images: uint8 `[N, H, W, C]`.
      labels: int `[N]`.
      preprocess: see `get_preprocess`.
      batch_size: batch size (the last batch may be smaller).
      cache: cache the preprocessed batches in memory (evaluated every epoch).

    Returns:
      A `tf.data.Dataset` of `(float32 [B, ...], int64 [B])`.

    Raises:
      ValueError: on bad shapes.
    """
    images = _check_images(images)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"labels has {labels.shape[0]} entries but images has {images.shape[0]}."
        )
    fn = get_preprocess(preprocess)
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    ds = ds.map(
        lambda x, y: (fn(x), y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    if cache:
        ds = ds.cache()
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options())


# --------------------------------------------------------------------------------------
# Measurement.
# --------------------------------------------------------------------------------------


def benchmark_dataset(
    ds: tf.data.Dataset, num_batches: int = 600, warmup: int = 20
) -> dict[str, float]:
    """Measures how fast a dataset yields batches.

    Args:
      ds: the dataset.
      num_batches: batches to time.
      warmup: batches consumed before timing (fills the prefetch buffers).

    Returns:
      `{"batches_per_sec": ..., "seconds": ..., "num_batches": ...}`.
    """
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    start = time.perf_counter()
    for _ in range(num_batches):
        next(it)
    seconds = time.perf_counter() - start
    return {
        "batches_per_sec": num_batches / seconds,
        "seconds": seconds,
        "num_batches": float(num_batches),
    }


def _main(argv: Sequence[str] | None = None) -> None:
    """`python -m improved_gan_tf.data`: measure the semi-supervised stream."""
    import argparse

    parser = argparse.ArgumentParser(description=_main.__doc__)
    parser.add_argument("--name", default="mnist")
    parser.add_argument("--data_dir", default="")
    parser.add_argument("--num_labeled", type=int, default=100)
    parser.add_argument("--batch_size", type=int, default=100)
    parser.add_argument("--num_batches", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    name = canonical_name(args.name)
    start = time.perf_counter()
    images, labels = load_arrays(name, "train", args.data_dir or None)
    load_s = time.perf_counter() - start
    indices = select_labeled_subset(
        labels, args.num_labeled, DATASETS[name].num_classes, args.seed
    )
    ds = semi_supervised_dataset(
        images,
        labels,
        indices,
        preprocess=DEFAULT_PREPROCESS[name],
        batch_size=args.batch_size,
        seed=args.seed,
    )
    result = benchmark_dataset(ds, args.num_batches)
    print(
        json.dumps(
            {
                "dataset": name,
                "train_examples": int(images.shape[0]),
                "load_seconds": round(load_s, 3),
                "batch_size": args.batch_size,
                "batches_per_sec": round(result["batches_per_sec"], 1),
                "num_batches": args.num_batches,
                "element_spec": {k: str(v) for k, v in ds.element_spec.items()},
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    _main()
