"""A small reader for the IDX files of MNIST and Fashion-MNIST (gzipped or not)."""
from __future__ import annotations

import gzip
import os
import pathlib

import numpy as np

# IDX type codes -> big-endian NumPy dtypes (LeCun's file format description).
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads one IDX file (optionally `.gz`) into an array of its stored shape."""
    path = pathlib.Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}")
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: header promises shape {shape} ({expected} bytes) but the file "
            f"holds {len(raw) - header} bytes of data"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _find(data_dir: pathlib.Path, stem: str) -> pathlib.Path:
    for name in (stem + ".gz", stem):
        candidate = data_dir / name
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"{stem}.gz (or {stem}) not found in {data_dir}; the directory must hold the "
        "four MNIST-format IDX files"
    )


def load_mnist_like(data_dir: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Loads `(images uint8 (N, 28, 28), labels int64 (N,))` of an MNIST-format split."""
    if split not in _SPLIT_FILES:
        raise ValueError(f"split must be one of {sorted(_SPLIT_FILES)}; got {split!r}")
    data_dir = pathlib.Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data directory {data_dir} does not exist")
    image_stem, label_stem = _SPLIT_FILES[split]
    images = read_idx(_find(data_dir, image_stem))
    labels = read_idx(_find(data_dir, label_stem)).astype(np.int64)
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise ValueError(
            f"{data_dir}: {split} images have shape {images.shape} and labels "
            f"{labels.shape}; expected (N, H, W) and (N,)"
        )
    return images, labels
