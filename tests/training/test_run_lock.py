"""One training process per run directory (`run_lock.RunLock`), released on exit and on
SIGKILL, and the temporary files of a killed run removed by the next start.

The busy-directory test runs two real `improved-gan train` processes on one directory:
the second is refused, naming the first one's PID, while the first trains; after the
first is killed with SIGKILL the directory is free again.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from improved_gan_tf import training
from improved_gan_tf.errors import UserInputError
from improved_gan_tf.rundir import RunConfigChangedError
from improved_gan_tf.rundir import RunDir
from improved_gan_tf.run_lock import RunDirectoryBusyError
from improved_gan_tf.run_lock import RunLock
from tests.train_utils import CONFIGS_DIR
from tests.train_utils import REPO_ROOT
from tests.train_utils import load_config
from tests.train_utils import tiny

TIMEOUT = 300


def environment():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO_ROOT))
    env.pop("TF_CONFIG", None)
    return env


def train_command(workdir, mnist_dir, epochs):
    return [
        sys.executable, "-m", "improved_gan_tf.cli", "train",
        "--config", str(CONFIGS_DIR / "quickstart.py"), "--workdir", str(workdir),
        f"--config.data.dir={mnist_dir}", f"--config.train.epochs={epochs}",
        "--config.train.steps_per_epoch=20", "--config.train.batch_size=20",
        "--config.data.num_labeled=20", "--config.data.test_examples=100",
        "--config.train.init_examples=100", "--config.checkpoint.every_steps=5",
        "--config.train.verbose=0", "--config.train.num_samples=16",
        "--config.distribute.strategy=none",
    ]


def tiny_quickstart(data_dir, epochs=1):
    config = tiny(load_config("quickstart"), steps=2, batch_size=8, test_examples=16)
    config.data.dir = str(data_dir)
    config.train.epochs = epochs
    return config


def wait_for(condition, process, what):
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the training process ended before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} within {TIMEOUT} s")
        time.sleep(0.05)


def test_a_second_train_on_a_busy_directory_is_refused_naming_the_pid(tmp_path, mnist_dir):
    workdir = tmp_path / "run"
    first = subprocess.Popen(train_command(workdir, mnist_dir, epochs=1000), env=environment(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Training has started (checkpoint 0 is written after the lock is taken).
        wait_for(lambda: (workdir / "checkpoints" / "checkpoint").exists(), first,
                 "checkpoint 0 was written")
        second = subprocess.run(train_command(workdir, mnist_dir, epochs=1000),
                                env=environment(), capture_output=True, text=True,
                                timeout=TIMEOUT)
        assert first.poll() is None, "the first process must still be training"
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    assert second.returncode == 2, second.stderr[-3000:]
    assert "Traceback" not in second.stderr
    (line,) = [l for l in second.stderr.splitlines() if l.startswith("improved-gan train: ")]
    assert f"PID {first.pid}" in line and "--workdir" in line, line
    assert first.returncode == -signal.SIGKILL

    # The kernel released the killed holder's lock: the directory is free, and the
    # same command resumes the run.
    with RunLock(workdir) as lock:
        assert lock.held
    resumed = subprocess.run(train_command(workdir, mnist_dir, epochs=1), env=environment(),
                             capture_output=True, text=True, timeout=TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((workdir / "report.json").read_text())["resumed_from"]


HOLDER = """
import sys, time
from improved_gan_tf.run_lock import RunLock
lock = RunLock(sys.argv[1]).acquire()  # kept: a dropped RunLock releases
print("locked", flush=True)
time.sleep(600)
"""


def test_a_lock_holder_killed_with_sigkill_leaves_the_directory_free(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], env=environment(),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirectoryBusyError, match=f"PID {holder.pid} on ") as info:
            RunLock(tmp_path).acquire()
        assert info.value.holder["pid"] == holder.pid
        assert isinstance(info.value, UserInputError)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
    lock = RunLock(tmp_path).acquire()
    assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    lock.release()


def test_two_locks_in_one_process_exclude_each_other_and_release_frees(tmp_path):
    first = RunLock(tmp_path).acquire()
    with pytest.raises(RunDirectoryBusyError, match=f"PID {os.getpid()}"):
        RunLock(tmp_path).acquire()
    first.release()
    with RunLock(tmp_path):
        pass


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, mnist_dir):
    workdir = tmp_path_factory.mktemp("finished") / "run"
    training.train(tiny_quickstart(mnist_dir), workdir)
    return workdir


def test_train_releases_the_lock_when_it_ends_or_is_refused(finished_run, mnist_dir, tmp_path):
    with RunLock(finished_run):  # `train` returned: free
        pass
    workdir = tmp_path / "run"
    shutil.copytree(finished_run, workdir)
    changed = tiny_quickstart(mnist_dir)
    changed.seed = 9
    with pytest.raises(RunConfigChangedError):
        training.train(changed, workdir)
    with RunLock(workdir):  # a refused start: free
        pass
    with RunLock(workdir):
        with pytest.raises(RunDirectoryBusyError):
            training.train(tiny_quickstart(mnist_dir, epochs=2), workdir)


def test_a_first_start_that_fails_leaves_no_directory_behind(tmp_path):
    empty = tmp_path / "no_data"
    empty.mkdir()
    with pytest.raises(UserInputError):
        training.train(tiny_quickstart(empty), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_lock_file_removed_by_its_holder_is_not_locked_twice(tmp_path, monkeypatch):
    import improved_gan_tf.run_lock as run_lock

    holder = RunLock(tmp_path).acquire()
    real_open, calls = os.open, []

    def open_then_holder_leaves(*args, **kwargs):
        fd = real_open(*args, **kwargs)
        calls.append(fd)
        if len(calls) == 1:  # the holder removes the file we just opened, and unlocks
            holder.release(remove=True)
        return fd

    monkeypatch.setattr(run_lock.os, "open", open_then_holder_leaves)
    second = RunLock(tmp_path).acquire()
    monkeypatch.undo()
    assert len(calls) == 2  # the first, unlinked file was given up
    assert os.fstat(second._fd).st_ino == os.stat(tmp_path / ".lock").st_ino
    with pytest.raises(RunDirectoryBusyError):
        RunLock(tmp_path).acquire()
    second.release()


# What a run killed during a save or an atomic write leaves (TensorFlow's names: see
# `rundir`), and files with similar names that are not temporary and must stay.
TEMPORARY = (
    ".metrics.json.k2j4_8zq.tmp",
    "samples/.epoch_0002.png.abcd1234.tmp",
    "checkpoints/checkpoint.tmp0123456789abcdef0123456789abcdef",
    "checkpoints/ckpt-3.index.tempstate1234567890",
    "checkpoints/ckpt-3_temp/part-00000-of-00001.data-00000-of-00001.tempstate99",
    "checkpoints/ckpt-3_temp/part-00000-of-00001.index",
)
KEPT = (
    "notes.tmp",
    ".hidden.tmp",
    "samples/epoch_0001.tmp.png",
    "checkpoints/ckpt_temp_notes.txt",
    "checkpoints/my_temp/keep.txt",
)


def test_temporary_files_of_a_killed_run_are_removed_on_the_next_start(finished_run, mnist_dir,
                                                                        tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(finished_run, workdir)
    for name in TEMPORARY + KEPT:
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_bytes(b"partial")
    good = {p: p.read_bytes() for p in workdir.rglob("*") if p.is_file()
            and str(p.relative_to(workdir)) not in TEMPORARY and p.name != ".lock"}
    report = training.train(tiny_quickstart(mnist_dir, epochs=2), workdir)
    assert report["global_step"] == 4
    for name in TEMPORARY:
        assert not (workdir / name).exists(), name
    assert not (workdir / "checkpoints" / "ckpt-3_temp").exists()
    for name in KEPT:
        assert (workdir / name).read_bytes() == b"partial", name
    # Every earlier file is still there (the 2-epoch run adds and replaces some).
    assert all(path.exists() for path in good), [p for p in good if not p.exists()]


def test_a_worker_cleans_only_its_own_directory(tmp_path):
    chief_temp = tmp_path / "checkpoints" / "ckpt-4_temp"
    chief_temp.mkdir(parents=True)
    worker = RunDir(tmp_path, worker=("worker", 1))
    own_temp = worker.own_checkpoints / "ckpt-4_temp"
    own_temp.mkdir(parents=True)
    assert worker.remove_temporary_files() == [own_temp]
    assert chief_temp.is_dir() and not own_temp.exists()
