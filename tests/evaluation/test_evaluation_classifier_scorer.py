"""`ClassifierScorer`: the classifier score (Salimans et al. 2016's formula) and the
classifier Fréchet distance (Heusel et al. 2017), batch by batch, against NumPy/SciPy
computations on the same classifier outputs; its metric card."""

import hashlib

import numpy as np
import pytest
import scipy.linalg
import scipy.special

from improved_gan_tf.evaluation import ClassifierScorer
from improved_gan_tf.evaluation import MetricInputError
from improved_gan_tf.evaluation import build_dataset_classifier
from improved_gan_tf.evaluation import classifier_predict


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    classifier = build_dataset_classifier(width=4)  # random weights: any network will do
    path = tmp_path_factory.mktemp("clf") / "random.keras"
    classifier.save(path)
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8)
    generated = rng.uniform(0, 1, size=(40, 28, 28, 1)).astype(np.float32)  # sigmoid range
    scorer = ClassifierScorer(classifier, reference, reference_name="random", classifier_path=path,
                              batch_size=7)
    return scorer, classifier, path, reference, generated


def numpy_score(probs, splits):
    n = len(probs)
    values = [np.exp(scipy.special.rel_entr(part, part.mean(0, keepdims=True)).sum(1).mean())
              for part in (probs[j * n // splits:(j + 1) * n // splits].astype(np.float64)
                           for j in range(splits))]
    return np.mean(values), np.std(values)


def numpy_fd(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2)
                 + np.trace(s_a + s_b - 2 * scipy.linalg.sqrtm(s_a @ s_b).real))


def test_batches_score_as_numpy_computes_on_the_whole_set(setup):
    scorer, classifier, _, reference, generated = setup
    batches = (generated[i:i + 9] for i in range(0, 40, 9))  # uneven last batch
    result = scorer.score(batches, num_images=40, splits=4, value_range=(0, 1))
    probs, feats = classifier_predict(classifier, generated, value_range=(0, 1))
    _, real_feats = classifier_predict(classifier, reference)
    np.testing.assert_allclose(result["classifier_score"], numpy_score(probs, 4), rtol=1e-5, atol=1e-7)
    assert result["classifier_fd"] == pytest.approx(numpy_fd(feats, real_feats), rel=1e-4, abs=1e-6)
    assert result["num_images"] == 40


def test_an_array_and_an_iterable_of_unknown_length_give_the_same_scores(setup):
    scorer, _, _, _, generated = setup
    whole = scorer.score(generated, splits=4, value_range=(0, 1))
    # Chunks that split at a multiple of the scorer's batch size (7) reach the classifier in
    # the same batches as the array, so the scores agree to float64 rounding. The FD's float64
    # statistics are summed chunk by chunk instead of batch by batch, and 40 samples give a
    # singular covariance whose square root magnifies that rounding, hence rel=1e-7.
    aligned = scorer.score(iter([generated[:21], generated[21:]]), splits=4, value_range=(0, 1))
    np.testing.assert_allclose(whole["classifier_score"], aligned["classifier_score"], rtol=1e-12)
    assert whole["classifier_fd"] == pytest.approx(aligned["classifier_fd"], rel=1e-7)
    # Other chunks change the batches; on some CPUs the last bit of a float32 matrix product
    # depends on the batch size, so these agree to float32 precision (the std of the split
    # scores is a small difference of values near 1, hence the absolute tolerance).
    uneven = scorer.score(iter([generated[:25], generated[25:]]), splits=4, value_range=(0, 1))
    np.testing.assert_allclose(whole["classifier_score"], uneven["classifier_score"],
                               rtol=1e-6, atol=1e-7)
    assert whole["classifier_fd"] == pytest.approx(uneven["classifier_fd"], rel=1e-5)


def test_the_card_names_the_classifier_file_and_the_reference(setup):
    scorer, _, path, _, generated = setup
    card = scorer.score(generated, splits=4, value_range=(0, 1))["card"]
    assert card["classifier_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert card["classifier_path"] == str(path) and card["num_classes"] == 10
    assert card["splits"] == 4 and card["shuffle_seed"] is None and card["num_samples"] == 40
    assert card["reference"]["name"] == "random" and card["reference"]["num_examples"] == 60
    assert card["value_range"] == [0.0, 1.0]
    assert [m.split(",")[0] for m in card["warnings"]] == [
        "classifier FD from 40 generated samples", "classifier FD from 60 reference samples"]


def test_too_few_images_and_no_images_are_errors(setup):
    scorer, _, _, _, generated = setup
    with pytest.raises(MetricInputError, match="too few for splits=10"):
        scorer.score(iter([generated]), num_images=10, splits=10)
    with pytest.raises(MetricInputError, match="empty"):
        scorer.score(iter([]), splits=1)
    with pytest.raises(MetricInputError, match="at least 2 images"):
        ClassifierScorer(setup[1], setup[3][:1])
