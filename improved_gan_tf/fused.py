"""Elementwise parameter updates compiled by XLA into one loop each.

TensorFlow runs every elementwise op of an update (`m * b1`, `+ (1 - b1) g`, `sqrt`,
`/`, ...) as its own pass over the parameter tensor; XLA fuses the whole expression
into a single pass. These functions hold only elementwise arithmetic, where XLA on
CPU is fast (unlike its matrix products and random numbers, see
benchmarks/README.md), and return new values for the caller to assign, so they work
unchanged on mirrored variables under a distribution strategy.
"""

import tensorflow as tf


@tf.function(jit_compile=True, reduce_retracing=True)
def authors_adam_update(variable, momentum, velocity, gradient, learning_rate, step,
                        beta_1, beta_2, epsilon):
    """One step of the authors' Adam (epsilon inside the square root).

    Returns `(new_variable, new_momentum, new_velocity)`:

        m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
        w <- w - lr * (m / (1 - b1^t)) / sqrt(v / (1 - b2^t) + epsilon)
    """
    momentum = beta_1 * momentum + (1.0 - beta_1) * gradient
    velocity = beta_2 * velocity + (1.0 - beta_2) * tf.square(gradient)
    m_hat = momentum / (1.0 - tf.pow(beta_1, step))
    v_hat = velocity / (1.0 - tf.pow(beta_2, step))
    return variable - learning_rate * m_hat / tf.sqrt(v_hat + epsilon), momentum, velocity


@tf.function(jit_compile=True, reduce_retracing=True)
def moving_average_update(average, value, rate):
    """`average + rate * (value - average)`."""
    return average + rate * (value - average)
