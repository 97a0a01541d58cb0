"""Readers of the SVHN cropped-digits files: the MATLAB `.mat` files and `.npz` arrays.

Both return uint8 images `[N, 32, 32, 3]` and int64 labels `[N]` in 0-9, or raise
`DataFileError` naming the file. A `.mat` file's structure is checked (`mat5`) before
scipy parses it, and an `.npz` member's header is compared with the member's size before
numpy allocates the array it claims. Nothing is unpickled.
"""
from __future__ import annotations

import io
import math
import os
import pathlib
from typing import Any

import numpy as np

from improved_gan_tf.data import mat5
from improved_gan_tf.data.errors import DataFileError

__all__ = ["read_svhn_mat", "read_svhn_npz"]


def _svhn_labels(path: pathlib.Path, y: Any, y_key: str) -> np.ndarray:
    """`y` as int64 `[N]`, refusing anything but whole numbers of a numeric dtype."""
    if not isinstance(y, np.ndarray) or y.dtype.kind not in "biuf":
        kind = y.dtype if isinstance(y, np.ndarray) else type(y).__name__
        raise DataFileError(f"{path}: {y_key!r} holds {kind}, expected integer labels.")
    y = y.reshape(-1)
    if y.dtype.kind == "f":
        finite = np.isfinite(y)
        whole = finite & (np.mod(np.where(finite, y, 0), 1) == 0)
        bad = np.flatnonzero(~whole | (np.abs(np.where(finite, y, 0)) > 2**31))
        if bad.size:
            raise DataFileError(
                f"{path}: {y_key!r}[{bad[0]}] = {y[bad[0]]!r} is not a label "
                f"(non-integer values in {y.dtype} labels)."
            )
    elif y.dtype.kind == "u" and y.size and int(y.max()) > np.iinfo(np.int64).max:
        raise DataFileError(f"{path}: {y_key!r} holds {int(y.max())}, expected labels 0-9.")
    return y.astype(np.int64)


def _check_svhn_arrays(
    path: pathlib.Path, x: Any, y: np.ndarray, x_key: str, y_key: str
) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(x, np.ndarray):
        raise DataFileError(
            f"{path}: {x_key!r} is a {type(x).__name__}, expected a uint8 array (N, 32, 32, 3)."
        )
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (32, 32, 3):
        raise DataFileError(
            f"{path}: {x_key!r} has dtype {x.dtype} and shape {x.shape}, "
            "expected uint8 (N, 32, 32, 3)."
        )
    if y.shape[0] != x.shape[0]:
        raise DataFileError(
            f"{path}: {x_key!r} holds {x.shape[0]} images but {y_key!r} holds "
            f"{y.shape[0]} labels."
        )
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
      DataFileError: if the file is not a well-formed MATLAB level-5 file of numeric
        arrays (checked by `mat5.check_mat5` before scipy parses it), or does not hold
        the expected arrays.
    """
    import scipy.io  # Imported lazily: only SVHN .mat files need it.

    path = pathlib.Path(path)
    payload = path.read_bytes()
    # scipy's compiled reader crashes the process on some damaged tags: check first.
    mat5.check_mat5(path, payload)
    try:
        mat = scipy.io.loadmat(io.BytesIO(payload))
    except NotImplementedError as e:  # MATLAB v7.3 (HDF5) files.
        raise DataFileError(f"{path}: unsupported MATLAB file version ({e}).") from e
    except Exception as e:  # scipy raises several types on corrupt files.
        raise DataFileError(f"{path}: cannot read MATLAB file ({e}).") from e
    for key in ("X", "y"):
        if key not in mat:
            found = sorted(k for k in mat if not k.startswith("__"))
            raise DataFileError(f"{path}: no variable {key!r} (found {found}).")
    x = mat["X"]
    if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        shape = x.shape if isinstance(x, np.ndarray) else type(x).__name__
        raise DataFileError(
            f"{path}: 'X' has shape {shape}, expected (32, 32, 3, N)."
        )
    y = _svhn_labels(path, mat["y"], "y")
    y = np.where(y == 10, 0, y)
    return _check_svhn_arrays(path, np.transpose(x, (3, 0, 1, 2)), y, "X", "y")


def _check_npz_member_size(path: pathlib.Path, npz, key: str) -> None:
    """Refuses an `.npy` member whose header claims more data than the member holds.

    `np.load` allocates the array the header describes before reading its data, so a
    damaged header in a tiny file could otherwise ask for terabytes.
    """
    names = npz.zip.namelist()
    member = f"{key}.npy" if f"{key}.npy" in names else key
    info = npz.zip.getinfo(member)
    with npz.zip.open(info) as stream:
        if stream.read(len(np.lib.format.MAGIC_PREFIX)) != np.lib.format.MAGIC_PREFIX:
            return  # Not an .npy member: np.load returns its bytes, refused below.
        stream.seek(0)
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            return  # np.load refuses other versions itself.
        header_bytes = stream.tell()
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > info.file_size - header_bytes:
        raise DataFileError(
            f"{path}: array {key!r} claims shape {shape} of {dtype} ({claimed} bytes) but "
            f"its member holds {info.file_size - header_bytes} bytes of data: truncated "
            "or corrupt."
        )


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
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise DataFileError(
                f"{path}: a single .npy array, not an .npz archive of 'x' and 'y'."
            )
        with npz:
            keys = list(npz.keys())
            if "x" not in keys or "y" not in keys:
                raise DataFileError(f"{path}: expected arrays 'x' and 'y', found {keys}.")
            for key in ("x", "y"):
                _check_npz_member_size(path, npz, key)
            x, y = npz["x"], npz["y"]
    except DataFileError:
        raise
    except Exception as e:  # zipfile.BadZipFile, ValueError (pickled object arrays), ...
        raise DataFileError(f"{path}: cannot read .npz file ({e}).") from e
    return _check_svhn_arrays(path, x, _svhn_labels(path, y, "y"), "x", "y")
