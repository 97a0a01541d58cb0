"""Export trained generators and semi-supervised classifiers as TF Serving SavedModels.

The exported SavedModels are plain TensorFlow graphs: serving them needs neither
this package nor Python (TF Serving, the C API's `TF_LoadSessionFromSavedModel`,
or `tf.saved_model.load` in a Python that cannot import `improved_gan_tf`).

Layout (what `tensorflow_model_server --model_base_path=EXPORT_BASE/<model_name>`
polls)::

    EXPORT_BASE/<model_name>/<version>/saved_model.pb
    EXPORT_BASE/<model_name>/<version>/variables/variables.{index,data-00000-of-00001}

Generator SavedModel (`export_generator`):

    serving_default:  z  float32 [batch, latent_dim]            (any batch size)
                  ->  images        float32 [batch, H, W, C] in [0, 1]
                      images_uint8  uint8   [batch, H, W, C]   (round(255 * images))
    sample:           seed         int64 scalar
                      num_samples  int32 scalar (0 <= num_samples <= max_samples)
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
    classify_float:   images  float32 [batch, H, W, C] in [0, 1]
                      (e.g. the generator's `images` output; multiplied by 255,
                      then the same preprocessing)
                  ->  class_probabilities  float32 [batch, K]  softmax over the K
                                           real classes
                      predicted_class      int64   [batch]     argmax
                      p_real               float32 [batch]     D(x) = Z / (Z + 1),
                                           Z = sum_k exp(l_k) (the generated class's
                                           logit fixed at 0)
                      logits               float32 [batch, K]
    A wrong dtype is refused by the signature (a TF Serving request is checked
    against the SignatureDef's dtype; the loaded function raises); a wrong shape
    by an in-graph `EnsureShape` check, whose error names the expected shape.
    D runs in inference mode (no input noise/dropout) with its Polyak-averaged
    weights when the model keeps them (`ImprovedGAN(polyak_rate=...)`), as the
    authors evaluate test error.

Exports are deterministic (exporting the same weights twice gives byte-identical
`variables/` files), refuse to replace an existing version unless
`overwrite=True`, and are written to hidden directories that are renamed into place
when complete (`export_dirs.write_versions`), so a crashed export never leaves a
half-written version where the server looks, and `export_run` writes a run's
generator and classifier together or not at all.

Python API: `export_generator(gan_or_generator, export_dir, ...)`,
`export_classifier(gan, export_dir, ...)` on in-memory models, and
`export_run(workdir, export_base, version=None, overwrite=False)` on a run
directory of `improved-gan train` (restored with `training.restore_run`).
Command line: `improved-gan export` (`improved_gan_tf.cli.export`).
"""

import contextlib
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

__all__ = [
    "CLASSIFIER_MODEL_NAME",
    "CheckpointError",
    "ExportExistsError",
    "ExportNameError",
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

#: A generator's output space is named by the preprocess whose inverse maps it to pixels.
_OUTPUT_RANGES = registry.PREPROCESSES


class RunDirectoryError(UserInputError, FileNotFoundError):
    """The run directory is missing, or holds no config.json or no (such) checkpoint."""


# The run's checkpoint cannot be read back (truncated or corrupt files): raised by
# `training.restore_run`, which checks it with `training.verify_checkpoint`.
from improved_gan_tf.training.checkpoints import UnreadableCheckpointError as CheckpointError  # noqa: E402


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
    max_samples=1024,
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
        max_samples: largest `num_samples` the `sample` signature accepts.
        overwrite: replace an existing `export_dir`.

    Returns:
        The `pathlib.Path` of the written version directory.
    """
    write = _generator_writer(
        gan_or_generator, latent_dim=latent_dim, latent_distribution=latent_distribution,
        output_range=output_range, image_shape=image_shape, max_samples=max_samples,
    )
    return write_versions({export_dir: write}, overwrite)[0]


def _generator_writer(
    gan_or_generator, *, latent_dim, latent_distribution, output_range, image_shape, max_samples
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
    max_samples = int(max_samples)
    _check_vbn_reference_statistics(generator)

    def generate(z):
        z = tf.ensure_shape(z, [None, latent_dim], name="check_z_shape")
        return _to_unit_images(generator(z, training=False), output_range, image_shape)

    def serving_default(z):
        return generate(z)

    def sample(seed, num_samples):
        checks = [
            tf.debugging.assert_non_negative(
                num_samples, message="num_samples must be >= 0"
            ),
            tf.debugging.assert_less_equal(
                num_samples, tf.constant(max_samples, tf.int32),
                message=f"num_samples must be <= {max_samples} (max_samples of this export)",
            ),
        ]
        with tf.control_dependencies(checks):
            z = sample_signature_latents(latent_distribution, latent_dim, seed, num_samples)
        return generate(z)

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
        overwrite: replace an existing `export_dir`.

    Returns:
        The `pathlib.Path` of the written version directory.
    """
    write = _classifier_writer(
        gan, dataset=dataset, image_shape=image_shape, preprocess=preprocess,
        use_averaged_weights=use_averaged_weights,
    )
    return write_versions({export_dir: write}, overwrite)[0]


def _classifier_writer(gan, *, dataset, image_shape, preprocess, use_averaged_weights):
    """Checks the GAN's discriminator and returns `write(path)`, which saves its SavedModel."""
    if getattr(gan, "num_classes", None) is None:
        raise ValueError(
            "export_classifier needs a semi-supervised ImprovedGAN (num_classes=K): an "
            "unsupervised discriminator has no classes to predict."
        )
    discriminator = gan.discriminator
    image_shape, preprocess_fn = _classifier_input(discriminator, image_shape, preprocess, dataset)

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

    def serving_default(images):
        images = tf.ensure_shape(images, shape_message, name="check_images_shape")
        return heads(preprocess_fn(images))

    def classify_float(images):
        images = tf.ensure_shape(images, shape_message, name="check_images_shape")
        return heads(preprocess_fn(images * 255.0))

    def write(path):
        endpoints = {
            "serving_default": (
                serving_default, [tf.TensorSpec([None, *image_shape], tf.uint8, name="images")]
            ),
            "classify_float": (
                classify_float, [tf.TensorSpec([None, *image_shape], tf.float32, name="images")]
            ),
        }
        averaged = gan.averaged_discriminator_weights() if use_averaged_weights else contextlib.nullcontext()
        with averaged:  # the variables hold the averaged values while they are saved
            _save_signatures(path, endpoints, discriminator.variables)

    return write


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
):
    """Exports a training run's generator (and classifier, for semi-supervised runs).

    Restores the run with `training.restore_run(workdir, checkpoint)` (the run's
    `config.json` and its latest -- or the given -- `tf.train` checkpoint), then
    writes `EXPORT_BASE/<generator_name>/<version>` and, when the run is
    semi-supervised, `EXPORT_BASE/<classifier_name>/<version>` with D's
    Polyak-averaged weights. Image shape, preprocessing and G's output range come
    from the run's dataset and `data.preprocess` (G models the preprocessed data
    space, mapped to pixels by the inverse of that preprocess, `data.to_unit_interval_tf`).

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

    Returns:
        dict with "version", "step" (the checkpoint's global step), "generator"
        and "classifier" (absolute paths; "classifier" is None for unsupervised runs).

    Raises:
        RunDirectoryError: `workdir` does not exist, or has no config.json or no
            checkpoint, or `checkpoint` names none.
        CheckpointError: the checkpoint's files cannot be read back.
        ExportNameError: a model name with a path separator, `.`/`..` or a leading
            dot; the same name for both models; a version below 1.
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
        output_range=facts.preprocess, max_samples=1024,
    )}
    if gan.num_classes is not None:
        targets["classifier"] = export_base / classifier_name / str(version)
        writers[targets["classifier"]] = _classifier_writer(
            gan, dataset=facts.name, image_shape=facts.image_shape, preprocess=facts.preprocess,
            use_averaged_weights=True,
        )
    written = dict(zip(targets, write_versions(writers, overwrite)))
    return {
        "version": version,
        "step": restored.step,
        "generator": written["generator"],
        "classifier": written.get("classifier"),
    }
