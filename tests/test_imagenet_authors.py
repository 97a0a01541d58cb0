"""The authors' ImageNet model (openai/improved-gan `imagenet/`): its losses, layers,
update order, reference batch and the `imagenet128_vbn` config, end to end.

Every formula is checked against numpy written from the definitions (KL divergence,
softmax cross-entropy, the L1 closeness of the minibatch features, batch moments),
not from the code under test.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from improved_gan_tf import ImprovedGAN
from improved_gan_tf import architectures
from improved_gan_tf import export
from improved_gan_tf import losses
from improved_gan_tf import training
from improved_gan_tf.architectures.imagenet import NoiseChannels
from improved_gan_tf.config import ConfigError
from improved_gan_tf.config import load_config_file
from improved_gan_tf.config import set_arch_kwargs
from improved_gan_tf.config import validate_config
from improved_gan_tf.layers import CrossBatchNormalization
from improved_gan_tf.layers import JointMinibatchFeatures
from improved_gan_tf.layers import KPlusOneDense

RNG = np.random.default_rng(15)


def _sigmoid(l):
    return 1.0 / (1.0 + np.exp(-l))


# ------------------------------------------------------------------ item 1: G's target


@pytest.mark.parametrize("target", [0.375, 0.9, 0.5, 1.0, 0.0])
def test_sigmoid_kl_is_the_bernoulli_kl_divergence(target):
    logits = np.linspace(-6, 6, 25)
    p = _sigmoid(logits)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(target > 0, target * np.log(target / p), 0.0) + np.where(
            target < 1, (1 - target) * np.log((1 - target) / (1 - p)), 0.0
        )
    got = losses.sigmoid_kl_with_logits(tf.constant(logits, tf.float32), target).numpy()
    np.testing.assert_allclose(got, kl, rtol=1e-4, atol=1e-5)


def test_sigmoid_kl_equals_the_authors_cross_entropy_minus_entropy_formula():
    # imagenet/model.py: sigmoid_cross_entropy_with_logits(l, t) - entropy(t).
    logits = RNG.normal(0, 3, size=(7,))
    t = 0.375
    cross_entropy = -(t * np.log(_sigmoid(logits)) + (1 - t) * np.log(1 - _sigmoid(logits)))
    entropy = -t * np.log(t) - (1 - t) * np.log(1 - t)
    got = losses.sigmoid_kl_with_logits(tf.constant(logits, tf.float32), t).numpy()
    np.testing.assert_allclose(got, cross_entropy - entropy, rtol=1e-4, atol=1e-6)


def test_target_probability_loss_is_zero_exactly_at_the_target_and_finite_at_extremes():
    at_target = math.log(0.375 / 0.625)
    assert losses.target_probability_generator_loss(tf.constant([[at_target]]), 0.375).numpy() == pytest.approx(0, abs=1e-6)
    extreme = losses.target_probability_generator_loss(tf.constant([-1e4, 1e4]), 0.375).numpy()
    assert np.isfinite(extreme) and extreme > 100


def test_target_probability_loss_matches_numpy_on_k_class_logits():
    logits = RNG.normal(0, 2, size=(6, 4)).astype("float32")
    d_logit = np.log(np.exp(logits).sum(axis=1))  # D = Z / (Z + 1), logit log Z
    p = _sigmoid(d_logit)
    t = 0.375
    expected = np.mean(t * np.log(t / p) + (1 - t) * np.log((1 - t) / (1 - p)))
    got = losses.target_probability_generator_loss(logits, t).numpy()
    assert got == pytest.approx(expected, rel=1e-4)


def test_target_of_one_is_the_non_saturating_loss_and_bad_targets_are_refused():
    logits = tf.constant(RNG.normal(size=(5, 1)), tf.float32)
    np.testing.assert_allclose(
        losses.target_probability_generator_loss(logits, 1.0).numpy(),
        losses.non_saturating_generator_loss(logits).numpy(), rtol=1e-6,
    )
    with pytest.raises(ValueError, match="target_probability=0"):
        losses.target_probability_generator_loss(logits, 0.0)
    with pytest.raises(ValueError, match="target=1.5"):
        losses.sigmoid_kl_with_logits(logits, 1.5)


# ------------------------------------------------------------------ item 4: K+1 logits


def test_k_plus_one_dense_gives_the_authors_gan_logits_and_1001_way_class_loss():
    num_classes, features = 6, 5
    layer = KPlusOneDense(num_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=1.0, seed=3))
    h = RNG.normal(size=(8, features)).astype("float32")
    output = layer(h).numpy()
    raw = h @ layer.kernel.numpy() + layer.bias.numpy()  # the K+1 logits, last = generated
    assert output.shape == (8, num_classes)
    # discriminator.py: gan_logits = log sum exp(positive logits) - generated logit.
    gan_logits = np.log(np.exp(raw[:, :num_classes]).sum(axis=1)) - raw[:, num_classes]
    np.testing.assert_allclose(losses.unsupervised_logit(output).numpy(), gan_logits, rtol=1e-4, atol=1e-5)
    # build_model.py: softmax cross-entropy over all K+1 raw logits.
    labels = RNG.integers(0, num_classes, size=8)
    log_softmax = raw - np.log(np.exp(raw).sum(axis=1, keepdims=True))
    expected = -np.mean(log_softmax[np.arange(8), labels])
    got = losses.all_classes_supervised_loss(output, labels).numpy()
    assert got == pytest.approx(expected, rel=1e-5)
    # ... which is more than the K-way loss by -log D(x) of the labeled examples.
    k_way = losses.supervised_loss(output, labels).numpy()
    assert got - k_way == pytest.approx(np.mean(np.log1p(np.exp(-gan_logits))), rel=1e-4)


def test_k_plus_one_dense_starts_at_the_authors_init():
    layer = KPlusOneDense(1000)
    layer.build((None, 2560))
    kernel = layer.kernel.numpy()
    assert kernel.shape == (2560, 1001)
    assert abs(kernel.std() - 0.02) < 0.001 and not layer.bias.numpy().any()


# ------------------------------------------------------------------ item 2: minibatch features


def _authors_minibatch_features(h, kernel, bias, num_kernels, kernel_dim):
    """From the definition: closeness of each row to each half of the joint batch."""
    rows = h.shape[0]
    half = rows // 2
    m = (h @ kernel + bias).reshape(rows, num_kernels, kernel_dim)
    real = np.zeros((rows, num_kernels))
    fake = np.zeros((rows, num_kernels))
    for i in range(rows):
        for j in range(rows):
            if i == j:
                continue
            closeness = np.exp(-np.abs(m[i] - m[j]).sum(axis=-1))
            (real if j < half else fake)[i] += closeness
    # The mask of each half has rows * half entries, minus the `half` diagonal ones.
    count = rows * half - half
    return np.concatenate([h, real / count, fake / count], axis=1)


def test_joint_minibatch_features_match_the_definition_on_a_joint_batch():
    layer = JointMinibatchFeatures(4, 3, kernel_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=1),
                                   bias_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=2))
    h = RNG.normal(size=(6, 5)).astype("float32")
    got = layer(h, training=True).numpy()
    expected = _authors_minibatch_features(h, layer.kernel.numpy(), layer.bias.numpy(), 4, 3)
    assert got.shape == (6, 5 + 2 * 4)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_joint_minibatch_features_tell_the_halves_apart():
    layer = JointMinibatchFeatures(2, 2, kernel_initializer=keras.initializers.Identity())
    real = np.zeros((3, 4), "float32")
    fake = np.full((3, 4), 5.0, "float32")
    out = layer(np.concatenate([real, fake]), training=True).numpy()
    count = 6 * 3 - 3
    # A real row is at L1 distance 0 from the two other real rows and 2 * 5 (a kernel
    # spans two of the identity's coordinates) from each of the three fakes.
    np.testing.assert_allclose(out[0, 4:6], 2.0 / count, rtol=1e-6)
    np.testing.assert_allclose(out[0, 6:8], 3 * np.exp(-10.0) / count, rtol=1e-5)
    np.testing.assert_allclose(out[5, 6:8], 2.0 / count, rtol=1e-6)
    np.testing.assert_allclose(out[5, 4:6], 3 * np.exp(-10.0) / count, rtol=1e-5)


def test_joint_minibatch_features_at_inference_compare_the_batch_with_itself():
    layer = JointMinibatchFeatures(3, 2, kernel_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=4))
    h = RNG.normal(size=(4, 3)).astype("float32")
    got = layer(h, training=False).numpy()
    m = (h @ layer.kernel.numpy()).reshape(4, 3, 2)
    expected = np.zeros((4, 3))
    for i in range(4):
        for j in range(4):
            if i != j:
                expected[i] += np.exp(-np.abs(m[i] - m[j]).sum(-1)) / (4 * 3)
    np.testing.assert_allclose(got[:, 3:6], expected, rtol=1e-5)
    np.testing.assert_allclose(got[:, 6:9], expected, rtol=1e-5)
    single = layer(h[:1], training=False).numpy()
    assert np.all(single[:, 3:] == 0)


def test_joint_minibatch_features_refuse_an_odd_training_batch_and_default_to_the_authors_init():
    layer = JointMinibatchFeatures()
    with pytest.raises(ValueError, match="even size. Received: batch size 5"):
        layer(np.zeros((5, 8), "float32"), training=True)
    assert layer.kernel.shape == (8, 300 * 50)
    assert abs(layer.kernel.numpy().std() - 0.02) < 0.001 and not layer.bias.numpy().any()


# ------------------------------------------------------------------ item 3: cross batch norm


def test_cross_batch_norm_normalizes_each_channel_half_with_one_batch_half():
    layer = CrossBatchNormalization(gamma_initializer=keras.initializers.RandomNormal(1.0, 0.3, seed=5),
                                    beta_initializer=keras.initializers.RandomNormal(0.0, 0.3, seed=6))
    x = RNG.normal(size=(6, 3, 3, 4)).astype("float32") * np.array([1, 2, 3, 4], "float32") + 1.5
    got = layer(x, training=True).numpy()
    gamma, beta = layer.gamma.numpy(), layer.beta.numpy()
    expected = np.empty_like(x)
    for c in range(4):
        rows = slice(0, 3) if c < 2 else slice(3, 6)  # channels 0, 1: real half's moments
        values = x[rows, :, :, c]
        mean, variance = values.mean(), ((values - values.mean()) ** 2).mean()
        expected[..., c] = (x[..., c] - mean) / np.sqrt(variance + 1e-5) * gamma[c] + beta[c]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_cross_batch_norm_at_inference_uses_the_whole_batch_and_starts_at_the_authors_init():
    layer = CrossBatchNormalization()
    x = RNG.normal(2.0, 3.0, size=(5, 8)).astype("float32")
    got = layer(x, training=False).numpy()
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) * layer.gamma.numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    big = CrossBatchNormalization()
    big.build((None, 20000))
    assert abs(big.gamma.numpy().mean() - 1) < 0.001 and abs(big.gamma.numpy().std() - 0.02) < 0.001


def test_cross_batch_norm_refuses_odd_channels_and_odd_training_batches():
    with pytest.raises(ValueError, match="even number of channels"):
        CrossBatchNormalization()(np.zeros((4, 3), "float32"))
    with pytest.raises(ValueError, match="batch size 3"):
        CrossBatchNormalization()(np.zeros((3, 2), "float32"), training=True)


# ------------------------------------------------------------------ item 5: simultaneous updates


@keras.saving.register_keras_serializable(package="test_imagenet_authors")
class CallCounter(keras.layers.Layer):
    """Counts its calls in a non-trainable variable (so also inside `tf.function`)."""

    def build(self, input_shape):
        self.calls = self.add_weight(name="calls", shape=(), initializer="zeros", trainable=False)

    def call(self, inputs):
        self.calls.assign_add(1.0)
        return inputs


def _counted_gan(update_order):
    z = keras.Input((3,))
    h = CallCounter(name="counter")(z)
    g_out = keras.layers.Dense(5, activation="tanh", kernel_initializer=keras.initializers.GlorotUniform(1))(h)
    x = keras.Input((5,))
    d = CallCounter(name="counter")(x)
    d = keras.layers.Dense(8, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(2))(d)
    d_out = keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(3))(d)
    gan = ImprovedGAN(keras.Model(z, g_out), keras.Model(x, d_out), seed=0, update_order=update_order)
    gan.compile(keras.optimizers.SGD(0.5), keras.optimizers.SGD(0.5), generator_loss="non_saturating")
    return gan


def _unsupervised_batch():
    latents = RNG.uniform(size=(8, 3)).astype("float32")
    return {"unlabeled_images": RNG.normal(size=(8, 5)).astype("float32"),
            "latents": latents, "generator_latents": latents}


def test_simultaneous_updates_take_both_gradients_from_one_forward_pass():
    gan = _counted_gan("simultaneous")
    sequential = _counted_gan("sequential")
    sequential.set_weights(gan.get_weights())
    batch = _unsupervised_batch()
    g_before = [w.numpy() for w in gan.generator.trainable_weights]
    d_before = [w.numpy() for w in gan.discriminator.trainable_weights]

    # The expected step: both gradients at the weights before the step.
    with tf.GradientTape(persistent=True) as tape:
        fake = gan.generator(batch["latents"], training=True)
        real_logits = gan.discriminator(batch["unlabeled_images"], training=True)
        fake_logits = gan.discriminator(fake, training=True)
        d_loss = losses.discriminator_loss(real_logits, fake_logits)
        g_loss = losses.non_saturating_generator_loss(fake_logits)
    d_gradients = tape.gradient(d_loss, gan.discriminator.trainable_weights)
    g_gradients = tape.gradient(g_loss, gan.generator.trainable_weights)
    gan.generator.get_layer("counter").calls.assign(0.0)
    gan.discriminator.get_layer("counter").calls.assign(0.0)

    gan.train_on_batch(batch)
    sequential.train_on_batch(batch)

    assert gan.generator.get_layer("counter").calls.numpy() == 1
    assert gan.discriminator.get_layer("counter").calls.numpy() == 1
    assert sequential.generator.get_layer("counter").calls.numpy() == 2
    for before, gradient, after in zip(g_before, g_gradients, gan.generator.trainable_weights):
        np.testing.assert_allclose(after.numpy(), before - 0.5 * gradient.numpy(), rtol=1e-5, atol=1e-6)
    for before, gradient, after in zip(d_before, d_gradients, gan.discriminator.trainable_weights):
        np.testing.assert_allclose(after.numpy(), before - 0.5 * gradient.numpy(), rtol=1e-5, atol=1e-6)
    # Same D update; G's differs, because sequential G steps through the updated D.
    for a, b in zip(gan.discriminator.trainable_weights, sequential.discriminator.trainable_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    assert any(
        not np.allclose(a.numpy(), b.numpy(), atol=1e-6)
        for a, b in zip(gan.generator.trainable_weights, sequential.generator.trainable_weights)
    )


def test_simultaneous_updates_refuse_several_steps_and_unknown_orders():
    with pytest.raises(ValueError, match="update_order='bogus'"):
        _counted_gan("bogus")
    gan = _counted_gan("simultaneous")
    with pytest.raises(ValueError, match="generator_steps=3"):
        gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), generator_loss="minimax", generator_steps=3)
    assert ImprovedGAN.from_config(gan.get_config()).update_order == "simultaneous"


# ------------------------------------------------------------------ item 6: reference batch


def test_reference_noise_channels_are_fixed_and_the_other_rows_fresh():
    layer = NoiseChannels(3, seed=2, reference_batch_size=2)
    x = np.zeros((5, 4, 4, 1), "float32")
    first = layer(x, training=True).numpy()[..., 1:]
    second = layer(x, training=True).numpy()[..., 1:]
    np.testing.assert_array_equal(first[:2], second[:2])
    np.testing.assert_array_equal(first[:2], layer.reference_noise.numpy())
    assert not np.allclose(first[2:], second[2:])
    assert first.min() >= -1 and first.max() <= 1


def _tiny_imagenet_generator():
    return architectures.imagenet128_generator(gf_dim=2, latent_dim=8, reference_batch_size=2, seed=3)


def test_vbn_reference_statistics_are_identical_across_steps_with_the_same_weights():
    generator = _tiny_imagenet_generator()
    statistics = []
    for _ in range(2):
        generator(RNG.uniform(-1, 1, size=(2, 8)).astype("float32"), training=True)
        statistics.append([generator.body.get_layer(f"vbn_{i}").reference_mean.numpy() for i in range(6)])
    for a, b in zip(*statistics):
        np.testing.assert_array_equal(a, b)


def test_imagenet_networks_start_at_the_authors_init():
    generator = architectures.imagenet128_generator(gf_dim=8, latent_dim=16, seed=0)
    assert generator.reference_batch_size == 16
    output = generator.body.get_layer("output")
    assert abs(output.kernel.numpy().std() - 0.075) < 0.005
    np.testing.assert_allclose(output.bias.numpy(), -0.45, rtol=1e-6)
    discriminator = architectures.imagenet128_discriminator(df_dim=8, num_classes=10, seed=0)
    conv = discriminator.get_layer("conv_3").kernel.numpy()
    # Truncated at 2 standard deviations (TF's truncated_normal_initializer).
    assert np.abs(conv).max() <= 0.04 and 0.015 < conv.std() < 0.02
    dense = discriminator.get_layer("dense").kernel.numpy()
    assert abs(dense.std() - 0.02) < 0.001
    assert not discriminator.get_layer("conv_3").bias.numpy().any()
    assert discriminator.get_layer("logits").kernel.shape[-1] == 11


# ------------------------------------------------------------------ the config, end to end


def test_imagenet_config_uses_the_authors_game():
    config = load_config_file("imagenet128_vbn")
    validate_config(config)
    assert (config.model.generator_loss, config.model.generator_target_probability) == ("target_probability", 0.375)
    assert (config.model.update_order, config.model.supervised_loss) == ("simultaneous", "all_classes")
    arch = config.model.arch
    assert (arch.reference_batch_size, arch.output_stddev, arch.output_bias) == (16, 0.075, -0.45)
    assert config.train.batch_size == 4 * 16 and config.model.label_smoothing == 0.75


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("update_order", "alternating", "config.model.update_order='alternating'"),
        ("supervised_loss", "k_classes", "config.model.supervised_loss='k_classes'"),
        ("generator_target_probability", 0.0, "generator_target_probability=0.0"),
        ("generator_steps", 3, "generator_steps=3 must be 1"),
    ],
)
def test_config_refuses_bad_values_of_the_new_keys(key, value, message):
    config = load_config_file("imagenet128_vbn")
    config.model[key] = value
    with pytest.raises(ConfigError, match=message):
        validate_config(config)


def test_imagenet_model_steps_under_two_devices_and_exports(two_replica_strategy, tmp_path):
    config = load_config_file("imagenet128_vbn")
    set_arch_kwargs(config, gf_dim=2, df_dim=2, latent_dim=8, reference_batch_size=2, num_classes=4,
                    minibatch_kernels=3, kernel_dim=2)
    config.train.batch_size = 4
    validate_config(config)
    model = training.build_model(config, strategy=two_replica_strategy)
    assert model.distribute_strategy.num_replicas_in_sync == 2
    assert model.update_order == "simultaneous" and model.generator_loss == "target_probability"
    images = RNG.uniform(-1, 1, size=(4, 128, 128, 3)).astype("float32")
    batch = {"labeled_images": images, "labels": np.array([0, 1, 2, 3]), "unlabeled_images": images}
    g_before = [w.numpy().copy() for w in model.generator.trainable_weights]
    d_before = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    noise_before = model.generator.body.get_layer("noise_2").reference_noise.numpy().copy()
    history = model.fit(tf.data.Dataset.from_tensors(batch).repeat(2), epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][-1]) and np.isfinite(history["g_loss"][-1])
    assert int(model.d_optimizer.iterations.numpy()) == 2 and int(model.g_optimizer.iterations.numpy()) == 2
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(g_before, model.generator.trainable_weights))
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(d_before, model.discriminator.trainable_weights))
    np.testing.assert_array_equal(noise_before, model.generator.body.get_layer("noise_2").reference_noise.numpy())

    generator_dir = export.export_generator(model, tmp_path / "generator" / "1")
    classifier_dir = export.export_classifier(model, tmp_path / "classifier" / "1", dataset="imagenet2012")
    served_g = tf.saved_model.load(str(generator_dir))
    z = RNG.uniform(-1, 1, size=(3, 8)).astype("float32")
    samples = served_g.signatures["serving_default"](z=tf.constant(z))["images"].numpy()
    assert samples.shape == (3, 128, 128, 3) and 0 <= samples.min() and samples.max() <= 1
    np.testing.assert_allclose(samples, (model.generator(z).numpy() + 1) / 2, rtol=1e-4, atol=1e-5)
    served_c = tf.saved_model.load(str(classifier_dir))
    raw = RNG.integers(0, 256, size=(2, 128, 128, 3)).astype("uint8")
    outputs = served_c.signatures["serving_default"](images=tf.constant(raw))
    probabilities = outputs["class_probabilities"].numpy()
    assert probabilities.shape == (2, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


# ------------------------------------------------------------------ item 7: MNIST minibatch model


def test_mnist_minibatch_model_initializes_only_d_from_data_and_its_kernels_start_at_0_1():
    from improved_gan_tf.layers import MinibatchDiscrimination
    from improved_gan_tf.layers import WeightNormalization

    generator = architectures.mnist_conv_generator()
    output = generator.get_layer("output")
    assert isinstance(output, WeightNormalization) and not output.data_init
    gan = ImprovedGAN(generator, architectures.mnist_conv_discriminator(seed=1), num_classes=10,
                      feature_layer="features")
    layer = gan.discriminator.get_layer("minibatch_discrimination")
    assert isinstance(layer, MinibatchDiscrimination) and layer.data_init
    assert abs(layer.theta.numpy().std() - 0.1) < 0.005


@pytest.mark.parametrize("name", ["cifar10_minibatch_discrimination", "mnist_minibatch_discrimination"])
def test_configs_of_scripts_without_a_seed_data_flag_do_not_cite_one(name):
    from improved_gan_tf.config import CONFIGS_DIR

    assert "--seed_data 1" not in (CONFIGS_DIR / f"{name}.py").read_text()


@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (lambda: CrossBatchNormalization(), (4, 3, 3, 6)),
        (lambda: JointMinibatchFeatures(3, 2), (4, 5)),
        (lambda: KPlusOneDense(3), (4, 5)),
        (lambda: NoiseChannels(2, seed=4, reference_batch_size=2), (4, 3, 3, 1)),
    ],
)
def test_new_layers_survive_a_config_round_trip(make, shape):
    layer = make()
    x = RNG.normal(size=shape).astype("float32")
    expected = layer(x, training=True).numpy()
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    copy.set_weights(layer.get_weights())
    got = copy(x, training=True).numpy()
    if isinstance(layer, NoiseChannels):  # fresh noise on the non-reference rows
        got, expected = got[:2], expected[:2]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
