"""`ImprovedGAN`: a `keras.Model` whose `train_step` plays the (improved) GAN game."""

import contextlib

import keras
import tensorflow as tf
from keras import ops

from improved_gan_tf import losses
from improved_gan_tf.averaging import HistoricalAverage
from improved_gan_tf.averaging import PolyakAverage
from improved_gan_tf.game_steps import GENERATOR_LATENTS
from improved_gan_tf.game_steps import LATENTS
from improved_gan_tf.game_steps import GameSteps
from improved_gan_tf.latents import LATENT_DISTRIBUTIONS
from improved_gan_tf.latents import sample_latents
from improved_gan_tf.layers.cross_batch_normalization import CrossBatchNormalization
from improved_gan_tf.layers.data_dependent_init import DataDependentInitMixin
from improved_gan_tf.layers.joint_minibatch_features import JointMinibatchFeatures
from improved_gan_tf.layers.minibatch_discrimination import MinibatchDiscrimination
from improved_gan_tf.registry import GENERATOR_LOSSES
from improved_gan_tf.registry import LABELED
from improved_gan_tf.registry import LABELS
from improved_gan_tf.registry import SUPERVISED_LOSSES
from improved_gan_tf.registry import UNLABELED
from improved_gan_tf.registry import UNLABELED_FOR_GENERATOR
from improved_gan_tf.registry import UPDATE_ORDERS
from improved_gan_tf.rng import replica_seed

# Keys of the batches `fit` feeds (see `ImprovedGAN`): the registry's data keys and the
# model's own LATENTS, GENERATOR_LATENTS (game_steps.py).
_BATCH_KEYS = (LABELED, LABELS, UNLABELED, UNLABELED_FOR_GENERATOR, LATENTS, GENERATOR_LATENTS)


def _has_batch_dependent_layers(model):
    return any(
        isinstance(layer, (MinibatchDiscrimination, keras.layers.BatchNormalization))
        for layer in model._flatten_layers()
    )


def _has_joint_batch_layers(model):
    """Whether D's layers need the joint batch [real; generated] (the authors' ImageNet D)."""
    return any(
        isinstance(layer, (CrossBatchNormalization, JointMinibatchFeatures))
        for layer in model._flatten_layers()
    )


@keras.saving.register_keras_serializable(package="improved_gan_tf")
class ImprovedGAN(GameSteps, keras.Model):
    """A GAN with the techniques of Salimans et al. (2016), trained with `model.fit`.

    Owns a generator G (latents -> samples) and a discriminator D (samples ->
    logits). `train_step` plays one round of the game: `discriminator_steps` D
    updates, then `generator_steps` G updates (Goodfellow et al. 2014, Algorithm 1,
    and the authors' scripts, which use 3 G steps per D step with minibatch
    discrimination).

    Modes:
        - Unsupervised (`num_classes=None`): D outputs one logit, D(x) = sigmoid(l).
          `fit` takes batches of real images (a tensor, or a dict with key
          "unlabeled_images").
        - Semi-supervised (`num_classes=K`): D outputs K logits and the generated
          class's logit is fixed at 0 (`losses.semi_supervised_discriminator_loss`).
          `fit` takes dicts with keys "labeled_images", "labels" (ints),
          "unlabeled_images" and optionally "unlabeled_images_2" (a second,
          independently shuffled unlabeled batch for G's feature statistics, as in
          the authors' scripts; "unlabeled_images" is used if absent) -- the
          elements of `improved_gan_tf.data.semi_supervised_dataset`.
        Either mode also accepts "latents" / "generator_latents" in the dict to fix
        the noise of the D and G steps (otherwise drawn from `latent_distribution`).

    Techniques, each independently switchable:
        - generator objective (`compile(generator_loss=...)`): feature matching on
          the D layer named `feature_layer` (section 3.1), non-saturating, or
          minimax;
        - minibatch discrimination: a `layers.MinibatchDiscrimination` in D. D is
          then called separately on labeled, unlabeled and generated batches so the
          side information is per source (without batch-dependent layers the three
          go through D as one batch, which computes the same thing faster);
        - historical averaging (`historical_averaging_weight`, section 3.3);
        - one-sided label smoothing (`compile(label_smoothing=alpha)`, section 3.4);
        - virtual batch normalization in G (section 3.5): build G with
          `layers.VirtualBatchNormalization` inside `layers.ReferenceBatchGenerator`;
        - Polyak averaging of D for evaluation (`polyak_rate`): `evaluate` (and
          the exported classifier) use the averaged weights.

    The authors' ImageNet model (`architectures.imagenet128_*`) adds:
        - a D of joint-batch layers (`layers.CrossBatchNormalization`,
          `layers.JointMinibatchFeatures`), detected here: D is then called on
          the joint batch [real; generated] of equal halves, in the D update and
          in the G update (whose real half is "unlabeled_images_2" or
          "unlabeled_images"). In semi-supervised mode the real half of the D
          update is the labeled batch, whose logits give both the class loss and
          the real term (every ImageNet image is labeled, `imagenet/build_model.py`);
          "unlabeled_images" is then not used by D;
        - `update_order="simultaneous"`: one forward pass G(z) -> D, from which
          both players' gradients are taken and both applied (the authors'
          `sess.run([d_optim, g_optim])`, `imagenet/train.py`), G's thus through
          D's weights before their update;
        - `compile(generator_loss="target_probability")`,
          `compile(supervised_loss="all_classes")` and a learned generated-class
          logit (`layers.KPlusOneDense`).

    Data-dependent initialization: call `initialize(x)` on an init batch (the
    authors use 500 training examples) before `fit`. Under a multi-replica
    strategy this is required; on one device an uninitialized model initializes on
    its first training batch instead, as `tfa.layers.WeightNormalization` did.

    Distribution: create and compile the model inside `strategy.scope()`. Losses
    are scaled to the global batch, and feature matching all-reduces the feature
    means before taking their distance, so one step on R replicas equals one step
    on one device with the same global batch. Minibatch discrimination and VBN
    statistics are computed per replica.

    Args:
        generator: Keras model, latents `(batch, latent_dim)` -> samples.
        discriminator: functional Keras model, samples -> logits `(batch, 1)` or
            `(batch, num_classes)`.
        num_classes: K for the semi-supervised K+1 game, None for unsupervised.
        feature_layer: name of D's layer used for feature matching.
        latent_distribution: "uniform" (U(0,1)), "uniform_signed" (U(-1,1)) or
            "normal".
        latent_dim: size of the latent vector (default: G's input size).
        historical_averaging_weight: lambda of the historical-averaging penalty
            for both players (0 disables it).
        polyak_rate: rate of the Polyak average of D's weights used by
            `evaluate` (None disables it; the authors use 1e-4).
        polyak_debias: correct the Polyak average for its zero start.
        seed: seed of the latent noise.
        update_order: "sequential" (`discriminator_steps` D updates, then
            `generator_steps` G updates, each with its own forward pass) or
            "simultaneous" (one forward pass, both updates from it; needs one step
            of each).
        **kwargs: base `keras.Model` arguments.

    Reference:
        Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016
        (arXiv:1606.03498); Goodfellow et al., "Generative Adversarial Nets",
        NeurIPS 2014.
    """

    def __init__(
        self,
        generator,
        discriminator,
        num_classes=None,
        feature_layer=None,
        latent_distribution="uniform",
        latent_dim=None,
        historical_averaging_weight=0.0,
        polyak_rate=None,
        polyak_debias=True,
        seed=None,
        update_order="sequential",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if update_order not in UPDATE_ORDERS:
            raise ValueError(
                f"`update_order` must be one of {UPDATE_ORDERS}. Received: update_order={update_order!r}"
            )
        self.update_order = update_order
        if latent_distribution not in LATENT_DISTRIBUTIONS:
            raise ValueError(
                f"`latent_distribution` must be one of {LATENT_DISTRIBUTIONS}. "
                f"Received: latent_distribution={latent_distribution!r}"
            )
        if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
            raise ValueError(
                f"`num_classes` must be an int >= 2 or None. Received: num_classes={num_classes!r}"
            )
        if historical_averaging_weight < 0:
            raise ValueError(
                "`historical_averaging_weight` must be >= 0. Received: "
                f"historical_averaging_weight={historical_averaging_weight}"
            )
        self.generator = generator
        self.discriminator = discriminator
        self.num_classes = num_classes
        self.feature_layer = feature_layer
        self.latent_distribution = latent_distribution
        self.latent_dim = int(latent_dim or getattr(generator, "latent_dim", 0) or generator.inputs[0].shape[-1])
        if not generator.built:
            # A subclassed G (`ReferenceBatchGenerator`) creates its weights here, in the
            # strategy's scope, so that `fit` under a strategy finds every layer built and
            # need not trace the model on a data batch first.
            generator.build((None, self.latent_dim))
        self.historical_averaging_weight = float(historical_averaging_weight)
        self.polyak_rate = polyak_rate
        self.polyak_debias = bool(polyak_debias)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

        expected_logits = 1 if num_classes is None else num_classes
        received_logits = discriminator.outputs[0].shape[-1]
        if received_logits != expected_logits:
            raise ValueError(
                f"The discriminator outputs {received_logits} logits but num_classes="
                f"{num_classes} needs {expected_logits}."
            )
        if feature_layer is not None:
            try:
                features = discriminator.get_layer(feature_layer).output
            except ValueError as error:
                names = [layer.name for layer in discriminator.layers]
                raise ValueError(
                    f"feature_layer={feature_layer!r} is not a layer of the discriminator "
                    f"'{discriminator.name}'. Its layers: {names}"
                ) from error
            self._features_and_logits = keras.Model(
                discriminator.inputs, [features, discriminator.outputs[0]],
                name=f"{discriminator.name}_features",
            )
        self._joint_batch = _has_joint_batch_layers(discriminator)
        # A joint-batch D is always called on [real; generated] together.
        self._separate_d_calls = _has_batch_dependent_layers(discriminator) and not self._joint_batch

        self.d_historical_average = self.g_historical_average = None
        if self.historical_averaging_weight > 0:
            self.d_historical_average = HistoricalAverage(
                discriminator.trainable_variables, name="d_historical_average"
            )
            self.g_historical_average = HistoricalAverage(
                generator.trainable_variables, name="g_historical_average"
            )
        self.d_polyak_average = None
        if polyak_rate is not None:
            self.d_polyak_average = PolyakAverage(
                discriminator.trainable_variables,
                rate=polyak_rate,
                debias=polyak_debias,
                name="d_polyak_average",
            )

        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.supervised_loss_tracker = keras.metrics.Mean(name="supervised_loss")
        self.unsupervised_loss_tracker = keras.metrics.Mean(name="unsupervised_loss")
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")
        self.error_tracker = keras.metrics.Mean(name="error")
        self.built = True

    # ------------------------------------------------------------------ setup
    def call(self, latents, training=False):
        """Generates samples from latents (so `predict(z)` samples G)."""
        return self.generator(latents, training=training)

    def compile(
        self,
        d_optimizer,
        g_optimizer,
        generator_loss="feature_matching",
        feature_matching_norm="l2",
        unsupervised_weight=1.0,
        label_smoothing=None,
        discriminator_steps=1,
        generator_steps=1,
        generator_target_probability=0.375,
        supervised_loss="real_classes",
        **kwargs,
    ):
        """Configures the game.

        Args:
            d_optimizer: optimizer of D.
            g_optimizer: optimizer of G.
            generator_loss: "feature_matching" (needs `feature_layer`),
                "non_saturating", "minimax" or "target_probability"
                (`losses.target_probability_generator_loss`).
            feature_matching_norm: "l2" (authors' MNIST) or "l1" (authors'
                CIFAR-10/SVHN); see `losses.feature_matching_loss`.
            unsupervised_weight: weight of D's unsupervised loss in semi-supervised
                mode (the authors' scripts: 0.5).
            label_smoothing: None, or alpha in (0, 1), the target of real examples
                (one-sided label smoothing, e.g. 0.9).
            discriminator_steps: k, D updates per `train_step`. The real batch
                is split into k equal parts, one per D update, so feed batches of
                k * m examples.
            generator_steps: G updates per `train_step`, each with fresh latents.
            generator_target_probability: the target D(G(z)) of
                generator_loss="target_probability" (the authors' ImageNet model:
                0.75 / 2 = 0.375, `imagenet/train_imagenet.py`).
            supervised_loss: "real_classes" (-log p(y | x, y < K+1),
                `losses.supervised_loss`) or "all_classes" (-log p(y | x) over the
                K+1 classes, `losses.all_classes_supervised_loss`, the authors'
                ImageNet model).
            **kwargs: passed to `keras.Model.compile` (e.g. `jit_compile`,
                `steps_per_execution`).
        """
        if generator_loss not in GENERATOR_LOSSES:
            raise ValueError(
                f"`generator_loss` must be one of {GENERATOR_LOSSES}. "
                f"Received: generator_loss={generator_loss!r}"
            )
        if generator_loss == "feature_matching" and self.feature_layer is None:
            raise ValueError(
                "generator_loss='feature_matching' needs the model's `feature_layer` "
                "(the name of D's layer whose mean activations G matches)."
            )
        if feature_matching_norm not in losses.FEATURE_MATCHING_NORMS:
            raise ValueError(
                f"`feature_matching_norm` must be one of {losses.FEATURE_MATCHING_NORMS}. "
                f"Received: feature_matching_norm={feature_matching_norm!r}"
            )
        if label_smoothing is not None and not 0.0 < label_smoothing < 1.0:
            raise ValueError(
                "`label_smoothing` is the target alpha of real examples, in (0, 1). "
                f"Received: label_smoothing={label_smoothing}"
            )
        for name, value in (("discriminator_steps", discriminator_steps),
                            ("generator_steps", generator_steps)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={value!r}")
            if self.update_order == "simultaneous" and value != 1:
                raise ValueError(
                    f"update_order='simultaneous' makes one update of each player per step; "
                    f"`{name}` must be 1. Received: {name}={value!r}"
                )
        if not 0.0 < generator_target_probability <= 1.0:
            raise ValueError(
                "`generator_target_probability` must be in (0, 1]. Received: "
                f"generator_target_probability={generator_target_probability}"
            )
        if supervised_loss not in SUPERVISED_LOSSES:
            raise ValueError(
                f"`supervised_loss` must be one of {SUPERVISED_LOSSES}. "
                f"Received: supervised_loss={supervised_loss!r}"
            )
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.generator_loss = generator_loss
        self.feature_matching_norm = feature_matching_norm
        self.unsupervised_weight = float(unsupervised_weight)
        self.label_smoothing = label_smoothing
        self.discriminator_steps = discriminator_steps
        self.generator_steps = generator_steps
        self.generator_target_probability = float(generator_target_probability)
        self.supervised_loss = supervised_loss
        # Slots are created here, in the strategy's scope, not lazily inside the
        # distributed step (keras-team/keras#20164).
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        trackers = [self.d_loss_tracker, self.g_loss_tracker]
        if self.num_classes is not None:
            trackers += [self.supervised_loss_tracker, self.unsupervised_loss_tracker]
        return trackers + [self.accuracy_tracker, self.error_tracker]

    def _data_init_layers(self):
        return [
            layer
            for model in (self.generator, self.discriminator)
            for layer in model._flatten_layers()
            if isinstance(layer, DataDependentInitMixin) and layer.data_init
        ]

    def mark_initialized(self):
        """Marks every data-dependent layer whose weights are set (by `initialize`, or
        by restoring a checkpoint) as initialized, so that neither `fit` nor
        `initialize` initializes it again from data."""
        for layer in self._data_init_layers():
            layer.mark_initialized_if_done()

    def initialize(self, x, num_latents=None):
        """Data-dependent initialization of every weight-normalized and minibatch
        discrimination layer, layer by layer, on real data `x` (for D) and on
        latents drawn for G (as many as `x` has rows unless `num_latents`).

        Runs eagerly; under a strategy it runs in cross-replica context, so call it
        after creating the model (inside or outside `strategy.scope()`). Layers
        already initialized (e.g. restored from a checkpoint) are left as they are.
        """
        x = ops.convert_to_tensor(x)
        count = int(num_latents or x.shape[0])
        latents = sample_latents(
            self.latent_distribution, (count, self.latent_dim),
            seed=tf.constant([0 if self.seed is None else int(self.seed), 7919]),
        )
        with self.distribute_strategy.scope():
            self.generator(latents, training=True)
            self.discriminator(x, training=True)
        self.mark_initialized()

    def fit(self, *args, **kwargs):
        uninitialized = [
            layer.name for layer in self._data_init_layers()
            if not layer.mark_initialized_if_done()
        ]
        if uninitialized and self.distribute_strategy.num_replicas_in_sync > 1:
            raise ValueError(
                f"Layers {uninitialized} use data-dependent initialization but have not "
                "been initialized. Under a multi-replica strategy call "
                "`model.initialize(x_init)` (e.g. 500 training examples) before `fit`."
            )
        return super().fit(*args, **kwargs)

    # ------------------------------------------------------------------ helpers
    def _sample_latents(self, batch_size):
        return sample_latents(
            self.latent_distribution, (batch_size, self.latent_dim),
            seed=replica_seed(self.seed_generator),
        )

    def _unpack(self, data):
        if isinstance(data, (tuple, list)):
            # Keras packs `fit(x)` / `train_on_batch(x)` as (x,) or (x, None, None).
            data = [part for part in data if part is not None]
            data = data[0] if len(data) == 1 else tuple(data)
        if not isinstance(data, dict):
            if self.num_classes is not None:
                raise ValueError(
                    "A semi-supervised ImprovedGAN (num_classes set) trains on dicts with "
                    f"keys {LABELED!r}, {LABELS!r}, {UNLABELED!r}; received {type(data).__name__}."
                )
            data = {UNLABELED: data}
        unknown = set(data) - set(_BATCH_KEYS)
        if unknown:
            raise ValueError(f"Unknown batch keys {sorted(unknown)}; expected some of {_BATCH_KEYS}.")
        required = (LABELED, LABELS, UNLABELED) if self.num_classes is not None else (UNLABELED,)
        missing = [key for key in required if key not in data]
        if missing:
            raise ValueError(f"Batch is missing keys {missing}; it has {sorted(data)}.")
        return data

    def _discriminator_logits(self, batches):
        """D's logits on each of `batches` (one call per batch, or one concatenated call)."""
        if self._separate_d_calls or len(batches) == 1:
            return [self.discriminator(b, training=True) for b in batches]
        sizes = [ops.shape(b)[0] for b in batches]
        logits = self.discriminator(ops.concatenate(batches, axis=0), training=True)
        return tf.split(logits, sizes, axis=0)

    @staticmethod
    def _split(tensor, parts):
        if tensor is None or parts == 1:
            return [tensor] * parts
        return tf.split(tensor, parts, axis=0)

    # ------------------------------------------------------------------ the game
    def train_step(self, data):
        data = self._unpack(data)
        if self.update_order == "simultaneous":
            d_loss, g_loss, supervised, unsupervised, labeled_logits, labels = self._simultaneous_step(data)
        else:
            d_loss, g_loss, supervised, unsupervised, labeled_logits, labels = self._sequential_step(data)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        results = {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}
        if self.num_classes is not None:
            correct = ops.cast(
                ops.equal(ops.argmax(labeled_logits, axis=-1), ops.cast(labels, "int64")), "float32"
            )
            self.supervised_loss_tracker.update_state(supervised)
            self.unsupervised_loss_tracker.update_state(unsupervised)
            self.accuracy_tracker.update_state(correct)
            results.update(
                supervised_loss=self.supervised_loss_tracker.result(),
                unsupervised_loss=self.unsupervised_loss_tracker.result(),
                accuracy=self.accuracy_tracker.result(),
            )
        return results

    def test_step(self, data):
        """Classification accuracy and error of D on labeled `(images, labels)`.

        In semi-supervised mode the prediction is argmax over the K real classes.
        `evaluate` runs it with the Polyak-averaged D weights when enabled.
        """
        if isinstance(data, dict):
            images, labels = data[LABELED], data[LABELS]
        else:
            images, labels = data[0], data[1]
        if self.num_classes is None:
            raise ValueError(
                "evaluate() measures classification error and needs a semi-supervised "
                "model (num_classes set)."
            )
        logits = self.discriminator(images, training=False)
        correct = ops.cast(
            ops.equal(ops.argmax(logits, axis=-1), ops.cast(labels, "int64")), "float32"
        )
        self.accuracy_tracker.update_state(correct)
        self.error_tracker.update_state(1.0 - correct)
        return {"accuracy": self.accuracy_tracker.result(), "error": self.error_tracker.result()}

    # ------------------------------------------------------------------ averaging
    @contextlib.contextmanager
    def averaged_discriminator_weights(self):
        """Context in which D holds its Polyak-averaged weights (a no-op without them).

        The current weights are restored on exit, also on error.
        """
        average = self.d_polyak_average
        if average is None or float(ops.convert_to_numpy(average.count)) == 0:
            yield
            return
        variables = average.tracked_variables
        saved = [ops.convert_to_numpy(v) for v in variables]
        for variable, value in zip(variables, average.averaged_values()):
            variable.assign(value)
        try:
            yield
        finally:
            for variable, value in zip(variables, saved):
                variable.assign(value)

    def evaluate(self, *args, **kwargs):
        with self.averaged_discriminator_weights():
            return super().evaluate(*args, **kwargs)

    # ------------------------------------------------------------------ config
    def get_config(self):
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "num_classes": self.num_classes,
            "feature_layer": self.feature_layer,
            "latent_distribution": self.latent_distribution,
            "latent_dim": self.latent_dim,
            "historical_averaging_weight": self.historical_averaging_weight,
            "polyak_rate": self.polyak_rate,
            "polyak_debias": self.polyak_debias,
            "seed": self.seed,
            "update_order": self.update_order,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)
