"""`Trainer`: one training run in a run directory, and `train(config, workdir)`.

The trainer loads the data, builds and compiles an `ImprovedGAN` under the config's
distribution strategy, restores the newest checkpoint of the run directory that reads
back intact, or the one `train(restore_checkpoint=...)` names (see `training.checkpoints`:
a damaged newer one is set aside, never deleted; a run none of whose checkpoints reads
stops with `NoReadableCheckpointError`), otherwise runs the data-dependent
initialization on `train.init_examples` training images and saves checkpoint 0, and
trains with `model.fit` and the callbacks of `improved_gan_tf.training.callbacks`. When the schedule is done it saves the final
checkpoint and writes the training section of the report (`improved_gan_tf.report`).

The run directory's layout is `improved_gan_tf.rundir.RunDir`'s; what a checkpoint
holds, and why a resumed run continues exactly, is in `training.checkpoints`.

A non-finite loss stops training with `NonFiniteLossError`, which names the step and the
last good checkpoint; the diverged state is never saved.
"""

from __future__ import annotations

import shutil

import numpy as np
import tensorflow as tf
from absl import logging

from improved_gan_tf import report as report_lib
from improved_gan_tf.config import ConfigError
from improved_gan_tf.config import resolve_paths
from improved_gan_tf.config import validate_config
from improved_gan_tf.data.labeled import load_labeled_indices
from improved_gan_tf.data.labeled import save_labeled_indices
from improved_gan_tf.latents import sample_latents
from improved_gan_tf.rundir import RunDir
from improved_gan_tf.rundir import config_to_dict
from improved_gan_tf.run_lock import RunLock
from improved_gan_tf.training import callbacks as callbacks_lib
from improved_gan_tf.training.checkpoints import Checkpointer
from improved_gan_tf.training.checkpoints import RunState
from improved_gan_tf.training.checkpoints import checkpoint_step
from improved_gan_tf.training.checkpoints import weights_fingerprint
from improved_gan_tf.training.devices import make_strategy
from improved_gan_tf.training.devices import task_info
from improved_gan_tf.data.experiment import evaluation_stream
from improved_gan_tf.data.experiment import load_training_data
from improved_gan_tf.data.experiment import num_test_examples
from improved_gan_tf.data.experiment import steps_per_epoch
from improved_gan_tf.data.experiment import training_stream
from improved_gan_tf.training.models import apply_multi_worker_workarounds
from improved_gan_tf.training.models import build_model

#: Second word of the stateless seed of the sample grids' fixed latents.
SAMPLE_GRID_SEED_SALT = 20160610


class LabeledSubsetChangedError(ConfigError):
    """A resume's data gives another labeled subset than the run's labeled_indices.json."""


class Trainer:
    """One training run in a run directory.

    Most users call `train(config, workdir)`. The attributes are public so that tests
    and tools can look inside: `config`, `run` (the `RunDir`), `strategy`, `data`,
    `model`, `checkpointer`, `steps_per_epoch`, `total_steps`, `lock` (the
    `run_lock.RunLock`), `resumable_changes` (the `config.RESUMABLE_KEYS` a resume
    changed).

    Args:
        config: the run's config (validated here).
        workdir: the run directory; created if missing, resumed if it has a checkpoint.
        score_callback_factory: `factory(config, data) -> callback or None`, the
            `ScoreCallback` of `evaluation.score_every_epochs`:
            `improved_gan_tf.evaluation.make_score_callback` (passed by `improved-gan
            train`; this package does not import `evaluation`).

    Raises:
        ConfigError: `train.run_eagerly` under a multi-replica strategy, a config the
            data or the architecture cannot take (e.g. one pass over the data that is
            not whole calls of `train.steps_per_execution` steps), or
            `evaluation.score_every_epochs` > 0 without a `score_callback_factory`.
        RunConfigChangedError: `workdir` holds a started run whose config.json differs
            in a run-defining key (`RunDir.check_resume`).
        LabeledSubsetChangedError: see `_check_labeled_subset`.
        RunDirectoryBusyError: another process holds `workdir`'s lock (`run_lock`).

    The trainer holds the run directory's lock from here until `close` (`train` and
    `with Trainer(...) as trainer:` call it); every refusal above comes before
    anything in the run directory is written.
    """

    def __init__(self, config, workdir, score_callback_factory=None):
        # Paths resolved (absolute): config.json and the report then name files that
        # `score`, `export` and a resume find from any working directory.
        self.config = config = resolve_paths(validate_config(config))
        if config.evaluation.score_every_epochs and score_callback_factory is None:
            raise ConfigError(
                f"config.evaluation.score_every_epochs={config.evaluation.score_every_epochs} "
                "needs the score callback: pass score_callback_factory="
                "improved_gan_tf.evaluation.make_score_callback (improved-gan train does)."
            )
        self.score_callback_factory = score_callback_factory
        self.strategy = make_strategy(config)
        self.task_type, self.task_id, self.is_chief = task_info(self.strategy)
        self.replicas = self.strategy.num_replicas_in_sync
        if config.train.run_eagerly and self.replicas > 1:
            raise ConfigError(
                f"config.train.run_eagerly=True needs a single replica, but the strategy has "
                f"{self.replicas}; set config.distribute.strategy='none'."
            )
        self.run = RunDir(workdir, worker=None if self.is_chief else (self.task_type, self.task_id))
        # The lock comes before anything in the run directory is read or written; a
        # non-chief worker of a multi-worker run locks its own worker directory (the
        # chief holds the run's).
        own_dir = self.run.path if self.is_chief else self.run.worker_dir
        created = not own_dir.exists()
        self.lock = RunLock(own_dir).acquire()
        try:
            # A refused resume raises here, before any file is written.
            self.resumable_changes = self.run.check_resume(config)
            removed = self.run.remove_temporary_files()
            if removed:
                logging.warning("removed temporary files of an interrupted run: %s",
                                [str(path) for path in removed])
            self.data = load_training_data(config)
            self._check_labeled_subset()
            self.steps_per_epoch = steps_per_epoch(config, self.data)
            if self.steps_per_epoch % config.train.steps_per_execution:
                raise ConfigError(
                    f"one pass over the training data is {self.steps_per_epoch} steps, not a "
                    f"multiple of config.train.steps_per_execution="
                    f"{config.train.steps_per_execution}; set config.train.steps_per_epoch "
                    "to a multiple of it."
                )
            self.total_steps = self.steps_per_epoch * config.train.epochs
            self.model = build_model(
                config, self.data.num_classes if self.data.semi_supervised else None, self.strategy
            )
            if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
                apply_multi_worker_workarounds(self.model)
            with self.strategy.scope():
                state = RunState.create()
            self.checkpointer = Checkpointer(self.model, state, self.run, config.checkpoint.max_to_keep)
            self._writer = None
        except BaseException:
            # A first start that failed (e.g. on its data) leaves no directory behind.
            self.lock.release(remove=created)
            if created:
                try:
                    own_dir.rmdir()
                except OSError:  # not empty: leave it
                    pass
            raise

    def _check_labeled_subset(self):
        """Refuses a resume whose labeled subset is not the one of labeled_indices.json.

        The subset is recomputed from the data and `data.seed` at every start; when the
        data files at `data.dir` changed, the same seed picks other examples, and the
        run would go on with another labeled subset than the one it started with.

        Raises:
            LabeledSubsetChangedError: naming the file, the seed and the data.
        """
        path = self.run.labeled_indices
        if not (self.data.semi_supervised and path.is_file() and self.run.has_started()):
            return
        stored, _ = load_labeled_indices(path)
        now = np.asarray(self.data.labeled_indices)
        if stored.shape == now.shape and np.array_equal(np.sort(stored), np.sort(now)):
            return
        raise LabeledSubsetChangedError(
            f"{path} holds {stored.size} labeled examples, but config.data.seed="
            f"{self.config.data.seed} now picks {now.size} others from "
            f"{self.config.data.dir or self.data.source!r} (the data files changed?), so the "
            "run cannot resume with the subset it was trained with; restore the data it "
            "was trained on, or start a new run with another --workdir."
        )

    @property
    def writer(self):
        """The run's TensorBoard writer (a no-op one on non-chief workers).

        Made at first use, so that a start refused before training (e.g. no checkpoint
        reads back) leaves no new event file in the run directory.
        """
        if self._writer is None:
            if self.is_chief:
                self._writer = tf.summary.create_file_writer(str(self.run.tensorboard))
            else:
                self._writer = tf.summary.create_noop_writer()
        return self._writer

    def write_run_files(self):
        """Writes config.json and the labeled subset (chief only).

        On a resume, config.json is rewritten only when a resumable key changed
        (`config.RESUMABLE_KEYS`; `__init__` refused any other change), and the labeled
        subset, which `__init__` checked to be the stored one, is not rewritten.
        """
        if not self.is_chief:
            return
        changed = self.run.write_config(self.config)
        if changed and self.run.has_started():
            logging.info("resuming with changed keys (they may change): %s", changed)
        if self.data.semi_supervised and not (
            self.run.labeled_indices.is_file() and self.run.has_started()
        ):
            save_labeled_indices(
                self.run.labeled_indices, self.data.labeled_indices, seed=self.config.data.seed,
                labels=self.data.train_labels, num_classes=self.data.num_classes,
                dataset=self.data.name, extra={"source": self.data.source},
            )

    def restore_or_initialize(self, choice=None) -> str | None:
        """Restores a checkpoint of the run directory, or initializes the model
        (data-dependent init) and saves checkpoint 0; returns the restored path.

        Args:
            choice: the `CheckpointChoice` of `checkpointer.choose()`; default: chosen
                here (the newest checkpoint that reads back intact).

        Raises:
            NoReadableCheckpointError: the run has checkpoints but none reads back.
        """
        choice = choice or self.checkpointer.choose()
        latest = self.checkpointer.restore(choice)
        if latest:
            logging.info("resumed from %s (step %d)", latest, self.checkpointer.step)
            return latest
        if self.config.train.init_examples:
            self.model.initialize(self.data.init_images)
        if self.task_type == "":
            # Checkpoint 0 (single process only: under MultiWorkerMirroredStrategy a
            # worker must not find the chief's checkpoint 0 while deciding whether to
            # restore, so the first multi-worker checkpoint is at `every_steps`).
            self.checkpointer.save(0)
        return None

    def _check_resume_step(self, choice):
        """Refuses to resume at a step that is not a multiple of `train.steps_per_execution`
        (a non-deterministic run resumed with another value): the interrupted epoch's
        remaining steps could not be run whole calls at a time."""
        k = self.config.train.steps_per_execution
        if choice is None or k == 1:
            return
        step = checkpoint_step(choice.path)
        if step % k:
            raise ConfigError(
                f"{choice.path} is step {step}, not a multiple of config.train."
                f"steps_per_execution={k}, so the run cannot resume there with it; resume "
                "with a value that divides the step (e.g. the run's own), or choose another "
                "checkpoint with --restore_checkpoint."
            )

    def make_callbacks(self, history: list[dict], eval_ds) -> list:
        """The callbacks of `fit` (see `training.callbacks`).

        Their order does not matter but for one thing: the `ScoreCallback` of
        `evaluation.score_every_epochs` (from `score_callback_factory`) writes its
        scores into the epoch logs, so it comes before the `EpochRecorder` that keeps
        them.
        """
        config, steps = self.config, self.steps_per_epoch
        timer = callbacks_lib.StepTimer(config, steps, self.writer, config.train.log_every_steps)
        # Only the chief scores: the other workers write no metrics.
        score_callback = None
        if self.is_chief and self.score_callback_factory is not None:
            score_callback = self.score_callback_factory(config, self.data)
        callbacks = [
            callbacks_lib.PeriodicCheckpoint(steps, self.checkpointer, config.checkpoint.every_steps),
            callbacks_lib.Schedule(config, steps),
            callbacks_lib.NonFiniteGuard(steps, lambda: self.checkpointer.last_saved),
            timer,
            *([score_callback] if score_callback is not None else []),
            callbacks_lib.EpochRecorder(
                config, steps, self.run, history, timer, self.checkpointer.elapsed, eval_ds,
                num_test_examples(config, self.data), self.writer, self.is_chief,
            ),
        ]
        if self.is_chief:
            latents = sample_latents(
                config.model.latent_distribution, (config.train.num_samples, self.model.latent_dim),
                seed=tf.constant([config.seed, SAMPLE_GRID_SEED_SALT]),
            )
            callbacks.append(callbacks_lib.SampleGrid(
                self.run, latents, self.data.image_shape, self.data.preprocess, self.writer
            ))
        return callbacks

    def fit(self, restore_checkpoint: str | None = None) -> dict:
        """Runs (the rest of) the schedule with `model.fit`; returns the report dict.

        Args:
            restore_checkpoint: a checkpoint of the run to resume from (newer ones are
                set aside, see `training.checkpoints`); default: the newest one that
                reads back intact.

        Raises:
            NoReadableCheckpointError: the run has checkpoints but none reads back
                (found before anything is written).
            CheckpointNotFoundError, UnreadableCheckpointError: `restore_checkpoint` is
                not a checkpoint of the run, or does not read back.
            ConfigError: the checkpoint's step is not a multiple of
                `train.steps_per_execution` (`_check_resume_step`).
        """
        # Chosen (reading only) before anything is written: a refusal changes nothing.
        choice = self.checkpointer.choose(restore_checkpoint)
        self._check_resume_step(choice)
        self.write_run_files()
        resumed_from = self.restore_or_initialize(choice)
        step = self.checkpointer.step
        history = self.run.read_history(last_epoch=step // self.steps_per_epoch)
        eval_ds = evaluation_stream(self.config, self.data)
        callbacks = self.make_callbacks(history, eval_ds)
        # The stream fixes the order of the batches (its own seeded shuffle); with Keras's
        # default shuffle=True, fit would warn on every run that it ignores it.
        fit_kwargs = dict(callbacks=callbacks, shuffle=False,
                          verbose=self.config.train.verbose if self.is_chief else 0)
        every = self.config.train.eval_every_epochs
        if eval_ds is not None and every:
            fit_kwargs.update(validation_data=eval_ds, validation_freq=every)
        while step < self.total_steps:
            epoch, done = divmod(step, self.steps_per_epoch)
            if done:
                # A resumed run first finishes its interrupted epoch (one short `fit`)...
                steps, last_epoch = self.steps_per_epoch - done, epoch + 1
            else:
                # ...then runs the remaining whole epochs.
                steps, last_epoch = self.steps_per_epoch, self.config.train.epochs
            num_steps = (last_epoch - epoch) * steps
            stream = training_stream(self.config, self.data, step, num_steps)
            self.model.fit(
                stream, initial_epoch=epoch, epochs=last_epoch, steps_per_epoch=steps, **fit_kwargs
            )
            step += num_steps
        self.checkpointer.save(step)
        recorder = next(c for c in callbacks if isinstance(c, callbacks_lib.EpochRecorder))
        return self.write_report(step, recorder.history, resumed_from)

    def write_report(self, step: int, history: list[dict], resumed_from: str | None) -> dict:
        """Writes the training section of the report; returns the report."""
        final = history[-1] if history else {}
        wall = self.checkpointer.elapsed()
        strategy = type(self.strategy).__name__
        if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            strategy = "MultiWorkerMirroredStrategy"
        report = {
            "experiment": self.config.experiment,
            "workdir": str(self.run.path),
            "config": config_to_dict(self.config),
            "data_source": self.data.source,
            "labeled_indices_file": str(self.run.labeled_indices) if self.data.semi_supervised else None,
            "num_labeled": int(self.config.data.num_labeled) if self.data.semi_supervised else 0,
            "epochs_completed": step // self.steps_per_epoch,
            "global_step": step,
            "steps_per_epoch": self.steps_per_epoch,
            "replicas": self.replicas,
            "strategy": strategy,
            "wall_seconds": wall,
            "images_per_second": step * self.config.train.batch_size / max(wall, 1e-9),
            "seconds_per_step_last_epoch": final.get("seconds_per_step"),
            "last_checkpoint": self.checkpointer.last_saved,
            "resumed_from": resumed_from,
            "weights_fingerprint": weights_fingerprint(self.model),
            "trainable_weights_fingerprint": weights_fingerprint(self.model, trainable_only=True),
            "curves_png": str(self.run.curves_png),
            "final": final,
        }
        report.update(report_lib.best_test_error(history) or {})
        report = report_lib.write_training_report(self.run, report, history)
        self.writer.flush()
        return report

    def cleanup(self):
        """Removes a non-chief worker's temporary checkpoint directory."""
        if not self.is_chief:
            shutil.rmtree(self.run.own_checkpoints, ignore_errors=True)

    def close(self):
        """`cleanup`, then releases the run directory's lock and removes its file
        (`train` calls it), so that a start that ends, or is refused, leaves the run
        directory as it found it."""
        try:
            self.cleanup()
        finally:
            self.lock.release(remove=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def train(config, workdir, *, score_callback_factory=None, restore_checkpoint=None) -> dict:
    """Trains `config` in `workdir` (resuming from its last checkpoint); returns the report.

    The run resumes from the newest checkpoint that reads back intact, or from
    `restore_checkpoint` (a checkpoint of the run, e.g. `WORKDIR/checkpoints/ckpt-1200`);
    see `Trainer.fit`.

    Call `configure_devices(config)` first in a fresh process (the CLI does). A config
    with `evaluation.score_every_epochs` > 0 needs `score_callback_factory=
    improved_gan_tf.evaluation.make_score_callback` (see `Trainer`).

    One process at a time trains in `workdir` (`run_lock`): the lock is held from the
    start until `train` returns or raises, and released by the kernel if the process
    is killed.

    Raises:
        NonFiniteLossError: a loss became NaN or infinite (the last good checkpoint is kept).
        NoReadableCheckpointError: the run has checkpoints but none reads back; nothing
            is written.
        RunConfigChangedError: `workdir` holds a started run whose config differs in a
            run-defining key (see `config.RESUMABLE_KEYS`); nothing is written.
        LabeledSubsetChangedError: the data now gives another labeled subset than the
            run's labeled_indices.json; nothing is written.
        RunDirectoryBusyError: another process is training in `workdir` (names its PID).
    """
    with Trainer(config, workdir, score_callback_factory=score_callback_factory) as trainer:
        return trainer.fit(restore_checkpoint=restore_checkpoint)
