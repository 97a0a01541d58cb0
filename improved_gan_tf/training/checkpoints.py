"""A run's checkpoints: what one holds, saving it safely, and restoring a run from it.

A checkpoint (`make_checkpoint`) holds, by position, every variable of the model (both
players' weights, batch-norm statistics, weight-norm `initialized` flags, the Polyak and
historical averages, and the random-number generators' states), every variable of both
optimizers (moments, iteration counts, learning rate, momentum), the global step (which
is the data pipeline's position: the training streams are pure functions of the step,
see `improved_gan_tf.data`) and the training time so far. Restoring one and running the
rest of the schedule therefore continues an interrupted run exactly; with
`deterministic=True` a run killed with SIGKILL and re-run ends with the same weights as
one that was never interrupted (tested).

Writes are atomic: TensorFlow writes a checkpoint's data and index files first and then
replaces the `checkpoints/checkpoint` state file with an atomic rename, so a kill during
a save leaves the previous checkpoint as the latest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pathlib
import time

import keras
import numpy as np
import tensorflow as tf

from improved_gan_tf.errors import UserInputError
from improved_gan_tf.rundir import CHECKPOINT_PREFIX
from improved_gan_tf.rundir import RunDir
from improved_gan_tf.training.models import build_model


class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or infinite; the message names the step and checkpoint."""


class NoCheckpointError(UserInputError, FileNotFoundError):
    """A run directory has no checkpoint to restore."""


@dataclasses.dataclass
class RunState:
    """Variables saved with the model: the global step and the training time so far."""

    step: tf.Variable
    elapsed_seconds: tf.Variable

    @classmethod
    def create(cls):
        with tf.init_scope():
            return cls(
                step=tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step"),
                elapsed_seconds=tf.Variable(0.0, dtype=tf.float64, trainable=False, name="elapsed_seconds"),
            )


def make_checkpoint(model, state: RunState | None = None) -> tf.train.Checkpoint:
    """The `tf.train.Checkpoint` of a run: every variable of the model and of both
    optimizers (by position, see the module docstring), the global step and the
    training time. `state` defaults to a fresh `RunState` (restore fills it)."""
    state = state or RunState.create()
    return tf.train.Checkpoint(
        model_variables=list(model.variables),
        d_optimizer_variables=list(model.d_optimizer.variables),
        g_optimizer_variables=list(model.g_optimizer.variables),
        global_step=state.step,
        elapsed_seconds=state.elapsed_seconds,
    )


def latest_checkpoint(workdir) -> str | None:
    """Path prefix of the latest checkpoint of a run directory (None if there is none)."""
    return tf.train.latest_checkpoint(str(RunDir(workdir).checkpoints))


def restore_checkpoint(model, state: RunState, path: str,
                       checkpoint: tf.train.Checkpoint | None = None) -> int:
    """Loads checkpoint `path` into `model` and `state`; returns its global step.

    Every variable of the checkpoint must find its place (`assert_consumed`). The
    data-dependent layers then read their restored `initialized` flags, so later traces
    carry no initialization branch.

    Args:
        model: the run's `ImprovedGAN`, built from its config.
        state: the `RunState` to fill.
        path: the checkpoint's path prefix.
        checkpoint: `make_checkpoint(model, state)` of a caller that saves with it
            afterwards (its `save_counter` is restored too); default: a new one.
    """
    checkpoint = checkpoint or make_checkpoint(model, state)
    checkpoint.restore(path).assert_consumed()
    model.mark_initialized()
    return int(state.step.numpy())


@dataclasses.dataclass(frozen=True)
class RestoredRun:
    """A run restored from a checkpoint (`restore_run`)."""

    config: object
    model: object
    step: int
    checkpoint: str


def restore_run(workdir, checkpoint: str | None = None, strategy=None) -> RestoredRun:
    """Rebuilds a run's model and loads its weights.

    Args:
        workdir: the run directory (`--workdir` of `improved-gan train`).
        checkpoint: a checkpoint path prefix (e.g. `DIR/checkpoints/ckpt-1200`); the
            latest one when None.
        strategy: strategy whose scope the model is built in (default: current).

    Returns:
        A `RestoredRun`: the run's config, a compiled `ImprovedGAN` whose generator,
        discriminator, Polyak average (`model.averaged_discriminator_weights()`) and
        optimizers hold the checkpoint's values, the checkpoint's global step and path.

    Raises:
        NotARunDirectoryError: no config.json in `workdir` (a `FileNotFoundError`).
        NoCheckpointError: no checkpoint in `workdir` (a `FileNotFoundError`).
    """
    run = RunDir(workdir)
    config = run.read_config()
    path = checkpoint or latest_checkpoint(workdir)
    if path is None:
        raise NoCheckpointError(f"No checkpoint in {run.checkpoints}.")
    model = build_model(config, strategy=strategy)
    step = restore_checkpoint(model, RunState.create(), path)
    return RestoredRun(config=config, model=model, step=step, checkpoint=str(path))


def restore_models(workdir, checkpoint: str | None = None, strategy=None):
    """`(config, model)` of `restore_run(workdir, checkpoint, strategy)`.

    For callers that need only the model; `restore_run`'s result also carries the
    checkpoint's step and path. Nothing is attached to the model.
    """
    restored = restore_run(workdir, checkpoint, strategy)
    return restored.config, restored.model


def weights_fingerprint(model, trainable_only: bool = False) -> str:
    """SHA-256 of the bytes of every model variable (or only the trainable ones), for
    comparing runs and workers."""
    digest = hashlib.sha256()
    for variable in (model.trainable_variables if trainable_only else model.variables):
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(variable)).tobytes())
    return digest.hexdigest()


class Checkpointer:
    """Saves a training run's checkpoints and keeps its clock.

    Owns the `RunState` (global step and training time), the checkpoint manager of this
    process's checkpoint directory and the record of the last checkpoint saved. A save
    of a step already saved in this session is skipped, decided from this session's own
    record so that all workers of a multi-worker run agree.

    Args:
        model: the run's `ImprovedGAN`.
        state: its `RunState` (created in the strategy's scope).
        run: the `RunDir` (a worker's, for non-chief workers).
        max_to_keep: checkpoints kept.
    """

    def __init__(self, model, state: RunState, run: RunDir, max_to_keep: int):
        self.model = model
        self.state = state
        self.run = run
        self.checkpoint = make_checkpoint(model, state)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(run.own_checkpoints), max_to_keep=max_to_keep,
            checkpoint_name=CHECKPOINT_PREFIX,
        )
        self.last_saved: str | None = None
        self.saved_step: int | None = None
        self._elapsed_at_start = 0.0
        self._session_started = time.perf_counter()

    def restore_latest(self) -> str | None:
        """Restores the run's latest checkpoint; returns its path (None: there is none)."""
        latest = tf.train.latest_checkpoint(str(self.run.checkpoints))
        if latest:
            self.saved_step = restore_checkpoint(self.model, self.state, latest, self.checkpoint)
            self.last_saved = latest
        self._elapsed_at_start = float(self.state.elapsed_seconds.numpy())
        self._session_started = time.perf_counter()
        return latest

    @property
    def step(self) -> int:
        """The global step of the restored (or last saved) state."""
        return int(self.state.step.numpy())

    def elapsed(self) -> float:
        """Training seconds so far, over every session of the run."""
        return self._elapsed_at_start + time.perf_counter() - self._session_started

    def save(self, step: int) -> str | None:
        """Saves the current state as checkpoint `step` (never a non-finite one).

        Raises:
            NonFiniteLossError: a trainable weight is NaN or infinite (nothing is saved).
        """
        if self.saved_step == step:
            return self.last_saved
        for variable in self.model.trainable_variables:
            if not bool(np.all(np.isfinite(keras.ops.convert_to_numpy(variable)))):
                raise NonFiniteLossError(
                    f"Non-finite weights in {variable.path} at step {step}; not saving. "
                    f"The last good checkpoint is {self.last_saved}."
                )
        self.state.step.assign(step)
        self.state.elapsed_seconds.assign(self.elapsed())
        path = self.manager.save(checkpoint_number=step)
        self.saved_step = step
        if self.run.worker is None:
            self.last_saved = path
        else:  # A worker's copy is discarded: name the chief's, which is the run's.
            self.last_saved = str(self.run.checkpoints / pathlib.Path(path).name)
        return self.last_saved
