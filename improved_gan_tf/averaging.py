"""Running averages of a player's parameters.

- `HistoricalAverage`: the uniform mean (1/t) sum_{i=1..t} theta[i] that historical
  averaging (Salimans et al. 2016, section 3.3) pulls the parameters towards.
- `PolyakAverage`: the exponential moving average `a <- a + rate * (p - a)` that the
  authors evaluate D's test error with (rate 0.0001 in their scripts).

Both keep their averages as non-trainable Keras weights, so they are checkpointed
with the model and restored on resume.
"""

import keras
import tensorflow as tf
from keras import ops

from improved_gan_tf import fused


class _Untracked:
    """Keeps a list out of Keras's attribute tracking (the variables belong to a player)."""

    def __init__(self, items):
        self.items = list(items)


class _ParameterAverage(keras.layers.Layer):
    """Holds one non-trainable copy of each tracked variable plus a step count."""

    def __init__(self, variables, **kwargs):
        super().__init__(**kwargs)
        self._tracked_holder = _Untracked(variables)
        self.averages = [
            self.add_weight(
                name=f"average_{index}",
                shape=tuple(variable.shape),
                initializer="zeros",
                trainable=False,
                dtype=variable.dtype,
                aggregation="only_first_replica",
            )
            for index, variable in enumerate(self._tracked_holder.items)
        ]
        self.count = self.add_weight(
            name="count",
            shape=(),
            initializer="zeros",
            trainable=False,
            aggregation="only_first_replica",
        )
        self.built = True

    @property
    def tracked_variables(self):
        """The player's variables this average follows."""
        return self._tracked_holder.items


class HistoricalAverage(_ParameterAverage):
    """The running mean (1/t) sum_{i=1..t} theta[i] of a player's parameters.

    `update()` adds the current parameters: a <- a + (theta - a) / t.

    Args:
        variables: the parameters to average (e.g. `discriminator.trainable_variables`).
        **kwargs: base layer arguments.

    Reference:
        Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016,
        section 3.3 (the authors' code has no implementation; see
        openai/improved-gan#45).
    """

    def update(self):
        count = self.count + 1.0
        self.count.assign(count)
        for average, variable in zip(self.averages, self.tracked_variables):
            average.assign(average + (ops.cast(variable, average.dtype) - average) / count)


class PolyakAverage(_ParameterAverage):
    """Exponential moving average of parameters for evaluation.

        a_t = a_{t-1} + rate * (p_t - a_{t-1}),   a_0 = 0

    as in the authors' scripts (rate 0.0001, `disc_avg_updates`). With `debias=True`
    the value used is `a_t / (1 - (1 - rate)^t)`, which removes the pull towards the
    zero start (the same correction Adam applies to its moments); early in training
    it is close to the uniform mean of all parameters so far.

    Args:
        variables: the parameters to average.
        rate: the update rate (1 - decay).
        debias: whether `averaged_values` corrects for the zero start.
        **kwargs: base layer arguments.
    """

    def __init__(self, variables, rate=1e-4, debias=True, **kwargs):
        super().__init__(variables, **kwargs)
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"`rate` must be in (0, 1]. Received: rate={rate}")
        self.rate = float(rate)
        self.debias = bool(debias)

    def update(self):
        self.count.assign(self.count + 1.0)
        for average, variable in zip(self.averages, self.tracked_variables):
            average.assign(fused.moving_average_update(
                tf.convert_to_tensor(average), ops.cast(variable, average.dtype),
                ops.cast(self.rate, average.dtype),
            ))

    def averaged_values(self):
        """The values to evaluate with (debiased if `debias`)."""
        if not self.debias:
            return [ops.convert_to_tensor(a) for a in self.averages]
        correction = 1.0 - ops.power(1.0 - self.rate, self.count)
        correction = ops.where(correction > 0, correction, 1.0)
        return [a / correction for a in self.averages]
