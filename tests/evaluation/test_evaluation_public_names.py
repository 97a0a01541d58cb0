"""The evaluation names the issue promises users, with the defaults they rely on."""

import inspect

import keras

from improved_gan_tf import evaluation


def _defaults(function):
    return {name: parameter.default for name, parameter in inspect.signature(function).parameters.items()}


def test_metric_functions_have_the_published_signatures_and_defaults():
    assert _defaults(evaluation.inception_score) == {
        "probabilities": inspect.Parameter.empty, "splits": 10, "shuffle_seed": None}
    kid = inspect.signature(evaluation.kernel_inception_distance).parameters
    assert list(kid)[:2] == ["real_features", "fake_features"]
    # torch-fidelity's defaults: 100 subsets of 1000, keyword-only.
    assert {name: (p.default, p.kind) for name, p in kid.items() if name not in ("real_features", "fake_features")} \
        == {"num_subsets": (100, inspect.Parameter.KEYWORD_ONLY),
            "subset_size": (1000, inspect.Parameter.KEYWORD_ONLY),
            "seed": (0, inspect.Parameter.KEYWORD_ONLY)}
    assert list(inspect.signature(evaluation.save_statistics).parameters) == ["path", "mu", "sigma"]
    assert list(inspect.signature(evaluation.load_statistics).parameters) == ["path"]


def test_scorer_and_callback_are_exported():
    assert callable(evaluation.InceptionScorer.score)
    assert issubclass(evaluation.ScoreCallback, keras.callbacks.Callback)
