"""TTUR-layout reference statistics: save, load, hash, and a dataset split's statistics."""
import hashlib
import warnings
import zipfile

import numpy as np
import pytest

from improved_gan_tf import data as data_lib
from improved_gan_tf.evaluation import (
    MetricInputError,
    StatisticsFileError,
    dataset_statistics,
    file_sha256,
    load_statistics,
    save_statistics,
    statistics_sha256,
)


def _gaussian(rng, d=5):
    a = rng.normal(size=(50, d))
    return a.mean(0), np.cov(a, rowvar=False)


def test_saved_file_has_exactly_ttur_arrays_and_loads_back(tmp_path):
    mu, sigma = _gaussian(np.random.default_rng(0))
    path = save_statistics(tmp_path / "sub" / "stats.npz", mu, sigma)
    with np.load(path, allow_pickle=False) as archive:  # read as TTUR's fid.py does
        assert sorted(archive.files) == ["mu", "sigma"]
        np.testing.assert_array_equal(archive["mu"], mu)
        np.testing.assert_array_equal(archive["sigma"], sigma)
        assert archive["mu"].dtype == archive["sigma"].dtype == np.float64
    loaded_mu, loaded_sigma = load_statistics(path)
    np.testing.assert_array_equal(loaded_mu, mu)
    np.testing.assert_array_equal(loaded_sigma, sigma)
    assert not list(path.parent.glob(".*.tmp"))  # the atomic write left nothing behind


def test_loads_a_file_written_the_way_ttur_writes_one(tmp_path):
    mu, sigma = _gaussian(np.random.default_rng(1))
    path = tmp_path / "fid_stats_cifar10_train.npz"
    # TTUR's precalc_stats_example.py: np.savez_compressed(output_path, mu=mu, sigma=sigma),
    # here with float32 arrays and an extra array, which TTUR ignores too.
    np.savez_compressed(path, mu=mu.astype(np.float32), sigma=sigma.astype(np.float32), n=np.array(50))
    loaded_mu, loaded_sigma = load_statistics(path)
    assert loaded_mu.dtype == loaded_sigma.dtype == np.float64
    np.testing.assert_array_equal(loaded_mu, mu.astype(np.float32).astype(np.float64))


def test_statistics_hash_is_of_the_numbers_not_the_file(tmp_path):
    mu, sigma = _gaussian(np.random.default_rng(2))
    digest = statistics_sha256(mu, sigma)
    path = save_statistics(tmp_path / "a.npz", mu, sigma)
    assert statistics_sha256(*load_statistics(path)) == digest
    assert statistics_sha256(mu.astype(np.float32), sigma) != digest
    changed = sigma.copy()
    changed[0, 0] += 1e-12
    assert statistics_sha256(mu, changed) != digest
    expected = hashlib.sha256(b"5;5,5;" + mu.astype("<f8").tobytes() + sigma.astype("<f8").tobytes())
    assert digest == expected.hexdigest()
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_bad_statistics_files_are_refused_with_the_file_named(tmp_path):
    mu, sigma = _gaussian(np.random.default_rng(3))
    with pytest.raises(StatisticsFileError, match="missing.npz does not exist"):
        load_statistics(tmp_path / "missing.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(StatisticsFileError, match="garbage.npz is not a readable"):
        load_statistics(garbage)
    no_sigma = tmp_path / "no_sigma.npz"
    np.savez(no_sigma, mu=mu)
    with pytest.raises(StatisticsFileError, match=r"no_sigma.npz has no array 'sigma'"):
        load_statistics(no_sigma)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, mu=np.array([object()], dtype=object), sigma=sigma)
    with pytest.raises(StatisticsFileError, match="pickled.npz"):
        load_statistics(pickled)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, mu=mu, sigma=sigma[:3, :3])
    with pytest.raises(StatisticsFileError, match=r"wrong.npz: sigma must have shape \(5, 5\)"):
        load_statistics(wrong)
    nan = tmp_path / "nan.npz"
    np.savez(nan, mu=mu * np.nan, sigma=sigma)
    with pytest.raises(StatisticsFileError, match="non-finite"):
        load_statistics(nan)
    assert zipfile.is_zipfile(wrong)


def test_save_refuses_a_bad_name_or_bad_statistics(tmp_path):
    with pytest.raises(StatisticsFileError, match="must end in .npz"):
        save_statistics(tmp_path / "stats.pkl", np.zeros(2), np.eye(2))
    with pytest.raises(MetricInputError, match="not symmetric"):
        save_statistics(tmp_path / "s.npz", np.zeros(2), np.array([[1.0, 1.0], [0.0, 1.0]]))
    assert not list(tmp_path.iterdir())


class _PixelScorer:
    """Features = the first 8 pixel values of each image, as float64 (a stand-in
    network, so the statistics can be checked against numpy)."""

    def activation_statistics(self, images):
        from improved_gan_tf.evaluation import activation_statistics

        return activation_statistics(np.asarray(images).reshape(len(images), -1)[:, :8])

    def card(self):
        return {"scorer": "pixels"}


def test_dataset_statistics_of_local_cifar10_split(cifar10_dir):
    result = dataset_statistics(_PixelScorer(), "cifar10", "test", cifar10_dir, num_examples=300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the local copy is a subset
        images, _ = data_lib.load_arrays("cifar10", "test", cifar10_dir)
    pixels = images[:300].reshape(300, -1)[:, :8].astype(np.float64)
    np.testing.assert_allclose(result["mu"], pixels.mean(0), rtol=1e-12)
    np.testing.assert_allclose(result["sigma"], np.cov(pixels, rowvar=False), rtol=1e-10)
    assert (result["num_examples"], result["dataset"], result["split"]) == (300, "cifar10", "test")
    assert result["sha256"] == statistics_sha256(result["mu"], result["sigma"])
    assert result["scorer"] == {"scorer": "pixels"}
    with pytest.raises(MetricInputError, match="num_examples"):
        dataset_statistics(_PixelScorer(), "cifar10", "test", cifar10_dir, num_examples=1)
