"""ImprovedGAN: the game, its options, distribution, and learning on real MNIST."""

import numpy as np
import pytest
import keras
import tensorflow as tf

from improved_gan_tf import ImprovedGAN
from improved_gan_tf import architectures
from improved_gan_tf import losses
from improved_gan_tf.averaging import HistoricalAverage
from improved_gan_tf.data import load_arrays
from improved_gan_tf.data import select_labeled_subset
from improved_gan_tf.layers import WeightNormalization

RNG = np.random.default_rng(2)


def small_generator(latent_dim=4, seed=0):
    z = keras.Input((latent_dim,))
    h = keras.layers.Dense(16, activation="softplus", kernel_initializer=keras.initializers.GlorotUniform(seed))(z)
    out = keras.layers.Dense(6, activation="sigmoid", kernel_initializer=keras.initializers.GlorotUniform(seed + 1))(h)
    return keras.Model(z, out, name="generator")


def small_discriminator(num_logits=3, seed=0, noise=False):
    from improved_gan_tf.layers import GaussianNoise

    x = keras.Input((6,))
    h = GaussianNoise(0.3, seed=seed)(x) if noise else x
    h = WeightNormalization(
        keras.layers.Dense(12, activation="relu", kernel_initializer=keras.initializers.RandomNormal(0, 0.1, seed)),
        train_g=False, name="features",
    )(h)
    logits = WeightNormalization(
        keras.layers.Dense(num_logits, kernel_initializer=keras.initializers.RandomNormal(0, 0.1, seed + 1)),
        name="logits",
    )(h)
    return keras.Model(x, logits, name="discriminator")


def semi_supervised_batches(batch, steps, latent_dim=4, seed=0):
    rng = np.random.default_rng(seed)
    n = batch * steps
    return {
        "labeled_images": rng.uniform(size=(n, 6)).astype("float32"),
        "labels": rng.integers(0, 3, size=n),
        "unlabeled_images": rng.uniform(size=(n, 6)).astype("float32"),
        "unlabeled_images_2": rng.uniform(size=(n, 6)).astype("float32"),
        "latents": rng.uniform(size=(n, latent_dim)).astype("float32"),
        "generator_latents": rng.uniform(size=(n, latent_dim)).astype("float32"),
    }


def build_gan(strategy, **compile_kwargs):
    with strategy.scope():
        gan = ImprovedGAN(small_generator(), small_discriminator(), num_classes=3, feature_layer="features", seed=0)
        gan.compile(keras.optimizers.SGD(0.5), keras.optimizers.SGD(0.5), unsupervised_weight=0.5, **compile_kwargs)
        gan.initialize(np.random.default_rng(9).uniform(size=(32, 6)).astype("float32"))
    return gan


def weights_of(model):
    return [w.numpy() for w in model.weights]


@pytest.mark.parametrize("generator_loss", ["feature_matching", "non_saturating"])
def test_two_replicas_match_one_device_on_the_same_global_batch(generator_loss, two_replica_strategy):
    data = semi_supervised_batches(batch=8, steps=2)
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(8)
    one = build_gan(tf.distribute.OneDeviceStrategy("/cpu:0"), generator_loss=generator_loss)
    two = build_gan(two_replica_strategy, generator_loss=generator_loss)
    for a, b in zip(weights_of(one.discriminator), weights_of(two.discriminator)):
        np.testing.assert_array_equal(a, b)
    history_one = one.fit(dataset, epochs=1, verbose=0).history
    history_two = two.fit(dataset, epochs=1, verbose=0).history
    assert two.distribute_strategy.num_replicas_in_sync == 2
    for model_one, model_two in ((one.generator, two.generator), (one.discriminator, two.discriminator)):
        for a, b in zip(weights_of(model_one), weights_of(model_two)):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(history_one["g_loss"], history_two["g_loss"], rtol=1e-5)


def test_feature_matching_step_equals_gradient_of_global_batch_loss():
    """One G step with SGD moves G by -lr * d/dtheta of the global-batch feature matching
    loss, computed with D as updated by the D step that precedes it."""
    gan = build_gan(tf.distribute.get_strategy(), generator_loss="feature_matching")
    reference = build_gan(tf.distribute.get_strategy(), generator_loss="feature_matching")
    reference.set_weights(gan.get_weights())
    data = semi_supervised_batches(batch=8, steps=1)
    gan.fit(tf.data.Dataset.from_tensor_slices(data).batch(8), epochs=1, verbose=0)

    reference.discriminator.set_weights(gan.discriminator.get_weights())
    features = keras.Model(reference.discriminator.inputs, reference.discriminator.get_layer("features").output)
    generator_before = reference.generator.trainable_weights
    with tf.GradientTape() as tape:
        fake = reference.generator(data["generator_latents"], training=True)
        loss = losses.feature_matching_loss(features(data["unlabeled_images_2"]), features(fake))
    gradients = tape.gradient(loss, generator_before)
    for before, gradient, after in zip(generator_before, gradients, gan.generator.trainable_weights):
        np.testing.assert_allclose(after.numpy(), before.numpy() - 0.5 * gradient.numpy(), rtol=1e-4, atol=1e-6)


def test_discriminator_and_generator_step_counts():
    gan = build_gan(tf.distribute.get_strategy(), discriminator_steps=2, generator_steps=3)
    data = semi_supervised_batches(batch=8, steps=3)
    data.pop("latents")
    gan.fit(tf.data.Dataset.from_tensor_slices(data).batch(8), epochs=1, verbose=0)
    assert int(gan.d_optimizer.iterations.numpy()) == 2 * 3
    assert int(gan.g_optimizer.iterations.numpy()) == 3 * 3


def test_polyak_average_used_by_evaluate_and_weights_restored_after():
    with tf.distribute.get_strategy().scope():
        gan = ImprovedGAN(small_generator(), small_discriminator(), num_classes=3, feature_layer="features",
                          polyak_rate=0.3, polyak_debias=False, seed=0)
        gan.compile(keras.optimizers.Adam(0.05), keras.optimizers.Adam(0.05))
    gan.initialize(RNG.uniform(size=(16, 6)).astype("float32"))
    history = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            history.append([w.numpy().copy() for w in gan.discriminator.trainable_weights])

    data = semi_supervised_batches(batch=8, steps=5)
    gan.fit(tf.data.Dataset.from_tensor_slices(data).batch(8), epochs=1, verbose=0, callbacks=[Record()])
    expected_average = [np.zeros_like(w) for w in history[0]]
    for step_weights in history:
        expected_average = [a + 0.3 * (w - a) for a, w in zip(expected_average, step_weights)]
    for average, expected in zip(gan.d_polyak_average.averages, expected_average):
        np.testing.assert_allclose(average.numpy(), expected, rtol=1e-5, atol=1e-6)

    x, y = RNG.uniform(size=(40, 6)).astype("float32"), RNG.integers(0, 3, 40)
    current = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    with gan.averaged_discriminator_weights():
        expected_accuracy = np.mean(np.argmax(gan.discriminator(x).numpy(), -1) == y)
    result = gan.evaluate(x, y, batch_size=10, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["accuracy"], expected_accuracy, rtol=1e-6)
    np.testing.assert_allclose(result["error"], 1 - expected_accuracy, rtol=1e-6)
    for before, after in zip(current, gan.discriminator.trainable_weights):
        np.testing.assert_array_equal(before, after.numpy())
    with gan.averaged_discriminator_weights():
        for average, variable in zip(expected_average, gan.discriminator.trainable_weights):
            np.testing.assert_allclose(variable.numpy(), average, rtol=1e-5, atol=1e-6)


def test_historical_average_is_the_mean_of_past_parameters():
    with tf.distribute.get_strategy().scope():
        gan = ImprovedGAN(small_generator(), small_discriminator(), num_classes=3, feature_layer="features",
                          historical_averaging_weight=0.1, seed=0)
        gan.compile(keras.optimizers.Adam(0.05), keras.optimizers.Adam(0.05))
    gan.initialize(RNG.uniform(size=(16, 6)).astype("float32"))
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append([w.numpy().copy() for w in gan.discriminator.trainable_weights])

    data = semi_supervised_batches(batch=8, steps=4)
    gan.fit(tf.data.Dataset.from_tensor_slices(data).batch(8), epochs=1, verbose=0, callbacks=[Record()])
    assert float(gan.d_historical_average.count.numpy()) == 4
    for index, average in enumerate(gan.d_historical_average.averages):
        np.testing.assert_allclose(average.numpy(), np.mean([s[index] for s in seen], axis=0), rtol=1e-5, atol=1e-6)


def _bilinear_game(weight, steps=1000, lr=0.1):
    """min_x max_y x*y with simultaneous gradient steps (x descends, y ascends)."""
    x, y = tf.Variable([1.0]), tf.Variable([1.0])
    averages = (HistoricalAverage([x]), HistoricalAverage([y]))
    optimizer_x, optimizer_y = keras.optimizers.SGD(lr), keras.optimizers.SGD(lr)

    @tf.function
    def step():
        for average in averages:
            average.update()
        with tf.GradientTape(persistent=True) as tape:
            value = tf.reduce_sum(x * y)
            loss_x = value + losses.historical_averaging_penalty([x], averages[0].averages, weight)
            loss_y = -value + losses.historical_averaging_penalty([y], averages[1].averages, weight)
        gradient_x, gradient_y = tape.gradient(loss_x, [x])[0], tape.gradient(loss_y, [y])[0]
        optimizer_x.apply_gradients([(gradient_x, x)])
        optimizer_y.apply_gradients([(gradient_y, y)])

    for _ in range(steps):
        step()
    return float(tf.sqrt(x[0] ** 2 + y[0] ** 2))


def test_historical_averaging_makes_the_bilinear_game_converge():
    start = np.sqrt(2.0)
    assert _bilinear_game(0.0) > 10 * start  # simultaneous gradient steps spiral outward
    assert _bilinear_game(0.5) < 0.5 * start  # with the penalty they spiral in


def test_argument_errors_name_the_argument():
    generator, discriminator = small_generator(), small_discriminator()
    with pytest.raises(ValueError, match="feature_layer='nope'"):
        ImprovedGAN(generator, discriminator, num_classes=3, feature_layer="nope")
    with pytest.raises(ValueError, match="outputs 3 logits"):
        ImprovedGAN(generator, discriminator, num_classes=None)
    with pytest.raises(ValueError, match="latent_distribution='gauss'"):
        ImprovedGAN(generator, discriminator, num_classes=3, latent_distribution="gauss")
    gan = ImprovedGAN(generator, discriminator, num_classes=3)
    with pytest.raises(ValueError, match="feature_layer"):
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    with pytest.raises(ValueError, match="label_smoothing=1.5"):
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), generator_loss="minimax", label_smoothing=1.5)
    with pytest.raises(ValueError, match="generator_steps=0"):
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), generator_loss="minimax", generator_steps=0)


def test_fit_under_two_replicas_requires_initialization(two_replica_strategy):
    strategy = two_replica_strategy
    with strategy.scope():
        gan = ImprovedGAN(small_generator(), small_discriminator(), num_classes=3, feature_layer="features")
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    data = tf.data.Dataset.from_tensor_slices(semi_supervised_batches(8, 1)).batch(8)
    with pytest.raises(ValueError, match=r"initialize\(x_init\)"):
        gan.fit(data, epochs=1, verbose=0)


def test_unsupervised_mode_with_minibatch_discrimination_and_label_smoothing_trains():
    from improved_gan_tf.layers import MinibatchDiscrimination

    x = keras.Input((6,))
    h = keras.layers.Dense(8, activation="relu")(x)
    h = MinibatchDiscrimination(4, 3, name="minibatch")(h)
    discriminator = keras.Model(x, keras.layers.Dense(1)(h))
    gan = ImprovedGAN(small_generator(), discriminator, seed=1)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), generator_loss="minimax",
                label_smoothing=0.9, generator_steps=3)
    assert gan._separate_d_calls
    gan.initialize(RNG.uniform(size=(16, 6)).astype("float32"))
    history = gan.fit(RNG.uniform(size=(64, 6)).astype("float32"), batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][0]) and np.isfinite(history["g_loss"][0])
    assert int(gan.g_optimizer.iterations.numpy()) == 3 * 4


def test_architecture_parameter_counts():
    def trainable(model):
        return sum(int(np.prod(w.shape)) for w in model.trainable_weights)

    # MNIST G: two bias-free Dense + shift-only BN, then WN Dense 784 with trainable g
    assert trainable(architectures.mnist_mlp_generator()) == (100 * 500 + 500) + (500 * 500 + 500) + (500 * 784 + 784 + 784)
    # MNIST D: WN Dense layers with frozen g, last layer with trainable g
    widths = [784, 1000, 500, 250, 250, 250]
    hidden = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
    assert trainable(architectures.mnist_mlp_discriminator()) == hidden + 250 * 10 + 10 + 10

    def conv(k, cin, cout):
        return k * k * cin * cout + cout

    def trunk(channels, narrow, wide):
        return (conv(3, channels, narrow) + 2 * conv(3, narrow, narrow) + conv(3, narrow, wide)
                + 3 * conv(3, wide, wide) + 2 * conv(1, wide, wide))

    assert trainable(architectures.cifar10_discriminator()) == trunk(3, 96, 192) + 192 * 10 + 10 + 10
    assert trainable(architectures.svhn_discriminator()) == trunk(3, 64, 128) + 128 * 10 + 10 + 10
    minibatch = 192 * 100 * 5 + 100 * 5 + 100
    assert trainable(architectures.cifar10_discriminator(minibatch_discrimination=True)) == (
        trunk(3, 96, 192) + minibatch + (192 + 100) * 10 + 10 + 10
    )
    assert trainable(architectures.svhn_discriminator(minibatch_discrimination=True)) == (
        trunk(3, 96, 192) + minibatch + (192 + 100) * 10 + 10 + 10
    )
    dcgan = (100 * 8192 + 8192) + (25 * 512 * 256 + 256) + (25 * 256 * 128 + 128) + (25 * 128 * 3 + 3 + 3)
    assert trainable(architectures.cifar10_generator()) == dcgan
    assert trainable(architectures.svhn_generator()) == dcgan
    assert trainable(architectures.goodfellow2014_generator()) == (100 * 1200 + 1200) + (1200 * 1200 + 1200) + (1200 * 784 + 784)
    assert trainable(architectures.goodfellow2014_discriminator()) == (784 * 1200 + 1200) + (240 * 1200 + 1200) + 240 + 1


def test_imagenet_vbn_model_steps_on_a_tiny_batch():
    generator = architectures.imagenet128_generator(gf_dim=4, latent_dim=16, reference_batch_size=4, seed=1)
    discriminator = architectures.imagenet128_discriminator(df_dim=2, num_classes=5, minibatch_kernels=3, kernel_dim=2)
    gan = ImprovedGAN(generator, discriminator, num_classes=5, feature_layer="features",
                      latent_distribution="uniform_signed")
    gan.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5), generator_loss="feature_matching",
                label_smoothing=0.75, run_eagerly=True)
    images = RNG.uniform(-1, 1, size=(4, 128, 128, 3)).astype("float32")
    batch = {"labeled_images": images[:2], "labels": np.array([0, 3]), "unlabeled_images": images[2:]}
    before = [w.numpy().copy() for w in generator.trainable_weights]
    logs = gan.train_on_batch(batch, return_dict=True)
    assert np.isfinite(logs["d_loss"]) and np.isfinite(logs["g_loss"])
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(before, generator.trainable_weights))
    z = RNG.uniform(-1, 1, size=(3, 16)).astype("float32")
    np.testing.assert_allclose(generator(z[1:2]).numpy()[0], generator(z).numpy()[1], rtol=1e-5, atol=1e-5)


def test_mnist_semi_supervised_learns_on_real_data(mnist_dir):
    """A few hundred steps of the paper's MNIST model (100 labels) on real MNIST."""
    train_x, train_y = load_arrays("mnist", "train", data_dir=str(mnist_dir))
    test_x, test_y = load_arrays("mnist", "test", data_dir=str(mnist_dir))
    train_x = train_x.reshape(-1, 784).astype("float32") / 255.0
    test_x = test_x[:2000].reshape(-1, 784).astype("float32") / 255.0
    test_y = test_y[:2000]
    labeled = select_labeled_subset(train_y, 100, 10, seed=1)
    rng = np.random.default_rng(1)
    steps, batch = 300, 100
    labeled_order = np.concatenate([rng.permutation(labeled) for _ in range(steps * batch // 100)])

    def unlabeled_indices():
        return rng.permutation(len(train_x))[: steps * batch]

    data = {
        "labeled_images": train_x[labeled_order],
        "labels": train_y[labeled_order],
        "unlabeled_images": train_x[unlabeled_indices()],
        "unlabeled_images_2": train_x[unlabeled_indices()],
    }
    gan = ImprovedGAN(architectures.mnist_mlp_generator(), architectures.mnist_mlp_discriminator(seed=1),
                      num_classes=10, feature_layer="features", seed=1)
    gan.compile(keras.optimizers.Adam(0.003, 0.5), keras.optimizers.Adam(0.003, 0.5), unsupervised_weight=0.5)
    gan.initialize(train_x[rng.permutation(len(train_x))[:500]])
    error_before = gan.evaluate(test_x, test_y, batch_size=500, verbose=0, return_dict=True)["error"]
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(batch)
    history = gan.fit(dataset, epochs=10, steps_per_epoch=steps // 10, verbose=0).history
    error_after = gan.evaluate(test_x, test_y, batch_size=500, verbose=0, return_dict=True)["error"]
    # labeled (training) accuracy over the first 30 steps vs the last 30
    assert history["accuracy"][-1] > history["accuracy"][0] + 0.1, history["accuracy"]
    assert history["accuracy"][-1] > 0.95
    assert error_after < 0.45 and error_after < error_before - 0.35, (error_before, error_after)
    assert all(np.isfinite(history["g_loss"]))


def test_train_step_is_traced_once_across_epochs():
    traces = []

    class CountingGAN(ImprovedGAN):
        def train_step(self, data):
            traces.append(1)  # Python runs only while tracing
            return super().train_step(data)

    gan = CountingGAN(small_generator(), small_discriminator(), num_classes=3, feature_layer="features",
                      polyak_rate=1e-3, seed=0)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    gan.initialize(RNG.uniform(size=(16, 6)).astype("float32"))
    data = semi_supervised_batches(batch=8, steps=3)
    validation = (RNG.uniform(size=(16, 6)).astype("float32"), RNG.integers(0, 3, 16))
    gan.fit(tf.data.Dataset.from_tensor_slices(data).batch(8).repeat(), steps_per_epoch=3, epochs=4,
            validation_data=validation, verbose=0)
    assert len(traces) == 1, f"train_step traced {len(traces)} times over 4 epochs"
