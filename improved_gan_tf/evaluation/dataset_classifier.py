"""Dataset classifier score and classifier Fréchet distance for MNIST-like data.

Inception-v3 is an ImageNet classifier and says little about 28x28 digits or clothes,
so for MNIST-like data the Inception Score formula is applied to a small CNN trained
on the dataset's own training split (the "classifier score"), and the Fréchet distance
is computed on that CNN's penultimate 128-d features (the "classifier FD"). The score of
the real test set under the same classifier is the ceiling a generator can be compared
with; a perfect K-class classifier on class-balanced data gives a ceiling close to K.

Train the classifier once per dataset (its test accuracy and cost are in the README's
evaluation section):

    improved-gan classifier train \
        --dataset mnist --data_dir DIR --output mnist_classifier.keras

which writes the `.keras` file atomically together with a `.json` sidecar holding its
test accuracy and the real test set's score. Then:

    clf = load_dataset_classifier("mnist_classifier.keras")
    probs, feats = classifier_predict(clf, samples, value_range=(-1, 1))
    score_mean, score_std = classifier_score(probs)
    fd = classifier_frechet_distance(clf, samples, real_images, value_range=...)

Unlike the Inception Score of the paper these numbers depend on the classifier, so they
are comparable only between evaluations that use the same classifier file.
"""
from __future__ import annotations

import json
import os
import pathlib
import time

import numpy as np

from improved_gan_tf import registry
from improved_gan_tf.evaluation._images import to_pixel_range
from improved_gan_tf.evaluation.metrics import fid_from_activations, inception_score
from improved_gan_tf.fileio import atomic_write_text

__all__ = [
    "DATASETS",
    "DEFAULT_EPOCHS",
    "build_dataset_classifier",
    "train_dataset_classifier",
    "load_dataset_classifier",
    "classifier_predict",
    "classifier_score",
    "classifier_frechet_distance",
    "real_data_classifier_score",
    "load_dataset_split",
]

#: Datasets the training command knows: name -> (image shape, number of classes).
DATASETS = {
    name: (registry.DATASETS[name].image_shape, registry.DATASETS[name].num_classes)
    for name in ("mnist", "fashion_mnist")
}

#: Training epochs of the `train` command: the fewest that reached the accuracies the
#: README's evaluation section reports.
DEFAULT_EPOCHS = {"mnist": 6, "fashion_mnist": 10}

FEATURES_LAYER = "features"
PROBABILITIES_LAYER = "probabilities"


def _keras():
    import keras

    return keras


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {sorted(DATASETS)}")


def load_dataset_split(dataset: str, data_dir, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Loads `(images uint8 (N, 28, 28, 1), labels int64 (N,))` of an MNIST-like split.

    Args:
      dataset: a key of `DATASETS` ("mnist" or "fashion_mnist").
      data_dir: directory holding the four IDX files (`train-images-idx3-ubyte.gz`,
        `train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz`,
        `t10k-labels-idx1-ubyte.gz`; uncompressed names work too).
      split: "train" or "test".

    Raises:
      ValueError: unknown dataset or split.
      improved_gan_tf.data.DatasetNotFoundError: the directory or a file is missing.
      improved_gan_tf.data.DataFileError: a file is damaged (the message names it).
    """
    _check_dataset(dataset)
    from improved_gan_tf.data import files as data_files  # Lazily: the data package loads TF.

    return data_files.load_local_arrays(dataset, split, data_dir)


def build_dataset_classifier(
    input_shape=(28, 28, 1), num_classes: int = 10, width: int = 32,
    dropout_rates=(0.3, 0.5),
):
    """The small CNN used for the classifier score.

    Inputs are pixels in [0, 255] (a `Rescaling` layer maps them to [-1, 1]);
    conv(w)-conv(w)-maxpool-conv(2w)-conv(2w)-maxpool-dense(128, "features")-
    dropout-dense(num_classes, softmax, "probabilities") (dropout before and after
    the "features" layer), with batch normalisation
    after each convolution. The "features" layer (ReLU, 128-d) is the one the
    classifier FD is computed on.

    Args:
      input_shape: `(H, W, C)` of the images.
      num_classes: number of classes K.
      width: filters of the first convolutions (the tests use a narrow net).
      dropout_rates: rates of the dropout before and after the "features" layer.

    Returns:
      An uncompiled `keras.Model` mapping images to class probabilities.
    """
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=tuple(input_shape), name="images")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    for filters in (width, width, None, 2 * width, 2 * width, None):
        if filters is None:
            x = layers.MaxPooling2D()(x)
            continue
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout_rates[0])(x)
    x = layers.Dense(128, activation="relu", name=FEATURES_LAYER)(x)
    x = layers.Dropout(dropout_rates[1])(x)
    outputs = layers.Dense(num_classes, activation="softmax", name=PROBABILITIES_LAYER)(x)
    return keras.Model(inputs, outputs, name="dataset_classifier")


def _atomic_save(model, output: pathlib.Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.stem}.tmp-{os.getpid()}.keras")
    try:
        model.save(tmp)
        os.replace(tmp, output)
    finally:
        if tmp.exists():
            tmp.unlink()




def train_dataset_classifier(
    dataset: str,
    data_dir,
    output=None,
    *,
    epochs: int | None = None,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    width: int = 32,
    dropout_rates=(0.3, 0.5),
    augment: bool = True,
    max_train_examples: int | None = None,
    max_test_examples: int | None = None,
    seed: int = 0,
    verbose: int = 1,
):
    """Trains the dataset classifier on a dataset's training split and measures it.

    Adam with a cosine-decayed learning rate, cross-entropy, light random translation
    (up to 2 pixels) of the training images. After training, the test accuracy and the
    classifier score of the real test set (the ceiling; 10 splits) are measured.

    Args:
      dataset: "mnist" or "fashion_mnist".
      data_dir: directory with the dataset's IDX files (see `load_dataset_split`).
      output: where to save the model (`.keras`); written atomically (temporary file
        then `os.replace`), with a JSON sidecar `<output minus .keras>.json` holding the
        returned info. `None` saves nothing.
      epochs: training epochs; None uses `DEFAULT_EPOCHS[dataset]`.
      batch_size, learning_rate, width, dropout_rates: training settings (see
        `build_dataset_classifier`).
      augment: random translations of up to 2 pixels during training.
      max_train_examples, max_test_examples: use only the first examples (for tests).
      seed: seed for Keras, NumPy and TF randomness.
      verbose: Keras verbosity (0 silent, 1 progress bar, 2 one line per epoch).

    Returns:
      `(model, info)` where `info` is a dict with `dataset`, `test_accuracy`,
      `real_test_classifier_score` ([mean, std]), `train_examples`, `test_examples`,
      `epochs`, `train_seconds`.
    """
    _check_dataset(dataset)
    keras = _keras()
    if output is not None:
        output = pathlib.Path(output)
        if output.suffix != ".keras":
            raise ValueError(f"output must end in .keras; got {output}")
    x_train, y_train = load_dataset_split(dataset, data_dir, "train")
    x_test, y_test = load_dataset_split(dataset, data_dir, "test")
    if max_train_examples is not None:
        x_train, y_train = x_train[:max_train_examples], y_train[:max_train_examples]
    if max_test_examples is not None:
        x_test, y_test = x_test[:max_test_examples], y_test[:max_test_examples]
    input_shape, num_classes = DATASETS[dataset]
    if epochs is None:
        epochs = DEFAULT_EPOCHS[dataset]

    keras.utils.set_random_seed(seed)
    classifier = build_dataset_classifier(
        input_shape, num_classes, width=width, dropout_rates=dropout_rates
    )
    stages = [classifier]
    if augment:
        shift = (2 / input_shape[0], 2 / input_shape[1])
        stages.insert(0, keras.layers.RandomTranslation(*shift, fill_mode="constant", seed=seed))
    trainer = keras.Sequential(stages, name="classifier_trainer")
    steps = epochs * int(np.ceil(len(x_train) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(steps, 1))
    trainer.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.time()
    trainer.fit(
        x_train.astype(np.float32), y_train,
        batch_size=batch_size, epochs=epochs, shuffle=True, verbose=verbose,
    )
    train_seconds = time.time() - start

    probs, _ = classifier_predict(classifier, x_test, batch_size=1000)
    accuracy = float(np.mean(np.argmax(probs, axis=1) == y_test))
    splits = 10 if len(x_test) >= 10 else 1
    ceiling = inception_score(probs, splits=splits)
    info = {
        "dataset": dataset,
        "test_accuracy": accuracy,
        "real_test_classifier_score": [ceiling[0], ceiling[1]],
        "train_examples": int(len(x_train)),
        "test_examples": int(len(x_test)),
        "epochs": int(epochs),
        "width": int(width),
        "dropout_rates": [float(r) for r in dropout_rates],
        "augment": bool(augment),
        "train_seconds": round(train_seconds, 1),
    }
    if output is not None:
        _atomic_save(classifier, output)
        atomic_write_text(output.with_suffix(".json"), json.dumps(info, indent=2) + "\n")
    return classifier, info


def load_dataset_classifier(path):
    """Loads a classifier written by `train_dataset_classifier` (a `.keras` file)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"dataset classifier {path} not found; create it with `improved-gan "
            "classifier train --dataset DATASET "
            f"--data_dir DIR --output {path}`"
        )
    model = _keras().models.load_model(path, compile=False)
    _feature_model(model)  # checks the expected layers are there
    return model


_FEATURE_MODELS = {}


def _feature_model(classifier):
    key = id(classifier)
    cached = _FEATURE_MODELS.get(key)
    if cached is not None and cached[0] is classifier:
        return cached[1]
    keras = _keras()
    try:
        features = classifier.get_layer(FEATURES_LAYER).output
        probs = classifier.get_layer(PROBABILITIES_LAYER).output
    except ValueError as err:
        raise ValueError(
            f"model {classifier.name!r} has no {FEATURES_LAYER!r} and "
            f"{PROBABILITIES_LAYER!r} layers; build it with build_dataset_classifier"
        ) from err
    model = keras.Model(classifier.input, [probs, features])
    _FEATURE_MODELS[key] = (classifier, model)
    return model


def _prepare(classifier, images, value_range):
    x = to_pixel_range(images, value_range)
    expected = tuple(classifier.input_shape[1:])
    if x.ndim == len(expected) and expected[-1] == 1:
        x = x[..., None]
    if x.shape[1:] != expected:
        raise ValueError(
            f"images have shape {x.shape}; the classifier expects (N, *{expected}) "
            f"(or (N, {expected[0]}, {expected[1]}) for grayscale)"
        )
    return x


def classifier_predict(classifier, images, *, batch_size: int = 500, value_range=(0, 255)):
    """Class probabilities and penultimate features of `images` under the classifier.

    Args:
      classifier: a model from `build_dataset_classifier`/`load_dataset_classifier`.
      images: array `(N, H, W)` or `(N, H, W, 1)`, values in `value_range`.
      batch_size: images per forward pass.
      value_range: the range of `images`, e.g. `(-1, 1)` for tanh generator output.

    Returns:
      `(probabilities (N, K) float32, features (N, 128) float32)`.
    """
    x = _prepare(classifier, images, value_range)
    model = _feature_model(classifier)
    probs, feats = [], []
    for start in range(0, len(x), batch_size):
        p, f = model(x[start:start + batch_size], training=False)
        probs.append(p.numpy())
        feats.append(f.numpy())
    if not probs:
        raise ValueError("images is empty")
    return np.concatenate(probs), np.concatenate(feats)


def classifier_score(probabilities, splits: int = 10) -> tuple[float, float]:
    """The Inception Score formula applied to the dataset classifier's predictions.

        score = exp( E_x KL( p(y|x) || p(y) ) ), per split, mean and std over splits,

    exactly `inception_score(probabilities, splits)`; see that function.

    Args:
      probabilities: `(N, K)` class probabilities from `classifier_predict`.
      splits: number of splits (10 as for the Inception Score).

    Returns:
      `(mean, std)`; between 1 and K, higher is better; compare with the real test
      set's score (`real_data_classifier_score`), the ceiling.

    Reference:
      Salimans et al. 2016 (the Inception Score), here with a dataset-specific
      classifier as e.g. in Odena et al. 2017's MNIST experiments.
    """
    return inception_score(probabilities, splits=splits)


def classifier_frechet_distance(
    classifier, images, reference_images, *, batch_size: int = 500,
    value_range=(0, 255), reference_value_range=(0, 255),
) -> float:
    """Fréchet distance between classifier features of `images` and of reference data.

        d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))

    on the classifier's 128-d "features" layer, via `fid_from_activations`.

    Args:
      classifier: the dataset classifier.
      images: generated images, values in `value_range`.
      reference_images: real images (e.g. the test split), in `reference_value_range`.
      batch_size: images per forward pass.

    Returns:
      The distance as a float (lower is better, 0 for identical feature statistics).

    Reference:
      Heusel et al., NeurIPS 2017 (FID), with the dataset classifier in place of
      Inception-v3.
    """
    _, f1 = classifier_predict(classifier, images, batch_size=batch_size, value_range=value_range)
    _, f2 = classifier_predict(
        classifier, reference_images, batch_size=batch_size, value_range=reference_value_range
    )
    return fid_from_activations(f1, f2)


def real_data_classifier_score(
    classifier, dataset: str, data_dir, *, split: str = "test", splits: int = 10,
    max_examples: int | None = None,
) -> dict:
    """The classifier score (the ceiling) and accuracy of a real data split.

    Returns:
      dict with `classifier_score` ([mean, std]), `accuracy` and `examples`.
    """
    images, labels = load_dataset_split(dataset, data_dir, split)
    if max_examples is not None:
        images, labels = images[:max_examples], labels[:max_examples]
    probs, _ = classifier_predict(classifier, images)
    mean, std = classifier_score(probs, splits=splits)
    return {
        "classifier_score": [mean, std],
        "accuracy": float(np.mean(np.argmax(probs, axis=1) == labels)),
        "examples": int(len(images)),
    }
