"""The authors' Adam (epsilon inside the square root) against a numpy transcription of
`nn.adam_updates` from openai/improved-gan, step by step."""

import keras
import numpy as np
import pytest

from improved_gan_tf.training import AuthorsAdam


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
