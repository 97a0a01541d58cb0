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

Recovery. A resumed run does not trust the state file alone: `choose_checkpoint` lists
the checkpoints from the files on disk (`list_checkpoints`, `ckpt-N.index` and its data
shards, newest first), and picks the newest one that reads back intact
(`verify_checkpoint` reads its index and every tensor, whose checksums TensorFlow
checks). A missing, unparsable or wrong state file, or a newest checkpoint whose files
are missing, truncated or corrupt, therefore costs only the steps after the checkpoint
restored, never the run. What is skipped is set aside, never deleted: the unreadable
checkpoints, the old state file and a copy of metrics.json / metrics.csv are moved (or
copied) to `checkpoints/set_aside/<UTC time>/`, and a new state file names the
checkpoint restored, so the checkpoint manager's `max_to_keep` deletes old good
checkpoints only in favour of new ones, and no later save lands on a damaged file's
name. The warning on stderr names the checkpoint restored and why each newer one was
skipped. A run directory whose checkpoints all fail to read back stops with
`NoReadableCheckpointError`, changing nothing. `Checkpointer.restore` restores a named
checkpoint of the run (`improved-gan train --restore_checkpoint`); the newer ones are
set aside the same way.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
import pathlib
import re
import shutil
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from improved_gan_tf.errors import UserInputError
from improved_gan_tf.fileio import atomic_write_text
from improved_gan_tf.rundir import CHECKPOINT_PREFIX
from improved_gan_tf.rundir import RunDir
from improved_gan_tf.training.models import build_model


class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or infinite; the message names the step and checkpoint."""


class NoCheckpointError(UserInputError, FileNotFoundError):
    """A run directory has no checkpoint to restore."""


class CheckpointNotFoundError(NoCheckpointError):
    """A named checkpoint's files (its `.index` or a data shard) do not exist."""


class UnreadableCheckpointError(UserInputError, ValueError):
    """A checkpoint's files are truncated or corrupt: its tensors do not read back."""


class NoReadableCheckpointError(UnreadableCheckpointError):
    """A run directory has checkpoints (or a state file naming some), but none reads back.

    Raised before anything in the run directory is changed; the message lists every
    checkpoint and what is wrong with it.
    """


#: The checkpoint manager's state file in a checkpoint directory (TensorFlow's name).
STATE_FILENAME = "checkpoint"
#: Subdirectory of `checkpoints/` where a recovery moves what it skipped.
SET_ASIDE_SUBDIR = "set_aside"
_CHECKPOINT_FILE = re.compile(r"^(?P<prefix>[A-Za-z0-9_]+-(?P<step>[0-9]+))\.(?:index|data-[0-9]+-of-[0-9]+)$")


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


def checkpoint_step(path) -> int:
    """The step number of checkpoint `path` (`.../ckpt-1200` -> 1200).

    Raises:
        CheckpointNotFoundError: `path` is not named like a checkpoint (`<name>-<step>`).
    """
    name = pathlib.Path(str(path)).name
    match = re.fullmatch(r"[A-Za-z0-9_]+-([0-9]+)", name)
    if match is None:
        raise CheckpointNotFoundError(
            f"{path} is not a checkpoint path prefix such as DIR/checkpoints/{CHECKPOINT_PREFIX}-1200.")
    return int(match.group(1))


def list_checkpoints(directory, prefix: str = CHECKPOINT_PREFIX) -> list[str]:
    """The checkpoints in `directory` found from its files, newest (highest step) first.

    A checkpoint counts if its `.index` or any of its data shards exists, whatever the
    state file says, so that a checkpoint with a lost index is still reported (and
    refused by `verify_checkpoint`). Subdirectories (TensorFlow's `_temp` folders of an
    interrupted save, `set_aside/`) are not looked into.

    Args:
        directory: a checkpoint directory (`RunDir.checkpoints`).
        prefix: the checkpoints' name (`ckpt`).

    Returns:
        Path prefixes (`directory/ckpt-N`), highest N first.
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        return []
    steps = {}
    for entry in directory.iterdir():
        match = _CHECKPOINT_FILE.match(entry.name)
        if match and entry.is_file() and match.group("prefix").rsplit("-", 1)[0] == prefix:
            steps[int(match.group("step"))] = str(directory / match.group("prefix"))
    return [steps[step] for step in sorted(steps, reverse=True)]


def _checkpoint_files(path) -> list[pathlib.Path]:
    """The files of checkpoint `path`: its `.index` and data shards that exist."""
    path = pathlib.Path(str(path))
    if not path.parent.is_dir():
        return []
    return sorted(p for p in path.parent.iterdir()
                  if p.is_file() and (p.name == f"{path.name}.index" or p.name.startswith(f"{path.name}.data-")))


def _missing_shards(path) -> str | None:
    """The name of a missing data shard of checkpoint `path` (None: all are there).

    The shard count is in every shard's name (`.data-00000-of-00002`); with no shard at
    all, the first one is missing.
    """
    name = pathlib.Path(str(path)).name
    shards = [p.name for p in _checkpoint_files(path) if p.name.startswith(f"{name}.data-")]
    if not shards:
        return f"{name}.data-00000-of-*"
    for count in sorted({int(shard.rsplit("-of-", 1)[1]) for shard in shards}):
        for number in range(count):
            shard = f"{name}.data-{number:05d}-of-{count:05d}"
            if shard not in shards:
                return shard
    return None


def verify_checkpoint(path) -> str:
    """Checks that checkpoint `path` reads back: its index and every tensor of it.

    TensorFlow checks each tensor's CRC32C while reading it, so flipped bytes in a data
    shard are found as well as truncated or missing files. Done before a model is built
    from the checkpoint, so that a damaged file is told apart from a bug.

    Args:
        path: a checkpoint path prefix (`DIR/checkpoints/ckpt-1200`).

    Returns:
        `path` as a string.

    Raises:
        CheckpointNotFoundError: its `.index` or a data shard does not exist (a
            `FileNotFoundError`).
        UnreadableCheckpointError: its files are truncated or corrupt (a `ValueError`).
    """
    path = str(path)
    index = pathlib.Path(f"{path}.index")
    if not index.is_file():
        shards = [p.name for p in _checkpoint_files(path)]
        found = f"; found only {', '.join(shards)}" if shards else ""
        raise CheckpointNotFoundError(f"Checkpoint {path}: {index} not found{found}.")
    missing = _missing_shards(path)
    if missing:
        raise CheckpointNotFoundError(f"Checkpoint {path}: data shard {missing} not found.")
    try:
        reader = tf.train.load_checkpoint(path)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except tf.errors.NotFoundError as error:
        raise CheckpointNotFoundError(f"Checkpoint {path}: {error.message}") from error
    except (tf.errors.OpError, IndexError, ValueError) as error:
        # A truncated data shard makes TensorFlow's reader raise an IndexError.
        message = getattr(error, "message", None) or str(error)
        raise UnreadableCheckpointError(
            f"Checkpoint {path} cannot be read back ({type(error).__name__}: {message}); "
            "its files are truncated or corrupt."
        ) from error
    return path


def read_checkpoint_state(directory) -> tuple[str | None, str | None]:
    """The checkpoint the state file of `directory` names, and what is wrong with it.

    Returns:
        `(path, problem)`: `path` is the named checkpoint's prefix (None if none is
        named); `problem` is None when the state file parses and names a checkpoint
        whose `.index` exists, else a phrase saying what is wrong ("is missing",
        "cannot be parsed ...", "names ckpt-40, whose files are missing").
    """
    directory = pathlib.Path(directory)
    state_file = directory / STATE_FILENAME
    if not state_file.is_file():
        return None, f"{state_file} is missing"
    try:
        state = tf.train.get_checkpoint_state(str(directory))
    except Exception as error:  # text_format.ParseError, UnicodeDecodeError, OpError
        return None, f"{state_file} cannot be parsed ({type(error).__name__}: {error})"
    if state is None or not state.model_checkpoint_path:
        return None, f"{state_file} cannot be parsed or names no checkpoint"
    path = state.model_checkpoint_path
    if not os.path.isabs(path):
        path = str(directory / path)
    if not pathlib.Path(f"{path}.index").is_file():
        return path, f"{state_file} names {path}, whose files are missing"
    return path, None


@dataclasses.dataclass(frozen=True)
class CheckpointChoice:
    """The checkpoint a run resumes from (`choose_checkpoint`) and why.

    Attributes:
        path: the checkpoint's path prefix (it reads back intact).
        skipped: `(path, reason)` of each newer checkpoint on disk that was not chosen.
        state_problem: what is wrong with the state file (None: it names `path`).
        named: the checkpoint was named by the user (`Checkpointer.restore`).
    """

    path: str
    skipped: tuple = ()
    state_problem: str | None = None
    named: bool = False

    @property
    def needs_repair(self) -> bool:
        """Whether files must be set aside or the state file rewritten."""
        return bool(self.skipped) or self.state_problem is not None

    def describe(self) -> str:
        """One paragraph for the log: which checkpoint, and why the newer ones were not."""
        if self.named:
            text = f"Restoring {self.path}, as asked"
        else:
            text = f"Restoring {self.path}, the newest checkpoint that reads back intact"
        reasons = [f"{pathlib.Path(path).name}: {reason}" for path, reason in self.skipped]
        if self.state_problem is not None:
            reasons.append(f"the state file: {self.state_problem}")
        return text + (" (" + "; ".join(reasons) + ")" if reasons else "") + "."


def choose_checkpoint(directory, named: str | None = None) -> CheckpointChoice | None:
    """The checkpoint of `directory` a run resumes from; reads, never writes.

    Args:
        directory: the run's checkpoint directory (`RunDir.checkpoints`).
        named: a checkpoint path prefix the user asked for (it must be one of
            `directory`'s), or None for the newest one that reads back intact.

    Returns:
        A `CheckpointChoice`, or None when `directory` has no checkpoint files and no
        state file (a new run).

    Raises:
        NoReadableCheckpointError: checkpoints (or a state file) exist but none reads
            back; the message lists each one and why.
        CheckpointNotFoundError, UnreadableCheckpointError: `named` is not a checkpoint
            of `directory`, or does not read back.
    """
    directory = pathlib.Path(directory)
    on_disk = list_checkpoints(directory)
    state_path, state_problem = read_checkpoint_state(directory)
    if named is not None:
        return _choose_named(directory, on_disk, named, state_path, state_problem)
    if not on_disk:
        if not (directory / STATE_FILENAME).exists():
            return None
        raise NoReadableCheckpointError(
            f"{directory} has no checkpoint files, but its state file says the run has "
            f"checkpoints ({state_problem or 'it names ' + str(state_path)}). Not restarting "
            f"the run from step 0: restore its checkpoint files, or move {directory} away "
            "to start the run afresh."
        )
    skipped = []
    for path in on_disk:
        try:
            verify_checkpoint(path)
        except (CheckpointNotFoundError, UnreadableCheckpointError) as error:
            skipped.append((path, str(error)))
            continue
        problem = state_problem
        if problem is None and not _same_file(state_path, path):
            problem = f"{directory / STATE_FILENAME} names {state_path}, not the newest checkpoint"
        return CheckpointChoice(path=path, skipped=tuple(skipped), state_problem=problem)
    raise NoReadableCheckpointError(
        f"No checkpoint in {directory} reads back intact, so the run cannot resume and "
        "nothing was changed: " + "; ".join(reason for _, reason in skipped)
        + f". Restore the files from a copy, or move {directory} away to start the run afresh."
    )


def _choose_named(directory, on_disk, named, state_path, state_problem) -> CheckpointChoice:
    named = str(named)
    if named.endswith(".index"):
        named = named[: -len(".index")]
    candidate = pathlib.Path(named)
    if not candidate.is_absolute() and not _checkpoint_files(candidate):
        candidate = directory / candidate.name  # a bare name: ckpt-1200
    candidate = candidate.resolve()
    if candidate.parent != directory.resolve():
        raise CheckpointNotFoundError(
            f"Checkpoint to restore {named!r} is not in the run's checkpoint directory "
            f"{directory}; its checkpoints are: {_names(on_disk)}."
        )
    path = str(directory / candidate.name)
    step = checkpoint_step(path)
    verify_checkpoint(path)
    newer = tuple((other, f"newer than the checkpoint asked for ({pathlib.Path(path).name})")
                  for other in on_disk if checkpoint_step(other) > step)
    problem = state_problem
    if problem is None and not _same_file(state_path, path):
        problem = f"{directory / STATE_FILENAME} names {state_path}"
    return CheckpointChoice(path=path, skipped=newer, state_problem=problem, named=True)


def _same_file(a, b) -> bool:
    return os.path.realpath(str(a)) == os.path.realpath(str(b))


def _names(paths) -> str:
    return ", ".join(pathlib.Path(p).name for p in paths) or "none"


def set_aside(run: RunDir, choice: CheckpointChoice, max_to_keep: int | None = None) -> pathlib.Path | None:
    """Makes `choice` the run's latest checkpoint without deleting anything.

    Moves the files of the checkpoints `choice` skipped and the old state file to
    `checkpoints/set_aside/<UTC time>/`, copies metrics.json and metrics.csv there (the
    records of the epochs after `choice` are re-made as the run goes on), and writes a
    state file that names `choice.path` and the older checkpoints on disk (the newest
    `max_to_keep` of them; None: all), so that the checkpoint manager keeps counting
    `max_to_keep` from those. Older checkpoints not listed are never deleted by it.

    Returns:
        The directory things were moved to (None: nothing needed setting aside).
    """
    directory = run.checkpoints
    aside = None
    if choice.skipped or (directory / STATE_FILENAME).exists():
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        aside = directory / SET_ASIDE_SUBDIR / stamp
        aside.mkdir(parents=True)
        for path, _ in choice.skipped:
            for file in _checkpoint_files(path):
                file.rename(aside / file.name)
        if (directory / STATE_FILENAME).exists():
            (directory / STATE_FILENAME).rename(aside / STATE_FILENAME)
        for history in (run.metrics_json, run.metrics_csv):
            if history.is_file():
                shutil.copy2(history, aside / history.name)
    step = checkpoint_step(choice.path)
    kept = [p for p in reversed(list_checkpoints(directory)) if checkpoint_step(p) <= step]
    if max_to_keep:
        kept = kept[-max_to_keep:]
    write_checkpoint_state(directory, choice.path, kept)
    return aside


def write_checkpoint_state(directory, latest: str, all_paths) -> None:
    """Writes `directory`'s state file (atomically): `latest`, and `all_paths` oldest
    first with their files' times, in the text format of TensorFlow's `CheckpointState`.

    Paths are written relative to `directory`, as the checkpoint manager writes them, so
    the run directory can be moved.
    """
    directory = pathlib.Path(directory)
    times = []
    for path in all_paths:
        index = pathlib.Path(f"{path}.index")
        times.append(index.stat().st_mtime if index.exists() else time.time())
    lines = [f'model_checkpoint_path: "{pathlib.Path(latest).name}"']
    lines += [f'all_model_checkpoint_paths: "{pathlib.Path(p).name}"' for p in all_paths]
    lines += [f"all_model_checkpoint_timestamps: {t!r}" for t in times]
    # Older than every checkpoint listed, so that the manager may delete them in turn.
    lines.append(f"last_preserved_timestamp: {(min(times) if times else time.time()) - 1.0!r}")
    atomic_write_text(directory / STATE_FILENAME, "\n".join(lines) + "\n")


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
        CheckpointNotFoundError: the checkpoint's files do not exist (a
            `NoCheckpointError`).
        UnreadableCheckpointError: the checkpoint's files are truncated or corrupt
            (checked with `verify_checkpoint` before the model is built).
    """
    run = RunDir(workdir)
    config = run.read_config()
    path = checkpoint or latest_checkpoint(workdir)
    if path is None:
        raise NoCheckpointError(f"No checkpoint in {run.checkpoints}.")
    try:
        verify_checkpoint(path)
    except UnreadableCheckpointError as error:
        others = [p for p in list_checkpoints(run.checkpoints) if p != str(path)]
        raise UnreadableCheckpointError(
            f"{error} Other checkpoints of the run: {_names(others)}; pass one as the checkpoint.") from error
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
        self.max_to_keep = max_to_keep
        self._manager: tf.train.CheckpointManager | None = None
        self.last_saved: str | None = None
        self.saved_step: int | None = None
        self._elapsed_at_start = 0.0
        self._session_started = time.perf_counter()

    @property
    def manager(self) -> tf.train.CheckpointManager:
        """The checkpoint manager of this process's checkpoint directory.

        Made at first use, after `restore`: the manager reads the state file once, when
        it is made, and refuses one that does not parse, which a recovery replaces.
        """
        if self._manager is None:
            self._manager = tf.train.CheckpointManager(
                self.checkpoint, str(self.run.own_checkpoints), max_to_keep=self.max_to_keep,
                checkpoint_name=CHECKPOINT_PREFIX,
            )
        return self._manager

    def choose(self, named: str | None = None) -> CheckpointChoice | None:
        """The checkpoint `restore` would restore (`choose_checkpoint` of the run's
        checkpoint directory); reads files, changes nothing.

        Args:
            named: a checkpoint of the run to restore instead of the newest readable one.

        Raises:
            NoReadableCheckpointError: see `choose_checkpoint`; also when the run has
                epoch records (metrics.json) but no checkpoint.
            CheckpointNotFoundError, UnreadableCheckpointError: see `choose_checkpoint`.
        """
        choice = choose_checkpoint(self.run.checkpoints, named)
        if choice is None and self.run.metrics_json.is_file():
            records = self.run.read_history()
            if records:
                raise NoReadableCheckpointError(
                    f"{self.run.metrics_json} holds the records of {len(records)} epochs, but "
                    f"{self.run.checkpoints} has no checkpoint. Not restarting the run from step 0: "
                    f"restore its checkpoints, or move {self.run.path} away to start the run afresh."
                )
        return choice

    def restore(self, choice: CheckpointChoice | None) -> str | None:
        """Restores the checkpoint of `choice` (None: a new run); returns its path.

        When `choice` skipped newer checkpoints or the state file is wrong, the chief
        logs why (a warning, on stderr) and sets the skipped files aside
        (`set_aside`; nothing is deleted) before restoring.
        """
        if choice is not None:
            if choice.needs_repair:
                logging.warning("%s", choice.describe())
                if self.run.worker is None:
                    aside = set_aside(self.run, choice, self.max_to_keep)
                    if aside is not None:
                        logging.warning(
                            "Set aside in %s (nothing was deleted): %s. The records of the "
                            "epochs after %s are made again as the run goes on.",
                            aside, ", ".join(sorted(p.name for p in aside.iterdir())),
                            pathlib.Path(choice.path).name,
                        )
                    self._manager = None  # reads the new state file when next used
            self.saved_step = restore_checkpoint(self.model, self.state, choice.path, self.checkpoint)
            self.last_saved = choice.path
        self._elapsed_at_start = float(self.state.elapsed_seconds.numpy())
        self._session_started = time.perf_counter()
        return None if choice is None else choice.path

    def restore_latest(self) -> str | None:
        """Restores the run's newest checkpoint that reads back intact (`choose`, then
        `restore`); returns its path (None: the run has no checkpoint)."""
        return self.restore(self.choose())

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
