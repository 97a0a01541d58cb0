"""Property-based tests (hypothesis) of the IDX, CIFAR-10 binary and SVHN readers.

Valid files built here from the formats' specifications load back equal to the arrays
they were built from; damaged ones (truncated, extended, bytes flipped, headers claiming
enormous dimensions) give a loaded array of the documented dtype and shape or
`DataFileError`, never another exception. The coverage-guided fuzzing of the same
readers is `fuzz/fuzz_readers.py` (not run in CI).
"""
import contextlib
import gzip
import io
import pathlib
import tempfile
import tracemalloc
import zipfile

import numpy as np
import scipy.io
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from improved_gan_tf import data
from improved_gan_tf.data import DataFileError

# Bounded so that this file runs in well under half a minute.
BOUNDED = settings(max_examples=40, deadline=None)

# The IDX type codes and their big-endian element types (the format's specification).
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@contextlib.contextmanager
def _file(name, payload):
    with tempfile.TemporaryDirectory() as directory:
        path = pathlib.Path(directory) / name
        path.write_bytes(payload)
        yield path


def _idx_bytes(array, type_code, ndim=None, dims=None):
    dims = array.shape if dims is None else dims
    ndim = len(dims) if ndim is None else ndim
    header = bytes([0, 0, type_code, ndim]) + b"".join(int(d).to_bytes(4, "big") for d in dims)
    return header + array.astype(IDX_TYPES[type_code]).tobytes()


@st.composite
def idx_arrays(draw):
    type_code = draw(st.sampled_from(sorted(IDX_TYPES)))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5))
    array = draw(hnp.arrays(np.dtype(IDX_TYPES[type_code]), shape))
    return type_code, array


def _outcome(reader, name, payload):
    """The reader's result on `payload`, or None when it raised `DataFileError`."""
    with _file(name, payload) as path:
        try:
            return reader(path)
        except DataFileError as error:
            assert str(path) in str(error)  # Every refusal names the file.
            return None


def _assert_images_labels(result):
    images, labels = result
    assert images.dtype == np.uint8 and images.ndim == 4 and images.shape[1:] == (32, 32, 3)
    assert labels.dtype == np.int64 and labels.shape == (images.shape[0],)
    assert np.all((labels >= 0) & (labels <= 9))


# --------------------------------------------------------------------------------------
# IDX.
# --------------------------------------------------------------------------------------


@BOUNDED
@given(idx_arrays(), st.booleans())
def test_every_valid_idx_file_loads_back_equal_to_its_array(typed_array, compress):
    type_code, array = typed_array
    payload = _idx_bytes(array, type_code)
    if compress:
        payload = gzip.compress(payload)
    got = _outcome(data.read_idx, "x-idx-ubyte.gz" if compress else "x-idx-ubyte", payload)
    assert got is not None
    assert got.dtype == np.dtype(IDX_TYPES[type_code]).newbyteorder("=") and got.dtype.isnative
    assert got.shape == array.shape
    np.testing.assert_array_equal(got, array)


@BOUNDED
@given(idx_arrays(), st.data(), st.booleans())
def test_a_truncated_or_extended_idx_file_is_refused(typed_array, draw, compress):
    type_code, array = typed_array
    payload = _idx_bytes(array, type_code)
    if draw.draw(st.booleans(), label="truncate"):
        payload = payload[: draw.draw(st.integers(0, len(payload) - 1), label="keep")]
    else:
        payload += draw.draw(st.binary(min_size=1, max_size=20), label="extra")
    if compress:
        payload = gzip.compress(payload)
    assert _outcome(data.read_idx, "x.gz" if compress else "x", payload) is None


@BOUNDED
@given(idx_arrays(), st.data())
def test_an_idx_file_with_flipped_bytes_loads_with_its_header_shape_or_is_refused(
    typed_array, draw
):
    type_code, array = typed_array
    payload = bytearray(_idx_bytes(array, type_code))
    for _ in range(draw.draw(st.integers(1, 4), label="flips")):
        position = draw.draw(st.integers(0, len(payload) - 1), label="position")
        payload[position] ^= draw.draw(st.integers(1, 255), label="mask")
    got = _outcome(data.read_idx, "x", bytes(payload))
    if got is not None:
        ndim = payload[3]
        dims = tuple(int.from_bytes(payload[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
        assert got.shape == dims and got.dtype.isnative
        assert got.dtype == np.dtype(IDX_TYPES[payload[2]]).newbyteorder("=")


@BOUNDED
@given(
    st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=8),
    st.sampled_from(sorted(IDX_TYPES)),
    st.binary(max_size=64),
    st.booleans(),
)
def test_an_idx_header_with_arbitrary_dimensions_loads_only_when_the_data_matches(
    dims, type_code, body, compress
):
    header = bytes([0, 0, type_code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    payload = gzip.compress(header + body) if compress else header + body
    got = _outcome(data.read_idx, "x.gz" if compress else "x", payload)
    itemsize = np.dtype(IDX_TYPES[type_code]).itemsize
    if got is not None:
        assert got.shape == tuple(dims) and int(np.prod(dims, dtype=object)) * itemsize == len(body)


@BOUNDED
@given(
    st.lists(st.integers(2**16, 2**32 - 1), min_size=2, max_size=6),
    st.sampled_from(sorted(IDX_TYPES)),
    st.booleans(),
)
def test_an_empty_idx_file_claiming_enormous_other_dimensions_is_refused(
    huge, type_code, compress
):
    # Zero records of an enormous record shape: the size check passes (0 == 0 bytes) but
    # no numpy array can have that shape.
    dims = [0, *huge]
    header = bytes([0, 0, type_code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    itemsize = np.dtype(IDX_TYPES[type_code]).itemsize
    if int(np.prod(huge, dtype=object)) * itemsize <= np.iinfo(np.intp).max:
        return  # Representable: a valid empty array, covered by the round-trip test.
    payload = gzip.compress(header) if compress else header
    assert _outcome(data.read_idx, "x.gz" if compress else "x", payload) is None


@BOUNDED
@given(st.integers(65, 255), st.booleans())
def test_an_idx_file_with_more_dimensions_than_numpy_allows_is_refused(ndim, compress):
    payload = bytes([0, 0, 0x08, ndim]) + (1).to_bytes(4, "big") * ndim + b"\x07"
    if compress:
        payload = gzip.compress(payload)
    assert _outcome(data.read_idx, "x.gz" if compress else "x", payload) is None


# --------------------------------------------------------------------------------------
# CIFAR-10 binary.
# --------------------------------------------------------------------------------------


@st.composite
def cifar_records(draw):
    n = draw(st.integers(1, 3))
    pixels = draw(hnp.arrays(np.uint8, (n, 3072)))
    labels = draw(hnp.arrays(np.uint8, (n,), elements=st.integers(0, 9)))
    return labels, pixels


@BOUNDED
@given(cifar_records())
def test_every_valid_cifar10_file_loads_back_in_nhwc_order(records):
    labels, pixels = records
    payload = np.concatenate([labels[:, None], pixels], axis=1).tobytes()
    images, got_labels = _outcome(data.read_cifar10_bin, "data_batch_1.bin", payload)
    _assert_images_labels((images, got_labels))
    np.testing.assert_array_equal(got_labels, labels.astype(np.int64))
    # The format: 1024 red, then 1024 green, then 1024 blue bytes, each row-major.
    for i, (h, w, c) in enumerate([(0, 0, 0), (31, 31, 2), (5, 17, 1), (31, 0, 0)]):
        n = i % len(labels)
        assert images[n, h, w, c] == pixels[n, c * 1024 + h * 32 + w]


@BOUNDED
@given(cifar_records(), st.data())
def test_a_damaged_cifar10_file_loads_as_records_or_is_refused(records, draw):
    labels, pixels = records
    payload = bytearray(np.concatenate([labels[:, None], pixels], axis=1).tobytes())
    action = draw.draw(st.sampled_from(["truncate", "extend", "flip"]), label="action")
    if action == "truncate":
        payload = payload[: draw.draw(st.integers(0, len(payload) - 1), label="keep")]
    elif action == "extend":
        payload += draw.draw(st.binary(min_size=1, max_size=100), label="extra")
    else:
        position = draw.draw(st.integers(0, len(payload) - 1), label="position")
        payload[position] ^= draw.draw(st.integers(1, 255), label="mask")
    got = _outcome(data.read_cifar10_bin, "test_batch.bin", bytes(payload))
    if action in ("truncate", "extend") and len(payload) % 3073:
        assert got is None
    if got is not None:
        _assert_images_labels(got)
        assert len(got[1]) * 3073 == len(payload)


# --------------------------------------------------------------------------------------
# SVHN .npz and .mat.
# --------------------------------------------------------------------------------------


@st.composite
def svhn_arrays(draw):
    n = draw(st.integers(0, 3))
    return (
        draw(hnp.arrays(np.uint8, (n, 32, 32, 3))),
        draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, 9))),
    )


def _npz(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _mat(x, y):
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"X": np.transpose(x, (1, 2, 3, 0)), "y": y})
    return buffer.getvalue()


def _mutate(draw, payload):
    payload = bytearray(payload)
    action = draw.draw(st.sampled_from(["truncate", "flip", "extend"]), label="action")
    if action == "truncate":
        return bytes(payload[: draw.draw(st.integers(0, len(payload) - 1), label="keep")])
    if action == "extend":
        return bytes(payload) + draw.draw(st.binary(min_size=1, max_size=50), label="extra")
    for _ in range(draw.draw(st.integers(1, 8), label="flips")):
        # Mostly in the first bytes: the zip / MATLAB headers and the .npy header.
        end = min(len(payload), draw.draw(st.sampled_from([200, 1000, len(payload)])))
        position = draw.draw(st.integers(0, end - 1), label="position")
        payload[position] ^= draw.draw(st.integers(1, 255), label="mask")
    return bytes(payload)


@BOUNDED
@given(svhn_arrays())
def test_every_valid_svhn_npz_loads_back_equal(arrays):
    x, y = arrays
    images, labels = _outcome(data.read_svhn_npz, "train.npz", _npz(x=x, y=y))
    _assert_images_labels((images, labels))
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, y)


@BOUNDED
@given(svhn_arrays(), st.data())
def test_a_damaged_svhn_npz_loads_as_svhn_arrays_or_is_refused(arrays, draw):
    got = _outcome(data.read_svhn_npz, "train.npz", _mutate(draw, _npz(x=arrays[0], y=arrays[1])))
    if got is not None:
        _assert_images_labels(got)


@BOUNDED
@given(
    st.sampled_from(["<U3", "S2", "complex128", "<M8[s]", "float64", "float32"]),
    st.sampled_from([0.5, float("nan"), float("inf"), -3.0, 1e30]),
)
def test_svhn_npz_labels_that_are_not_integers_0_to_9_are_refused(dtype, value):
    x = np.zeros((1, 32, 32, 3), np.uint8)
    if np.dtype(dtype).kind in "USM":
        y = np.array(["3"], dtype=dtype) if np.dtype(dtype).kind != "M" else np.array([3], dtype)
    else:
        y = np.array([value], dtype=dtype)
    assert _outcome(data.read_svhn_npz, "train.npz", _npz(x=x, y=y)) is None


@settings(max_examples=10, deadline=None)
@given(st.integers(10**8, 10**12))
def test_an_npz_header_claiming_a_huge_array_is_refused_before_allocating_it(count):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (count, 32, 32, 3)}
    )
    labels = io.BytesIO()
    np.save(labels, np.zeros(1, np.int64))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.npy", header.getvalue() + bytes(3072))
        archive.writestr("y.npy", labels.getvalue())
    tracemalloc.start()
    try:
        assert _outcome(data.read_svhn_npz, "train.npz", buffer.getvalue()) is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"{peak} bytes allocated for a {len(buffer.getvalue())}-byte file"


@BOUNDED
@given(svhn_arrays(), st.sampled_from([np.uint8, np.float64]))
def test_every_valid_svhn_mat_loads_back_with_label_10_as_digit_0(arrays, label_dtype):
    x, y = arrays
    if len(y) == 0:
        return  # MATLAB has no (0, 1)-shaped variable worth a file; covered by .npz.
    stored = np.where(y == 0, 10, y).astype(label_dtype)[:, None]  # The SVHN convention.
    images, labels = _outcome(data.read_svhn_mat, "train_32x32.mat", _mat(x, stored))
    _assert_images_labels((images, labels))
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, y)


@BOUNDED
@given(svhn_arrays(), st.data())
def test_a_damaged_svhn_mat_loads_as_svhn_arrays_or_is_refused(arrays, draw):
    x, y = arrays
    payload = _mat(x, (y + 1).astype(np.uint8)[:, None])
    got = _outcome(data.read_svhn_mat, "train_32x32.mat", _mutate(draw, payload))
    if got is not None:
        _assert_images_labels(got)


@BOUNDED
@given(st.sampled_from([np.nan, np.inf, 2.5, -1.0, 11.0]), st.sampled_from(["cell", "float"]))
def test_svhn_mat_labels_that_are_not_digits_are_refused(value, kind):
    x = np.zeros((1, 32, 32, 3), np.uint8)
    y = np.array([[value]]) if kind == "float" else np.array([[np.array(["a"])]], dtype=object)
    assert _outcome(data.read_svhn_mat, "train_32x32.mat", _mat(x, y)) is None
