"""The Keras callbacks of a training run; each owns its state and reaches the model
only through `self.model`.

- `Schedule`: both players' learning rate (and SGD momentum) from the config's schedule;
- `NonFiniteGuard`: stops training on a NaN or infinite loss, naming the step and the
  last good checkpoint;
- `StepTimer`: seconds per step, and the per-step TensorBoard scalars;
- `PeriodicCheckpoint`: a checkpoint every `checkpoint.every_steps` steps and at the end
  of every epoch;
- `EpochRecorder`: one record per epoch (metrics.json / metrics.csv, TensorBoard),
  with the `score_*` entries of an `evaluation.ScoreCallback` placed before it;
- `SampleGrid`: the PNG grid of samples from a fixed latent batch, every epoch.

A run's `fit` may start in the middle of an epoch (a resumed run first finishes its
interrupted epoch with a short `fit`), so each callback works out the global step of a
batch from the run's `steps_per_epoch` and Keras's `params["steps"]` (`RunCallback`)
instead of counting steps. With `steps_per_execution` = k (`compile`), Keras calls the
batch hooks once per call of the compiled step, with the call's first step at
`on_train_batch_begin` and its last at `on_train_batch_end`; the callbacks count the
steps between them, and what they do at a given step happens at a call's end (the config
refuses checkpoint and log intervals that are not multiples of k).

`PeriodicCheckpoint` saves the state that ends a step or an epoch at the next hook Keras
calls (the next batch's or epoch's start, or the end of `fit`), after every callback has
handled the step or epoch. So an epoch's record is written before the checkpoint that
ends it, and a step whose loss is not finite is never saved, whatever the order of the
callback list. A kill at any point of an epoch's boundary therefore loses no completed
epoch's record: a checkpoint that ends epoch N exists only once N's record, metrics.csv
and sample grid are written, and a resume from an earlier checkpoint makes them again
(tested by SIGKILLs placed at each point, `tests/training/test_epoch_boundary_kill.py`).
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from improved_gan_tf.grids import image_grid
from improved_gan_tf.grids import save_png
from improved_gan_tf.optimizers import ScheduledMomentumSGD
from improved_gan_tf.optimizers import learning_rate_at
from improved_gan_tf.optimizers import momentum_at
from improved_gan_tf.sampling import generate_samples
from improved_gan_tf.sampling import to_uint8_images
from improved_gan_tf.training.checkpoints import NonFiniteLossError

#: Losses and accuracy of `fit`'s epoch logs kept in an epoch's record, in this order.
EPOCH_LOG_KEYS = ("d_loss", "g_loss", "supervised_loss", "unsupervised_loss", "accuracy")
#: Epoch log entries starting with this (`ScoreCallback(prefix=...)`, see
#: `evaluation.training_scores`) are kept in the epoch's record too, after the losses.
SCORE_LOG_PREFIX = "score_"


def _to_float(value) -> float:
    return float(np.asarray(value))


class RunCallback(keras.callbacks.Callback):
    """A callback that knows the global step of each batch of a run, and the first batch
    of the current call of the compiled step (`first_batch`; an override of
    `on_train_batch_begin` calls this one).

    Args:
        steps_per_epoch: the run's steps per epoch. A `fit` with fewer `steps` (Keras's
            `params["steps"]`) finishes an interrupted epoch: its first batch is step
            `steps_per_epoch - steps` of the epoch.
    """

    def __init__(self, steps_per_epoch: int):
        super().__init__()
        self.steps_per_epoch = int(steps_per_epoch)
        self.epoch = 0
        self.first_batch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self.first_batch = batch

    def steps_in_call(self, batch: int) -> int:
        """Steps of the call that ends with batch `batch` (more than 1 with
        `steps_per_execution`)."""
        return batch - self.first_batch + 1

    def steps_done(self, batch: int) -> int:
        """Global steps done once batch `batch` (0-based, of this epoch's `fit`) ends."""
        skipped = self.steps_per_epoch - int(self.params["steps"])
        return self.epoch * self.steps_per_epoch + skipped + batch + 1


class Schedule(RunCallback):
    """Sets both players' learning rate (and SGD momentum) from the config's schedule
    at every epoch start, or before every step for per-step schedules.

    The generator's rate is the discriminator's scaled by
    `optimizer.generator_learning_rate / optimizer.learning_rate` when the former is set.
    """

    def __init__(self, config, steps_per_epoch: int):
        super().__init__(steps_per_epoch)
        self.config = config
        self.per_step = config.optimizer.schedule == "exponential_per_step"

    def _apply(self, step):
        lr = learning_rate_at(self.config, self.epoch, step)
        g_base = self.config.optimizer.generator_learning_rate
        g_lr = lr if not g_base else lr * g_base / self.config.optimizer.learning_rate
        self.model.d_optimizer.learning_rate = lr
        self.model.g_optimizer.learning_rate = g_lr
        if isinstance(self.model.d_optimizer, ScheduledMomentumSGD):
            momentum = momentum_at(self.config, self.epoch)
            self.model.d_optimizer.momentum.assign(momentum)
            self.model.g_optimizer.momentum.assign(momentum)

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._apply(self.steps_done(-1))

    def on_train_batch_begin(self, batch, logs=None):
        super().on_train_batch_begin(batch, logs)
        if self.per_step:
            self._apply(self.steps_done(batch - 1))


class NonFiniteGuard(RunCallback):
    """Raises `NonFiniteLossError` when a step's loss is NaN or infinite.

    Like Keras's `TerminateOnNaN`, but it raises, naming the step, the epoch and the last
    good checkpoint (`last_checkpoint()`), which `PeriodicCheckpoint` never overwrites
    with the diverged state.
    """

    def __init__(self, steps_per_epoch: int, last_checkpoint):
        super().__init__(steps_per_epoch)
        self.last_checkpoint = last_checkpoint

    def on_train_batch_end(self, batch, logs=None):
        bad = {k: _to_float(v) for k, v in (logs or {}).items() if not math.isfinite(_to_float(v))}
        if bad:
            where = self.last_checkpoint() or "none (no checkpoint was written)"
            step = self.steps_done(batch)
            if self.steps_in_call(batch) == 1:
                steps = f"at step {step}"
            else:
                # One call ran these steps; the logs are those of its last step.
                steps = (f"in steps {self.steps_done(self.first_batch)} to {step} (one call of "
                         "the compiled step, train.steps_per_execution)")
            raise NonFiniteLossError(
                f"Non-finite loss {steps} (epoch {self.epoch + 1}): "
                + ", ".join(f"{k}={v}" for k, v in bad.items())
                + f". Training stopped; the last good checkpoint is {where}, and it was "
                "not overwritten. Lower the learning rate or check the data, then re-run "
                "to resume from it."
            )


class StepTimer(RunCallback):
    """Times every step; writes the step logs to TensorBoard every `log_every_steps`.

    `epoch_seconds` / `epoch_steps` are the current epoch's totals (for its record).

    Args:
        config: the run's config (for the learning rate logged with each step).
        steps_per_epoch: the run's steps per epoch.
        writer: a `tf.summary` writer (a no-op one on non-chief workers).
        log_every_steps: 0 logs nothing.
    """

    def __init__(self, config, steps_per_epoch: int, writer, log_every_steps: int):
        super().__init__(steps_per_epoch)
        self.config = config
        self.writer = writer
        self.log_every_steps = int(log_every_steps or 0)
        self.epoch_seconds = 0.0
        self.epoch_steps = 0
        self._window_seconds = 0.0
        self._window_steps = 0
        self._started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self.epoch_seconds, self.epoch_steps = 0.0, 0

    def on_train_batch_begin(self, batch, logs=None):
        super().on_train_batch_begin(batch, logs)
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        seconds = time.perf_counter() - self._started
        steps = self.steps_in_call(batch)
        self.epoch_seconds += seconds
        self.epoch_steps += steps
        self._window_seconds += seconds
        self._window_steps += steps
        step = self.steps_done(batch)
        if self.log_every_steps and step % self.log_every_steps == 0:
            with self.writer.as_default(step=step):
                for key, value in (logs or {}).items():
                    tf.summary.scalar(f"step/{key}", _to_float(value))
                tf.summary.scalar("step/learning_rate", learning_rate_at(self.config, self.epoch, step - 1))
                tf.summary.scalar("step/seconds_per_step", self._window_seconds / self._window_steps)
            self._window_seconds, self._window_steps = 0.0, 0


class PeriodicCheckpoint(RunCallback):
    """Saves a checkpoint every `every_steps` steps (0: never) and at every epoch's end.

    The state that ends a step or an epoch is saved at the next hook Keras calls (see
    the module docstring), through `checkpointer.save(step)`, which refuses non-finite
    weights and skips a step already saved.
    """

    def __init__(self, steps_per_epoch: int, checkpointer, every_steps: int):
        super().__init__(steps_per_epoch)
        self.checkpointer = checkpointer
        self.every_steps = int(every_steps or 0)
        self._due: int | None = None

    def _save_due(self):
        if self._due is not None:
            step, self._due = self._due, None
            self.checkpointer.save(step)

    def on_train_batch_begin(self, batch, logs=None):
        super().on_train_batch_begin(batch, logs)
        self._save_due()

    def on_train_batch_end(self, batch, logs=None):
        step = self.steps_done(batch)
        if self.every_steps and step % self.every_steps == 0:
            self._due = step

    def on_epoch_begin(self, epoch, logs=None):
        self._save_due()
        super().on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._due = (epoch + 1) * self.steps_per_epoch

    def on_train_end(self, logs=None):
        self._save_due()


class EpochRecorder(RunCallback):
    """One record per epoch: losses, accuracy, test errors, learning rate, speed.

    The records go to `history` (the earlier epochs of a resumed run first) and, on the
    chief, to metrics.json / metrics.csv (`run.write_history`), the TensorBoard scalars
    `epoch/<key>` and the log.

    Test errors: `fit` validates with the Polyak-averaged discriminator when there is
    one; the recorder then also evaluates the current weights on the same test set, and
    reports the one `model.test_with_polyak_average` asks for.

    Args:
        config: the run's config.
        steps_per_epoch: the run's steps per epoch.
        run: the `RunDir`.
        history: records of the epochs already done.
        timer: the run's `StepTimer` (its epoch totals give the speed).
        clock: returns the training seconds so far (`Checkpointer.elapsed`).
        eval_ds: the test set `fit` validates on (None: no test error).
        num_test: how many examples `eval_ds` holds.
        writer: a `tf.summary` writer.
        is_chief: whether this process writes the files.
    """

    def __init__(self, config, steps_per_epoch, run, history, timer, clock, eval_ds,
                 num_test, writer, is_chief):
        super().__init__(steps_per_epoch)
        self.config = config
        self.run = run
        self.history = list(history)
        self.timer = timer
        self.clock = clock
        self.eval_ds = eval_ds
        self.num_test = num_test
        self.writer = writer
        self.is_chief = is_chief

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: _to_float(v) for k, v in (logs or {}).items()}
        step = (epoch + 1) * self.steps_per_epoch
        steps, seconds = max(self.timer.epoch_steps, 1), max(self.timer.epoch_seconds, 1e-9)
        record = {"epoch": epoch + 1, "step": step}
        record.update({key: logs[key] for key in EPOCH_LOG_KEYS if key in logs})
        if "val_error" in logs:
            record.update(self._test_errors(logs["val_error"]))
        # Present only in the epochs a ScoreCallback earlier in the list scored.
        record.update({k: v for k, v in logs.items() if k.startswith(SCORE_LOG_PREFIX)})
        # The rate of the epoch's last step (per-step schedules change it every step).
        record["learning_rate"] = learning_rate_at(self.config, epoch, step - 1)
        record["seconds_per_step"] = seconds / steps
        record["images_per_second"] = steps * self.config.train.batch_size / seconds
        record["wall_seconds"] = self.clock()
        self.history = [r for r in self.history if r["epoch"] != record["epoch"]] + [record]
        if not self.is_chief:
            return
        with self.writer.as_default(step=epoch + 1):
            for key, value in record.items():
                if key not in ("epoch", "step"):
                    tf.summary.scalar(f"epoch/{key}", value)
        self.writer.flush()
        self.run.write_history(self.history)
        logging.info("%s", ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()
        ))

    def _test_errors(self, averaged: float) -> dict:
        model, n_test = self.model, self.num_test
        raw = averaged
        if model.d_polyak_average is not None and self.eval_ds is not None:
            # The same test set with D's current (not averaged) weights.
            raw = float(keras.Model.evaluate(model, self.eval_ds, verbose=0, return_dict=True)["error"])
        reported = averaged if self.config.model.test_with_polyak_average else raw
        errors = {
            "test_error": reported,
            "test_errors": int(round(reported * n_test)),
            "test_examples": n_test,
            "test_errors_raw": int(round(raw * n_test)),
        }
        if model.d_polyak_average is not None:
            errors["test_errors_polyak"] = int(round(averaged * n_test))
        return errors


class SampleGrid(keras.callbacks.Callback):
    """Every epoch: `samples/epoch_XXXX.png`, a grid of G(latents) for fixed `latents`,
    and the same grid as the TensorBoard image "samples".

    Sampling restores G's non-trainable state (`sampling.generate_samples`), so the grid
    does not change the run.
    """

    def __init__(self, run, latents, image_shape, preprocess: str, writer):
        super().__init__()
        self.run = run
        self.latents = latents
        self.image_shape = tuple(image_shape)
        self.preprocess = preprocess
        self.writer = writer

    def on_epoch_end(self, epoch, logs=None):
        samples = generate_samples(self.model, self.latents)
        grid = image_grid(to_uint8_images(samples, self.image_shape, self.preprocess))
        save_png(self.run.sample_grid(epoch + 1), grid)
        with self.writer.as_default(step=epoch + 1):
            tf.summary.image("samples", grid[None], max_outputs=1)
        self.writer.flush()
