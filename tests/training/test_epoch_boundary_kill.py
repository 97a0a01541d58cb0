"""Killing a run at an epoch's boundary loses no completed epoch's record.

A real `improved-gan train` process (3 epochs of 3 steps of the quickstart model, a
checkpoint at every epoch's end, deterministic ops) is killed with SIGKILL by itself at
a named point of the boundary between epochs: a hook installed before the command runs
(`KILL_HOOK` below) sends the signal when training reaches that point, so the kill lands
exactly there, not at a random time. Each point gets its own process, in the order a
run meets them, and every process resumes the run directory the previous one left:

1. after the epoch's last step, before the test evaluation;
2. after the test evaluation, before the epoch's record;
3. between writing metrics.json and metrics.csv;
4. after the record, before the sample grid;
5. after the sample grid, before the checkpoint that ends the epoch;
6. after that checkpoint is saved, before the next epoch starts;
7. while the last epoch's checkpoint is saved: its files written, the state file not
   yet updated (the resume finds it on disk and restores it);
8. after the last epoch's checkpoint, before the report.

Points 1-6 are placed in epoch 2 (so the resume restores epoch 1's checkpoint and does
epoch 2 again), 7-8 in epoch 3.

After each kill every epoch-end checkpoint on disk has its epoch's record in
metrics.json (the record is written before the checkpoint that ends the epoch). A last
resume then completes the run, and its records (losses, test errors, learning rate),
metrics.csv, sample grids and final weights equal those of a run never interrupted.
"""

import csv
import json
import os
import signal
import subprocess
import sys

from tests.train_utils import CONFIGS_DIR
from tests.train_utils import REPO_ROOT
from tests.train_utils import SHARED_DATA

STEPS_PER_EPOCH = 3
EPOCHS = 3
#: What differs between two runs of the same schedule: the clock.
TIMING_KEYS = ("seconds_per_step", "images_per_second", "wall_seconds")

#: Installed in the training process before `improved-gan train` runs: SIGKILLs the
#: process at point $KILL_POINT of epoch $KILL_EPOCH (after announcing it on stderr).
KILL_HOOK = r'''
import json, os, signal, sys

import tensorflow as tf

from improved_gan_tf import report, rundir
from improved_gan_tf.training import callbacks, checkpoints

POINT, EPOCH, SPE = os.environ["KILL_POINT"], int(os.environ["KILL_EPOCH"]), int(os.environ["KILL_SPE"])
END_STEP = EPOCH * SPE


def die():
    sys.stderr.write(f"[kill-hook] SIGKILL at {POINT} of epoch {EPOCH}\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def wrap(owner, name, before=None, after=None):
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        if before is not None and before(*args, **kwargs):
            die()
        result = original(*args, **kwargs)
        if after is not None and after(*args, **kwargs):
            die()
        return result

    setattr(owner, name, wrapper)


def epoch_is(self, epoch, logs=None):
    return epoch + 1 == EPOCH


if POINT == "after_last_step":
    wrap(callbacks.PeriodicCheckpoint, "on_train_batch_end",
         after=lambda self, batch, logs=None: self.steps_done(batch) == END_STEP)
elif POINT == "before_record":
    wrap(callbacks.EpochRecorder, "on_epoch_end", before=epoch_is)
elif POINT == "between_metrics_json_and_csv":
    def json_of_the_epoch(path, text):
        return os.path.basename(str(path)) == rundir.METRICS_JSON and json.loads(text)[-1]["epoch"] == EPOCH
    wrap(rundir, "atomic_write_text", after=json_of_the_epoch)
elif POINT == "after_record":
    wrap(callbacks.EpochRecorder, "on_epoch_end", after=epoch_is)
elif POINT == "after_sample_grid":
    wrap(callbacks.SampleGrid, "on_epoch_end", after=epoch_is)
elif POINT == "during_checkpoint_save":
    save = tf.train.CheckpointManager.save

    def save_files_then_die(self, checkpoint_number=None, **kwargs):
        if checkpoint_number == END_STEP:
            # What `save` does before it replaces the state file.
            self._checkpoint.write(f"{self._prefix}-{checkpoint_number}")
            die()
        return save(self, checkpoint_number=checkpoint_number, **kwargs)

    tf.train.CheckpointManager.save = save_files_then_die
elif POINT == "after_checkpoint_save":
    wrap(checkpoints.Checkpointer, "save", after=lambda self, step: step == END_STEP)
elif POINT == "before_report":
    wrap(report, "write_training_report", before=lambda *args, **kwargs: True)
else:
    raise SystemExit(f"unknown KILL_POINT {POINT!r}")

from improved_gan_tf.cli import train as train_cli

train_cli.run(["improved-gan train", *sys.argv[1:]])
'''

KILLS = [
    ("after_last_step", 2),
    ("before_record", 2),
    ("between_metrics_json_and_csv", 2),
    ("after_record", 2),
    ("after_sample_grid", 2),
    ("after_checkpoint_save", 2),
    ("during_checkpoint_save", 3),
    ("before_report", 3),
]


def train_args(workdir):
    return [
        "--config", str(CONFIGS_DIR / "quickstart.py"), "--workdir", str(workdir),
        f"--config.data.dir={SHARED_DATA / 'mnist'}", "--config.deterministic=True",
        f"--config.train.epochs={EPOCHS}", f"--config.train.steps_per_epoch={STEPS_PER_EPOCH}",
        "--config.train.batch_size=8", "--config.train.init_examples=16",
        "--config.train.run_eagerly=True", "--config.train.verbose=0",
        "--config.train.num_samples=4", "--config.data.test_examples=16",
        "--config.data.num_labeled=20", "--config.checkpoint.every_steps=0",
        "--config.checkpoint.max_to_keep=50", "--config.distribute.strategy=none",
    ]


def run_training(workdir, kill=None):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_CONFIG", None)
    if kill is None:
        command = [sys.executable, "-m", "improved_gan_tf.cli", "train"]
    else:
        command = [sys.executable, "-c", KILL_HOOK]
        env.update(KILL_POINT=kill[0], KILL_EPOCH=str(kill[1]), KILL_SPE=str(STEPS_PER_EPOCH))
    return subprocess.run(command + train_args(workdir), env=env, capture_output=True,
                          text=True, timeout=900)


def records(workdir):
    return json.loads((workdir / "metrics.json").read_text())


def without_timing(history):
    return [{k: v for k, v in record.items() if k not in TIMING_KEYS} for record in history]


def epoch_end_checkpoints(workdir):
    steps = [int(p.name[len("ckpt-"):-len(".index")]) for p in (workdir / "checkpoints").glob("ckpt-*.index")]
    return sorted(step // STEPS_PER_EPOCH for step in steps if step and step % STEPS_PER_EPOCH == 0)


def test_kills_at_every_point_of_the_epoch_boundary_lose_no_record(tmp_path):
    reference = tmp_path / "uninterrupted"
    result = run_training(reference)
    assert result.returncode == 0, result.stderr[-3000:]
    expected = records(reference)
    assert [r["epoch"] for r in expected] == [1, 2, 3]

    workdir = tmp_path / "killed"
    for point, epoch in KILLS:
        result = run_training(workdir, kill=(point, epoch))
        assert result.returncode == -signal.SIGKILL, (point, result.returncode, result.stderr[-3000:])
        assert f"[kill-hook] SIGKILL at {point} of epoch {epoch}" in result.stderr
        history = records(workdir) if (workdir / "metrics.json").exists() else []
        recorded = [r["epoch"] for r in history]
        # The record of every epoch a checkpoint ends is on disk, whatever the point.
        for done in epoch_end_checkpoints(workdir):
            assert done in recorded, (point, done, recorded)
        # The records on disk are the uninterrupted run's.
        assert without_timing(history) == without_timing(expected[: len(history)]), point
        if point == "after_record":
            assert recorded[-1] == epoch and epoch not in epoch_end_checkpoints(workdir)
        if point == "during_checkpoint_save":
            assert epoch in epoch_end_checkpoints(workdir)
            assert f"ckpt-{epoch * STEPS_PER_EPOCH}" not in (workdir / "checkpoints" / "checkpoint").read_text()
        if point == "before_report":  # resumed from the checkpoint the state file missed
            assert f"Restoring {workdir / 'checkpoints' / f'ckpt-{EPOCHS * STEPS_PER_EPOCH}'}" in result.stderr
        assert not (workdir / "report.json").exists()

    result = run_training(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert without_timing(records(workdir)) == without_timing(expected)
    ours = list(csv.DictReader((workdir / "metrics.csv").open()))
    theirs = list(csv.DictReader((reference / "metrics.csv").open()))
    assert [without_timing([r]) for r in ours] == [without_timing([r]) for r in theirs]
    for epoch in range(1, EPOCHS + 1):
        name = f"epoch_{epoch:04d}.png"
        assert (workdir / "samples" / name).read_bytes() == (reference / "samples" / name).read_bytes(), name
    report = json.loads((workdir / "report.json").read_text())
    reference_report = json.loads((reference / "report.json").read_text())
    assert report["global_step"] == reference_report["global_step"] == EPOCHS * STEPS_PER_EPOCH
    assert report["weights_fingerprint"] == reference_report["weights_fingerprint"]
    assert report["test_errors"] == reference_report["test_errors"]
