"""Dataset classifier score: IDX reading, a tiny classifier trained on real MNIST,
real data beating noise, atomic saving, the command line."""
import gzip
import json

import numpy as np
import pytest

from improved_gan_tf import data
from improved_gan_tf.evaluation import dataset_classifier as cs
from improved_gan_tf.evaluation.metrics import fid_from_activations, inception_score


@pytest.fixture(scope="module")
def tiny_classifier(mnist_dir, tmp_path_factory):
    """A narrow CNN trained for 3 epochs on 3,000 MNIST training images (seconds)."""
    output = tmp_path_factory.mktemp("clf") / "mnist_tiny.keras"
    model, info = cs.train_dataset_classifier(
        "mnist", mnist_dir, output, epochs=3, batch_size=64, width=8, learning_rate=2e-3,
        dropout_rates=(0.0, 0.0), augment=False,
        max_train_examples=3000, max_test_examples=1000, verbose=0,
    )
    return model, info, output


@pytest.fixture(scope="module")
def mnist_test(mnist_dir):
    images, labels = cs.load_dataset_split("mnist", mnist_dir, "test")
    return images[:1000], labels[:1000]


def test_the_classifier_reads_idx_files_through_the_data_package(mnist_dir, tmp_path):
    # The IDX reader itself is tested in tests/data/test_data_files.py.
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        cs.load_dataset_split("mnist", tmp_path, "train")
    with gzip.open(mnist_dir / "t10k-images-idx3-ubyte.gz") as f:
        raw = f.read()
    truncated = tmp_path / "t10k-images-idx3-ubyte"
    truncated.write_bytes(raw[: len(raw) - 100])
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(
        (mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()
    )
    with pytest.raises(data.DataFileError, match="truncated") as error:
        cs.load_dataset_split("mnist", tmp_path, "test")
    assert str(truncated) in str(error.value)


def test_mnist_and_fashion_splits_load(mnist_dir, fashion_mnist_dir, mnist_test):
    images, labels = mnist_test
    assert images.shape == (1000, 28, 28, 1) and images.dtype == np.uint8
    assert set(np.unique(labels)) == set(range(10))
    fashion, fashion_labels = cs.load_dataset_split("fashion_mnist", fashion_mnist_dir, "test")
    assert fashion.shape == (10000, 28, 28, 1) and fashion_labels.shape == (10000,)
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        cs.load_dataset_split("cifar", mnist_dir, "test")


def test_tiny_classifier_learns_and_is_saved_atomically(tiny_classifier, mnist_test):
    model, info, output = tiny_classifier
    assert info["test_accuracy"] > 0.85, info
    assert output.exists()
    # Only the model and its sidecar are left behind: no temporary files.
    assert sorted(p.name for p in output.parent.iterdir()) == ["mnist_tiny.json", "mnist_tiny.keras"]
    assert json.loads(output.with_suffix(".json").read_text()) == info
    loaded = cs.load_dataset_classifier(output)
    images, _ = mnist_test
    p1, f1 = cs.classifier_predict(model, images[:50])
    p2, f2 = cs.classifier_predict(loaded, images[:50])
    np.testing.assert_allclose(p1, p2, rtol=1e-5, atol=1e-6)
    assert f2.shape == (50, 128)


def test_real_data_scores_above_noise(tiny_classifier, mnist_test):
    model, info, _ = tiny_classifier
    images, labels = mnist_test
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=images.shape, dtype=np.uint8)
    blank = np.zeros_like(images)

    real_probs, real_feats = cs.classifier_predict(model, images)
    noise_probs, noise_feats = cs.classifier_predict(model, noise)
    real_score, _ = cs.classifier_score(real_probs)
    noise_score, _ = cs.classifier_score(noise_probs)
    blank_score, _ = cs.classifier_score(cs.classifier_predict(model, blank)[0])
    assert real_score > 5.0
    assert real_score > noise_score + 2.0
    assert blank_score == pytest.approx(1.0, abs=1e-3)  # one image repeated: constant
    # The score is the IS formula on the classifier's probabilities.
    assert real_score == pytest.approx(inception_score(real_probs, splits=10)[0])
    assert info["real_test_classifier_score"][0] == pytest.approx(real_score, rel=1e-5)

    # Classifier FD: two halves of real data are closer than real data and noise.
    fd_real = cs.classifier_frechet_distance(model, images[:500], images[500:])
    fd_noise = cs.classifier_frechet_distance(model, noise[:500], images[500:])
    assert 0 < fd_real < fd_noise / 5
    assert fd_noise == pytest.approx(fid_from_activations(noise_feats[:500], real_feats[500:]), rel=1e-6)


def test_value_range_and_shapes(tiny_classifier, mnist_test):
    model, _, _ = tiny_classifier
    images, _ = mnist_test
    x = images[:20]
    p_uint8, _ = cs.classifier_predict(model, x)
    p_tanh, _ = cs.classifier_predict(model, x[..., 0] / 127.5 - 1.0, value_range=(-1, 1))
    p_unit, _ = cs.classifier_predict(model, x / 255.0, value_range=(0, 1))
    np.testing.assert_allclose(p_tanh, p_uint8, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(p_unit, p_uint8, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(5, 32, 32, 1\)"):
        cs.classifier_predict(model, np.zeros((5, 32, 32, 1)))


def test_real_data_ceiling_helper_and_cli(tiny_classifier, mnist_dir, capsys):
    model, info, output = tiny_classifier
    ceiling = cs.real_data_classifier_score(model, "mnist", mnist_dir, max_examples=1000)
    assert ceiling["examples"] == 1000
    assert ceiling["accuracy"] == pytest.approx(info["test_accuracy"])
    assert ceiling["classifier_score"][0] == pytest.approx(info["real_test_classifier_score"][0], rel=1e-5)

    from improved_gan_tf.cli import classifier as classifier_cli

    classifier_cli.run(["improved-gan classifier", "evaluate", "--dataset", "mnist",
                        "--data_dir", str(mnist_dir), "--classifier", str(output)])
    printed = json.loads(capsys.readouterr().out)
    assert printed["examples"] == 10000 and printed["accuracy"] > 0.85


def test_missing_classifier_file_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="improved-gan classifier train --dataset"):
        cs.load_dataset_classifier(tmp_path / "none.keras")
    with pytest.raises(ValueError, match=r"\.keras"):
        cs.train_dataset_classifier("mnist", tmp_path, tmp_path / "model.h5")
