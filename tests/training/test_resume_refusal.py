"""A resume refuses a changed run, writes nothing when it does, and lets the keys of
`config.RESUMABLE_KEYS` change; data paths are stored resolved.

One tiny quickstart run (1 epoch of 2 eager steps) is trained in-process with a
*relative* `data.dir`; each test works on its own copy of it. The refusal a user sees
is checked through a real `improved-gan train` process.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from improved_gan_tf import training
from improved_gan_tf.config import RESUMABLE_KEYS
from improved_gan_tf.config import flatten
from improved_gan_tf.config import resolve_paths
from improved_gan_tf.rundir import RunConfigChangedError
from improved_gan_tf.rundir import RunDir
from improved_gan_tf.training.trainer import LabeledSubsetChangedError
from tests.train_utils import REPO_ROOT
from tests.train_utils import load_config
from tests.train_utils import tiny

# Written by a start; a refused one must leave each byte-identical.
RUN_FILES = ("config.json", "labeled_indices.json", "report.json", "report.md",
             "metrics.json", "metrics.csv")


def tiny_quickstart(data_dir, **changes):
    config = tiny(load_config("quickstart"), steps=2, batch_size=8, test_examples=16)
    config.data.dir = str(data_dir)
    for key, value in changes.items():
        node = config
        *parents, leaf = key.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return config


def snapshot(workdir):
    """Every file of a run directory (but its lock note) and its bytes."""
    return {str(p.relative_to(workdir)): p.read_bytes()
            for p in sorted(workdir.rglob("*")) if p.is_file() and p.name != ".lock"}


@pytest.fixture(scope="module")
def started_run(tmp_path_factory, mnist_dir):
    """`(workdir, relative data dir, cwd)` of a finished 1-epoch run trained from `cwd`."""
    cwd = tmp_path_factory.mktemp("cwd")
    relative = os.path.relpath(mnist_dir, cwd)
    assert not os.path.isabs(relative)
    before = os.getcwd()
    os.chdir(cwd)
    try:
        training.train(tiny_quickstart(relative), "run")
    finally:
        os.chdir(before)
    return cwd / "run", relative, cwd


@pytest.fixture
def run_copy(started_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(started_run[0], workdir)
    return workdir


def test_relative_data_dir_is_stored_absolute_and_read_back_from_anywhere(
        started_run, mnist_dir, tmp_path, monkeypatch):
    workdir, relative, _ = started_run
    stored = json.loads((workdir / "config.json").read_text())["data"]["dir"]
    assert stored == os.path.abspath(mnist_dir)
    assert json.loads((workdir / "report.json").read_text())["config"]["data"]["dir"] == stored
    elsewhere = tmp_path / "a" / "b"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)  # where `relative` names nothing
    assert not os.path.exists(relative)
    config = RunDir(workdir).read_config()
    assert pathlib.Path(config.data.dir).is_absolute()
    assert (pathlib.Path(config.data.dir) / "t10k-images-idx3-ubyte.gz").is_file()


def test_score_works_from_another_directory(run_copy, started_run, classifier_path, tmp_path,
                                            monkeypatch):
    from improved_gan_tf.evaluation.scoring import score_run

    elsewhere = tmp_path / "a" / "b"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)  # the run's test images come from its stored data.dir
    assert not os.path.exists(started_run[1])
    scores = score_run(run_copy, num_samples=20, classifier=classifier_path, splits=2,
                       parzen="no", reference_examples=100, write_report=False)
    assert scores["dataset"] == "mnist" and scores["global_step"] == 2, scores


def test_the_caller_config_is_not_changed_by_resolving(mnist_dir):
    config = tiny_quickstart("relative/dir")
    resolved = resolve_paths(config)
    assert config.data.dir == "relative/dir"
    assert resolved.data.dir == os.path.abspath("relative/dir")
    assert resolve_paths(tiny_quickstart("")).data.dir == ""


def cli_overrides(config):
    """`--config.KEY=VALUE` of every key where `config` differs from configs/quickstart.py."""
    base, ours = flatten(load_config("quickstart")), flatten(config)
    return [f"--config.{key}={value}" for key, value in ours.items() if base.get(key) != value]


def test_a_changed_run_is_refused_listing_every_key_and_writing_nothing(run_copy, mnist_dir,
                                                                        tmp_path):
    before = snapshot(run_copy)
    changed = tiny_quickstart(mnist_dir, seed=2, **{
        "optimizer.learning_rate": 0.001, "train.batch_size": 16,
        "data.num_labeled": 30, "train.epochs": 3})  # train.epochs may change
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO_ROOT))
    env.pop("TF_CONFIG", None)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "improved_gan_tf.cli", "train", "--config", "quickstart",
         "--workdir", str(run_copy), *cli_overrides(changed)],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("improved-gan train: ")]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    for fragment in ("seed: 1 -> 2", "optimizer.learning_rate: 0.003 -> 0.001",
                     "train.batch_size: 8 -> 16", "data.num_labeled: 20 -> 30", "--workdir"):
        assert fragment in line, (fragment, line)
    assert "train.epochs:" not in line and "data.dir:" not in line
    assert snapshot(run_copy) == before


def test_a_refusal_raises_before_anything_is_written(run_copy, started_run):
    _, relative, cwd = started_run
    before = snapshot(run_copy)
    # The same relative data dir, from the same directory: only data.num_labeled and
    # model.arch.<new> differ (data.dir's relative form is its stored absolute one).
    config = tiny_quickstart(relative, **{"data.num_labeled": 30})
    with config.unlocked():
        config.model.arch.hidden = 7
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        with pytest.raises(RunConfigChangedError) as info:
            training.train(config, run_copy)
    finally:
        os.chdir(previous)
    assert [key for key, _, _ in info.value.differences] == ["data.num_labeled", "model.arch.hidden"]
    assert "model.arch.hidden: (not set) -> 7" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert snapshot(run_copy) == before


def test_an_allowed_change_resumes(run_copy, mnist_dir, tmp_path, monkeypatch):
    labeled = (run_copy / "labeled_indices.json").read_bytes()
    monkeypatch.chdir(tmp_path)  # another directory, the data dir given absolute
    config = tiny_quickstart(mnist_dir, **{
        "train.epochs": 2, "checkpoint.every_steps": 1, "checkpoint.max_to_keep": 5,
        "train.log_every_steps": 1, "train.eval_every_epochs": 2, "train.verbose": 1})
    report = training.train(config, run_copy)
    assert report["resumed_from"].endswith("ckpt-2") and report["global_step"] == 4
    assert [r["epoch"] for r in json.loads((run_copy / "metrics.json").read_text())] == [1, 2]
    stored = json.loads((run_copy / "config.json").read_text())
    assert stored["train"]["epochs"] == 2 and stored["checkpoint"]["every_steps"] == 1
    assert (run_copy / "labeled_indices.json").read_bytes() == labeled


def test_thread_counts_may_change_only_without_op_determinism(run_copy, mnist_dir):
    run = RunDir(run_copy)
    assert run.read_config().deterministic is True  # quickstart is deterministic
    threads = tiny_quickstart(mnist_dir, **{"train.intra_op_threads": 1})
    with pytest.raises(RunConfigChangedError, match=r"train.intra_op_threads: 0 -> 1"):
        run.check_resume(resolve_paths(threads))
    values = json.loads(run.config_json.read_text())
    values["deterministic"] = False
    run.config_json.write_text(json.dumps(values))
    threads.deterministic = False
    assert run.check_resume(resolve_paths(threads)) == ["train.intra_op_threads"]
    with pytest.raises(RunConfigChangedError, match="deterministic: False -> True"):
        run.check_resume(resolve_paths(tiny_quickstart(mnist_dir)))


def test_every_key_not_listed_as_resumable_is_run_defining(mnist_dir):
    from improved_gan_tf.config import run_defining_differences

    old = resolve_paths(tiny_quickstart(mnist_dir))
    for key, value in flatten(old).items():
        if isinstance(value, bool):
            new_value = not value
        elif isinstance(value, (int, float)) and value is not None:
            new_value = value + 1
        elif isinstance(value, str):
            new_value = value + "x"
        else:
            continue
        new = resolve_paths(tiny_quickstart(mnist_dir, **{key: new_value}))
        keys = [k for k, _, _ in run_defining_differences(old, new)]
        assert keys == ([] if key in RESUMABLE_KEYS else [key]), key


def test_a_directory_that_never_trained_takes_a_new_config(tmp_path, mnist_dir):
    run = RunDir(tmp_path / "run")
    run.write_config(resolve_paths(tiny_quickstart(mnist_dir)))  # a start that failed early
    assert run.check_resume(resolve_paths(tiny_quickstart(mnist_dir, seed=5))) == []


def test_a_labeled_subset_that_the_data_no_longer_gives_is_refused(run_copy, mnist_dir):
    path = run_copy / "labeled_indices.json"
    record = json.loads(path.read_text())
    record["indices"] = [index + 1 for index in record["indices"]]  # other data, same seed
    path.write_text(json.dumps(record, indent=1) + "\n")
    before = snapshot(run_copy)
    with pytest.raises(LabeledSubsetChangedError, match="labeled_indices.json"):
        training.train(tiny_quickstart(mnist_dir, **{"train.epochs": 2}), run_copy)
    assert snapshot(run_copy) == before
