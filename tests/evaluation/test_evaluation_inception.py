"""InceptionScorer end to end (random weights, no network), GraphDef loading, errors."""
import pathlib
import warnings

import numpy as np
import pytest
import scipy.special
import tensorflow as tf

from improved_gan_tf.evaluation import inception_networks
from improved_gan_tf.evaluation import (
    InceptionScorer,
    MetricInputError,
    MissingWeightsError,
    SmallSampleWarning,
)
from improved_gan_tf.evaluation.inception import GRAPH_DEF_FILE, KERAS_WEIGHTS_FILE
from improved_gan_tf.evaluation.metrics import inception_score
from synthetic_inception import CLASSES, FEATURES, authors_forward, build_tiny_inception_graph


@pytest.fixture(scope="module")
def random_scorer():
    return InceptionScorer(weights=None, batch_size=4, seed=0, fid_method="eigh", verbose=0)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(6, 32, 32, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def other_images(images):
    return np.clip(images.astype(np.int32) // 2 + 100, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def scored(random_scorer, images, other_images):
    """One pass over both image sets: IS, statistics and FID (batches of 4, 2)."""
    return random_scorer.score(images, splits=2, reference=other_images, return_features=True)


def _manual_keras_forward(scorer, images_uint8):
    """Preprocessing written from the spec: bilinear 299x299, x / 127.5 - 1."""
    x = tf.image.resize(images_uint8.astype(np.float32), (299, 299), method="bilinear")
    probs, feats = scorer._net.model(x / 127.5 - 1.0, training=False)
    return np.asarray(probs, np.float64), np.asarray(feats, np.float64)


def test_random_weights_scorer_is_path(random_scorer, images, scored):
    assert random_scorer.source == "keras"
    assert (random_scorer.num_classes, random_scorer.feature_dim) == (1000, 2048)
    ref_probs, ref_feats = _manual_keras_forward(random_scorer, images)
    np.testing.assert_allclose(ref_probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(scored["features"], ref_feats, rtol=1e-4, atol=1e-6)
    mean, std = scored["inception_score"]
    ref_mean, ref_std = inception_score(ref_probs / ref_probs.sum(1, keepdims=True), splits=2)
    assert mean == pytest.approx(ref_mean, rel=1e-4)
    assert std == pytest.approx(ref_std, rel=1e-2, abs=1e-6)
    assert scored["num_images"] == 6


def _low_rank_fid(a, b):
    """FID for few samples, from the formula: with centred A, B (n x D),
    S1 = A'A / (n1 - 1), S2 = B'B / (n2 - 1), the non-zero eigenvalues of S1 S2 are
    those of the small matrix (A B')(B A') / ((n1 - 1)(n2 - 1))."""
    a0, b0 = a - a.mean(0), b - b.mean(0)
    cross = a0 @ b0.T
    lam = np.linalg.eigvals(cross @ cross.T).real / ((len(a) - 1) * (len(b) - 1))
    tr1 = np.sum(a0 * a0) / (len(a) - 1)
    tr2 = np.sum(b0 * b0) / (len(b) - 1)
    dmu = a.mean(0) - b.mean(0)
    return float(dmu @ dmu + tr1 + tr2 - 2 * np.sum(np.sqrt(np.clip(lam, 0, None))))


def test_random_weights_scorer_fid_path(random_scorer, other_images, scored):
    feats = scored["features"].astype(np.float64)
    np.testing.assert_allclose(scored["mu"], feats.mean(0), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(scored["sigma"], np.cov(feats, rowvar=False),
                               rtol=1e-4, atol=1e-6 * np.abs(scored["sigma"]).max())
    _, feats_other = _manual_keras_forward(random_scorer, other_images)
    expected = _low_rank_fid(feats, feats_other)
    assert scored["fid"] == pytest.approx(expected, rel=1e-3)
    # The sets differ, so the distance is clearly positive (random features are small:
    # compare with the total variance).
    assert scored["fid"] > 1e-3 * np.trace(scored["sigma"])


def test_grayscale_value_range_and_iterables(random_scorer, images):
    gray = images[:3, :28, :28, 0]
    probs_gray, feats_gray = random_scorer.predict(gray)
    # Same images given in [-1, 1] with value_range=(-1, 1), as a generator of
    # 3-channel batches, rechunked to batch_size 4.
    scaled = np.repeat(gray[..., None], 3, axis=-1).astype(np.float32) / 127.5 - 1.0
    batches = (scaled[i:i + 2] for i in range(0, 3, 2))
    probs_gen, feats_gen = random_scorer.predict(batches, value_range=(-1, 1))
    np.testing.assert_allclose(feats_gen, feats_gray, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(probs_gen, probs_gray, rtol=1e-4, atol=1e-7)


def test_bad_image_shapes_are_named(random_scorer):
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\).*\(2, 8, 8, 2\)"):
        random_scorer.predict(np.zeros((2, 8, 8, 2)))
    with pytest.raises(ValueError, match="empty"):
        random_scorer.predict(np.zeros((0, 8, 8, 3)))
    with pytest.raises(TypeError, match="dtype"):
        random_scorer.predict(np.array([[["a"]]]))
    with pytest.raises(TypeError, match="iterable"):
        random_scorer.predict(42)


# ---------------------------------------------------------------- weights lookup


def test_missing_weights_error_names_file_and_location(tmp_path):
    with pytest.raises(MissingWeightsError) as info:
        InceptionScorer("imagenet", cache_dir=tmp_path, allow_download=False, verbose=0)
    message = str(info.value)
    assert KERAS_WEIGHTS_FILE in message
    assert str(tmp_path / "models" / KERAS_WEIGHTS_FILE) in message
    assert "https://" in message


def test_failed_download_gives_the_same_clear_error(tmp_path, monkeypatch):
    import keras

    def offline_get_file(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", offline_get_file)
    with pytest.raises(MissingWeightsError, match="download failed: Name or service"):
        InceptionScorer("imagenet", cache_dir=tmp_path, verbose=0)


def test_missing_explicit_paths(tmp_path):
    with pytest.raises(MissingWeightsError, match="nope.h5 does not exist"):
        InceptionScorer(tmp_path / "nope.h5", verbose=0)
    with pytest.raises(MissingWeightsError, match=GRAPH_DEF_FILE):
        InceptionScorer(tmp_path / "nope.pb", verbose=0)
    bad = tmp_path / "garbage.pb"
    bad.write_bytes(b"\xff\xfe not a protobuf \x00" * 10)
    with pytest.raises(ValueError, match="garbage.pb"):
        InceptionScorer(bad, verbose=0)


def test_weights_found_in_keras_cache(tmp_path):
    cached = tmp_path / "models" / KERAS_WEIGHTS_FILE
    cached.parent.mkdir()
    cached.write_bytes(b"")
    found = inception_networks.resolve_keras_weights("imagenet", tmp_path, allow_download=False)
    assert pathlib.Path(found) == cached


def test_weights_loaded_from_user_path(tmp_path, random_scorer):
    path = tmp_path / "inception.weights.h5"
    source = random_scorer._net.model
    source.save_weights(path)
    loaded = InceptionScorer(path, verbose=0)
    loaded_weights = loaded._net.model.get_weights()
    source_weights = source.get_weights()
    assert len(loaded_weights) == len(source_weights)
    for got, want in zip(loaded_weights, source_weights):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="could not load Inception-v3 weights"):
        bad = tmp_path / "bad.weights.h5"
        bad.write_bytes(b"not hdf5")
        InceptionScorer(bad, verbose=0)


# ---------------------------------------------------------------- 2015 GraphDef


def test_graph_def_loading_matches_authors_procedure(tmp_path):
    path = tmp_path / GRAPH_DEF_FILE
    graph, weights = build_tiny_inception_graph(path)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(5, 12, 12, 3), dtype=np.uint8)
    expected_probs, expected_feats, with_bias = authors_forward(graph, weights, images)

    scorer = InceptionScorer(path, batch_size=2, verbose=0)  # batches of 2, 2, 1
    assert scorer.source == "graph_def"
    assert (scorer.num_classes, scorer.feature_dim) == (CLASSES, FEATURES)
    probs, feats = scorer.predict(images)
    assert probs.shape == (5, CLASSES)
    np.testing.assert_allclose(feats, expected_feats, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs, expected_probs, rtol=1e-4, atol=1e-7)
    # The bias is left out, as in the authors' code: the graph's own softmax differs.
    assert not np.allclose(probs, with_bias, atol=1e-3)

    mean, _ = scorer.inception_score(images, splits=1)
    assert mean == pytest.approx(inception_score(expected_probs, splits=1)[0], rel=1e-4)
    # A GraphDef object works as well as a path; grayscale goes to 3 channels.
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(path.read_bytes())
    scorer2 = InceptionScorer(graph_def, verbose=0)
    gray = images[..., :1]
    expected_gray, _, _ = authors_forward(graph, weights, np.repeat(gray, 3, axis=-1))
    np.testing.assert_allclose(scorer2.predict(gray)[0], expected_gray, rtol=1e-4, atol=1e-7)


def test_progress_bar(tmp_path, capsys):
    path = tmp_path / GRAPH_DEF_FILE
    build_tiny_inception_graph(path)
    scorer = InceptionScorer(path, batch_size=2, verbose=1)
    scorer.predict(np.zeros((3, 12, 12), np.uint8))
    assert "3/3" in capsys.readouterr().out
    scorer.predict(np.zeros((2, 12, 12), np.uint8) for _ in range(2))  # unknown length
    assert "4/Unknown" in capsys.readouterr().out


def test_graph_def_without_the_expected_tensors(tmp_path):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, None, None, 3], name="ExpandDims")
        tf.identity(x, name="something_else")
    path = tmp_path / "other.pb"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    with pytest.raises(ValueError, match="pool_3"):
        InceptionScorer(path, verbose=0)


# ---------------------------------------------------------------- conventions, cards


def _numpy_inception_score(probs, splits, permutation=None):
    """IS from its definition with scipy's rel_entr, rows optionally permuted first."""
    p = np.asarray(probs, np.float64)
    if permutation is not None:
        p = p[permutation]
    n = len(p)
    scores = []
    for j in range(splits):
        part = p[j * n // splits:(j + 1) * n // splits]
        kl = scipy.special.rel_entr(part, part.mean(axis=0, keepdims=True)).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return np.mean(scores), np.std(scores)


@pytest.fixture(scope="module")
def graph_setup(tmp_path_factory):
    path = tmp_path_factory.mktemp("graph") / GRAPH_DEF_FILE
    graph, weights = build_tiny_inception_graph(path)
    rng = np.random.default_rng(7)
    # Ordered so that the two conventions differ: brightness grows along the rows.
    images = np.sort(rng.integers(0, 256, size=(24, 12, 12, 3)), axis=0).astype(np.uint8)
    probs, feats, _ = authors_forward(graph, weights, images)
    return path, images, probs, feats


def test_graph_path_scores_both_published_conventions(graph_setup):
    path, images, probs, _ = graph_setup
    scorer = InceptionScorer(path, batch_size=5, verbose=0)
    authors = scorer.score(images, splits=4)
    torch_fidelity = scorer.score(images, splits=4, shuffle_seed=2020)
    expected_authors = _numpy_inception_score(probs, 4)
    expected_tf = _numpy_inception_score(probs, 4, np.random.RandomState(2020).permutation(24))
    np.testing.assert_allclose(authors["inception_score"], expected_authors, rtol=1e-4)
    np.testing.assert_allclose(torch_fidelity["inception_score"], expected_tf, rtol=1e-4)
    # The permutation matters on ordered images: the two conventions really differ.
    assert abs(expected_authors[1] - expected_tf[1]) > 1e-3
    assert authors["card"]["shuffle_seed"] is None
    assert torch_fidelity["card"]["shuffle_seed"] == 2020
    assert "RandomState(2020)" in torch_fidelity["card"]["split_convention"]


def test_graph_path_card_records_file_hash_head_and_reference(graph_setup, tmp_path):
    import hashlib

    from improved_gan_tf.evaluation import save_statistics, statistics_sha256

    path, images, _, feats = graph_setup
    scorer = InceptionScorer(path, batch_size=5, verbose=0)
    mu, sigma = feats[:12].mean(0), np.cov(feats[:12], rowvar=False)
    stats_path = save_statistics(tmp_path / "reference.npz", mu, sigma)
    with pytest.warns(SmallSampleWarning) as caught:
        result = scorer.score(images[12:], splits=2, reference=stats_path,
                              reference_name="first twelve", reference_num_examples=12)
    card = result["card"]
    assert card["weights"] == str(path)
    assert card["weights_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert card["comparable_with_published"] is True
    assert card["features"] == "pool_3" and "without the bias" in card["logits"]
    assert card["num_classes"] == CLASSES and card["feature_dim"] == FEATURES
    assert (card["splits"], card["num_samples"]) == (2, 12)
    reference = card["reference"]
    assert reference["name"] == "first twelve" and reference["num_examples"] == 12
    assert reference["sha256"] == statistics_sha256(mu, sigma)
    assert reference["file_sha256"] == hashlib.sha256(stats_path.read_bytes()).hexdigest()
    # 12 < 16 feature dimensions on both sides: two warnings, both in the card.
    assert len(caught) == 2 and card["warnings"] == [str(w.message) for w in caught]
    # The FID against the file equals the formula on the authors' features.
    gen = feats[12:]
    expected = (np.sum((gen.mean(0) - mu) ** 2) + np.trace(np.cov(gen, rowvar=False)) + np.trace(sigma)
                - 2 * np.sum(np.sqrt(np.clip(np.linalg.eigvals(np.cov(gen, rowvar=False) @ sigma).real, 0, None))))
    assert result["fid"] == pytest.approx(expected, rel=1e-3)


def test_fid_on_enough_samples_does_not_warn(graph_setup):
    path, images, _, feats = graph_setup
    scorer = InceptionScorer(path, batch_size=8, verbose=0)
    many = np.concatenate([images] * 2)  # 48 > 16 feature dimensions
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallSampleWarning)
        result = scorer.score(many, splits=2, reference=(feats.mean(0), np.cov(feats, rowvar=False)),
                              reference_num_examples=24)
    assert result["card"]["warnings"] == []


def test_keras_path_card_says_not_comparable(random_scorer, images):
    result = random_scorer.score(images, splits=3)
    card = result["card"]
    assert card["comparable_with_published"] is False
    assert "not comparable" in card["comparability"]
    assert card["weights"] is None and card["random_init_seed"] == 0
    assert "with the bias" in card["logits"] and card["num_classes"] == 1000
    assert card["reference"] is None and "fid" not in result


def test_streamed_batches_score_like_one_array(graph_setup):
    path, images, probs, feats = graph_setup
    scorer = InceptionScorer(path, batch_size=4, verbose=0)
    whole = scorer.score(images, splits=3)
    # Chunks of 8 go through the graph in the same batches of 4 as the array.
    streamed = scorer.score((images[i:i + 8] for i in range(0, 24, 8)), splits=3)
    assert streamed["num_images"] == whole["num_images"] == 24
    # The array goes through RunningInceptionScore, the unsized stream through
    # inception_score: on the same probabilities, equal to float64 rounding.
    np.testing.assert_allclose(streamed["inception_score"], whole["inception_score"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(streamed["mu"], whole["mu"], rtol=1e-12)
    np.testing.assert_allclose(streamed["sigma"], whole["sigma"], rtol=1e-10, atol=1e-14)
    # Chunks of 7 make batches of 4 and 3: the float32 logits of a batch of 3 may round
    # differently (by CPU), so the scores agree to float32 precision only.
    uneven = scorer.score((images[i:i + 7] for i in range(0, 24, 7)), splits=3)
    assert uneven["num_images"] == 24
    np.testing.assert_allclose(uneven["inception_score"], whole["inception_score"], rtol=1e-6)
    np.testing.assert_allclose(uneven["mu"], whole["mu"], rtol=1e-6, atol=1e-7 * np.abs(whole["mu"]).max())
    # and both equal the one-shot numpy statistics of the authors' features.
    np.testing.assert_allclose(whole["mu"], feats.mean(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(whole["sigma"], np.cov(feats, rowvar=False), rtol=1e-4,
                               atol=1e-6 * np.abs(whole["sigma"]).max())


@pytest.mark.parametrize("n,splits", [(5, 10), (19, 10), (1, 1)])
def test_too_few_images_for_the_splits_is_an_error(graph_setup, n, splits):
    path, images, _, _ = graph_setup
    scorer = InceptionScorer(path, verbose=0)
    with pytest.raises(MetricInputError, match="too few for splits"):
        scorer.score(images[:n], splits=splits)
    with pytest.raises(MetricInputError, match="at least 2"):
        scorer.score((images[i:min(i + 2, n)] for i in range(0, n, 2)), splits=splits)


def test_graph_features_do_not_depend_on_the_batch(graph_setup):
    path, images, _, _ = graph_setup
    scorer = InceptionScorer(path, batch_size=24, verbose=0)
    _, batched = scorer.predict(images)
    _, again = scorer.predict(images)
    alone = np.concatenate([scorer.predict(image[None])[1] for image in images])
    np.testing.assert_allclose(again, batched, rtol=1e-5, atol=1e-5 * np.abs(batched).max())
    np.testing.assert_allclose(alone, batched, rtol=1e-5, atol=1e-5 * np.abs(batched).max())


def test_keras_path_runs_in_inference_mode(random_scorer, images):
    model = random_scorer._net.model
    bn = [layer for layer in model.layers if "batch_normalization" in layer.name][0]
    moving = [np.array(v) for v in bn.non_trainable_weights]
    _, batched = random_scorer.predict(images[:4])
    _, again = random_scorer.predict(images[:4])
    alone = np.concatenate([random_scorer.predict(image[None])[1] for image in images[:4]])
    scale = np.abs(batched).max()
    np.testing.assert_allclose(again, batched, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(alone, batched, rtol=1e-5, atol=1e-5 * scale)
    # Batch statistics would make an image alone differ from itself in a batch of
    # different images, and would move the moving averages: neither happens.
    for before, after in zip(moving, bn.non_trainable_weights):
        np.testing.assert_array_equal(before, np.array(after))
    assert not model.trainable


def test_reference_images_are_read_in_0_255_whatever_the_samples_range(graph_setup):
    path, images, _, _ = graph_setup
    scorer = InceptionScorer(path, batch_size=8, verbose=0)
    samples = images[:12].astype(np.float32) / 127.5 - 1.0  # a tanh generator's range
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        tanh = scorer.score(samples, splits=2, value_range=(-1, 1), reference=images[12:])
        pixels = scorer.score(images[:12], splits=2, reference=images[12:])
    assert tanh["fid"] == pytest.approx(pixels["fid"], rel=1e-4)
    assert tanh["card"]["reference"]["num_examples"] == 12
    assert tanh["card"]["value_range"] == [-1.0, 1.0]


def test_known_length_streams_the_inception_score_and_a_wrong_length_is_refused(graph_setup):
    path, images, probs, _ = graph_setup
    scorer = InceptionScorer(path, batch_size=5, verbose=0)
    batches = lambda: (images[i:i + 5] for i in range(0, 24, 5))  # noqa: E731
    counted = scorer.score(batches(), splits=3, shuffle_seed=2020, num_images=24)
    uncounted = scorer.score(batches(), splits=3, shuffle_seed=2020)
    np.testing.assert_allclose(counted["inception_score"], uncounted["inception_score"], rtol=1e-9)
    expected = _numpy_inception_score(probs, 3, np.random.RandomState(2020).permutation(24))
    np.testing.assert_allclose(counted["inception_score"], expected, rtol=1e-4)
    with pytest.raises(MetricInputError, match="24 rows were given, but num_samples=30"):
        scorer.score(batches(), splits=3, num_images=30)
    with pytest.raises(MetricInputError, match="more than num_samples=20"):
        scorer.score(batches(), splits=3, num_images=20)


def test_score_computes_kid_from_kept_features(graph_setup):
    from improved_gan_tf.evaluation import kernel_inception_distance

    path, images, _, feats = graph_setup
    scorer = InceptionScorer(path, batch_size=5, verbose=0)
    real_features = feats[12:]
    result = scorer.score(images[:12], splits=2, kid_reference_features=real_features,
                          kid_options={"num_subsets": 4, "subset_size": 10, "seed": 2020})
    expected = kernel_inception_distance(real_features, feats[:12], num_subsets=4,
                                         subset_size=10, seed=2020)
    np.testing.assert_allclose(result["kid"], expected, rtol=1e-4, atol=1e-7)
    assert result["card"]["kid"] == {"num_reference_features": 12, "num_subsets": 4,
                                     "subset_size": 10, "seed": 2020}
    assert "features" not in result
    with pytest.raises(MetricInputError, match="subset_size=1000"):
        scorer.score(images[:12], splits=2, kid_reference_features=real_features)
