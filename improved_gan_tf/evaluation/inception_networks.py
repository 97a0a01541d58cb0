"""The two Inception-v3 networks behind `InceptionScorer`, and how their files are found.

* `KerasInception`: `keras.applications.InceptionV3` (ImageNet weights from a `.h5`
  file, or random weights for tests). Images in [0, 255] are resized bilinearly to
  299x299 (`tf.image.resize`, no antialiasing) and scaled to [-1, 1]; outputs are the
  1000-way `predictions` softmax (with its bias) and the 2048-d `avg_pool` features.
  Different weights from the 2015 graph: its numbers are NOT comparable with
  published Inception Scores or FIDs.
* `GraphDefInception`: the 2015-12-05 graph `classify_image_graph_def.pb` the paper's
  numbers (and TTUR's FIDs) come from. Images in [0, 255] of any size go into its
  `ExpandDims:0` input, the graph resizes (`ResizeBilinear` to 299x299) and normalises
  ((x - 128) / 128) itself; features are `pool_3` (2048-d) and the probabilities
  softmax(pool_3 @ W) with W the weights of `softmax/logits/MatMul` and no bias (1008
  classes), exactly as the authors' `inception_score/model.py` computes them. The
  GraphDef is checked by `graph_check.check_graph_def` before it is imported.

Both run in inference mode: the Keras model is called with `training=False` (batch
normalisation uses its moving statistics, which never change), and the 2015 graph's
batch normalisation is a frozen `BatchNormWithGlobalNormalization` of constants, so an
image's features do not depend on the other images of its batch.
"""
from __future__ import annotations

import os
import pathlib

from improved_gan_tf.evaluation.errors import MissingWeightsError, WeightsFileError
from improved_gan_tf.evaluation.graph_check import check_graph_def
from improved_gan_tf.evaluation.statistics import file_sha256

__all__ = [
    "GRAPH_DEF_ARCHIVE_URL",
    "GRAPH_DEF_FILE",
    "GraphDefInception",
    "KERAS_WEIGHTS_FILE",
    "KERAS_WEIGHTS_URL",
    "KerasInception",
    "read_graph_def",
    "resolve_keras_weights",
]

KERAS_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
KERAS_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
    + KERAS_WEIGHTS_FILE
)
KERAS_WEIGHTS_MD5 = "9a0d58056eeedaa3f26cb7ebd46da564"
GRAPH_DEF_FILE = "classify_image_graph_def.pb"
GRAPH_DEF_ARCHIVE_URL = (
    "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
)
# Tensor names in the 2015 graph, as used by the authors' scorer.
GRAPH_INPUT = "ExpandDims:0"
GRAPH_POOL = "pool_3:0"
GRAPH_LOGITS_MATMUL = "softmax/logits/MatMul"

IMAGE_SIZE = 299



def _default_cache_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")))


def resolve_keras_weights(weights, cache_dir, allow_download: bool) -> pathlib.Path:
    """Finds the ImageNet `.h5` file: explicit path, then cache, then Keras download."""
    if weights != "imagenet":
        path = pathlib.Path(weights).expanduser()
        if not path.is_file():
            raise MissingWeightsError(
                f"Inception-v3 weights file {path} does not exist; pass the path of "
                f"{KERAS_WEIGHTS_FILE} (from {KERAS_WEIGHTS_URL}) or of the 2015 graph "
                f"{GRAPH_DEF_FILE}"
            )
        return path
    cache_dir = pathlib.Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    candidates = [cache_dir / "models" / KERAS_WEIGHTS_FILE]
    if cache_dir != pathlib.Path("/tmp/.keras"):
        # Keras falls back to /tmp/.keras when the cache directory is not writable.
        candidates.append(pathlib.Path("/tmp/.keras/models") / KERAS_WEIGHTS_FILE)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    message = (
        f"Inception-v3 ImageNet weights {KERAS_WEIGHTS_FILE} not found in "
        f"{candidates[0].parent}. Download {KERAS_WEIGHTS_URL} on a machine with "
        f"network access and put it at {candidates[0]}, or pass its path as "
        "InceptionScorer(weights=PATH)."
    )
    if not allow_download:
        raise MissingWeightsError(message + " (downloading is disabled)")
    import keras

    try:
        path = keras.utils.get_file(
            KERAS_WEIGHTS_FILE,
            KERAS_WEIGHTS_URL,
            cache_dir=str(cache_dir),
            cache_subdir="models",
            file_hash=KERAS_WEIGHTS_MD5,
        )
    except Exception as err:  # noqa: BLE001 - any download failure means "offline"
        raise MissingWeightsError(f"{message} (download failed: {err})") from err
    return pathlib.Path(path)



class KerasInception:
    """Keras InceptionV3 with (softmax, avg_pool) outputs and in-graph preprocessing.

    Args:
      weights_path: an ImageNet `.h5` weights file (with top), or None for random
        weights (the numbers then mean nothing; for tests and benchmarks).
      seed: seed of the random initialisation when `weights_path` is None (through
        `keras.utils.set_random_seed`, which seeds Python, NumPy and TF globally).

    Raises:
      WeightsFileError: (a `ValueError`) if Keras cannot load `weights_path` into InceptionV3.
    """

    num_classes = 1000
    feature_dim = 2048

    def __init__(self, weights_path=None, seed=None):
        import keras
        import tensorflow as tf

        if weights_path is None and seed is not None:
            keras.utils.set_random_seed(seed)
        base = keras.applications.InceptionV3(weights=None, include_top=True)
        if weights_path is not None:
            try:
                base.load_weights(str(weights_path))
            except Exception as err:
                raise WeightsFileError(
                    f"could not load Inception-v3 weights from {weights_path}: {err}. "
                    f"Expected the Keras ImageNet file {KERAS_WEIGHTS_FILE} (with top)."
                ) from err
        # Scoring never trains: frozen layers, and `training=False` below, keep batch
        # normalisation on its moving statistics (pytorch-fid#118 shows the harm of
        # batch statistics: features then depend on the rest of the batch).
        self.model = keras.Model(
            base.input,
            [base.get_layer("predictions").output, base.get_layer("avg_pool").output],
        )
        self.model.trainable = False
        self.weights_path = None if weights_path is None else pathlib.Path(weights_path)
        self.weights_sha256 = None if weights_path is None else file_sha256(weights_path)
        self.seed = seed

        @tf.function(
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
            reduce_retracing=True,
        )
        def run(images):
            x = tf.image.resize(images, (IMAGE_SIZE, IMAGE_SIZE), method="bilinear")
            x = x / 127.5 - 1.0
            probs, feats = self.model(x, training=False)
            return probs, feats

        self._run = run

    def __call__(self, batch):
        """`(probabilities (n, 1000), features (n, 2048))` of float32 pixels in [0, 255]."""
        probs, feats = self._run(batch)
        return probs.numpy(), feats.numpy()

    def card(self) -> dict:
        """How this network scores, for a metric card."""
        return {
            "scorer": "keras.applications.InceptionV3",
            "comparable_with_published": False,
            "comparability": (
                "Keras ImageNet weights, a different training from the 2015 graph: "
                "IS/FID/KID are not comparable with published numbers"
            ),
            "weights": str(self.weights_path) if self.weights_path else None,
            "weights_sha256": self.weights_sha256,
            "random_init_seed": None if self.weights_path else self.seed,
            "resize": f"tf.image.resize bilinear to {IMAGE_SIZE}x{IMAGE_SIZE}, then x / 127.5 - 1",
            "features": "avg_pool",
            "logits": "predictions layer: softmax(avg_pool @ W + b), with the bias",
            "num_classes": self.num_classes,
            "feature_dim": self.feature_dim,
            "inference_mode": True,
        }


class GraphDefInception:
    """The 2015 Inception graph (`classify_image_graph_def.pb`) imported as a GraphDef.

    Args:
      graph_def: a checked `tf.compat.v1.GraphDef` (see `read_graph_def`).
      source: the file it came from (or a description), for the card.
      sha256: SHA-256 of the file's bytes (or of the serialized GraphDef).

    Raises:
      WeightsFileError: (a `ValueError`) if the graph has no `pool_3:0` tensor or `softmax/logits/MatMul` op.
    """

    def __init__(self, graph_def, source=None, sha256=None):
        import tensorflow as tf

        def _import(images):
            tf.compat.v1.import_graph_def(
                graph_def, input_map={GRAPH_INPUT: images}, name="inception"
            )
            graph = tf.compat.v1.get_default_graph()
            try:
                pool3 = graph.get_tensor_by_name("inception/" + GRAPH_POOL)
                matmul = graph.get_operation_by_name("inception/" + GRAPH_LOGITS_MATMUL)
            except KeyError as err:
                raise WeightsFileError(
                    f"the GraphDef has no {GRAPH_POOL!r} tensor or "
                    f"{GRAPH_LOGITS_MATMUL!r} op; is it the 2015 Inception graph "
                    f"{GRAPH_DEF_FILE}? ({err})"
                ) from err
            weights = matmul.inputs[1]
            feature_dim = weights.shape[0]
            # pool_3 is (N, 1, 1, 2048); the authors squeeze it and multiply by the
            # softmax weights without the bias (1008 classes). Reshaping pool_3 (not
            # the graph's pool_3/_reshape, fixed at [1, 2048]) lets batches through.
            feats = tf.reshape(pool3, [-1, feature_dim])
            probs = tf.nn.softmax(tf.matmul(feats, weights))
            return probs, feats

        self._run = tf.compat.v1.wrap_function(
            _import, [tf.TensorSpec([None, None, None, 3], tf.float32)]
        )
        probs_spec, feats_spec = self._run.structured_outputs
        self.num_classes = probs_spec.shape[-1]
        self.feature_dim = feats_spec.shape[-1]
        self.source = source
        self.sha256 = sha256

    def __call__(self, batch):
        """`(probabilities (n, 1008), features (n, 2048))` of float32 pixels in [0, 255]."""
        import tensorflow as tf

        probs, feats = self._run(tf.constant(batch, tf.float32))
        return probs.numpy(), feats.numpy()

    def card(self) -> dict:
        """How this network scores, for a metric card."""
        return {
            "scorer": f"inception-2015-12-05 GraphDef ({GRAPH_DEF_FILE})",
            "comparable_with_published": True,
            "comparability": (
                "the network and procedure of the paper's Inception Score and TTUR's "
                "FID, if weights_sha256 is that of the original "
                f"{GRAPH_DEF_FILE} from {GRAPH_DEF_ARCHIVE_URL}"
            ),
            "weights": self.source,
            "weights_sha256": self.sha256,
            "random_init_seed": None,
            "resize": (
                "images in [0, 255] fed to ExpandDims:0; the graph's own ResizeBilinear "
                "to 299x299 and (x - 128) / 128"
            ),
            "features": "pool_3",
            "logits": "pool_3 @ softmax/logits/MatMul weights, without the bias",
            "num_classes": int(self.num_classes),
            "feature_dim": int(self.feature_dim),
            "inference_mode": True,
        }


def read_graph_def(source):
    """Reads and checks a GraphDef: `(graph_def, source description, sha256)`.

    Args:
      source: a path to a serialized GraphDef (`classify_image_graph_def.pb`), or a
        `tf.compat.v1.GraphDef`.

    Returns:
      `(graph_def, source, sha256)`: the parsed GraphDef, the file path as a string
      (or "<GraphDef object>"), and the SHA-256 of the file's bytes (of the
      deterministic serialization for an object).

    Raises:
      MissingWeightsError: if the file does not exist.
      WeightsFileError: (a `ValueError`) if the file is not a serialized GraphDef.
      UnsafeGraphError: if the graph holds an op type outside
        `graph_check.ALLOWED_GRAPH_OPS` (checked before anything imports it).
    """
    import hashlib

    import tensorflow as tf

    if isinstance(source, tf.compat.v1.GraphDef):
        graph_def = source
        description = "<GraphDef object>"
        sha256 = hashlib.sha256(graph_def.SerializeToString(deterministic=True)).hexdigest()
    else:
        path = pathlib.Path(source).expanduser()
        if not path.is_file():
            raise MissingWeightsError(
                f"Inception GraphDef {path} does not exist; extract {GRAPH_DEF_FILE} from "
                f"{GRAPH_DEF_ARCHIVE_URL} and pass its path"
            )
        payload = path.read_bytes()
        graph_def = tf.compat.v1.GraphDef()
        try:
            graph_def.ParseFromString(payload)
        except Exception as err:  # protobuf's DecodeError
            raise WeightsFileError(f"{path} is not a serialized TensorFlow GraphDef: {err}") from err
        description = str(path)
        sha256 = hashlib.sha256(payload).hexdigest()
    check_graph_def(graph_def, source=description)
    return graph_def, description, sha256
