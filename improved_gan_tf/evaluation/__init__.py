"""Evaluation of generators: Inception Score, FID, a dataset classifier score, Parzen.

- `inception_score`, `frechet_distance`, `fid_from_activations`: pure NumPy metrics on
  class probabilities and feature activations (float64).
- `InceptionScorer`: Inception-v3 (Keras ImageNet weights, or the paper's 2015
  `classify_image_graph_def.pb`) over image sets, giving the Inception Score and FID.
- `classifier_score`, `classifier_frechet_distance`, `train_dataset_classifier`, ...:
  the same formulas with a small CNN trained on MNIST-like data, where Inception-v3 is
  meaningless (`improved-gan classifier train --dataset mnist ...`).
- `parzen_log_likelihood`, `select_parzen_sigma`: Goodfellow et al. (2014)'s
  Parzen-window log-likelihood (read its docstring's caveats).
"""
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
from improved_gan_tf.evaluation.inception import InceptionScorer, MissingWeightsError
from improved_gan_tf.evaluation.metrics import (
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

__all__ = [
    "InceptionScorer",
    "MissingWeightsError",
    "RunningStatistics",
    "activation_statistics",
    "build_dataset_classifier",
    "classifier_frechet_distance",
    "classifier_predict",
    "classifier_score",
    "fid_from_activations",
    "frechet_distance",
    "inception_score",
    "load_dataset_classifier",
    "load_dataset_split",
    "mnist_parzen_protocol",
    "parzen_log_densities",
    "parzen_log_likelihood",
    "real_data_classifier_score",
    "select_parzen_sigma",
    "train_dataset_classifier",
]
