"""`train.steps_per_execution`: k steps per call of the compiled step train the same run.

Two real `python -m improved_gan_tf.cli train` processes with deterministic ops, on one
CPU device: 2 epochs of 20 steps of the quickstart model (batches of 20), checkpoints
every 10 steps, one with a call per step and one with 5 steps per call. They must save
the same checkpoints, with the same values, and record the same epochs: the same test
errors, and losses equal but for the last bits of an epoch's mean loss. One epoch's mean D
loss has been seen 1 ulp apart here while the weights were bit for bit the same. That needs
no steps per call: two processes of one command with a call per step can log mean D
losses a few ulps apart with the same weights (results/README.md says what was measured).
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.train_utils import CONFIGS_DIR
from tests.train_utils import SHARED_DATA
from tests.training.test_epoch_boundary_kill import TIMING_KEYS
from tests.training.test_train_resume import checkpoint_values
from tests.training.test_train_resume import environment


def command(workdir, steps_per_execution):
    return [
        sys.executable, "-m", "improved_gan_tf.cli", "train",
        "--config", str(CONFIGS_DIR / "quickstart.py"), "--workdir", str(workdir),
        f"--config.data.dir={SHARED_DATA / 'mnist'}", "--config.deterministic=True",
        "--config.train.epochs=2", "--config.train.steps_per_epoch=20",
        "--config.train.batch_size=20", "--config.data.num_labeled=20",
        "--config.data.test_examples=100", "--config.train.init_examples=100",
        "--config.checkpoint.every_steps=10", "--config.checkpoint.max_to_keep=50",
        "--config.train.log_every_steps=10", "--config.train.verbose=0",
        "--config.train.num_samples=16", "--config.distribute.strategy=none",
        f"--config.train.steps_per_execution={steps_per_execution}",
    ]


def test_five_steps_per_call_train_the_same_run_as_one(tmp_path):
    runs = {}
    for k in (1, 5):
        workdir = tmp_path / f"steps_per_execution_{k}"
        result = subprocess.run(command(workdir, k), env=environment(), timeout=400,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
        runs[k] = workdir
    one, five = runs[1], runs[5]
    saved = sorted(p.name for p in (one / "checkpoints").glob("ckpt-*.index"))
    assert saved == sorted(p.name for p in (five / "checkpoints").glob("ckpt-*.index"))
    assert saved == sorted(f"ckpt-{step}.index" for step in (0, 10, 20, 30, 40))
    for step in (10, 40):
        ours = checkpoint_values(str(five / "checkpoints" / f"ckpt-{step}"))
        theirs = checkpoint_values(str(one / "checkpoints" / f"ckpt-{step}"))
        assert ours.keys() == theirs.keys()
        for name in ours:
            np.testing.assert_array_equal(ours[name], theirs[name], err_msg=f"step {step}: {name}")
    records = {k: json.loads((runs[k] / "metrics.json").read_text()) for k in runs}
    assert [r["epoch"] for r in records[5]] == [1, 2]
    for ours, theirs in zip(records[5], records[1]):
        assert ours.keys() == theirs.keys()
        assert ours["test_errors"] == theirs["test_errors"]
        for key in ours.keys() - set(TIMING_KEYS):
            assert ours[key] == pytest.approx(theirs[key], rel=1e-6, abs=0), key
        # Seconds per step are per step, not per call of five.
        assert 0 < ours["seconds_per_step"] < 2 * theirs["seconds_per_step"]
    report = json.loads((five / "report.json").read_text())
    assert report["global_step"] == 40
    assert report["weights_fingerprint"] == json.loads((one / "report.json").read_text())["weights_fingerprint"]


def _files(directory):
    return {str(p.relative_to(directory)): p.stat().st_mtime_ns for p in directory.rglob("*")}


def test_an_epoch_of_the_data_or_a_resume_step_that_no_call_ends_is_refused(tmp_path):
    from improved_gan_tf import training
    from improved_gan_tf.config import ConfigError
    from tests.train_utils import load_config
    from tests.train_utils import tiny

    # One pass over 160 images in batches of 20 is 8 steps: not whole calls of 3.
    config = tiny(load_config("quickstart"), steps=0, batch_size=20)
    config.data.train_examples = 160
    config.train.steps_per_execution = 3
    config.train.log_every_steps = 0
    with pytest.raises(ConfigError, match="one pass over the training data is 8 steps, not a "
                                          "multiple of config.train.steps_per_execution=3"):
        training.train(config, tmp_path / "one_pass")
    assert not (tmp_path / "one_pass").exists()

    # A run with a checkpoint at every step, resumed at step 3 with 2 steps per call.
    workdir = tmp_path / "run"
    config = tiny(load_config("quickstart"), steps=4)
    config.deterministic = False  # (the quickstart's is True)
    config.checkpoint.every_steps = 1
    config.checkpoint.max_to_keep = 10
    training.train(config, workdir)
    before = _files(workdir)
    config.train.steps_per_execution = 2  # may change on a resume (not deterministic)...
    config.checkpoint.every_steps = 2
    config.train.epochs = 2
    with pytest.raises(ConfigError, match=r"ckpt-3 is step 3, not a multiple of "
                                          r"config.train.steps_per_execution=2"):
        training.train(config, workdir, restore_checkpoint=str(workdir / "checkpoints" / "ckpt-3"))
    assert _files(workdir) == before  # ...but not at step 3: refused before anything is written
    report = training.train(config, workdir, restore_checkpoint=str(workdir / "checkpoints" / "ckpt-2"))
    assert report["global_step"] == 8
