"""The datasets' standard distribution files, and whole splits as numpy arrays.

A local directory (`data_dir`) holds a dataset's standard files:

- MNIST / Fashion-MNIST: the four IDX files (`train-images-idx3-ubyte.gz`, ...; `.gz` or
  uncompressed). `read_idx` is the package's only IDX reader: training, the Parzen
  protocol and the dataset classifier all read MNIST-like data through it.
- CIFAR-10: the binary version `cifar-10-batches-bin/*.bin` (the directory itself or its
  parent).
- SVHN (cropped digits): `train_32x32.mat` / `test_32x32.mat` / `extra_32x32.mat`, or an
  `.npz` holding `x` uint8 `(N, 32, 32, 3)` and `y` labels 0-9.

Nothing is ever unpickled: the CIFAR-10 "python version" is a pickle and is not
supported, and `.npz` files are opened with `allow_pickle=False`.

`load_local_arrays` reads a split from such a directory; `load_arrays` reads it from a
directory when one is given and from `tensorflow_datasets` otherwise
(`improved_gan_tf.data.tfds`). Both return the same arrays: uint8 images `[N, H, W, C]`
and int64 labels `[N]`. No TensorFlow is imported here.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import pathlib
import warnings
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from improved_gan_tf import registry
from improved_gan_tf.data import tfds as tfds_source
from improved_gan_tf.data.errors import DataFileError
from improved_gan_tf.data.errors import DatasetNotFoundError
from improved_gan_tf.data.errors import DataSubsetWarning
from improved_gan_tf.data.svhn_files import read_svhn_mat
from improved_gan_tf.data.svhn_files import read_svhn_npz

__all__ = [
    "load_arrays",
    "load_local_arrays",
    "read_cifar10_bin",
    "read_idx",
    "read_svhn_mat",
    "read_svhn_npz",
]

#: The magic numbers of the IDX image and label files of MNIST-like data.
IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049

_CIFAR10_RECORD_BYTES = 1 + 32 * 32 * 3
_CIFAR10_RECORDS_PER_FILE = 10000

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


#: numpy's limit on the number of dimensions of an array (`numpy.ndarray.ndim`).
_NUMPY_MAX_DIMS = 64

_READ_CHUNK_BYTES = 1 << 20


@contextlib.contextmanager
def _gzip_errors(path: pathlib.Path):
    """Turns the errors of reading a (possibly gzip-compressed) file into `DataFileError`."""
    try:
        yield
    except EOFError as e:
        raise DataFileError(
            f"{path}: gzip stream is truncated (the file ends before the end-of-stream "
            f"marker: {e}). Re-download the file."
        ) from e
    except (gzip.BadGzipFile, zlib.error) as e:
        raise DataFileError(
            f"{path}: corrupt gzip data ({e}). Re-download the file."
        ) from e
    except OSError as e:
        if path.suffix != ".gz" or isinstance(e, (FileNotFoundError, PermissionError)):
            raise
        raise DataFileError(
            f"{path}: corrupt gzip data ({e}). Re-download the file."
        ) from e


def _read_up_to(stream, limit: int) -> bytes:
    """Reads at most `limit` bytes in bounded chunks (never asks for `limit` at once, so a
    header's claimed size is never allocated before the data is actually there)."""
    parts = []
    remaining = limit
    while remaining > 0:
        chunk = stream.read(min(remaining, _READ_CHUNK_BYTES))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _count_rest(stream) -> int:
    """The number of bytes left in `stream`, read in chunks and discarded."""
    count = 0
    while chunk := stream.read(_READ_CHUNK_BYTES):
        count += len(chunk)
    return count


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Parses an IDX file (the MNIST / Fashion-MNIST format), gzip-compressed or not.

    The header is read first and the size it claims is compared with the data that is
    there before any array is allocated: a damaged header claiming enormous dimensions
    is refused, not allocated.

    Args:
      path: the file; a name ending in `.gz` is decompressed.
      expected_magic: if given, the magic number the file must have (2051 for image
        files, 2049 for label files).

    Returns:
      The array with the dimensions given by the header (e.g. `[N, 28, 28]` uint8).

    Raises:
      DataFileError: on a corrupt gzip stream, a bad magic number, more dimensions than
        numpy supports, or a payload whose size does not match the header's dimensions.
    """
    path = pathlib.Path(path)
    compressed = path.suffix == ".gz"
    with (gzip.open(path, "rb") if compressed else open(path, "rb")) as stream, _gzip_errors(path):
        head = _read_up_to(stream, 4)
        if len(head) < 4:
            raise DataFileError(
                f"{path}: only {len(head)} bytes, too short for an IDX header."
            )
        magic = int.from_bytes(head, "big")
        dtype_code, ndim = head[2], head[3]
        if head[0] != 0 or head[1] != 0 or dtype_code not in _IDX_DTYPES or ndim == 0:
            raise DataFileError(
                f"{path}: bad magic number {magic} (0x{magic:08x}); an IDX file starts "
                "with 0x0000 then a type code and the number of dimensions "
                "(2051 for images, 2049 for labels)."
            )
        if expected_magic is not None and magic != expected_magic:
            raise DataFileError(
                f"{path}: bad magic number {magic} (0x{magic:08x}), expected "
                f"{expected_magic} (0x{expected_magic:08x})."
            )
        header_len = 4 + 4 * ndim
        dim_bytes = _read_up_to(stream, 4 * ndim)
        if len(dim_bytes) < 4 * ndim:
            raise DataFileError(
                f"{path}: truncated header ({4 + len(dim_bytes)} bytes, the header of a "
                f"{ndim}-d IDX file needs {header_len})."
            )
        if ndim > _NUMPY_MAX_DIMS:
            raise DataFileError(
                f"{path}: the header gives {ndim} dimensions; numpy arrays have at most "
                f"{_NUMPY_MAX_DIMS} (MNIST-like files have 1 or 3): a corrupt header."
            )
        dims = tuple(
            int.from_bytes(dim_bytes[4 * i : 4 * i + 4], "big") for i in range(ndim)
        )
        dtype = _IDX_DTYPES[dtype_code]
        # Python integers: a product of up to 64 32-bit dimensions cannot overflow here.
        record_bytes = math.prod(dims[1:]) * dtype.itemsize
        expected = dims[0] * record_bytes
        nonzero_bytes = math.prod(d for d in dims if d) * dtype.itemsize
        if nonzero_bytes > np.iinfo(np.intp).max:
            raise DataFileError(
                f"{path}: the header's dimensions {dims} describe more than the largest "
                f"possible array ({nonzero_bytes} bytes): a corrupt header."
            )
        if compressed:
            payload = _read_up_to(stream, expected + 1)
            got = len(payload) + (_count_rest(stream) if len(payload) > expected else 0)
        else:
            got = os.fstat(stream.fileno()).st_size - header_len
            payload = _read_up_to(stream, expected) if got == expected else b""
        if got != expected:
            whole = got // record_bytes if record_bytes else 0
            what = "truncated" if got < expected else "has trailing bytes"
            raise DataFileError(
                f"{path}: {what}: the header says {dims[0]} records of shape {dims[1:]} "
                f"({expected} bytes of data) but the file holds {got} bytes "
                f"({whole} whole records)."
            )
    array = np.frombuffer(payload, dtype=dtype).reshape(dims)
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


# --------------------------------------------------------------------------------------
# Local directories.
# --------------------------------------------------------------------------------------


def _check_split(spec: registry.DatasetSpec, split: str) -> None:
    if split not in spec.split_sizes:
        raise ValueError(
            f"Unknown split {split!r} for dataset {spec.name!r}; "
            f"expected one of {sorted(spec.split_sizes)}."
        )


def _array_spec(name: str, split: str) -> registry.DatasetSpec:
    """The registry's spec of a dataset that is loaded as arrays, with `split` checked."""
    spec = registry.DATASETS[registry.canonical_name(name)]
    if spec.streamed:
        raise ValueError(
            f"{spec.name} is streamed from TFDS by the trainer (a manual download, see "
            "--config.data.tfds_manual_dir), not loaded as arrays."
        )
    _check_split(spec, split)
    return spec


def _find_file(directory: pathlib.Path, names: Sequence[str]) -> pathlib.Path | None:
    for name in names:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def _warn_subset(spec: registry.DatasetSpec, split: str, found: int, where: Any, detail: str = "") -> None:
    expected = spec.split_sizes[split]
    if found < expected:
        warnings.warn(
            f"{spec.name} {split}: found {found} examples in {where}, fewer than the "
            f"official {expected}{detail}. Loading the {found} whole records found; "
            "results will not be comparable with the paper's.",
            DataSubsetWarning,
            stacklevel=5,  # The caller of `load_arrays` or `load_local_arrays`.
        )


def _load_local_idx(spec: registry.DatasetSpec, split: str, directory: pathlib.Path):
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
    images = read_idx(paths[0], expected_magic=IDX_IMAGES_MAGIC)
    labels = read_idx(paths[1], expected_magic=IDX_LABELS_MAGIC)
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


def _load_local_cifar10(spec: registry.DatasetSpec, split: str, directory: pathlib.Path):
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


def _load_local_svhn(spec: registry.DatasetSpec, split: str, location: pathlib.Path):
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


def _load_local(spec: registry.DatasetSpec, split: str, data_dir: str | os.PathLike):
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



def load_local_arrays(
    name: str, split: str, data_dir: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray]:
    """Reads a whole split from a local directory of the dataset's standard files.

    Args:
      name: `"mnist"`, `"fashion_mnist"`, `"cifar10"` or `"svhn_cropped"` (`"svhn"`).
      split: `"train"` or `"test"` (`"extra"` for SVHN too).
      data_dir: the directory (see the module docstring); for SVHN also a `.mat` /
        `.npz` file.

    Returns:
      `(images, labels)`: uint8 `[N, H, W, C]` and int64 `[N]`, in the files' order.

    Raises:
      ValueError: unknown dataset or split.
      DatasetNotFoundError: the directory or one of the files is missing (the message
        names the files expected).
      DataFileError: a file is truncated or corrupt (the message names the file).

    Warns:
      DataSubsetWarning: the files hold fewer examples than the official count.

    Examples:

    >>> images, labels = load_local_arrays("mnist", "test", "../shared/data/mnist")
    ... # doctest: +SKIP
    >>> images.shape, labels.dtype  # doctest: +SKIP
    ((10000, 28, 28, 1), dtype('int64'))
    """
    return _load_local(_array_spec(name, split), split, data_dir)


# --------------------------------------------------------------------------------------
# Either source.
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
    """Loads a whole split as numpy arrays, from a local directory or from TFDS.

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
    spec = _array_spec(name, split)
    if data_dir:
        images, labels = _load_local(spec, split, data_dir)
    else:
        images, labels = tfds_source.load_tfds_arrays(
            spec.name, split, tfds_data_dir, download=download, network_timeout=network_timeout
        )
    if images.shape[1:] != spec.image_shape:
        raise DataFileError(
            f"{spec.name} {split}: images of shape {images.shape[1:]}, expected "
            f"{spec.image_shape}."
        )
    return images, labels
