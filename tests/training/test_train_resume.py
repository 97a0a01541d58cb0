"""Killing a run with SIGKILL mid-epoch and re-running the same command ends with the
same weights as a run that was never interrupted (deterministic ops).

Both runs are real `python -m improved_gan_tf.cli train` processes on one CPU device:
3 epochs of 20 steps of the quickstart model (batches of 20), checkpoints every 5 steps.
The interrupted run is killed once it has written a checkpoint past step 25 (in the
middle of epoch 2), so the re-run restores it, finishes epoch 2 with a short `fit` and
then runs epoch 3.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.train_utils import CONFIGS_DIR
from tests.train_utils import SHARED_DATA


def command(workdir):
    return [
        sys.executable, "-m", "improved_gan_tf.cli", "train",
        "--config", str(CONFIGS_DIR / "quickstart.py"), "--workdir", str(workdir),
        f"--config.data.dir={SHARED_DATA / 'mnist'}",
        "--config.deterministic=True",
        "--config.train.epochs=3", "--config.train.steps_per_epoch=20",
        "--config.train.batch_size=20", "--config.data.num_labeled=20",
        "--config.data.test_examples=100", "--config.train.init_examples=100",
        "--config.checkpoint.every_steps=5", "--config.checkpoint.max_to_keep=50",
        "--config.train.verbose=0", "--config.train.num_samples=16",
        "--config.distribute.strategy=none",
    ]


def environment():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    return env


def latest_step(workdir):
    state = workdir / "checkpoints" / "checkpoint"
    if not state.exists():
        return -1
    first = state.read_text().splitlines()[0]
    return int(first.rsplit("-", 1)[1].rstrip('"'))


def checkpoint_values(path):
    reader = tf.train.load_checkpoint(path)
    return {
        name: reader.get_tensor(name)
        for name, _ in tf.train.list_variables(path)
        if "elapsed_seconds" not in name and not name.startswith("_CHECKPOINTABLE")
    }


def test_sigkill_mid_epoch_then_rerun_matches_uninterrupted_run(tmp_path):
    reference = tmp_path / "uninterrupted"
    subprocess.run(command(reference), env=environment(), check=True, timeout=400,
                   capture_output=True)

    interrupted = tmp_path / "interrupted"
    process = subprocess.Popen(command(interrupted), env=environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 400
    try:
        while latest_step(interrupted) < 25:
            if process.poll() is not None:
                pytest.fail("the run ended before it could be killed mid-epoch")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint past step 25 within 400 s")
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    killed_at = latest_step(interrupted)
    assert 25 <= killed_at < 60, killed_at
    assert not (interrupted / "report.json").exists()

    result = subprocess.run(command(interrupted), env=environment(), timeout=400,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((interrupted / "report.json").read_text())
    expected = json.loads((reference / "report.json").read_text())
    assert report["resumed_from"].endswith(f"ckpt-{killed_at}")
    assert report["global_step"] == expected["global_step"] == 60
    assert report["weights_fingerprint"] == expected["weights_fingerprint"]

    ours = checkpoint_values(str(interrupted / "checkpoints" / "ckpt-60"))
    theirs = checkpoint_values(str(reference / "checkpoints" / "ckpt-60"))
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    # Every epoch is in the metrics log exactly once, with the same test errors.
    ours = json.loads((interrupted / "metrics.json").read_text())
    theirs = json.loads((reference / "metrics.json").read_text())
    assert [r["epoch"] for r in ours] == [1, 2, 3]
    assert [r["test_errors"] for r in ours] == [r["test_errors"] for r in theirs]
