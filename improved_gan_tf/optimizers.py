"""The optimizers of the experiments and their schedules.

- `AuthorsAdam`: Adam as the authors' `nn.adam_updates` writes it (epsilon inside the
  square root); the README's Keras quick start uses it directly.
- `ScheduledMomentumSGD`: SGD with a momentum coefficient that can change during
  training (Goodfellow et al. 2014's pylearn2 setup).
- `make_optimizer(config, learning_rate)`: the optimizer `config.optimizer.name` names.
- `learning_rate_at(config, epoch, step)`, `momentum_at(config, epoch)`: the schedules
  of `config.optimizer.schedule` and of the SGD momentum.

Checkpoints hold the optimizers' variables by position (`tf.train.Checkpoint`), so the
order and names of the variables the classes create are part of the checkpoint format.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from improved_gan_tf import fused

__all__ = [
    "AuthorsAdam",
    "ScheduledMomentumSGD",
    "learning_rate_at",
    "make_optimizer",
    "momentum_at",
]


class ScheduledMomentumSGD(keras.optimizers.Optimizer):
    """SGD with classical momentum whose momentum coefficient is a variable.

        v <- momentum * v - learning_rate * g;   w <- w + v

    (pylearn2's `Momentum` learning rule, used by Goodfellow et al. 2014). Unlike
    `keras.optimizers.SGD`, `momentum` can change during training (pylearn2's
    `MomentumAdjustor`) without retracing, and it is saved in checkpoints.
    """

    def __init__(self, learning_rate=0.01, momentum=0.5, name="scheduled_momentum_sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_momentum = float(momentum)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.momentum = self.add_variable(
            shape=(), initializer=keras.initializers.Constant(self.initial_momentum),
            name="momentum",
        )
        self.velocities = [
            self.add_variable_from_reference(variable, "velocity") for variable in variables
        ]

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = keras.ops.cast(learning_rate, variable.dtype)
        gradient = keras.ops.cast(gradient, variable.dtype)
        velocity = self.velocities[self._get_variable_index(variable)]
        momentum = keras.ops.cast(self.momentum, variable.dtype)
        self.assign(velocity, momentum * velocity - learning_rate * gradient)
        self.assign_add(variable, velocity)

    def get_config(self):
        return {**super().get_config(), "momentum": self.initial_momentum}


class AuthorsAdam(keras.optimizers.Optimizer):
    """Adam exactly as the authors' `nn.adam_updates` (openai/improved-gan) writes it:

        m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
        w <- w - lr * m_hat / sqrt(v_hat + epsilon),   m_hat, v_hat bias-corrected

    The epsilon (1e-8) sits *inside* the square root, so a parameter whose gradients are
    tiny (|g| << 1e-4) takes steps of about lr * |g| / 1e-4 instead of Keras / PyTorch
    Adam's lr-sized `m_hat / (sqrt(v_hat) + 1e-8)` steps. That damping matters for GAN
    stability: with the standard placement, the MNIST feature-matching model diverges
    after ~15 epochs (see the training README figures).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 name="authors_adam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.momentums = [self.add_variable_from_reference(v, "momentum") for v in variables]
        self.velocities = [self.add_variable_from_reference(v, "velocity") for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        ops = keras.ops
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        m, v = self.momentums[index], self.velocities[index]
        new_variable, new_m, new_v = fused.authors_adam_update(
            tf.convert_to_tensor(variable), tf.convert_to_tensor(m), tf.convert_to_tensor(v),
            ops.cast(gradient, dtype), ops.cast(learning_rate, dtype),
            ops.cast(self.iterations + 1, dtype), ops.cast(self.beta_1, dtype),
            ops.cast(self.beta_2, dtype), ops.cast(self.epsilon, dtype),
        )
        self.assign(m, new_m)
        self.assign(v, new_v)
        self.assign(variable, new_variable)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


def make_optimizer(config, learning_rate: float):
    """Adam (Keras), `AuthorsAdam` or `ScheduledMomentumSGD`, as `optimizer.name` says."""
    if config.optimizer.name == "authors_adam":
        return AuthorsAdam(
            learning_rate, beta_1=config.optimizer.beta_1, beta_2=config.optimizer.beta_2,
            epsilon=config.optimizer.epsilon,
        )
    if config.optimizer.name == "adam":
        return keras.optimizers.Adam(
            learning_rate, beta_1=config.optimizer.beta_1, beta_2=config.optimizer.beta_2,
            epsilon=config.optimizer.epsilon,
        )
    return ScheduledMomentumSGD(learning_rate, momentum=config.optimizer.momentum)


def learning_rate_at(config, epoch: int, step: int) -> float:
    """The learning rate at 0-based `epoch` / global `step` (see `optimizer.schedule`)."""
    lr = config.optimizer.learning_rate
    schedule = config.optimizer.schedule
    if schedule == "linear_ramp_down":
        factor = min(config.optimizer.ramp_offset - epoch / config.optimizer.ramp_epochs, 1.0)
        return lr * max(factor, 0.0)
    if schedule == "exponential_per_step":
        return max(lr / config.optimizer.decay_factor ** step, config.optimizer.min_learning_rate)
    return lr


def momentum_at(config, epoch: int) -> float:
    """pylearn2's `MomentumAdjustor`: linear from `momentum` at `momentum_start_epoch` to
    `final_momentum` at `momentum_saturate_epoch` (epochs counted from 1)."""
    if config.optimizer.final_momentum < 0:
        return config.optimizer.momentum
    start, saturate = config.optimizer.momentum_start_epoch, config.optimizer.momentum_saturate_epoch
    alpha = 1.0 if saturate <= start else (epoch + 1 - start) / (saturate - start)
    alpha = min(max(alpha, 0.0), 1.0)
    return (1 - alpha) * config.optimizer.momentum + alpha * config.optimizer.final_momentum
