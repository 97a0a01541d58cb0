"""A run directory made by the code before the training package (commit b36b4ad, the
single `training.py` module) restores, and resumes to more epochs, with today's code.

The old code is taken from the git history (`git archive`) and run as a real
`improved-gan train` process: 1 epoch of 4 steps of the quickstart model. Today's
`improved-gan train` then resumes the same directory to 2 epochs; an uninterrupted
2-epoch run of today's code is the reference (deterministic ops, one device).
"""

import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

from improved_gan_tf import training
from tests.train_utils import REPO_ROOT
from tests.train_utils import SHARED_DATA

OLD_COMMIT = "b36b4ad"  # the last commit with improved_gan_tf/training.py


@pytest.fixture(scope="module")
def old_code(tmp_path_factory):
    """`improved_gan_tf/` and `configs/` as they were at `OLD_COMMIT`."""
    root = tmp_path_factory.mktemp("old_code")
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", "--format=tar", OLD_COMMIT, "improved_gan_tf", "configs"],
        capture_output=True,
    )
    if archive.returncode != 0:
        pytest.fail(f"git archive {OLD_COMMIT} failed (a clone with history is needed): "
                    f"{archive.stderr.decode()[-500:]}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(root, filter="data")
    assert (root / "improved_gan_tf" / "training.py").is_file()
    return root


def train_command(code_root, workdir, epochs):
    return [
        sys.executable, "-m", "improved_gan_tf.cli", "train",
        "--config", str(code_root / "configs" / "quickstart.py"), "--workdir", str(workdir),
        f"--config.data.dir={SHARED_DATA / 'mnist'}", "--config.deterministic=True",
        f"--config.train.epochs={epochs}", "--config.train.steps_per_epoch=4",
        "--config.train.batch_size=20", "--config.data.num_labeled=20",
        "--config.data.test_examples=100", "--config.train.init_examples=100",
        "--config.checkpoint.every_steps=2", "--config.train.verbose=0",
        "--config.train.num_samples=16", "--config.distribute.strategy=none",
    ]


def run(command, code_root):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(code_root))
    env.pop("TF_CONFIG", None)
    result = subprocess.run(command, env=env, cwd=code_root, capture_output=True, text=True,
                            timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def old_run(old_code, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("old_run")
    run(train_command(old_code, workdir, epochs=1), old_code)
    return workdir


def test_a_run_directory_of_the_old_code_restores(old_run):
    old_report = json.loads((old_run / "report.json").read_text())
    restored = training.restore_run(old_run)
    assert restored.step == 4 and restored.checkpoint.endswith("ckpt-4")
    assert restored.config.experiment == "quickstart" and restored.config.train.epochs == 1
    assert training.weights_fingerprint(restored.model) == old_report["weights_fingerprint"]


def test_a_run_of_the_old_code_resumes_keeping_its_epochs(old_run, tmp_path):
    old_history = json.loads((old_run / "metrics.json").read_text())
    assert [r["epoch"] for r in old_history] == [1]
    run(train_command(REPO_ROOT, old_run, epochs=2), REPO_ROOT)
    reference = tmp_path / "uninterrupted"
    run(train_command(REPO_ROOT, reference, epochs=2), REPO_ROOT)

    report = json.loads((old_run / "report.json").read_text())
    expected = json.loads((reference / "report.json").read_text())
    assert report["resumed_from"].endswith("ckpt-4")
    assert report["global_step"] == expected["global_step"] == 8
    assert report["weights_fingerprint"] == expected["weights_fingerprint"]
    history = json.loads((old_run / "metrics.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    assert history[0] == old_history[0]  # the old epoch, kept as it was written
    theirs = json.loads((reference / "metrics.json").read_text())
    assert [r["test_errors"] for r in history] == [r["test_errors"] for r in theirs]
    # The resumed epoch's loss means too. (Epoch 1's mean loss differs between runs in its
    # last float32 bits even with the old code, whose weights are identical run to run.)
    assert [r["d_loss"] for r in history[1:]] == [r["d_loss"] for r in theirs[1:]]
