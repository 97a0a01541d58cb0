"""Parzen-window log-likelihood against brute-force NumPy/SciPy."""
import numpy as np
import pytest
import scipy.stats

from improved_gan_tf.evaluation.parzen import (
    DEFAULT_SIGMAS,
    mnist_parzen_protocol,
    parzen_log_densities,
    parzen_log_likelihood,
    select_parzen_sigma,
)


def _brute_force(samples, data, sigma):
    """log mean_i N(x; s_i, sigma^2 I) for each x, straight from the density."""
    samples = samples.reshape(len(samples), -1)
    data = data.reshape(len(data), -1)
    cov = sigma**2 * np.eye(samples.shape[1])
    out = []
    for x in data:
        dens = [scipy.stats.multivariate_normal.pdf(x, mean=s, cov=cov) for s in samples]
        out.append(np.log(np.mean(dens)))
    return np.array(out)


@pytest.mark.parametrize("sigma,batch_size", [(0.3, 7), (1.0, 1000), (0.05, 3)])
def test_parzen_matches_brute_force(sigma, batch_size):
    rng = np.random.default_rng(0)
    samples = rng.uniform(size=(40, 2, 2))  # image-shaped rows are flattened
    data = rng.uniform(size=(23, 2, 2))
    expected = _brute_force(samples, data, sigma)
    mean, se = parzen_log_likelihood(samples, data, sigma, batch_size=batch_size)
    assert mean == pytest.approx(expected.mean(), rel=1e-9)
    assert se == pytest.approx(expected.std() / np.sqrt(len(data)), rel=1e-7)
    per_point = parzen_log_densities(samples, data, [sigma], batch_size=batch_size)[:, 0]
    np.testing.assert_allclose(per_point, expected, rtol=1e-9)


def test_parzen_is_stable_where_naive_exponentials_underflow():
    # 784 dimensions and a small sigma: every kernel value underflows to 0 in float64,
    # so the naive log(mean(exp(.))) is -inf; logsumexp must stay finite and exact.
    rng = np.random.default_rng(1)
    samples = rng.uniform(size=(50, 784))
    data = rng.uniform(size=(5, 784))
    sigma = 0.05
    d2 = ((data[:, None, :] - samples[None, :, :]) ** 2).sum(-1)
    log_kernel = -d2 / (2 * sigma**2) - 784 / 2 * np.log(2 * np.pi * sigma**2)
    with np.errstate(divide="ignore"):
        assert np.all(np.isneginf(np.log(np.exp(log_kernel).mean(1))))
    top = log_kernel.max(1)
    expected = top + np.log(np.exp(log_kernel - top[:, None]).mean(1))
    per_point = parzen_log_densities(samples, data, [sigma], batch_size=2)[:, 0]
    np.testing.assert_allclose(per_point, expected, rtol=1e-10)


def test_parzen_known_value_single_sample():
    # One sample at the origin: LL is the Gaussian log-density itself.
    x = np.array([[1.0, 2.0]])
    mean, se = parzen_log_likelihood(np.zeros((1, 2)), x, 2.0)
    expected = -5.0 / 8.0 - np.log(2 * np.pi * 4.0)
    assert mean == pytest.approx(expected)
    assert se == 0.0


def test_select_parzen_sigma_picks_validation_argmax():
    rng = np.random.default_rng(2)
    samples = rng.normal(scale=0.5, size=(30, 3))
    valid = rng.normal(scale=0.5, size=(15, 3))
    sigmas = [0.03, 0.05, 0.2, 0.4, 3.0]
    best, means = select_parzen_sigma(samples, valid, sigmas, batch_size=8)
    expected = np.array([_brute_force(samples, valid, s).mean() for s in sigmas])
    np.testing.assert_allclose(means, expected, rtol=1e-9)
    assert best == sigmas[int(np.argmax(expected))]
    assert best not in (0.03, 3.0)  # the extremes are both poor for this data


def test_default_sigma_grid_is_goodfellows():
    np.testing.assert_allclose(DEFAULT_SIGMAS, np.logspace(-1, 0, 10))


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(samples=np.zeros((4, 3)), data=np.zeros((2, 5)), sigmas=[1.0]), ValueError, "dimensions"),
        (dict(samples=np.zeros((4, 3)), data=np.zeros((2, 3)), sigmas=[0.0]), ValueError, "positive"),
        (dict(samples=np.zeros(4), data=np.zeros((2, 3)), sigmas=[1.0]), ValueError, "samples"),
        (dict(samples=np.zeros((4, 3)), data=np.full((2, 3), np.nan), sigmas=[1.0]), ValueError, "data has non-finite"),
        (dict(samples=np.array([["a"]]), data=np.zeros((2, 1)), sigmas=[1.0]), TypeError, "samples must be numeric"),
    ],
)
def test_parzen_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        parzen_log_densities(kwargs["samples"], kwargs["data"], kwargs["sigmas"])


def test_mnist_protocol_on_real_images(mnist_dir):
    from improved_gan_tf import data

    train, _ = data.load_arrays("mnist", "train", mnist_dir)
    train = train[..., 0]
    # "Samples" that are real training digits score far higher than uniform noise.
    real = train[:300] / 127.5 - 1.0
    result = mnist_parzen_protocol(real, mnist_dir, value_range=(-1, 1),
                                   num_validation=100, num_test=200)
    noise = np.random.default_rng(0).uniform(-1, 1, size=(300, 28, 28))
    noise_result = mnist_parzen_protocol(noise, mnist_dir, value_range=(-1, 1),
                                         num_validation=100, num_test=200)
    assert result["num_test"] == 200 and result["num_samples"] == 300
    assert result["sigma"] in DEFAULT_SIGMAS
    best = int(np.argmax(result["validation_log_likelihoods"]))
    assert result["sigma"] == pytest.approx(DEFAULT_SIGMAS[best])
    assert result["log_likelihood"] > noise_result["log_likelihood"] + 100
    # Independent check of the final figure: recompute with the chosen sigma.
    test, _ = data.load_arrays("mnist", "test", mnist_dir)
    mean, se = parzen_log_likelihood((real + 1) / 2, test[:200, ..., 0] / 255.0, result["sigma"])
    assert result["log_likelihood"] == pytest.approx(mean)
    assert result["standard_error"] == pytest.approx(se)
    with pytest.raises(ValueError, match="784"):
        mnist_parzen_protocol(np.zeros((3, 32, 32)), mnist_dir)


def test_the_mnist_protocol_reads_mnist_through_the_data_package(mnist_dir, tmp_path):
    import gzip
    import importlib.util
    import shutil

    from improved_gan_tf import data

    assert importlib.util.find_spec("improved_gan_tf.evaluation._idx") is None
    # A label file whose magic number is an image file's (2051): only the data package's
    # reader checks the magic number against the file's role.
    for name in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        shutil.copy(mnist_dir / f"{name}.gz", tmp_path / f"{name}.gz")
    with gzip.open(mnist_dir / "train-labels-idx1-ubyte.gz") as f:
        raw = bytearray(f.read())
    raw[2:4] = b"\x08\x03"
    damaged = tmp_path / "train-labels-idx1-ubyte"
    damaged.write_bytes(bytes(raw))
    samples = np.zeros((10, 784))
    with pytest.raises(data.DataFileError, match="bad magic number 2051") as error:
        mnist_parzen_protocol(samples, tmp_path, num_validation=10, num_test=10)
    assert str(damaged) in str(error.value)
    with pytest.raises(data.DatasetNotFoundError, match="does not exist"):
        mnist_parzen_protocol(samples, tmp_path / "nowhere", num_validation=10, num_test=10)
