"""`improved_gan_tf.data.mat5`: MATLAB files are checked before scipy parses them.

The damaged files here were found by fuzzing (`fuzz/fuzz_readers.py svhn_mat` and the
property tests): before the check, `scipy.io.loadmat` crashed the whole process on them
(segmentation fault or bus error) instead of raising.
"""
import io

import numpy as np
import pytest
import scipy.io

from improved_gan_tf import data
from improved_gan_tf.data import DataFileError

# Byte offsets in a scipy-written uncompressed file holding one variable 'X' first: the
# 128-byte header, the miMATRIX tag (8), array flags (16), dimensions tag (8) and data.
DIMS_OFFSET = 128 + 8 + 16 + 8
REAL_TAG_OFFSET = DIMS_OFFSET + 16 + 8  # After 4 dimensions and the 8-byte name 'X'.


def _svhn_mat(n=1, compress=False):
    rng = np.random.default_rng(n)
    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = rng.integers(1, 11, (n, 1)).astype(np.uint8)
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"X": x, "y": y}, do_compression=compress)
    return buffer.getvalue(), x, y


@pytest.mark.parametrize("compress", [False, True])
def test_a_well_formed_svhn_mat_file_still_loads(compress, tmp_path):
    payload, x, y = _svhn_mat(n=3, compress=compress)
    path = tmp_path / "train_32x32.mat"
    path.write_bytes(payload)
    images, labels = data.read_svhn_mat(path)
    np.testing.assert_array_equal(images, np.transpose(x, (3, 0, 1, 2)))
    np.testing.assert_array_equal(labels, np.where(y[:, 0] == 10, 0, y[:, 0]))


@pytest.mark.parametrize("bad_type", [209, 73, 0, 8])
def test_an_unknown_data_type_code_is_refused_instead_of_crashing_scipy(bad_type, tmp_path):
    payload = bytearray(_svhn_mat()[0])
    assert int.from_bytes(payload[REAL_TAG_OFFSET : REAL_TAG_OFFSET + 4], "little") == 2  # miUINT8
    payload[REAL_TAG_OFFSET : REAL_TAG_OFFSET + 4] = bad_type.to_bytes(4, "little")
    path = tmp_path / "train_32x32.mat"
    path.write_bytes(bytes(payload))
    with pytest.raises(DataFileError, match=f"train_32x32.mat: .*data type {bad_type}"):
        data.read_svhn_mat(path)


@pytest.mark.parametrize("first_dim", [0x06000020, 33, 0])
def test_dimensions_that_disagree_with_the_data_size_are_refused(first_dim, tmp_path):
    payload = bytearray(_svhn_mat()[0])
    assert int.from_bytes(payload[DIMS_OFFSET : DIMS_OFFSET + 4], "little") == 32
    payload[DIMS_OFFSET : DIMS_OFFSET + 4] = first_dim.to_bytes(4, "little")
    path = tmp_path / "train_32x32.mat"
    path.write_bytes(bytes(payload))
    with pytest.raises(DataFileError, match=r"train_32x32.mat: .*dimensions \[%d, 32, 3, 1\]" % first_dim):
        data.read_svhn_mat(path)


def test_a_cell_array_variable_is_refused_as_not_numeric(tmp_path):
    buffer = io.BytesIO()
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = np.array([[1.0]])
    scipy.io.savemat(buffer, {"X": np.zeros((32, 32, 3, 1), np.uint8), "y": cell})
    path = tmp_path / "train_32x32.mat"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(DataFileError, match="variable 1 is of MATLAB class 1, not a numeric array"):
        data.read_svhn_mat(path)


def test_a_truncated_file_and_an_hdf5_file_are_refused(tmp_path):
    payload = _svhn_mat()[0]
    path = tmp_path / "train_32x32.mat"
    path.write_bytes(payload[:-100])
    with pytest.raises(DataFileError, match="truncated MATLAB file"):
        data.read_svhn_mat(path)
    v73 = bytearray(payload)
    v73[124:126] = (0x0200).to_bytes(2, "little")  # The -v7.3 (HDF5) version number.
    path.write_bytes(bytes(v73))
    with pytest.raises(DataFileError, match="unsupported MATLAB file version 0x0200"):
        data.read_svhn_mat(path)
