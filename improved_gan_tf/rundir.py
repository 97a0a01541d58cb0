"""The run directory of `improved-gan train`: every path in it, and its history and config.

Layout (public: `export`, the evaluation tools and the human evaluation read it):

    DIR/config.json                 the full config of the run (`RunDir.read_config`)
    DIR/labeled_indices.json        the labeled subset (semi-supervised runs)
    DIR/checkpoints/ckpt-<N>.*      `tf.train.CheckpointManager` checkpoints, N = global
                                    train step; `checkpoints/checkpoint` names the latest
    DIR/metrics.json, metrics.csv   one record per epoch (losses, accuracy, test error,
                                    learning rate, step time, images/s)
    DIR/samples/epoch_XXXX.png      10x10 grid of G(z) for a fixed latent batch z
    DIR/tensorboard/                TensorBoard scalars and sample images
    DIR/report.json, report.md      training and scores (`improved_gan_tf.report`)
    DIR/curves.png                  losses and test error per epoch
    DIR/.worker_<type>_<id>/        a non-chief worker's own checkpoints and report
                                    (multi-worker runs; the chief's are the run's)
    DIR/.lock                       held by the process training in DIR (`run_lock`);
                                    a worker's in its worker directory

Every file is written atomically (a temporary file, then `os.replace`), so a run killed
at any moment leaves each file either as it was or complete, and perhaps a temporary
file, which the next start removes (`RunDir.remove_temporary_files`).

A run directory that has a checkpoint or an epoch record has started
(`RunDir.has_started`); starting it again resumes it, and `RunDir.check_resume`
refuses a config that differs from its config.json in a run-defining key
(`config.RESUMABLE_KEYS` lists the others).

`RunDir` imports neither TensorFlow nor the rest of the package beyond `config`,
`fileio` and `errors`, so any tool can use it.

Example:

    run = RunDir("runs/quickstart")
    config = run.read_config()
    history = run.read_history()   # [] before the first epoch ends
"""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import re
import shutil

from ml_collections import config_dict

from improved_gan_tf.config import RESUMABLE_KEYS
from improved_gan_tf.config import RESUMABLE_UNLESS_DETERMINISTIC_KEYS
from improved_gan_tf.config import ConfigError
from improved_gan_tf.config import base_config
from improved_gan_tf.config import flatten
from improved_gan_tf.config import run_defining_differences
from improved_gan_tf.config import validate_config
from improved_gan_tf.errors import UserInputError
from improved_gan_tf.fileio import atomic_write_text

CONFIG_FILENAME = "config.json"
LABELED_INDICES_FILENAME = "labeled_indices.json"
CHECKPOINT_SUBDIR = "checkpoints"
CHECKPOINT_PREFIX = "ckpt"
METRICS_JSON = "metrics.json"
METRICS_CSV = "metrics.csv"
SAMPLES_SUBDIR = "samples"
TENSORBOARD_SUBDIR = "tensorboard"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
CURVES_PNG = "curves.png"

# Temporary files a killed run can leave (see `RunDir.remove_temporary_files`):
# `fileio.atomic_write_*`: `tempfile.mkstemp(prefix=".NAME.", suffix=".tmp")`, whose
# random part is 8 characters of [a-z0-9_];
_ATOMIC_WRITE_TEMP = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")
# TensorFlow's `file_io.atomic_write_string_to_file` (the `checkpoint` state file):
# NAME + ".tmp" + uuid4().hex;
_TF_ATOMIC_WRITE_TEMP = re.compile(r".+\.tmp[0-9a-f]{32}")
# TensorFlow's checkpoint writer: the shards of a save go to `PREFIX_temp/` before they
# are merged into PREFIX.index / PREFIX.data-*, and the tensor bundle writes each file
# as NAME.tempstate<number> before renaming it.
_CHECKPOINT_TEMP_DIR = re.compile(re.escape(CHECKPOINT_PREFIX) + r"-\d+_temp")
_TENSOR_BUNDLE_TEMP = re.compile(r".+\.tempstate\d+")


class NotARunDirectoryError(UserInputError, FileNotFoundError):
    """A directory has no `config.json`: it is not a training run directory."""


class RunConfigChangedError(ConfigError):
    """A resume's config differs from the run directory's in a run-defining key.

    Attributes:
        differences: `(key, old value, new value)` of every such key.
    """

    def __init__(self, message: str, differences=()):
        super().__init__(message)
        self.differences = list(differences)


def config_to_dict(config) -> dict:
    """A plain JSON-serializable dict of a ConfigDict."""
    return json.loads(config.to_json())


def config_from_dict(values: dict):
    """Rebuilds a locked, typed config from `config_to_dict` output (e.g. config.json).

    Raises:
        ConfigError: a key the base config does not have, so that a run directory of an
            incompatible version is refused rather than misread.
    """
    config = base_config()
    with config.unlocked():
        for key, value in (values.get("model", {}).get("arch") or {}).items():
            config.model.arch[key] = value
    for key, value in flatten(config_dict.ConfigDict(values)).items():
        if key.startswith("model.arch."):
            continue
        node = config
        *parents, leaf = key.split(".")
        try:
            for part in parents:
                node = node[part]
            if leaf not in node:
                raise KeyError(leaf)
        except KeyError:
            raise ConfigError(f"Unknown config key {key!r}.") from None
        if isinstance(node[leaf], float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        node[leaf] = value
    return validate_config(config)


class RunDir:
    """The paths of one run directory, and the reads and writes of its JSON/CSV files.

    Args:
        workdir: the run directory (`--workdir` of `improved-gan train`).
        worker: `(task_type, task_id)` of a non-chief worker of a multi-worker run, whose
            checkpoints and report go to `DIR/.worker_<type>_<id>/`; None for the chief
            or a single process.
    """

    def __init__(self, workdir, worker: tuple[str, int] | None = None):
        self.path = pathlib.Path(workdir)
        self.worker = worker

    def __repr__(self):
        return f"RunDir({str(self.path)!r}" + (f", worker={self.worker!r})" if self.worker else ")")

    # ------------------------------------------------------------------ paths
    @property
    def config_json(self) -> pathlib.Path:
        return self.path / CONFIG_FILENAME

    @property
    def labeled_indices(self) -> pathlib.Path:
        return self.path / LABELED_INDICES_FILENAME

    @property
    def checkpoints(self) -> pathlib.Path:
        """The run's checkpoint directory (the chief's: the one to restore from)."""
        return self.path / CHECKPOINT_SUBDIR

    @property
    def worker_dir(self) -> pathlib.Path | None:
        """`DIR/.worker_<type>_<id>` of a non-chief worker (None otherwise)."""
        if self.worker is None:
            return None
        task_type, task_id = self.worker
        return self.path / f".worker_{task_type}_{task_id}"

    @property
    def own_checkpoints(self) -> pathlib.Path:
        """Where this process saves: `checkpoints/`, or its worker directory's copy.

        Every worker of a multi-worker run takes part in saving (variables may live on
        several workers); only the chief's copy is kept.
        """
        return self.checkpoints if self.worker is None else self.worker_dir / CHECKPOINT_SUBDIR

    @property
    def metrics_json(self) -> pathlib.Path:
        return self.path / METRICS_JSON

    @property
    def metrics_csv(self) -> pathlib.Path:
        return self.path / METRICS_CSV

    @property
    def samples(self) -> pathlib.Path:
        return self.path / SAMPLES_SUBDIR

    def sample_grid(self, epoch: int) -> pathlib.Path:
        """`samples/epoch_XXXX.png` of 1-based `epoch`."""
        return self.samples / f"epoch_{epoch:04d}.png"

    @property
    def tensorboard(self) -> pathlib.Path:
        return self.path / TENSORBOARD_SUBDIR

    @property
    def report_json(self) -> pathlib.Path:
        """`report.json`, or a non-chief worker's own copy in its worker directory."""
        return self.path / REPORT_JSON if self.worker is None else self.worker_dir / REPORT_JSON

    @property
    def report_md(self) -> pathlib.Path:
        return self.path / REPORT_MD

    @property
    def curves_png(self) -> pathlib.Path:
        return self.path / CURVES_PNG

    # ------------------------------------------------------------------ config
    def read_config_values(self) -> dict | None:
        """The raw contents of config.json (None if there is none)."""
        if not self.config_json.is_file():
            return None
        return self._read_json(self.config_json)

    def read_config(self) -> config_dict.ConfigDict:
        """The config the run was trained with, validated.

        Raises:
            NotARunDirectoryError: no config.json in the directory.
            ConfigError: config.json has a key the base config does not know.
        """
        values = self.read_config_values()
        if values is None:
            raise NotARunDirectoryError(
                f"{self.config_json} not found: is {self.path} a training run directory?"
            )
        return config_from_dict(values)

    def write_config(self, config) -> list[str]:
        """Writes config.json; returns the keys whose values differ from the earlier one."""
        previous = self.read_config_values()
        changed = []
        if previous is not None:
            old, new = flatten(config_dict.ConfigDict(previous)), flatten(config)
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.config_json, config.to_json(indent=1) + "\n")
        return changed

    def has_started(self) -> bool:
        """Whether the run has trained: a checkpoint, an epoch record or a report.

        A directory with only config.json (a start that failed before checkpoint 0) has
        not: starting it again is a new start, and may use another config.
        """
        checkpoints = self.checkpoints
        if checkpoints.is_dir() and (
            (checkpoints / "checkpoint").is_file()
            or any(checkpoints.glob(f"{CHECKPOINT_PREFIX}-*.index"))
        ):
            return True
        return self.metrics_json.is_file() or (self.path / REPORT_JSON).is_file()

    def check_resume(self, config) -> list[str]:
        """Refuses to resume a started run with a config that changes what it computes.

        Nothing is written. Call it before anything of the run directory is.

        Args:
            config: the config of the start (paths resolved, `config.resolve_paths`).

        Returns:
            The keys that differ from config.json and may (`config.RESUMABLE_KEYS`);
            [] for a run that has not started (`has_started`).

        Raises:
            RunConfigChangedError: a run-defining key differs; the message lists every
                one as `key: old -> new` and how to start a new run instead.
            ConfigError, DamagedRunFileError: config.json cannot be read.
        """
        previous = self.read_config_values()
        if previous is None or not self.has_started():
            return []
        old = config_from_dict(previous)
        differences = run_defining_differences(old, config)
        if differences:
            listed = "; ".join(f"{key}: {a!r} -> {b!r}" for key, a, b in differences)
            raise RunConfigChangedError(
                f"{self.path} holds a started run whose config.json differs from this "
                f"config in {len(differences)} run-defining key(s), so it cannot resume "
                f"(key: in config.json -> now): {listed}. To train with the new values, "
                "start a new run with another --workdir; to resume, keep these keys as "
                f"they were (only {', '.join(_resumable_keys())} may change on a resume).",
                differences,
            )
        old_values, new_values = flatten(old), flatten(config)
        return sorted(k for k in new_values if old_values.get(k) != new_values[k])

    def remove_temporary_files(self) -> list[pathlib.Path]:
        """Removes the temporary files a killed run left; returns what it removed.

        Only this process's directories are looked at (the run directory, `samples/`
        and the checkpoints it saves to; a non-chief worker: its worker directory), and
        only names no finished file has: the temporary files of `fileio`, TensorFlow's
        `NAME.tmp<hex>` and `NAME.tempstate<n>` files and `ckpt-<N>_temp/` directories.
        Call it while holding the run's lock (`run_lock.RunLock`), so that no other
        process is writing them.
        """
        if self.worker is None:
            directories = [self.path, self.samples, self.checkpoints]
        else:
            directories = [self.worker_dir, self.own_checkpoints]
        removed = []
        for directory in directories:
            if not directory.is_dir():
                continue
            for entry in sorted(directory.iterdir()):
                name = entry.name
                if entry.is_dir() and not entry.is_symlink():
                    if directory == self.own_checkpoints and _CHECKPOINT_TEMP_DIR.fullmatch(name):
                        shutil.rmtree(entry, ignore_errors=True)
                        removed.append(entry)
                    continue
                if (_ATOMIC_WRITE_TEMP.fullmatch(name) or _TF_ATOMIC_WRITE_TEMP.fullmatch(name)
                        or _TENSOR_BUNDLE_TEMP.fullmatch(name)):
                    try:
                        os.unlink(entry)
                    except FileNotFoundError:
                        continue
                    removed.append(entry)
        return removed

    # ------------------------------------------------------------------ history
    def read_history(self, last_epoch: int | None = None) -> list[dict]:
        """The per-epoch records of metrics.json ([] if none), up to `last_epoch`."""
        if not self.metrics_json.is_file():
            return []
        history = self._read_json(self.metrics_json)
        if last_epoch is not None:
            history = [record for record in history if record["epoch"] <= last_epoch]
        return history

    def write_history(self, history: list[dict]) -> None:
        """Writes metrics.json and metrics.csv (one column per key, in first-seen order)."""
        atomic_write_text(self.metrics_json, json.dumps(history, indent=1) + "\n")
        keys: list[str] = []
        for record in history:
            keys += [k for k in record if k not in keys]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)
        atomic_write_text(self.metrics_csv, buffer.getvalue())

    # ------------------------------------------------------------------ report
    def read_report(self) -> dict:
        """report.json's contents ({} if there is none)."""
        return self._read_json(self.report_json) if self.report_json.is_file() else {}

    @staticmethod
    def _read_json(path: pathlib.Path):
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise DamagedRunFileError(f"{path} is not valid JSON ({error}).") from error


class DamagedRunFileError(UserInputError, ValueError):
    """A JSON file of a run directory does not parse."""


def _resumable_keys() -> list[str]:
    return list(RESUMABLE_KEYS) + [
        f"{key} (if not deterministic)" for key in RESUMABLE_UNLESS_DETERMINISTIC_KEYS]
