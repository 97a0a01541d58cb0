"""Evaluation of generators: Inception Score, FID, KID, a dataset classifier score, Parzen.

- `inception_score`, `frechet_distance`, `fid_from_activations`,
  `kernel_inception_distance`: pure NumPy metrics on class probabilities and feature
  activations (float64), computed as the reference implementations do (the authors'
  scorer or torch-fidelity for the IS, TTUR for the FID, torch-fidelity for the KID).
- `save_statistics`, `load_statistics`, `dataset_statistics`: FID reference statistics
  in TTUR's `.npz` layout, exchangeable with TTUR, pytorch-fid and clean-fid.
- `InceptionScorer`: Inception-v3 (the paper's 2015 `classify_image_graph_def.pb`, whose
  numbers are comparable with published ones, or Keras ImageNet weights, whose are not)
  over image sets, batch by batch, giving the Inception Score and FID with a metric card.
- `ScoreCallback`: a Keras callback scoring `model.generator` every N epochs, with an
  `InceptionScorer` or a `ClassifierScorer` (the dataset classifier's score and FD of
  MNIST-like data behind the same `score(batches, num_images=...)`);
  `make_score_callback(config, data)`, the one a config's `evaluation.*` asks for
  (`training.train(..., score_callback_factory=make_score_callback)`).
- `verify_inception`: checks a local copy of the 2015 graph against published figures.
- `check_graph_def`: the op-type allowlist a GraphDef passes before it is imported.
- `classifier_score`, `classifier_frechet_distance`, `train_dataset_classifier`, ...:
  the same formulas with a small CNN trained on MNIST-like data, where Inception-v3 is
  meaningless (`improved-gan classifier train --dataset mnist ...`).
- `parzen_log_likelihood`, `select_parzen_sigma`: Goodfellow et al. (2014)'s
  Parzen-window log-likelihood (read its docstring's caveats).
"""
from improved_gan_tf.evaluation.classifier_scorer import ClassifierScorer
from improved_gan_tf.evaluation.dataset_classifier import (
    build_dataset_classifier,
    classifier_frechet_distance,
    classifier_predict,
    classifier_score,
    load_dataset_classifier,
    load_dataset_split,
    real_data_classifier_score,
    train_dataset_classifier,
)
from improved_gan_tf.evaluation.errors import (
    MetricInputError,
    MissingWeightsError,
    SmallSampleWarning,
    StatisticsFileError,
    UnsafeGraphError,
    WeightsFileError,
)
from improved_gan_tf.evaluation.graph_check import ALLOWED_GRAPH_OPS, check_graph_def
from improved_gan_tf.evaluation.inception import InceptionScorer
from improved_gan_tf.evaluation.kid import kernel_inception_distance
from improved_gan_tf.evaluation.metrics import (
    RunningInceptionScore,
    RunningStatistics,
    activation_statistics,
    fid_from_activations,
    frechet_distance,
    inception_score,
)
from improved_gan_tf.evaluation.parzen import (
    mnist_parzen_protocol,
    parzen_log_densities,
    parzen_log_likelihood,
    select_parzen_sigma,
)
from improved_gan_tf.evaluation.statistics import (
    dataset_statistics,
    file_sha256,
    load_statistics,
    save_statistics,
    statistics_sha256,
)
from improved_gan_tf.evaluation.verification import PUBLISHED_FIGURES, verify_inception

__all__ = [
    "ALLOWED_GRAPH_OPS",
    "ClassifierScorer",
    "InceptionScorer",
    "MetricInputError",
    "MissingWeightsError",
    "PUBLISHED_FIGURES",
    "RunningInceptionScore",
    "RunningStatistics",
    "ScoreCallback",
    "make_score_callback",
    "SmallSampleWarning",
    "StatisticsFileError",
    "UnsafeGraphError",
    "WeightsFileError",
    "activation_statistics",
    "build_dataset_classifier",
    "check_graph_def",
    "classifier_frechet_distance",
    "classifier_predict",
    "classifier_score",
    "dataset_statistics",
    "fid_from_activations",
    "file_sha256",
    "frechet_distance",
    "inception_score",
    "kernel_inception_distance",
    "load_dataset_classifier",
    "load_dataset_split",
    "load_statistics",
    "mnist_parzen_protocol",
    "parzen_log_densities",
    "parzen_log_likelihood",
    "real_data_classifier_score",
    "save_statistics",
    "select_parzen_sigma",
    "statistics_sha256",
    "train_dataset_classifier",
    "verify_inception",
]


def __getattr__(name):
    # ScoreCallback subclasses a Keras class; importing it lazily keeps
    # `import improved_gan_tf.evaluation` free of Keras and TensorFlow.
    if name == "ScoreCallback":
        from improved_gan_tf.evaluation.callback import ScoreCallback

        return ScoreCallback
    if name == "make_score_callback":
        from improved_gan_tf.evaluation.training_scores import make_score_callback

        return make_score_callback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
