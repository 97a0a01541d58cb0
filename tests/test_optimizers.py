"""The authors' Adam (epsilon inside the square root) against a numpy transcription of
`nn.adam_updates` from openai/improved-gan, step by step; where the optimizers live; the
variable layout that checkpoints hold."""

import keras
import numpy as np
import pytest

from improved_gan_tf import optimizers
from improved_gan_tf.optimizers import AuthorsAdam
from improved_gan_tf.optimizers import ScheduledMomentumSGD


def numpy_authors_adam(w, gradients, lr, beta_1, beta_2, epsilon):
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, g in enumerate(gradients, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        m_hat = m / (1 - beta_1**t)
        v_hat = v / (1 - beta_2**t)
        w = w - lr * m_hat / np.sqrt(v_hat + epsilon)
    return w, m, v


@pytest.mark.parametrize("gradient_scale", [1.0, 1e-6, 1e4])
def test_authors_adam_matches_numpy(gradient_scale):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(7, 3)).astype("float64")
    gradients = [gradient_scale * rng.normal(size=w0.shape) for _ in range(6)]
    gradients[2][0] = 0.0  # a parameter with no gradient at one step
    variable = keras.Variable(w0.astype("float32"))
    optimizer = AuthorsAdam(learning_rate=0.003, beta_1=0.5)
    for g in gradients:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(g.astype("float32")), variable)])
    expected_w, expected_m, expected_v = numpy_authors_adam(w0, gradients, 0.003, 0.5, 0.999, 1e-8)
    np.testing.assert_allclose(variable.numpy(), expected_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(optimizer.momentums[0].numpy(), expected_m, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(optimizer.velocities[0].numpy(), expected_v, rtol=1e-4, atol=1e-20)


def test_epsilon_inside_the_square_root_damps_tiny_gradients():
    # |g| = 1e-6 << sqrt(1e-8): a step of about lr * 1e-6 / 1e-4 = lr / 100, where Keras
    # Adam (epsilon outside, same 1e-8) takes a step of the order of lr.
    variable = keras.Variable(np.zeros((4,), "float32"))
    AuthorsAdam(learning_rate=0.1).apply_gradients(
        [(keras.ops.full((4,), 1e-6), variable)]
    )
    step = -variable.numpy()
    expected = 0.1 * 1e-6 / np.sqrt(1e-12 + 1e-8)
    np.testing.assert_allclose(step, expected, rtol=1e-4)
    keras_variable = keras.Variable(np.zeros((4,), "float32"))
    keras.optimizers.Adam(learning_rate=0.1, epsilon=1e-8).apply_gradients(
        [(keras.ops.full((4,), 1e-6), keras_variable)]
    )
    assert np.all(-keras_variable.numpy() > 20 * step)


def test_authors_adam_is_one_class_importable_from_the_package_optimizers_and_training():
    import improved_gan_tf
    from improved_gan_tf import training

    assert improved_gan_tf.AuthorsAdam is optimizers.AuthorsAdam is training.AuthorsAdam
    assert improved_gan_tf.optimizers is optimizers
    for name in ("ScheduledMomentumSGD", "make_optimizer", "learning_rate_at", "momentum_at"):
        assert getattr(training, name) is getattr(optimizers, name)


# Recorded with the optimizers as they were in training.py (e517945): tf.train.Checkpoint
# restores the optimizers' variables by position, so the order and names must not change.
@pytest.mark.parametrize(
    "optimizer_class, expected",
    [
        (AuthorsAdam, ["authors_adam/iteration", "authors_adam/learning_rate", "authors_adam/a_momentum",
                       "authors_adam/b_momentum", "authors_adam/a_velocity", "authors_adam/b_velocity"]),
        (ScheduledMomentumSGD, ["scheduled_momentum_sgd/iteration", "scheduled_momentum_sgd/learning_rate",
                                "scheduled_momentum_sgd/momentum", "scheduled_momentum_sgd/a_velocity",
                                "scheduled_momentum_sgd/b_velocity"]),
    ],
)
def test_optimizer_variables_keep_the_order_and_names_checkpoints_were_written_with(optimizer_class, expected):
    variables = [keras.Variable([[1.0, 2.0]], name="a"), keras.Variable([3.0], name="b")]
    optimizer = optimizer_class(learning_rate=0.1)
    optimizer.build(variables)
    assert [v.path for v in optimizer.variables] == expected


def test_scheduled_momentum_sgd_takes_classical_momentum_steps():
    variable = keras.Variable(np.zeros((2,), "float32"))
    optimizer = ScheduledMomentumSGD(learning_rate=0.1, momentum=0.5)
    for _ in range(2):
        optimizer.apply_gradients([(keras.ops.ones((2,)), variable)])
    # v1 = -0.1, w1 = -0.1; v2 = 0.5 * -0.1 - 0.1 = -0.15, w2 = -0.25
    np.testing.assert_allclose(variable.numpy(), [-0.25, -0.25], rtol=1e-6)
    optimizer.momentum.assign(0.0)
    optimizer.apply_gradients([(keras.ops.ones((2,)), variable)])
    np.testing.assert_allclose(variable.numpy(), [-0.35, -0.35], rtol=1e-6)
