"""InceptionScorer end to end (random weights, no network), GraphDef loading, errors."""
import pathlib

import numpy as np
import pytest
import scipy.special
import tensorflow as tf

from improved_gan_tf.evaluation import inception_networks
from improved_gan_tf.evaluation.inception import (
    GRAPH_DEF_FILE,
    KERAS_WEIGHTS_FILE,
    InceptionScorer,
    MissingWeightsError,
)
from improved_gan_tf.evaluation.metrics import inception_score


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


FEATURES = 16
CLASSES = 1008


def _build_tiny_inception_graph(path):
    """A GraphDef with the 2015 graph's tensor names and the same data flow:
    DecodeJpeg -> Cast -> ExpandDims (1, H, W, 3) -> ResizeBilinear -> (x - 128) / 128
    -> conv -> pool_3 (1, 1, 1, F) -> pool_3/_reshape (1, F) -> softmax/logits/MatMul
    -> + bias -> softmax (1008 classes)."""
    rng = np.random.default_rng(0)
    kernel = rng.normal(scale=0.05, size=(3, 3, 3, FEATURES)).astype(np.float32)
    weights = rng.normal(scale=0.5, size=(FEATURES, CLASSES)).astype(np.float32)
    bias = rng.normal(scale=3.0, size=(CLASSES,)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        decoded = tf.compat.v1.placeholder(tf.uint8, [None, None, 3], name="DecodeJpeg")
        cast = tf.cast(decoded, tf.float32, name="Cast")
        expanded = tf.expand_dims(cast, 0, name="ExpandDims")
        resized = tf.compat.v1.image.resize_bilinear(expanded, [10, 10], name="ResizeBilinear")
        normalised = tf.multiply(tf.subtract(resized, 128.0, name="Sub"), 1 / 128.0, name="Mul")
        conv = tf.nn.relu(tf.nn.conv2d(normalised, tf.constant(kernel), 1, "VALID"))
        pool = tf.nn.avg_pool2d(conv, 8, 1, "VALID", name="pool_3")
        flat = tf.reshape(pool, [1, FEATURES], name="pool_3/_reshape")
        with tf.name_scope("softmax"):
            with tf.name_scope("logits"):
                matmul = tf.matmul(flat, tf.constant(weights, name="weights"), name="MatMul")
                logits = tf.nn.bias_add(matmul, tf.constant(bias), name="logits")
        tf.nn.softmax(logits, name="softmax_out")
    graph_def = graph.as_graph_def()
    # The name scope "softmax" blocks an op of that name; the 2015 graph has both.
    for node in graph_def.node:
        if node.name == "softmax_out":
            node.name = "softmax"
    path.write_bytes(graph_def.SerializeToString())
    reloaded = tf.Graph()
    with reloaded.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    assert reloaded.get_operation_by_name("softmax/logits/MatMul").inputs[1].shape == (FEATURES, CLASSES)
    assert reloaded.get_tensor_by_name("ExpandDims:0").shape.as_list() == [1, None, None, 3]
    return reloaded, weights


def _authors_forward(graph, weights, images):
    """The authors' procedure: one image per run fed to ExpandDims:0, pool_3 fetched,
    softmax(pool_3 @ W) without the bias, in NumPy."""
    probs, feats, with_bias = [], [], []
    with tf.compat.v1.Session(graph=graph) as sess:
        for image in images:
            pool3, graph_softmax = sess.run(
                ["pool_3:0", "softmax:0"], {"ExpandDims:0": image[None].astype(np.float32)}
            )
            f = pool3.reshape(1, -1).astype(np.float64)
            feats.append(f[0])
            probs.append(scipy.special.softmax(f @ weights.astype(np.float64), axis=1)[0])
            with_bias.append(graph_softmax[0])
    return np.array(probs), np.array(feats), np.array(with_bias)


def test_graph_def_loading_matches_authors_procedure(tmp_path):
    path = tmp_path / GRAPH_DEF_FILE
    graph, weights = _build_tiny_inception_graph(path)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(5, 12, 12, 3), dtype=np.uint8)
    expected_probs, expected_feats, with_bias = _authors_forward(graph, weights, images)

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
    expected_gray, _, _ = _authors_forward(graph, weights, np.repeat(gray, 3, axis=-1))
    np.testing.assert_allclose(scorer2.predict(gray)[0], expected_gray, rtol=1e-4, atol=1e-7)


def test_progress_bar(tmp_path, capsys):
    path = tmp_path / GRAPH_DEF_FILE
    _build_tiny_inception_graph(path)
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
