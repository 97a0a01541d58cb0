"""`distribute.strategy=multi_worker`: two worker processes on 127.0.0.1 train in
lockstep, only the chief keeps checkpoints, and killed workers resume from them.

Two `python -m improved_gan_tf.cli train` processes get a `TF_CONFIG` naming two workers on
free loopback ports (worker 0 is the chief). They are killed with SIGKILL once the chief
has written a checkpoint past step 4, then restarted with the same command; both must
resume from that checkpoint, finish, and end with identical weights. Every wait is
bounded.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.train_utils import CONFIGS_DIR
from tests.train_utils import SHARED_DATA

STEPS = 12
TIMEOUT = 300


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(workdir, ports, logs):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index in range(len(ports)):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        log = open(logs / f"worker{index}.log", "a")
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "improved_gan_tf.cli", "train",
             "--config", str(CONFIGS_DIR / "quickstart.py"), "--workdir", str(workdir),
             f"--config.data.dir={SHARED_DATA / 'mnist'}",
             "--config.distribute.strategy=multi_worker", "--config.deterministic=True",
             "--config.train.epochs=1", f"--config.train.steps_per_epoch={STEPS}",
             "--config.train.batch_size=20", "--config.data.num_labeled=20",
             "--config.data.test_examples=100", "--config.train.init_examples=100",
             "--config.checkpoint.every_steps=2", "--config.train.verbose=0",
             "--config.train.num_samples=16"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        ))
    return processes


def kill_all(processes):
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
    for process in processes:
        process.wait(timeout=60)


def latest_step(workdir):
    state = workdir / "checkpoints" / "checkpoint"
    if not state.exists():
        return -1
    return int(state.read_text().splitlines()[0].rsplit("-", 1)[1].rstrip('"'))


def test_two_workers_lockstep_and_resume_after_kill(tmp_path):
    workdir, logs = tmp_path / "run", tmp_path
    processes = start_workers(workdir, free_ports(2), logs)
    deadline = time.monotonic() + TIMEOUT
    try:
        while latest_step(workdir) < 4:
            if any(p.poll() is not None for p in processes):
                pytest.fail("a worker exited early:\n" + (logs / "worker0.log").read_text()[-3000:]
                            + (logs / "worker1.log").read_text()[-3000:])
            if time.monotonic() > deadline:
                pytest.fail(f"no checkpoint past step 4 within {TIMEOUT} s")
            time.sleep(0.05)
        processes[1].send_signal(signal.SIGKILL)  # the non-chief worker dies...
    finally:
        kill_all(processes)  # ...and the chief, stuck in a collective, is stopped too.
    killed_at = latest_step(workdir)
    assert 4 <= killed_at < STEPS
    assert not list(workdir.glob(".worker_*/report.json"))

    processes = start_workers(workdir, free_ports(2), logs)
    try:
        for process in processes:
            process.wait(timeout=TIMEOUT)
    finally:
        kill_all(processes)
    for index, process in enumerate(processes):
        assert process.returncode == 0, (logs / f"worker{index}.log").read_text()[-3000:]

    chief = json.loads((workdir / "report.json").read_text())
    worker = json.loads((workdir / ".worker_worker_1" / "report.json").read_text())
    assert chief["strategy"] == "MultiWorkerMirroredStrategy" and chief["replicas"] == 2
    for report in (chief, worker):
        assert report["global_step"] == STEPS
        assert report["resumed_from"].endswith(f"ckpt-{killed_at}")
    # Lockstep: both workers hold the same trainable weights, bit for bit. (G's
    # batch-norm moving statistics are per worker, as they are per replica.)
    assert chief["trainable_weights_fingerprint"] == worker["trainable_weights_fingerprint"]
    # Only the chief keeps checkpoints; the worker's temporary copies are removed.
    assert latest_step(workdir) == STEPS
    assert not list((workdir / ".worker_worker_1").glob("checkpoints/ckpt-*"))
