"""The bundled Inception-v3 scorer: Inception Score and FID of image sets.

`InceptionScorer` runs one of two networks over images and returns, per image, the
class probabilities (for the Inception Score) and the pool features (for the FID):

* Keras's `InceptionV3` (the default): ImageNet weights from a file the user gives,
  from the Keras cache (`~/.keras/models/`, or `$KERAS_HOME/models/`), or downloaded
  by Keras when the network is reachable. 1000-way softmax, 2048-d `avg_pool` features.
  Images in [0, 255] are resized bilinearly to 299x299 and scaled to [-1, 1].
* The 2015-12-05 TensorFlow graph the paper's numbers come from,
  `classify_image_graph_def.pb` (in `inception-2015-12-05.tgz`), imported as a
  GraphDef: images in [0, 255] of any size are fed to its `ExpandDims:0` input (the
  graph resizes to 299x299 and normalises itself), features are `pool_3` (2048-d) and
  the probabilities are softmax(pool_3 @ W) with W the weights of
  `softmax/logits/MatMul` and no bias, a 1008-way softmax, exactly as the authors'
  `inception_score/model.py` computes them.

The two networks are different trainings of Inception-v3: scores from the Keras
weights are not numerically the paper's (11.24 +- .12 for real CIFAR-10 with the 2015
graph). Use the GraphDef where comparability with published numbers matters.
"""
from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable

import numpy as np

from improved_gan_tf.evaluation._images import to_pixel_range
from improved_gan_tf.evaluation.metrics import (
    RunningStatistics,
    frechet_distance,
    inception_score,
)

__all__ = [
    "InceptionScorer",
    "KERAS_WEIGHTS_FILE",
    "KERAS_WEIGHTS_URL",
    "GRAPH_DEF_FILE",
    "MissingWeightsError",
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


class MissingWeightsError(FileNotFoundError):
    """The Inception weights are neither at the given path, in the cache, nor downloadable."""


def _default_cache_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")))


def _resolve_keras_weights(weights, cache_dir, allow_download: bool) -> pathlib.Path:
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


def _as_batches(images, batch_size: int):
    """Yields batches of at most `batch_size` images from an array, a list of images,
    or an iterable (e.g. a generator) of batches."""
    if isinstance(images, (list, tuple)):
        # A list of single images, as the authors' get_inception_score takes.
        images = np.stack([np.asarray(image) for image in images])
    if isinstance(images, np.ndarray) or (
        hasattr(images, "shape") and hasattr(images, "__getitem__")
    ):
        n = len(images)
        for start in range(0, n, batch_size):
            yield images[start:start + batch_size]
    elif isinstance(images, Iterable):
        for batch in images:
            batch = np.asarray(batch)
            # Re-chunk large batches so memory stays bounded by batch_size.
            for start in range(0, len(batch), batch_size):
                yield batch[start:start + batch_size]
    else:
        raise TypeError(
            "images must be an array (N, H, W[, C]) or an iterable of such batches; got "
            f"{type(images).__name__}"
        )


def _to_rgb(batch: np.ndarray) -> np.ndarray:
    if batch.ndim == 3:
        batch = batch[..., None]
    if batch.ndim != 4 or batch.shape[-1] not in (1, 3):
        raise ValueError(
            "images must have shape (N, H, W), (N, H, W, 1) or (N, H, W, 3); got a "
            f"batch of shape {batch.shape}"
        )
    if batch.shape[-1] == 1:
        batch = np.repeat(batch, 3, axis=-1)
    return batch


class _KerasInception:
    """Keras InceptionV3 with (softmax, avg_pool) outputs and in-graph preprocessing."""

    num_classes = 1000
    feature_dim = 2048

    def __init__(self, weights_path, seed):
        import keras
        import tensorflow as tf

        if weights_path is None and seed is not None:
            keras.utils.set_random_seed(seed)
        base = keras.applications.InceptionV3(weights=None, include_top=True)
        if weights_path is not None:
            try:
                base.load_weights(str(weights_path))
            except Exception as err:
                raise ValueError(
                    f"could not load Inception-v3 weights from {weights_path}: {err}. "
                    f"Expected the Keras ImageNet file {KERAS_WEIGHTS_FILE} (with top)."
                ) from err
        self.model = keras.Model(
            base.input,
            [base.get_layer("predictions").output, base.get_layer("avg_pool").output],
        )

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
        probs, feats = self._run(batch)
        return probs.numpy(), feats.numpy()


class _GraphDefInception:
    """The 2015 Inception graph (`classify_image_graph_def.pb`) imported as a GraphDef."""

    def __init__(self, graph_def):
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
                raise ValueError(
                    f"the GraphDef has no {GRAPH_POOL!r} tensor or "
                    f"{GRAPH_LOGITS_MATMUL!r} op; is it the 2015 Inception graph "
                    f"{GRAPH_DEF_FILE}? ({err})"
                ) from err
            weights = matmul.inputs[1]
            feature_dim = weights.shape[0]
            # pool_3 is (N, 1, 1, 2048); the authors squeeze it and multiply by the
            # softmax weights without the bias (1008 classes).
            feats = tf.reshape(pool3, [-1, feature_dim])
            probs = tf.nn.softmax(tf.matmul(feats, weights))
            return probs, feats

        self._run = tf.compat.v1.wrap_function(
            _import, [tf.TensorSpec([None, None, None, 3], tf.float32)]
        )
        probs_spec, feats_spec = self._run.structured_outputs
        self.num_classes = probs_spec.shape[-1]
        self.feature_dim = feats_spec.shape[-1]

    def __call__(self, batch):
        import tensorflow as tf

        probs, feats = self._run(tf.constant(batch, tf.float32))
        return probs.numpy(), feats.numpy()


def _read_graph_def(source):
    import tensorflow as tf

    if isinstance(source, tf.compat.v1.GraphDef):
        return source
    path = pathlib.Path(source).expanduser()
    if not path.is_file():
        raise MissingWeightsError(
            f"Inception GraphDef {path} does not exist; extract {GRAPH_DEF_FILE} from "
            f"{GRAPH_DEF_ARCHIVE_URL} and pass its path"
        )
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(path.read_bytes())
    except Exception as err:  # protobuf's DecodeError
        raise ValueError(f"{path} is not a serialized TensorFlow GraphDef: {err}") from err
    return graph_def


class InceptionScorer:
    """Computes Inception Scores and FIDs of image sets with Inception-v3.

    Images are NumPy arrays `(N, H, W)`, `(N, H, W, 1)` or `(N, H, W, 3)` (uint8 or
    float) with values in `value_range` (default [0, 255]), or an iterable of such
    batches (e.g. a generator that samples a GAN batch by batch). Grayscale is repeated
    to 3 channels. Images are processed `batch_size` at a time; probabilities are kept
    (N x K float32: 200 MB for 50,000 images) while the FID statistics are accumulated
    on the fly, so 50,000 images need well under a few GB.

    Args:
      weights: where the network comes from:
        - "imagenet" (default): Keras InceptionV3 with ImageNet weights, from
          `cache_dir/models/inception_v3_weights_tf_dim_ordering_tf_kernels.h5`
          (`cache_dir` defaults to `$KERAS_HOME` or `~/.keras`), else downloaded by
          Keras if `allow_download` and the network is reachable; otherwise a
          `MissingWeightsError` says which file to put where.
        - a path to that `.h5` file (or any weights file Keras InceptionV3 loads).
        - a path to the 2015 graph `classify_image_graph_def.pb` (suffix `.pb`), or a
          `tf.compat.v1.GraphDef`: the paper's network (1008 classes, `pool_3`).
        - None: randomly initialised Keras InceptionV3 (for tests; the numbers mean
          nothing).
      batch_size: images per forward pass.
      cache_dir: Keras cache directory to look in (see above).
      allow_download: whether "imagenet" may download through Keras.
      seed: seed for the random initialisation when `weights=None` (set through
        `keras.utils.set_random_seed`, which seeds Python, NumPy and TF globally).
      fid_method: how `frechet_distance` takes the matrix square root: "sqrtm"
        (the TTUR reference computation, default) or "eigh" (faster; see there).
      verbose: 1 shows a `keras.utils.Progbar`, 0 is silent.

    Example:
      scorer = InceptionScorer()                      # or InceptionScorer("…/classify_image_graph_def.pb")
      result = scorer.score(samples, reference=real_images)
      result["inception_score"], result["fid"]
    """

    def __init__(
        self,
        weights="imagenet",
        *,
        batch_size: int = 50,
        cache_dir=None,
        allow_download: bool = True,
        seed: int | None = 0,
        fid_method: str = "sqrtm",
        verbose: int = 1,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        if fid_method not in ("sqrtm", "eigh"):
            raise ValueError(f"fid_method must be 'sqrtm' or 'eigh'; got {fid_method!r}")
        self.batch_size = int(batch_size)
        self.fid_method = fid_method
        self.verbose = verbose
        import tensorflow as tf

        if isinstance(weights, tf.compat.v1.GraphDef) or (
            isinstance(weights, (str, os.PathLike)) and str(weights).endswith(".pb")
        ):
            self.source = "graph_def"
            self._net = _GraphDefInception(_read_graph_def(weights))
        else:
            self.source = "keras"
            path = (
                None if weights is None
                else _resolve_keras_weights(weights, cache_dir, allow_download)
            )
            self._net = _KerasInception(path, seed)
        self.weights = weights

    @property
    def num_classes(self) -> int:
        """1000 for the Keras network, 1008 for the 2015 graph."""
        return int(self._net.num_classes)

    @property
    def feature_dim(self) -> int:
        """2048 for both networks."""
        return int(self._net.feature_dim)

    def _iterate(self, images, value_range, num_images):
        import keras

        total = num_images
        if total is None and (
            isinstance(images, (list, tuple)) or hasattr(images, "shape")
        ):
            total = len(images)
        progbar = keras.utils.Progbar(total, unit_name="image") if self.verbose else None
        seen = 0
        for batch in _as_batches(images, self.batch_size):
            if len(batch) == 0:
                continue
            batch = _to_rgb(to_pixel_range(batch, value_range))
            probs, feats = self._net(batch)
            seen += len(batch)
            if progbar is not None:
                progbar.update(seen)
            yield probs, feats
        if seen == 0:
            raise ValueError("images is empty")
        if progbar is not None and total is None:
            progbar.update(seen, finalize=True)

    def score(
        self,
        images,
        *,
        splits: int = 10,
        reference=None,
        value_range=(0, 255),
        num_images: int | None = None,
        return_features: bool = False,
    ) -> dict:
        """Inception Score, FID statistics and (optionally) FID, in one pass.

        Args:
          images: the images (see the class docstring).
          splits: splits for the Inception Score.
          reference: `None`, a `(mu, sigma)` pair (e.g. from `activation_statistics`
            on real data, or loaded from an `.npz`), or real images to compute it from
            (in [0, 255]).
          value_range: range of `images`' values, e.g. `(-1, 1)` for tanh outputs.
          num_images: length of an iterable `images`, for the progress bar.
          return_features: also return the `(N, 2048)` features.

        Returns:
          dict with `inception_score` `(mean, std)`, `mu`, `sigma`, `num_images`, and
          `fid` when `reference` is given (and `features` if requested).
        """
        probs, stats, feats = [], RunningStatistics(), []
        for p, f in self._iterate(images, value_range, num_images):
            probs.append(p)
            stats.update(f)
            if return_features:
                feats.append(f)
        probs = np.concatenate(probs)
        mu, sigma = stats.result()
        result = {
            "inception_score": inception_score(probs, splits=splits),
            "mu": mu,
            "sigma": sigma,
            "num_images": int(len(probs)),
        }
        if reference is not None:
            ref_mu, ref_sigma = self._reference_statistics(reference)
            result["fid"] = frechet_distance(
                mu, sigma, ref_mu, ref_sigma, method=self.fid_method
            )
        if return_features:
            result["features"] = np.concatenate(feats)
        return result

    def _reference_statistics(self, reference):
        if isinstance(reference, tuple) and len(reference) == 2:
            return reference
        return self.activation_statistics(reference)

    def predict(self, images, *, value_range=(0, 255), num_images=None):
        """Returns `(probabilities (N, K), features (N, 2048))` as float32 arrays."""
        probs, feats = [], []
        for p, f in self._iterate(images, value_range, num_images):
            probs.append(p)
            feats.append(f)
        return np.concatenate(probs), np.concatenate(feats)

    def inception_score(self, images, *, splits: int = 10, value_range=(0, 255),
                        num_images=None) -> tuple[float, float]:
        """`(mean, std)` Inception Score of `images`; see `metrics.inception_score`."""
        probs = np.concatenate(
            [p for p, _ in self._iterate(images, value_range, num_images)]
        )
        return inception_score(probs, splits=splits)

    def activation_statistics(self, images, *, value_range=(0, 255), num_images=None):
        """`(mu, sigma)` of the pool features, accumulated batch by batch (float64)."""
        stats = RunningStatistics()
        for _, f in self._iterate(images, value_range, num_images):
            stats.update(f)
        return stats.result()

    def fid(self, images, reference, *, value_range=(0, 255), num_images=None) -> float:
        """FID between `images` and `reference` (images in [0, 255] or `(mu, sigma)`)."""
        mu, sigma = self.activation_statistics(
            images, value_range=value_range, num_images=num_images
        )
        ref_mu, ref_sigma = self._reference_statistics(reference)
        return frechet_distance(mu, sigma, ref_mu, ref_sigma, method=self.fid_method)
