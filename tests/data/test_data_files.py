"""`improved_gan_tf.data.files`: the IDX, CIFAR-10 binary and SVHN readers, local
directories, and the errors damaged or missing files raise.

Real files come from ../shared/data (see its SOURCES.md for the facts checked here) and
the Debian package dataset-fashion-mnist; corrupt files are made from them in tmp_path.
"""

import gzip
import shutil
import warnings

import numpy as np
import pytest
import scipy.io

from improved_gan_tf import data
from improved_gan_tf.errors import UserInputError

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@pytest.fixture(scope="module")
def mnist_train(mnist_dir):
    return data.load_arrays("mnist", "train", mnist_dir)


@pytest.fixture(scope="module")
def mnist_test(mnist_dir):
    return data.load_arrays("mnist", "test", mnist_dir)




def _copy_mnist_test(mnist_dir, dest, compress=True):
    """Copies the two MNIST test files into `dest` (gunzipped when `compress` is False)."""
    dest.mkdir(parents=True, exist_ok=True)
    for key in ("test_images", "test_labels"):
        name = IDX_FILES[key]
        if compress:
            shutil.copy(mnist_dir / f"{name}.gz", dest / f"{name}.gz")
        else:
            with gzip.open(mnist_dir / f"{name}.gz") as src:
                (dest / name).write_bytes(src.read())
    return dest


# ---------------------------------------------------------------------------------------
# IDX (MNIST, Fashion-MNIST).
# ---------------------------------------------------------------------------------------


def test_mnist_train_matches_known_facts(mnist_train):
    images, labels = mnist_train
    assert images.shape == (60000, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (60000,) and labels.dtype == np.int64
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(labels).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949,
    ]
    assert images.mean() == pytest.approx(33.3184, abs=1e-4)


def test_mnist_test_matches_known_facts(mnist_test):
    images, labels = mnist_test
    assert images.shape == (10000, 28, 28, 1)
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(labels).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009,
    ]
    assert images.mean() == pytest.approx(33.7912, abs=1e-4)


def test_fashion_mnist_loads(fashion_mnist_dir):
    images, labels = data.load_arrays("fashion-mnist", "test", fashion_mnist_dir)
    assert images.shape == (10000, 28, 28, 1) and images.dtype == np.uint8
    assert labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [1000] * 10
    assert labels[:5].tolist() == [9, 2, 1, 1, 6]


def test_uncompressed_idx_gives_same_arrays(mnist_dir, mnist_test, tmp_path):
    plain = _copy_mnist_test(mnist_dir, tmp_path / "plain", compress=False)
    images, labels = data.load_arrays("mnist", "test", plain)
    np.testing.assert_array_equal(images, mnist_test[0])
    np.testing.assert_array_equal(labels, mnist_test[1])


def test_idx_bad_magic(mnist_dir, tmp_path):
    d = _copy_mnist_test(mnist_dir, tmp_path / "m", compress=False)
    path = d / IDX_FILES["test_labels"]
    raw = bytearray(path.read_bytes())
    raw[2:4] = b"\x08\x03"  # 2051 (an image file's magic) in a label file.
    path.write_bytes(bytes(raw))
    with pytest.raises(data.DataFileError, match="bad magic number 2051") as e:
        data.load_arrays("mnist", "test", d)
    assert str(path) in str(e.value)
    raw[0] = 0x1F  # Not an IDX file at all.
    path.write_bytes(bytes(raw))
    with pytest.raises(data.DataFileError, match="bad magic number"):
        data.read_idx(path)


def test_idx_truncated_file(mnist_dir, tmp_path):
    d = _copy_mnist_test(mnist_dir, tmp_path / "m", compress=False)
    path = d / IDX_FILES["test_images"]
    raw = path.read_bytes()
    path.write_bytes(raw[: 16 + 784 * 5000 + 100])
    with pytest.raises(data.DataFileError, match="truncated") as e:
        data.load_arrays("mnist", "test", d)
    message = str(e.value)
    assert str(path) in message and "10000 records" in message and "5000 whole" in message


def test_idx_trailing_bytes(mnist_dir, tmp_path):
    d = _copy_mnist_test(mnist_dir, tmp_path / "m", compress=False)
    path = d / IDX_FILES["test_labels"]
    path.write_bytes(path.read_bytes() + b"\x00\x01")
    with pytest.raises(data.DataFileError, match="trailing bytes"):
        data.load_arrays("mnist", "test", d)


def test_gzip_truncated(mnist_dir, tmp_path):
    d = _copy_mnist_test(mnist_dir, tmp_path / "m")
    path = d / f"{IDX_FILES['test_images']}.gz"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(data.DataFileError, match="gzip stream is truncated") as e:
        data.load_arrays("mnist", "test", d)
    assert str(path) in str(e.value)


def test_gzip_crc_error(mnist_dir, tmp_path):
    d = _copy_mnist_test(mnist_dir, tmp_path / "m")
    path = d / f"{IDX_FILES['test_labels']}.gz"
    raw = bytearray(path.read_bytes())
    raw[-8] ^= 0xFF  # The CRC-32 of the gzip trailer.
    path.write_bytes(bytes(raw))
    with pytest.raises(data.DataFileError, match="(?i)corrupt gzip.*CRC") as e:
        data.load_arrays("mnist", "test", d)
    assert str(path) in str(e.value)


def test_idx_image_label_count_mismatch(mnist_dir, tmp_path):
    d = _copy_mnist_test(mnist_dir, tmp_path / "m", compress=False)
    path = d / IDX_FILES["test_labels"]
    raw = path.read_bytes()
    path.write_bytes(raw[:4] + (9000).to_bytes(4, "big") + raw[8 : 8 + 9000])
    with pytest.raises(data.DataFileError, match="10000 images but .* 9000 labels"):
        data.load_arrays("mnist", "test", d)


def test_idx_subset_loads_with_warning(mnist_dir, tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    for key, size in (("test_images", 784), ("test_labels", 1)):
        name = IDX_FILES[key]
        with gzip.open(mnist_dir / f"{name}.gz") as f:
            raw = f.read()
        header = 16 if size == 784 else 8
        out = raw[:4] + (300).to_bytes(4, "big") + raw[8:header] + raw[header : header + 300 * size]
        (d / name).write_bytes(out)
    with pytest.warns(data.DataSubsetWarning, match="found 300 examples.*official 10000"):
        images, labels = data.load_arrays("mnist", "test", d)
    assert images.shape == (300, 28, 28, 1)
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_missing_local_file(mnist_dir, tmp_path):
    d = _copy_mnist_test(mnist_dir, tmp_path / "m")
    (d / f"{IDX_FILES['test_labels']}.gz").unlink()
    with pytest.raises(data.DatasetNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        data.load_arrays("mnist", "test", d)
    with pytest.raises(data.DatasetNotFoundError, match="does not exist"):
        data.load_arrays("mnist", "test", tmp_path / "nowhere")


def test_unknown_name_and_split(mnist_dir):
    with pytest.raises(ValueError, match="Unknown dataset name 'imagenet'"):
        data.load_arrays("imagenet", "train", mnist_dir)
    with pytest.raises(ValueError, match="Unknown split 'extra'"):
        data.load_arrays("mnist", "extra", mnist_dir)


# ---------------------------------------------------------------------------------------
# CIFAR-10 binary.
# ---------------------------------------------------------------------------------------


def test_cifar10_subset_records_and_warning(cifar10_dir):
    with pytest.warns(data.DataSubsetWarning) as record:
        images, labels = data.load_arrays("cifar10", "train", cifar10_dir)
    message = str(record[0].message)
    assert "found 4000" in message and "official 50000" in message
    assert "data_batch_2.bin" in message  # The missing files are named.
    assert images.shape == (4000, 32, 32, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [396, 366, 420, 384, 422, 393, 414, 385, 407, 413]
    chw = images[0].transpose(2, 0, 1).reshape(-1)  # Back to the file's CHW layout.
    assert chw[:3].tolist() == [59, 43, 50]
    assert chw[-3:].tolist() == [140, 84, 72]


def test_cifar10_accepts_bin_dir_itself(cifar10_dir):
    with pytest.warns(data.DataSubsetWarning, match="found 4000 .* official 10000"):
        images, labels = data.load_arrays(
            "cifar10", "test", cifar10_dir / "cifar-10-batches-bin"
        )
    assert images.shape == (4000, 32, 32, 3)
    assert sorted(set(labels.tolist())) == [0, 1, 8, 9]


def test_cifar10_record_layout(tmp_path):
    rng = np.random.RandomState(0)
    chw = rng.randint(0, 256, size=(3, 3, 32, 32), dtype=np.uint8)
    labels = np.array([3, 0, 9], np.uint8)
    records = np.concatenate([labels[:, None], chw.reshape(3, -1)], axis=1)
    path = tmp_path / "test_batch.bin"
    path.write_bytes(records.tobytes())
    images, got = data.read_cifar10_bin(path)
    np.testing.assert_array_equal(images, chw.transpose(0, 2, 3, 1))
    assert got.tolist() == [3, 0, 9]


def test_cifar10_partial_record_is_error(cifar10_dir, tmp_path):
    raw = (cifar10_dir / "cifar-10-batches-bin" / "test_batch.bin").read_bytes()
    d = tmp_path / "cifar-10-batches-bin"
    d.mkdir()
    path = d / "test_batch.bin"
    path.write_bytes(raw[: 3073 * 2 + 100])
    with pytest.raises(data.DataFileError, match="not a whole number of 3073-byte") as e:
        data.load_arrays("cifar10", "test", tmp_path)
    assert str(path) in str(e.value) and "2 whole records and 100 bytes" in str(e.value)


def test_cifar10_bad_label_byte(tmp_path):
    path = tmp_path / "test_batch.bin"
    path.write_bytes(bytes([11]) + bytes(3072))
    with pytest.raises(data.DataFileError, match="record 0 has label byte 11"):
        data.read_cifar10_bin(path)


def test_cifar10_full_count_no_warning(tmp_path):
    labels = np.arange(10000, dtype=np.uint8) % 10
    records = np.zeros((10000, 3073), np.uint8)
    records[:, 0] = labels
    (tmp_path / "test_batch.bin").write_bytes(records.tobytes())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images, got = data.load_arrays("cifar10", "test", tmp_path)
    assert images.shape == (10000, 32, 32, 3) and got.tolist() == labels.tolist()


def test_cifar10_missing_files(tmp_path):
    with pytest.raises(data.DatasetNotFoundError, match="data_batch_1.bin.*pickle"):
        data.load_arrays("cifar10", "train", tmp_path)


# ---------------------------------------------------------------------------------------
# SVHN.
# ---------------------------------------------------------------------------------------


def test_svhn_npz(svhn_dir):
    with pytest.warns(data.DataSubsetWarning, match="found 50 .* official 73257"):
        images, labels = data.load_arrays("svhn", "train", svhn_dir)
    assert images.shape == (50, 32, 32, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int64
    assert np.bincount(labels, minlength=10).tolist() == [6, 4, 7, 4, 5, 6, 4, 4, 4, 6]
    np.testing.assert_allclose(
        images.reshape(-1, 3).mean(0), [116.18, 117.66, 123.15], atol=0.01
    )
    with pytest.raises(data.DatasetNotFoundError, match="test_32x32.mat"):
        data.load_arrays("svhn", "test", svhn_dir)


def test_svhn_mat_maps_label_10_to_0(tmp_path):
    rng = np.random.RandomState(1)
    x = rng.randint(0, 256, size=(32, 32, 3, 7), dtype=np.uint8)
    y = np.array([[10], [1], [2], [10], [9], [5], [3]], np.uint8)
    scipy.io.savemat(tmp_path / "test_32x32.mat", {"X": x, "y": y})
    with pytest.warns(data.DataSubsetWarning):
        images, labels = data.load_arrays("svhn_cropped", "test", tmp_path)
    np.testing.assert_array_equal(images, x.transpose(3, 0, 1, 2))
    assert labels.dtype == np.int64
    assert labels.tolist() == [0, 1, 2, 0, 9, 5, 3]


def test_svhn_bad_files(tmp_path):
    bad_y = tmp_path / "a" / "train.npz"
    bad_y.parent.mkdir()
    np.savez(bad_y, x=np.zeros((2, 32, 32, 3), np.uint8), y=np.array([1, 10]))
    with pytest.raises(data.DataFileError, match=r"'y'\[1\] = 10"):
        data.load_arrays("svhn", "train", bad_y.parent)
    bad_x = tmp_path / "b.npz"
    np.savez(bad_x, x=np.zeros((2, 32, 32, 3), np.float32), y=np.array([1, 2]))
    with pytest.raises(data.DataFileError, match="'x' has dtype float32"):
        data.load_arrays("svhn", "train", bad_x)
    pickled = tmp_path / "c.npz"
    np.savez(pickled, x=np.array([{"a": 1}], dtype=object), y=np.array([1]))
    with pytest.raises(data.DataFileError, match="cannot read .npz"):
        data.load_arrays("svhn", "train", pickled)
    corrupt = tmp_path / "d" / "train_32x32.mat"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(50))
    with pytest.raises(data.DataFileError, match="train_32x32.mat"):
        data.load_arrays("svhn", "train", corrupt.parent)




# ---------------------------------------------------------------------------------------
# The one IDX reader and the error types.
# ---------------------------------------------------------------------------------------


def test_idx_reader_matches_a_handwritten_file(tmp_path):
    values = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 0x08, 3]) + b"".join(int(d).to_bytes(4, "big") for d in values.shape)
    path = tmp_path / "x-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(header + values.tobytes())
    np.testing.assert_array_equal(data.read_idx(path), values)
    truncated = tmp_path / "short-idx3-ubyte"
    truncated.write_bytes(header + values.tobytes()[:-1])
    with pytest.raises(data.DataFileError, match="short-idx3-ubyte"):
        data.read_idx(truncated)


def test_idx_reader_reads_big_endian_types_and_refuses_a_short_header(tmp_path):
    values = np.array([[-2, 70000], [3, -1]], dtype=">i4")
    path = tmp_path / "ints-idx2"
    path.write_bytes(bytes([0, 0, 0x0C, 2]) + (2).to_bytes(4, "big") * 2 + values.tobytes())
    got = data.read_idx(path)
    assert got.dtype == np.dtype("int32") and got.tolist() == [[-2, 70000], [3, -1]]
    short = tmp_path / "short-header"
    short.write_bytes(bytes([0, 0, 0x08, 3]) + (5).to_bytes(4, "big"))
    with pytest.raises(data.DataFileError, match=r"short-header: truncated header \(8 bytes"):
        data.read_idx(short)
    unknown_type = tmp_path / "type-0x0a"
    unknown_type.write_bytes(bytes([0, 0, 0x0A, 1]) + (1).to_bytes(4, "big") + b"\x00")
    with pytest.raises(data.DataFileError, match="type-0x0a: bad magic number"):
        data.read_idx(unknown_type)


def test_damaged_and_missing_data_are_user_errors_of_the_builtin_types_callers_catch():
    assert issubclass(data.DataFileError, UserInputError)
    assert issubclass(data.DataFileError, ValueError)
    assert issubclass(data.DatasetNotFoundError, UserInputError)
    assert issubclass(data.DatasetNotFoundError, FileNotFoundError)


def test_local_arrays_read_only_the_directory_and_match_load_arrays(mnist_dir, mnist_test, tmp_path):
    images, labels = data.load_local_arrays("mnist", "test", mnist_dir)
    np.testing.assert_array_equal(images, mnist_test[0])
    np.testing.assert_array_equal(labels, mnist_test[1])
    with pytest.raises(data.DatasetNotFoundError, match="does not exist"):
        data.load_local_arrays("mnist", "test", tmp_path / "nowhere")
