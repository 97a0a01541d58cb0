"""Export trained generators and semi-supervised classifiers as TF Serving SavedModels.

The exported SavedModels are plain TensorFlow graphs: serving them needs neither
this package nor Python (TF Serving, the C API's `TF_LoadSessionFromSavedModel`,
or `tf.saved_model.load` in a Python that cannot import `improved_gan_tf`).

Layout (what `tensorflow_model_server --model_base_path=EXPORT_BASE/<model_name>`
polls)::

    EXPORT_BASE/<model_name>/<version>/saved_model.pb
    EXPORT_BASE/<model_name>/<version>/variables/variables.{index,data-00000-of-00001}

Generator SavedModel (`export_generator`):

    serving_default:  z  float32 [batch, latent_dim], finite, batch <= max_batch_size
                  ->  images        float32 [batch, H, W, C] in [0, 1]
                      images_uint8  uint8   [batch, H, W, C]   (round(255 * images))
    sample:           seed         int64 scalar
                      num_samples  int32 scalar (0 <= num_samples <= max_batch_size)
                  ->  images, images_uint8 as above, for the latents
                      `sample_signature_latents(distribution, latent_dim, seed, n)`:
                      stateless Philox draws keyed by [seed, 0], so the same seed
                      gives the same images on every call and every server.

    A generator whose output is flat (the MNIST MLP's 784) is reshaped to
    `image_shape` (28x28x1 for 784); a tanh generator's [-1, 1] is mapped to [0, 1]
    by (x + 1) / 2. G runs in inference mode: batch norm uses its moving
    statistics and virtual batch normalization its stored reference statistics
    (frozen into the export), so one example's image never depends on the other
    examples of its request.

Classifier SavedModel (`export_classifier`, semi-supervised K+1 models):

    serving_default:  images  uint8 [batch, H, W, C]  raw pixels 0..255
                      (the dataset's preprocessing, e.g. x / 255 flattened for
                      MNIST or (x - 127.5) / 128 for CIFAR-10/SVHN, runs in the graph)
    classify_float:   images  float32 [batch, H, W, C], finite, in [0, 1]
                      (e.g. the generator's `images` output; multiplied by 255,
                      then the same preprocessing)
                      (both: batch <= max_batch_size)
                  ->  class_probabilities  float32 [batch, K]  softmax over the K
                                           real classes
                      predicted_class      int64   [batch]     argmax
                      p_real               float32 [batch]     D(x) = Z / (Z + 1),
                                           Z = sum_k exp(l_k) (the generated class's
                                           logit fixed at 0)
                      logits               float32 [batch, K]
    D runs in inference mode (no input noise/dropout) with its Polyak-averaged
    weights when the model keeps them (`ImprovedGAN(polyak_rate=...)`), as the
    authors evaluate test error.

Refused requests. A wrong dtype is refused by the signature (a TF Serving request
is checked against the SignatureDef's dtype; the loaded function raises); a wrong
shape by an in-graph `EnsureShape` check, whose error names the expected shape.
Every signature serves at most `max_batch_size` examples per request (default
`MAX_BATCH_SIZE` = 1024, `--max_batch_size` of `improved-gan export`): a larger
batch (or `num_samples`) is refused before the model runs, so a request cannot make
the server allocate without bound. Latents `z` and `classify_float` images must be
finite, and `classify_float` images must lie in `FLOAT_IMAGE_RANGE` = [0, 1]
(uint8 pixels are in range by their dtype). Each refusal is an in-graph assertion
that raises `InvalidArgumentError` -- what TF Serving answers as `INVALID_ARGUMENT`
(gRPC) or HTTP 400 (REST) -- with a message naming the input, the bound and the
received value, e.g.

    z: batch size must be <= 1024 (the max_batch_size of this export; split larger requests). Received: 2000
    z must be finite: 3 of 200 values are NaN or infinite. Received: nan at index [1 7]
    images must lie in [0, 1] (classify_float takes pixels / 255). Received: 4 of 3136 values outside, min -0.5, max 1.2

The checks are one reduction over the input each (a few microseconds next to the
network). The limits are also written to `assets.extra/signatures.json` in each
version directory (`SIGNATURES_FILENAME`; TF Serving ignores the file), which
lists every signature's inputs, dtypes, shapes, ranges and `max_batch_size`, and
for the classifier which of D's weights it holds (`weights`: "polyak_average" or
"current").

Exports are deterministic (exporting the same weights twice gives byte-identical
`variables/` files), refuse to replace an existing version unless
`overwrite=True`, and are written to hidden directories that are renamed into place
when complete (`export_dirs.write_versions`), so a crashed export never leaves a
half-written version where the server looks, and `export_run` writes a run's
generator and classifier together or not at all.

Python API: `export_generator(gan_or_generator, export_dir, ...)`,
`export_classifier(gan, export_dir, ...)` on in-memory models, and
`export_run(workdir, export_base, version=None, overwrite=False, max_batch_size=...)` on a run
directory of `improved-gan train` (restored with `training.restore_run`).
Command line: `improved-gan export` (`improved_gan_tf.cli.export`).
"""

import contextlib
import json
import numbers
import pathlib

import keras
import tensorflow as tf

from improved_gan_tf import data as data_lib
from improved_gan_tf import registry
from improved_gan_tf.errors import UserInputError
from improved_gan_tf.export_dirs import ExportExistsError
from improved_gan_tf.export_dirs import ExportNameError
from improved_gan_tf.export_dirs import check_model_name
from improved_gan_tf.export_dirs import next_version as _next_version
from improved_gan_tf.export_dirs import write_versions
from improved_gan_tf.registry import LATENT_DISTRIBUTIONS
# The run's checkpoint cannot be read back (truncated or corrupt files): raised by
# `training.restore_run`, which checks it with `training.verify_checkpoint`.
from improved_gan_tf.training.checkpoints import UnreadableCheckpointError as CheckpointError

__all__ = [
    "CLASSIFIER_MODEL_NAME",
    "CheckpointError",
    "ExportExistsError",
    "FLOAT_IMAGE_RANGE",
    "MAX_BATCH_SIZE",
    "SIGNATURES_FILENAME",
    "ExportNameError",
    "ExportOptionError",
    "GENERATOR_MODEL_NAME",
    "RunDirectoryError",
    "export_classifier",
    "export_generator",
    "export_run",
    "infer_output_range",
    "next_version",
    "sample_signature_latents",
]

GENERATOR_MODEL_NAME = "generator"
CLASSIFIER_MODEL_NAME = "classifier"

#: Default largest batch (examples per request) of every served signature.
MAX_BATCH_SIZE = 1024

#: The values `classify_float` accepts: pixels / 255, the generator's `images` output.
FLOAT_IMAGE_RANGE = (0.0, 1.0)

#: The description of the signatures and their limits, inside each version directory.
SIGNATURES_FILENAME = "assets.extra/signatures.json"

#: A generator's output space is named by the preprocess whose inverse maps it to pixels.
_OUTPUT_RANGES = registry.PREPROCESSES


class RunDirectoryError(UserInputError, FileNotFoundError):
    """The run directory is missing, or holds no config.json or no (such) checkpoint."""


class ExportOptionError(UserInputError, ValueError):
    """An export option out of its domain (e.g. a `max_batch_size` below 1)."""


def next_version(export_base, model_names=(GENERATOR_MODEL_NAME, CLASSIFIER_MODEL_NAME)):
    """1 + the largest version found under `EXPORT_BASE/<name>/` for any of `model_names`
    (1 when there is none), so a run's generator and classifier share a version."""
    return _next_version(export_base, model_names)


# ----------------------------------------------------------------------------- helpers
def sample_signature_latents(distribution, latent_dim, seed, num_samples):
    """The latents the generator's `sample` signature draws for `seed`.

    The distribution of `latents.sample_latents` (U(0, 1), U(-1, 1) or N(0, 1)),
    drawn by stateless Philox keyed by the int64 seed `[seed, 0]`. The algorithm is
    fixed (not "auto_select", which may pick another one on other hardware), so
    every server draws the same latents. Reproduce a served sample in Python with
    `generator(sample_signature_latents(...), training=False)`.
    """
    if distribution not in LATENT_DISTRIBUTIONS:
        raise ValueError(
            f"distribution must be one of {LATENT_DISTRIBUTIONS}. Received: {distribution!r}"
        )
    key = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    shape = tf.stack([tf.cast(num_samples, tf.int32), int(latent_dim)])
    if distribution == "normal":
        return tf.random.stateless_normal(shape, seed=key, alg="philox")
    low = -1.0 if distribution == "uniform_signed" else 0.0
    return tf.random.stateless_uniform(shape, seed=key, minval=low, maxval=1.0, alg="philox")


def _output_layer(model):
    """The layer producing a (functional) model's first output, looking inside
    `ReferenceBatchGenerator`-style wrappers (`.body`) and nested models."""
    seen = 0
    while seen < 10:
        seen += 1
        body = getattr(model, "body", None)
        if isinstance(body, keras.Model):
            model = body
            continue
        outputs = getattr(model, "outputs", None)
        if not outputs:
            return None
        history = getattr(outputs[0], "_keras_history", None)
        if history is None:
            return None
        layer = history[0]
        if isinstance(layer, keras.Model):
            model = layer
            continue
        return layer
    return None


def _activation_name(layer):
    if layer is None:
        return None
    activation = getattr(layer, "_activation", None) or getattr(layer, "activation", None)
    inner = getattr(layer, "layer", None)
    if activation is None and inner is not None:
        activation = getattr(inner, "activation", None)
    if activation is None:
        return None
    return getattr(activation, "__name__", None)


def infer_output_range(generator):
    """"unit" for a sigmoid-output generator ([0, 1]), "signed_unit" for tanh ([-1, 1]).

    Raises:
        ValueError: the final activation is neither; pass `output_range` explicitly.
    """
    name = _activation_name(_output_layer(generator))
    if name == "sigmoid":
        return "unit"
    if name == "tanh":
        return "signed_unit"
    raise ValueError(
        f"Cannot tell the output range of generator '{generator.name}' from its final "
        f"activation ({name!r}). Pass output_range='unit' ([0, 1]) or 'signed_unit' ([-1, 1])."
    )


def _generator_image_shape(generator, latent_dim, image_shape):
    if image_shape is not None:
        return tuple(int(d) for d in image_shape)
    output_shape = tuple(generator.compute_output_shape((None, latent_dim)))[1:]
    if len(output_shape) == 3 and all(d is not None for d in output_shape):
        return tuple(int(d) for d in output_shape)
    if output_shape == (784,):
        return (28, 28, 1)
    raise ValueError(
        f"Generator '{generator.name}' outputs shape {output_shape}; pass image_shape=(H, W, C)."
    )


def _save_signatures(path, endpoints, model_variables):
    """Saves `{name: (fn, input_signature)}` as a SavedModel with those signatures.

    As `keras.export.ExportArchive` does, each fn is traced as a `tf.function` with
    an explicit `tf.TensorSpec` signature, so input names survive (unlike
    `tf.saved_model.save` on a Keras 3 model, keras-team/keras#19458), and only the
    variables the functions read are saved. Unlike it, the functions read a
    snapshot: every model variable is copied into a new `tf.Variable` named by its
    position in `model_variables` (construction order), and the model reads those
    copies through a `keras.StatelessScope` while it is traced. The saved names and
    checkpoint keys are then positions, not Keras's per-process layer names
    ("dense_7"), so the same weights always give byte-identical `variables/` files;
    and the values are those at export time (e.g. inside
    `averaged_discriminator_weights()`).
    """
    model_variables = list(model_variables)
    with tf.init_scope():
        copies = [
            tf.Variable(
                keras.ops.convert_to_numpy(variable), name=f"variable_{index:04d}", trainable=False
            )
            for index, variable in enumerate(model_variables)
        ]
    position = {id(copy): index for index, copy in enumerate(copies)}

    def reading_copies(fn):
        def traced(*args):
            mapping = [(variable, copy) for variable, copy in zip(model_variables, copies)]
            with keras.StatelessScope(state_mapping=mapping):
                return fn(*args)

        return traced

    signatures = {}
    for name, (fn, input_signature) in endpoints.items():
        function = tf.function(reading_copies(fn), input_signature=input_signature, autograph=False)
        signatures[name] = function.get_concrete_function()
    captured = {}
    for concrete in signatures.values():
        for variable in concrete.variables:
            captured.setdefault(id(variable), variable)
    outside = [v.name for key, v in captured.items() if key not in position]
    if outside:
        raise RuntimeError(f"The exported functions read variables outside the model: {outside}")
    root = tf.Module()
    root.exported_variables = sorted(captured.values(), key=lambda v: position[id(v)])
    tf.saved_model.save(root, path, signatures=signatures)


def _to_unit_images(raw, output_range, image_shape):
    # The inverse of the data's own forward map (`data.preprocessing`), so that exported
    # images, sample grids and scores all turn the same sample into the same pixels.
    images = data_lib.to_unit_interval_tf(tf.cast(raw, tf.float32), output_range, image_shape)
    return {
        "images": images,
        "images_uint8": tf.cast(tf.round(images * 255.0), tf.uint8),
    }


def _check_max_batch_size(max_batch_size):
    if (isinstance(max_batch_size, bool) or not isinstance(max_batch_size, numbers.Integral)
            or max_batch_size < 1):
        raise ValueError(f"max_batch_size must be a positive integer. Received: {max_batch_size!r}")
    return int(max_batch_size)


# ----------------------------------------------------------------------------- input checks
# Each check is an op that raises `InvalidArgumentError` -- TF Serving's INVALID_ARGUMENT --
# when its condition fails. The condition is one reduction over the input; the message
# (where the received values are found and formatted) is computed only in the failing
# branch of a `tf.cond`, so a valid request pays for the reduction alone.
def _refuse_unless(condition, message, name):
    """An op raising `InvalidArgumentError(message())` unless `condition` holds; `name`
    (e.g. "check_z_finite") is the node the server's error names."""

    def refuse():
        return tf.debugging.Assert(tf.constant(False), [message()], summarize=1)

    return tf.cond(condition, tf.no_op, refuse, name=name)


def _after(x, *checks):
    """`x`, passed on only after each `check(x)` has run, in order: a later check (and
    the model) never sees an input an earlier check refuses."""
    for check in checks:
        with tf.control_dependencies([check(x)]):
            x = tf.identity(x)
    return x


def _batch_size_check(name, max_batch_size):
    def check(x):
        batch = tf.shape(x, out_type=tf.int64)[0]
        return _refuse_unless(
            batch <= max_batch_size,
            lambda: tf.strings.format(
                f"{name}: batch size must be <= {max_batch_size} (the max_batch_size of "
                "this export; split larger requests). Received: {}",
                [batch],
            ),
            f"check_{name}_batch_size",
        )

    return check


def _finite_check(name):
    def check(x):
        finite = tf.math.is_finite(x)

        def message():
            bad = tf.where(tf.logical_not(tf.reshape(finite, [-1])))[:, 0]
            index = tf.unravel_index(bad[0], tf.shape(x, out_type=tf.int64))
            return tf.strings.format(
                f"{name} must be finite: {{}} of {{}} values are NaN or infinite. "
                "Received: {} at index {}",
                [tf.size(bad), tf.size(x), tf.gather(tf.reshape(x, [-1]), bad[0]), index],
            )

        return _refuse_unless(tf.reduce_all(finite), message, f"check_{name}_finite")

    return check


def _range_check(name, low, high, meaning):
    def check(x):
        inside = tf.logical_and(x >= low, x <= high)

        def message():
            outside = tf.size(x) - tf.math.count_nonzero(inside, dtype=tf.int32)
            return tf.strings.format(
                f"{name} must lie in [{low:g}, {high:g}] ({meaning}). "
                "Received: {} of {} values outside, min {}, max {}",
                [outside, tf.size(x), tf.reduce_min(x), tf.reduce_max(x)],
            )

        return _refuse_unless(tf.reduce_all(inside), message, f"check_{name}_range")

    return check


def _write_signatures_file(path, signatures):
    """Writes `SIGNATURES_FILENAME`: the served contract as data, for operators and clients."""
    target = pathlib.Path(path) / SIGNATURES_FILENAME
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(signatures, indent=2, sort_keys=True) + "\n")


# ----------------------------------------------------------------------------- generator
def _check_vbn_reference_statistics(generator):
    """Refuses VBN layers whose reference statistics were never computed: with their
    initial values (mean 0, mean square 1) inference mode would not normalize."""
    from improved_gan_tf.layers import VirtualBatchNormalization

    unset = []
    for layer in generator._flatten_layers():
        if isinstance(layer, VirtualBatchNormalization) and layer.built:
            mean = keras.ops.convert_to_numpy(layer.reference_mean)
            mean_square = keras.ops.convert_to_numpy(layer.reference_mean_square)
            if not mean.any() and (mean_square == 1).all():
                unset.append(layer.name)
    if unset:
        raise ValueError(
            f"VirtualBatchNormalization layers {unset} of '{generator.name}' have no reference "
            "statistics yet: they are stored by a training-mode call (a training step, or "
            "`generator(z, training=True)`). Train or restore the generator before exporting."
        )


def export_generator(
    gan_or_generator,
    export_dir,
    *,
    latent_dim=None,
    latent_distribution=None,
    output_range=None,
    image_shape=None,
    max_batch_size=MAX_BATCH_SIZE,
    overwrite=False,
):
    """Exports a generator as a TF Serving SavedModel (signatures in the module doc).

    Args:
        gan_or_generator: an `ImprovedGAN` (its `generator`, `latent_dim` and
            `latent_distribution` are used) or a generator `keras.Model`.
        export_dir: the version directory, `EXPORT_BASE/<model_name>/<version>`.
        latent_dim: size of z (default: the GAN's / G's input size).
        latent_distribution: "uniform" (U(0,1)), "uniform_signed" (U(-1,1)) or
            "normal", used by the `sample` signature (default: the GAN's, G's
            `latent_distribution` attribute, else "uniform").
        output_range: the preprocess (`registry.PREPROCESSES`) whose inverse maps G's
            output to pixels: "unit" (G outputs [0, 1]), "signed_unit" ([-1, 1]),
            "symmetric" ((x - 127.5) / 128), ...; default: from G's final activation
            (sigmoid: "unit", tanh: "signed_unit").
        image_shape: (H, W, C) of the images (default: G's output shape, 28x28x1
            for a flat 784 output).
        max_batch_size: the largest batch of `z` (`serving_default`) and the largest
            `num_samples` (`sample`) the export serves; larger requests are refused.
        overwrite: replace an existing `export_dir`.

    Returns:
        The `pathlib.Path` of the written version directory.

    Raises:
        ValueError: G is not built, has VBN layers without reference statistics, or
            an argument is invalid (the message names it).
    """
    write = _generator_writer(
        gan_or_generator, latent_dim=latent_dim, latent_distribution=latent_distribution,
        output_range=output_range, image_shape=image_shape, max_batch_size=max_batch_size,
    )
    return write_versions({export_dir: write}, overwrite)[0]


def _generator_writer(
    gan_or_generator, *, latent_dim, latent_distribution, output_range, image_shape, max_batch_size
):
    """Checks the generator and returns `write(path)`, which saves its SavedModel."""
    gan = gan_or_generator if hasattr(gan_or_generator, "discriminator") else None
    generator = gan.generator if gan is not None else gan_or_generator
    if not generator.built:
        raise ValueError(f"Generator '{generator.name}' is not built; call it or train it first.")
    if latent_dim is None:
        latent_dim = getattr(gan, "latent_dim", None) or getattr(generator, "latent_dim", None)
        latent_dim = latent_dim or generator.inputs[0].shape[-1]
    latent_dim = int(latent_dim)
    if latent_distribution is None:
        latent_distribution = (
            getattr(gan, "latent_distribution", None)
            or getattr(generator, "latent_distribution", None)
            or "uniform"
        )
    if latent_distribution not in LATENT_DISTRIBUTIONS:
        raise ValueError(
            f"latent_distribution must be one of {LATENT_DISTRIBUTIONS}. "
            f"Received: {latent_distribution!r}"
        )
    if output_range is None:
        output_range = infer_output_range(generator)
    if output_range not in _OUTPUT_RANGES:
        raise ValueError(f"output_range must be one of {_OUTPUT_RANGES}. Received: {output_range!r}")
    image_shape = _generator_image_shape(generator, latent_dim, image_shape)
    max_batch_size = _check_max_batch_size(max_batch_size)
    _check_vbn_reference_statistics(generator)

    def generate(z):
        return _to_unit_images(generator(z, training=False), output_range, image_shape)

    def serving_default(z):
        z = tf.ensure_shape(z, [None, latent_dim], name="check_z_shape")
        return generate(_after(z, _batch_size_check("z", max_batch_size), _finite_check("z")))

    def sample(seed, num_samples):
        checks = [
            _refuse_unless(
                num_samples >= 0,
                lambda: tf.strings.format("num_samples must be >= 0. Received: {}", [num_samples]),
                "check_num_samples_non_negative",
            ),
            _refuse_unless(
                num_samples <= max_batch_size,
                lambda: tf.strings.format(
                    f"num_samples must be <= {max_batch_size} (the max_batch_size of this "
                    "export; split larger requests). Received: {}",
                    [num_samples],
                ),
                "check_num_samples_batch_size",
            ),
        ]
        with tf.control_dependencies(checks):
            z = sample_signature_latents(latent_distribution, latent_dim, seed, num_samples)
        return generate(z)

    outputs = {
        "images": {"dtype": "float32", "shape": [-1, *image_shape], "range": [0.0, 1.0]},
        "images_uint8": {"dtype": "uint8", "shape": [-1, *image_shape], "range": [0, 255]},
    }
    contract = {
        "model": "generator",
        "max_batch_size": max_batch_size,
        "latent_distribution": latent_distribution,
        "signatures": {
            "serving_default": {
                "inputs": {"z": {"dtype": "float32", "shape": [-1, latent_dim], "finite": True}},
                "outputs": outputs,
                "max_batch_size": max_batch_size,
            },
            "sample": {
                "inputs": {
                    "seed": {"dtype": "int64", "shape": []},
                    "num_samples": {"dtype": "int32", "shape": [], "range": [0, max_batch_size]},
                },
                "outputs": outputs,
                "max_batch_size": max_batch_size,
            },
        },
    }

    def write(path):
        _save_signatures(
            path,
            {
                "serving_default": (
                    serving_default, [tf.TensorSpec([None, latent_dim], tf.float32, name="z")]
                ),
                "sample": (
                    sample,
                    [tf.TensorSpec([], tf.int64, name="seed"),
                     tf.TensorSpec([], tf.int32, name="num_samples")],
                ),
            },
            generator.variables,
        )
        _write_signatures_file(path, contract)

    return write


# ----------------------------------------------------------------------------- classifier
def _classifier_input(discriminator, image_shape, preprocess, dataset):
    if dataset is not None:
        spec = registry.DATASETS[registry.canonical_name(dataset)]
        if preprocess is None:
            preprocess = spec.default_preprocess
        if image_shape is None:
            image_shape = spec.image_shape
    input_shape = tuple(discriminator.inputs[0].shape[1:])
    if image_shape is None:
        if len(input_shape) == 3 and all(d is not None for d in input_shape):
            image_shape = input_shape
        elif input_shape == (784,):
            image_shape = (28, 28, 1)
    if preprocess is None and input_shape == (784,):
        preprocess = "unit_flat"
    if image_shape is None or preprocess is None:
        raise ValueError(
            f"Cannot tell how raw images become the input {input_shape} of discriminator "
            f"'{discriminator.name}'. Pass dataset=... (one of {sorted(registry.DATASETS)}) "
            f"or image_shape=(H, W, C) and preprocess= one of {registry.PREPROCESSES}."
        )
    return tuple(int(d) for d in image_shape), data_lib.get_preprocess(preprocess)


def export_classifier(
    gan,
    export_dir,
    *,
    dataset=None,
    image_shape=None,
    preprocess=None,
    use_averaged_weights=True,
    max_batch_size=MAX_BATCH_SIZE,
    overwrite=False,
):
    """Exports a semi-supervised GAN's discriminator as a K-class classifier SavedModel.

    Args:
        gan: a semi-supervised `ImprovedGAN` (`num_classes` set).
        export_dir: the version directory, `EXPORT_BASE/<model_name>/<version>`.
        dataset: a dataset of `registry.DATASETS` ("mnist", "cifar10", ...): sets the
            raw image shape and preprocessing (its `image_shape` and
            `default_preprocess`).
        image_shape: (H, W, C) of the raw uint8 images (default: from `dataset`,
            D's input shape, or 28x28x1 for a flat 784 input).
        preprocess: uint8 batch -> D input, see `data.get_preprocess` (default: from
            `dataset`; "unit_flat" for a flat 784 input).
        use_averaged_weights: export D's Polyak-averaged weights when the model
            keeps them (the weights `evaluate` uses).
        max_batch_size: the largest batch of images either signature serves; larger
            requests are refused.
        overwrite: replace an existing `export_dir`.

    Returns:
        The `pathlib.Path` of the written version directory.

    Raises:
        ValueError: the GAN is not semi-supervised, the raw image shape or
            preprocessing cannot be told, or an argument is invalid.
    """
    write, _ = _classifier_writer(
        gan, dataset=dataset, image_shape=image_shape, preprocess=preprocess,
        use_averaged_weights=use_averaged_weights, max_batch_size=max_batch_size,
    )
    return write_versions({export_dir: write}, overwrite)[0]


def _served_weights(gan, use_averaged_weights) -> str:
    """Which of D's weights a classifier export holds: "polyak_average" when asked for and
    the model has a Polyak average that has been updated, else "current"."""
    average = gan.d_polyak_average
    if not use_averaged_weights or average is None:
        return "current"
    return "polyak_average" if float(keras.ops.convert_to_numpy(average.count)) > 0 else "current"


def _classifier_writer(
    gan, *, dataset, image_shape, preprocess, use_averaged_weights, max_batch_size
):
    """Checks the GAN's discriminator and returns `(write, weights)`: `write(path)` saves
    its SavedModel, holding the weights `weights` names (`_served_weights`)."""
    if getattr(gan, "num_classes", None) is None:
        raise ValueError(
            "export_classifier needs a semi-supervised ImprovedGAN (num_classes=K): an "
            "unsupervised discriminator has no classes to predict."
        )
    discriminator = gan.discriminator
    image_shape, preprocess_fn = _classifier_input(discriminator, image_shape, preprocess, dataset)
    max_batch_size = _check_max_batch_size(max_batch_size)

    def heads(x):
        logits = tf.cast(discriminator(x, training=False), tf.float32)
        log_z = tf.reduce_logsumexp(logits, axis=-1)
        return {
            "class_probabilities": tf.nn.softmax(logits, axis=-1),
            "predicted_class": tf.argmax(logits, axis=-1, output_type=tf.int64),
            # D(x) = Z / (Z + 1) = sigmoid(log Z), stable for large logits.
            "p_real": tf.sigmoid(log_z),
            "logits": logits,
        }

    shape_message = [None, *image_shape]

    low, high = FLOAT_IMAGE_RANGE

    def serving_default(images):
        images = tf.ensure_shape(images, shape_message, name="check_images_shape")
        # uint8 pixels are finite and in 0..255 by their dtype: only the batch is checked.
        return heads(preprocess_fn(_after(images, _batch_size_check("images", max_batch_size))))

    def classify_float(images):
        images = tf.ensure_shape(images, shape_message, name="check_images_shape")
        images = _after(
            images,
            _batch_size_check("images", max_batch_size),
            _finite_check("images"),
            _range_check("images", low, high, "classify_float takes pixels / 255"),
        )
        return heads(preprocess_fn(images * 255.0))

    num_classes = int(gan.num_classes)
    outputs = {
        "class_probabilities": {"dtype": "float32", "shape": [-1, num_classes]},
        "predicted_class": {"dtype": "int64", "shape": [-1], "range": [0, num_classes - 1]},
        "p_real": {"dtype": "float32", "shape": [-1], "range": [0.0, 1.0]},
        "logits": {"dtype": "float32", "shape": [-1, num_classes]},
    }
    weights = _served_weights(gan, use_averaged_weights)
    contract = {
        "model": "classifier",
        "weights": weights,
        "max_batch_size": max_batch_size,
        "signatures": {
            "serving_default": {
                "inputs": {"images": {"dtype": "uint8", "shape": [-1, *image_shape],
                                      "range": [0, 255]}},
                "outputs": outputs,
                "max_batch_size": max_batch_size,
            },
            "classify_float": {
                "inputs": {"images": {"dtype": "float32", "shape": [-1, *image_shape],
                                      "range": [low, high], "finite": True}},
                "outputs": outputs,
                "max_batch_size": max_batch_size,
            },
        },
    }

    def write(path):
        endpoints = {
            "serving_default": (
                serving_default, [tf.TensorSpec([None, *image_shape], tf.uint8, name="images")]
            ),
            "classify_float": (
                classify_float, [tf.TensorSpec([None, *image_shape], tf.float32, name="images")]
            ),
        }
        averaged = gan.averaged_discriminator_weights() if weights == "polyak_average" else contextlib.nullcontext()
        with averaged:  # the variables hold the averaged values while they are saved
            _save_signatures(path, endpoints, discriminator.variables)
        _write_signatures_file(path, contract)

    return write, weights


# ----------------------------------------------------------------------------- run directories
def export_run(
    workdir,
    export_base,
    version=None,
    overwrite=False,
    *,
    checkpoint=None,
    generator_name=GENERATOR_MODEL_NAME,
    classifier_name=CLASSIFIER_MODEL_NAME,
    max_batch_size=MAX_BATCH_SIZE,
):
    """Exports a training run's generator (and classifier, for semi-supervised runs).

    Restores the run with `training.restore_run(workdir, checkpoint)` (the run's
    `config.json` and its latest -- or the given -- `tf.train` checkpoint), then
    writes `EXPORT_BASE/<generator_name>/<version>` and, when the run is
    semi-supervised, `EXPORT_BASE/<classifier_name>/<version>` with the D whose test
    error the run reports: its Polyak-averaged weights when the model keeps them and
    the config's `model.test_with_polyak_average` is True, else the current weights
    (as `mnist_feature_matching_arxiv`, whose recipe tests the current D). Image
    shape, preprocessing and G's output range come from the run's dataset and
    `data.preprocess` (G models the preprocessed data space, mapped to pixels by the
    inverse of that preprocess, `data.to_unit_interval_tf`).

    Both models are written before either appears (see `export_dirs.write_versions`):
    an existing version is refused before anything is written, and a failure while
    writing either model leaves neither.

    Args:
        workdir: run directory of `improved-gan train`.
        export_base: TF Serving base directory (EXPORT_BASE).
        version: version number; default: one more than the largest version of
            either model under `export_base` (1 for a new base).
        overwrite: replace existing versions.
        checkpoint: a checkpoint path prefix instead of the latest.
        generator_name, classifier_name: model names (directories under
            `export_base`, names in `models.config`).
        max_batch_size: the largest batch every signature of both models serves
            (and the generator's largest `num_samples`); larger requests are refused.

    Returns:
        dict with "version", "step" (the checkpoint's global step), "generator"
        and "classifier" (absolute paths; "classifier" is None for unsupervised runs),
        "classifier_weights" ("polyak_average" or "current"; None for unsupervised
        runs) and "max_batch_size".

    Raises:
        RunDirectoryError: `workdir` does not exist, or has no config.json or no
            checkpoint, or `checkpoint` names none.
        CheckpointError: the checkpoint's files cannot be read back.
        ExportNameError: a model name with a path separator, `.`/`..` or a leading
            dot; the same name for both models; a version below 1.
        ExportOptionError: `max_batch_size` is not a positive integer.
        ExportExistsError: a version exists and `overwrite` is False.
    """
    from improved_gan_tf import training

    export_base = pathlib.Path(export_base)
    generator_name, classifier_name = check_model_name(generator_name), check_model_name(classifier_name)
    if generator_name == classifier_name:
        raise ExportNameError(
            f"generator_name and classifier_name must differ. Received: {generator_name!r} twice")
    if version is not None and int(version) < 1:
        raise ExportNameError(f"version must be a positive integer. Received: {version}")
    try:
        max_batch_size = _check_max_batch_size(max_batch_size)
    except ValueError as error:
        raise ExportOptionError(str(error)) from None
    if not pathlib.Path(workdir).is_dir():
        raise RunDirectoryError(f"Run directory {workdir} does not exist.")
    policy = keras.mixed_precision.global_policy()
    try:
        restored = training.restore_run(workdir, checkpoint=checkpoint)
    except FileNotFoundError as error:  # no config.json / no checkpoint
        raise RunDirectoryError(str(error)) from error
    finally:
        keras.mixed_precision.set_global_policy(policy)
    if version is None:
        version = next_version(export_base, (generator_name, classifier_name))
    version = int(version)
    config, gan = restored.config, restored.model
    facts = registry.data_facts(config)
    targets = {"generator": export_base / generator_name / str(version)}
    writers = {targets["generator"]: _generator_writer(
        gan, latent_dim=None, latent_distribution=None, image_shape=facts.image_shape,
        output_range=facts.preprocess, max_batch_size=max_batch_size,
    )}
    classifier_weights = None
    if gan.num_classes is not None:
        targets["classifier"] = export_base / classifier_name / str(version)
        writers[targets["classifier"]], classifier_weights = _classifier_writer(
            gan, dataset=facts.name, image_shape=facts.image_shape, preprocess=facts.preprocess,
            use_averaged_weights=bool(config.model.test_with_polyak_average), max_batch_size=max_batch_size,
        )
    written = dict(zip(targets, write_versions(writers, overwrite)))
    return {
        "version": version,
        "step": restored.step,
        "generator": written["generator"],
        "classifier": written.get("classifier"),
        "classifier_weights": classifier_weights,
        "max_batch_size": max_batch_size,
    }
