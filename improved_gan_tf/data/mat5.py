"""A structural check of MATLAB level-5 files before `scipy.io.loadmat` parses them.

`scipy.io.loadmat` trusts a file's element tags: a damaged data-type code or dimensions
larger than the data that follows them crash the process (segmentation fault or bus
error in scipy's compiled reader) instead of raising. `check_mat5` walks the file's
elements as the MAT-file format specification (MathWorks, "MAT-File Format", level 5)
lays them out and refuses, with `DataFileError`, anything but numeric arrays whose tags,
dimensions and data sizes agree. An SVHN file holds only such arrays (`X` uint8 and `y`).
"""
from __future__ import annotations

import math
import pathlib
import zlib

from improved_gan_tf.data.errors import DataFileError

__all__ = ["check_mat5"]

_HEADER_BYTES = 128
_MI_MATRIX = 14
_MI_COMPRESSED = 15
_MI_INT8 = 1
_MI_INT32 = 5
_MI_UINT32 = 6
# The byte sizes of the numeric data types (miINT8 ... miUINT64; 8, 10, 11 are reserved).
_NUMERIC_SIZES = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8}
# mxDOUBLE_CLASS (6) ... mxUINT64_CLASS (15): the numeric array classes.
_NUMERIC_CLASSES = range(6, 16)
_COMPLEX_FLAG = 0x0800


def _tag(path: pathlib.Path, data: bytes, offset: int, byteorder: str, where: str):
    """`(type, nbytes, data_start, next_offset)` of the element at `offset`."""
    if offset + 8 > len(data):
        raise DataFileError(f"{path}: truncated MATLAB file ({where} has no complete tag).")
    first = int.from_bytes(data[offset : offset + 4], byteorder)
    if first >> 16:  # Small data element: type and size in one word, data in the next.
        kind, nbytes = first & 0xFFFF, first >> 16
        if nbytes > 4:
            raise DataFileError(f"{path}: corrupt MATLAB file ({where}: small element of {nbytes} bytes).")
        return kind, nbytes, offset + 4, offset + 8
    nbytes = int.from_bytes(data[offset + 4 : offset + 8], byteorder)
    start = offset + 8
    if start + nbytes > len(data):
        raise DataFileError(
            f"{path}: truncated MATLAB file ({where} claims {nbytes} bytes, "
            f"{len(data) - start} remain)."
        )
    return first, nbytes, start, start + nbytes + (-nbytes % 8)


def _check_matrix(path: pathlib.Path, data: bytes, byteorder: str, index: int) -> None:
    """Checks one miMATRIX element's body (`data`): flags, dimensions, name, data sizes."""
    where = f"variable {index}"
    kind, nbytes, start, offset = _tag(path, data, 0, byteorder, where + " flags")
    if kind != _MI_UINT32 or nbytes != 8:
        raise DataFileError(f"{path}: corrupt MATLAB file ({where}: bad array-flags element).")
    flags = int.from_bytes(data[start : start + 4], byteorder)
    array_class = flags & 0xFF
    if array_class not in _NUMERIC_CLASSES:
        raise DataFileError(
            f"{path}: {where} is of MATLAB class {array_class}, not a numeric array; an "
            "SVHN file holds numeric arrays X and y only."
        )
    kind, nbytes, start, offset = _tag(path, data, offset, byteorder, where + " dimensions")
    if kind != _MI_INT32 or nbytes < 8 or nbytes % 4:
        raise DataFileError(f"{path}: corrupt MATLAB file ({where}: bad dimensions element).")
    dims = [
        int.from_bytes(data[start + i : start + i + 4], byteorder, signed=True)
        for i in range(0, nbytes, 4)
    ]
    if min(dims) < 0:
        raise DataFileError(f"{path}: corrupt MATLAB file ({where}: dimensions {dims}).")
    kind, _, _, offset = _tag(path, data, offset, byteorder, where + " name")
    if kind != _MI_INT8:
        raise DataFileError(f"{path}: corrupt MATLAB file ({where}: bad name element).")
    parts = ("real", "imaginary") if flags & _COMPLEX_FLAG else ("real",)
    for part in parts:
        kind, nbytes, _, offset = _tag(path, data, offset, byteorder, f"{where} {part} part")
        if kind not in _NUMERIC_SIZES:
            raise DataFileError(
                f"{path}: corrupt MATLAB file ({where} {part} part has data type {kind})."
            )
        if math.prod(dims) * _NUMERIC_SIZES[kind] != nbytes:
            raise DataFileError(
                f"{path}: corrupt MATLAB file ({where}: dimensions {dims} of "
                f"{_NUMERIC_SIZES[kind]}-byte elements need "
                f"{math.prod(dims) * _NUMERIC_SIZES[kind]} bytes, the data holds {nbytes})."
            )


def check_mat5(path: str | pathlib.Path, data: bytes) -> None:
    """Refuses a MATLAB file unless it is level 5 and holds well-formed numeric arrays.

    Args:
      path: the file's name, for the error message.
      data: the file's bytes.

    Raises:
      DataFileError: naming the file and the first problem: not a level-5 MAT file
        (v4, or v7.3 / HDF5, which is unsupported), a truncated element, an unknown data
        type, dimensions that disagree with the data size, or a non-numeric variable.
    """
    path = pathlib.Path(path)
    if len(data) < _HEADER_BYTES:
        raise DataFileError(f"{path}: {len(data)} bytes, too short for a MATLAB 5 header.")
    byteorder = {b"IM": "little", b"MI": "big"}.get(data[126:128])
    if byteorder is None:
        raise DataFileError(f"{path}: not a MATLAB level-5 file (no endian indicator).")
    version = int.from_bytes(data[124:126], byteorder)
    if version != 0x0100:
        raise DataFileError(
            f"{path}: unsupported MATLAB file version 0x{version:04x} (expected a level-5 "
            "file, version 0x0100; save with -v7 or earlier, not -v7.3)."
        )
    offset, index = _HEADER_BYTES, 0
    while offset < len(data):
        kind, nbytes, start, offset = _tag(path, data, offset, byteorder, f"element {index}")
        body = data[start : start + nbytes]
        if kind == _MI_COMPRESSED:
            offset = start + nbytes  # Compressed elements are not padded.
            try:
                body = zlib.decompress(body)
            except zlib.error as e:
                raise DataFileError(f"{path}: corrupt compressed MATLAB variable ({e}).") from e
            kind, nbytes, start, _ = _tag(path, body, 0, byteorder, f"element {index}")
            if start + nbytes != len(body):
                raise DataFileError(
                    f"{path}: corrupt MATLAB file (compressed element {index} holds "
                    f"{len(body)} bytes, its tag says {start + nbytes})."
                )
            body = body[start:]
        if kind != _MI_MATRIX:
            raise DataFileError(
                f"{path}: corrupt MATLAB file (top-level element {index} has data type "
                f"{kind}, expected an array)."
            )
        _check_matrix(path, body, byteorder, index)
        index += 1
