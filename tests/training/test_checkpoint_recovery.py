"""A run directory with checkpoints never restarts from step 0 silently.

A tiny quickstart run (2 epochs of 3 eager steps, a checkpoint every step: ckpt-0 ..
ckpt-6) is trained once; each test damages a copy of it as a crash, a full disk or a
careless copy would (the `checkpoint` state file missing, garbage or naming a missing
checkpoint; the newest checkpoint's `.index` or `.data` missing, truncated or with a
flipped byte) and resumes it to 3 epochs. The run restores the newest checkpoint that
reads back intact, names it and the reason on stderr (the absl log), keeps the records
of the epochs it still has, and deletes or overwrites nothing: what it skipped is in
`checkpoints/set_aside/`, byte for byte. With no readable checkpoint it stops with
`NoReadableCheckpointError` and the directory is unchanged, byte for byte.
"""

import json
import logging
import pathlib
import shutil
import subprocess
import sys

import pytest
import tensorflow as tf

from improved_gan_tf import training
from improved_gan_tf.training import checkpoints as checkpoints_lib
from tests.train_utils import REPO_ROOT
from tests.train_utils import SHARED_DATA
from tests.train_utils import load_config
from tests.train_utils import tiny

STEPS_PER_EPOCH = 3


def recovery_config(epochs=2, max_to_keep=50):
    config = tiny(load_config("quickstart"), steps=STEPS_PER_EPOCH, batch_size=8, test_examples=16)
    config.train.epochs = epochs
    config.checkpoint.every_steps = 1
    config.checkpoint.max_to_keep = max_to_keep
    return config


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("recovery") / "run"
    training.train(recovery_config(), workdir)
    names = sorted(p.name for p in (workdir / "checkpoints").iterdir())
    assert "ckpt-6.index" in names and "ckpt-0.index" in names, names
    return workdir


def tree_bytes(root):
    root = pathlib.Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def copy_run(trained_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(trained_run, workdir)
    return workdir


def data_file(workdir, step):
    (path,) = (workdir / "checkpoints").glob(f"ckpt-{step}.data-*")
    return path


def index_file(workdir, step):
    return workdir / "checkpoints" / f"ckpt-{step}.index"


def flip_byte(path, offset=None):
    payload = bytearray(path.read_bytes())
    payload[len(payload) // 2 if offset is None else offset] ^= 0xFF
    path.write_bytes(bytes(payload))


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def state_file(workdir):
    return workdir / "checkpoints" / "checkpoint"


# Each damage, and the checkpoint the resume must restore.
DAMAGES = {
    "state file missing": (lambda w: state_file(w).unlink(), 6),
    "state file garbage": (lambda w: state_file(w).write_bytes(b"\x00\xff garbage {{{ \n"), 6),
    "state file empty": (lambda w: state_file(w).write_bytes(b""), 6),
    "state file names a missing checkpoint": (
        lambda w: state_file(w).write_text('model_checkpoint_path: "ckpt-99"\n'), 6),
    "state file names an older checkpoint": (
        lambda w: state_file(w).write_text('model_checkpoint_path: "ckpt-2"\n'), 6),
    "newest index missing": (lambda w: index_file(w, 6).unlink(), 5),
    "newest index truncated": (lambda w: truncate(index_file(w, 6)), 5),
    "newest index byte flipped": (lambda w: flip_byte(index_file(w, 6)), 5),
    "newest data missing": (lambda w: data_file(w, 6).unlink(), 5),
    "newest data truncated": (lambda w: truncate(data_file(w, 6)), 5),
    "newest data byte flipped": (lambda w: flip_byte(data_file(w, 6)), 5),
    "two newest damaged, state file garbage": (
        lambda w: (truncate(data_file(w, 6)), flip_byte(data_file(w, 5)),
                   state_file(w).write_text("garbage")), 4),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_run_resumes_from_the_newest_intact_checkpoint(trained_run, tmp_path, caplog, damage):
    workdir = copy_run(trained_run, tmp_path)
    history_before = json.loads((workdir / "metrics.json").read_text())
    damage_fn, expected = DAMAGES[damage]
    damage_fn(workdir)
    before = tree_bytes(workdir)

    with caplog.at_level(logging.WARNING):
        report = training.train(recovery_config(epochs=3), workdir)

    assert report["resumed_from"] == str(workdir / "checkpoints" / f"ckpt-{expected}")
    assert report["global_step"] == 3 * STEPS_PER_EPOCH
    warnings = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert f"Restoring {workdir / 'checkpoints' / f'ckpt-{expected}'}" in warnings, warnings
    for skipped in range(expected + 1, 7):
        assert f"ckpt-{skipped}:" in warnings, warnings  # each newer one, with its reason
    if "state file" in damage:
        assert "the state file:" in warnings, warnings

    # Nothing deleted or overwritten: every file of the damaged directory is still there
    # (checkpoints older than the one restored in place, the rest set aside), byte for
    # byte, except metrics.json/.csv, report and the samples, which the run re-makes.
    after = tree_bytes(workdir)
    set_aside = workdir / "checkpoints" / "set_aside"
    if damage == "state file missing":  # nothing to move: only a state file is written
        assert not set_aside.exists()
    else:
        (aside,) = set_aside.iterdir()
        assert (aside / "metrics.json").read_bytes() == before["metrics.json"]
    for name, payload in before.items():
        if name.startswith("checkpoints/"):
            base = name.split("/", 1)[1]
            in_place = base.startswith("ckpt-") and int(base.split("-")[1].split(".")[0]) <= expected
            where = f"checkpoints/{base}" if in_place else f"checkpoints/set_aside/{aside.name}/{base}"
            assert after.get(where) == payload, (name, where)

    # The records of the epochs still covered by the restored checkpoint are kept as
    # they were; the later ones are made again, once each.
    history = json.loads((workdir / "metrics.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2, 3]
    kept_epochs = expected // STEPS_PER_EPOCH
    assert history[:kept_epochs] == history_before[:kept_epochs]

    # The state file names the new checkpoints; the next resume needs no recovery.
    assert training.latest_checkpoint(workdir) == str(workdir / "checkpoints" / "ckpt-9")
    choice = training.choose_checkpoint(workdir / "checkpoints")
    assert choice.path.endswith("ckpt-9") and not choice.needs_repair


def test_an_undamaged_run_resumes_without_warning_or_set_aside(trained_run, tmp_path, caplog):
    workdir = copy_run(trained_run, tmp_path)
    with caplog.at_level(logging.WARNING):
        report = training.train(recovery_config(epochs=3), workdir)
    assert report["resumed_from"].endswith("ckpt-6")
    assert not [r for r in caplog.records if "Restoring" in r.getMessage()]
    assert not (workdir / "checkpoints" / "set_aside").exists()


def damage_every_checkpoint(workdir):
    for step in range(7):
        truncate(data_file(workdir, step))


@pytest.mark.parametrize("damage", [
    "every data file truncated", "only a state file", "records but no checkpoint",
])
def test_no_readable_checkpoint_stops_and_changes_nothing(trained_run, tmp_path, damage):
    workdir = copy_run(trained_run, tmp_path)
    if damage == "every data file truncated":
        damage_every_checkpoint(workdir)
        fragments = ["No checkpoint in", "reads back intact", "ckpt-6", "ckpt-0", "nothing was changed"]
    elif damage == "only a state file":
        for path in (workdir / "checkpoints").glob("ckpt-*"):
            path.unlink()
        fragments = ["has no checkpoint files", "Not restarting the run from step 0"]
    else:
        shutil.rmtree(workdir / "checkpoints")
        fragments = ["records of 2 epochs", "has no checkpoint", "Not restarting the run from step 0"]
    before = tree_bytes(workdir)
    with pytest.raises(training.NoReadableCheckpointError) as info:
        training.train(recovery_config(epochs=3), workdir)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))
    assert tree_bytes(workdir) == before


def test_restore_a_named_checkpoint_sets_the_newer_ones_aside(trained_run, tmp_path, caplog):
    workdir = copy_run(trained_run, tmp_path)
    before = tree_bytes(workdir)
    with caplog.at_level(logging.WARNING):
        report = training.train(recovery_config(epochs=2), workdir,
                                restore_checkpoint=str(workdir / "checkpoints" / "ckpt-3"))
    assert report["resumed_from"] == str(workdir / "checkpoints" / "ckpt-3")
    assert report["global_step"] == 6
    warnings = " ".join(r.getMessage() for r in caplog.records)
    assert "as asked" in warnings and "ckpt-6: newer than the checkpoint asked for" in warnings
    (aside,) = (workdir / "checkpoints" / "set_aside").iterdir()
    for step in (4, 5, 6):
        for name, payload in before.items():
            if name.startswith(f"checkpoints/ckpt-{step}."):
                assert (aside / name.split("/", 1)[1]).read_bytes() == payload, name
    for name, payload in before.items():  # the older ones, in place
        if name.startswith(("checkpoints/ckpt-0.", "checkpoints/ckpt-3.")):
            assert (workdir / name).read_bytes() == payload, name
    assert (aside / "metrics.json").read_bytes() == before["metrics.json"]
    # Epoch 2's record was made again from ckpt-3; ckpt-4..6 are new files.
    history = json.loads((workdir / "metrics.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    assert history[0] == json.loads(before["metrics.json"])[0]
    assert (workdir / "checkpoints" / "ckpt-6.index").is_file()


def test_restore_a_bare_checkpoint_name(trained_run, tmp_path):
    workdir = copy_run(trained_run, tmp_path)
    report = training.train(recovery_config(epochs=2), workdir, restore_checkpoint="ckpt-6")
    assert report["resumed_from"] == str(workdir / "checkpoints" / "ckpt-6")
    assert not (workdir / "checkpoints" / "set_aside").exists()


@pytest.mark.parametrize("named, error, fragment", [
    ("ckpt-99", training.CheckpointNotFoundError, "ckpt-99.index not found"),
    ("{other}/ckpt-3", training.CheckpointNotFoundError, "is not in the run's checkpoint directory"),
    ("ckpt-5", training.UnreadableCheckpointError, "cannot be read back"),
    ("latest", training.CheckpointNotFoundError, "not a checkpoint path prefix"),
])
def test_a_bad_named_checkpoint_is_refused_and_changes_nothing(trained_run, tmp_path, named, error, fragment):
    workdir = copy_run(trained_run, tmp_path)
    other = tmp_path / "other"
    shutil.copytree(workdir / "checkpoints", other)
    truncate(data_file(workdir, 5))
    before = tree_bytes(workdir)
    with pytest.raises(error, match=fragment):
        training.train(recovery_config(epochs=3), workdir, restore_checkpoint=named.format(other=other))
    assert tree_bytes(workdir) == before


def test_max_to_keep_after_a_recovery_deletes_only_old_good_checkpoints(trained_run, tmp_path):
    workdir = copy_run(trained_run, tmp_path)
    bad = data_file(workdir, 6)
    truncate(bad)
    bad_payload = bad.read_bytes()
    training.train(recovery_config(epochs=3, max_to_keep=3), workdir)
    names = sorted(p.name for p in (workdir / "checkpoints").glob("ckpt-*.index"))
    # The manager kept the newest 3 of its own; the checkpoints older than the one
    # restored that it did not list (0..2) are left alone.
    assert {"ckpt-7.index", "ckpt-8.index", "ckpt-9.index"} <= set(names), names
    assert "ckpt-5.index" not in names and "ckpt-4.index" not in names
    assert "ckpt-6.index" not in names  # ckpt-6 was re-made and then rotated out
    (aside,) = (workdir / "checkpoints" / "set_aside").iterdir()
    assert (aside / bad.name).read_bytes() == bad_payload
    for step in (7, 8, 9):
        training.verify_checkpoint(workdir / "checkpoints" / f"ckpt-{step}")


def test_verify_checkpoint_names_the_file_and_the_damage(trained_run, tmp_path):
    workdir = copy_run(trained_run, tmp_path)
    prefix = workdir / "checkpoints" / "ckpt-6"
    assert training.verify_checkpoint(prefix) == str(prefix)
    flip_byte(data_file(workdir, 6))
    with pytest.raises(training.UnreadableCheckpointError, match="ckpt-6 cannot be read back") as info:
        training.verify_checkpoint(prefix)
    assert isinstance(info.value, ValueError) and "truncated or corrupt" in str(info.value)
    data_file(workdir, 6).unlink()
    with pytest.raises(training.CheckpointNotFoundError, match=r"data shard ckpt-6\.data-00000-of-\* not found") as info:
        training.verify_checkpoint(prefix)
    assert isinstance(info.value, FileNotFoundError)
    index_file(workdir, 6).unlink()
    with pytest.raises(training.CheckpointNotFoundError, match=r"ckpt-6\.index not found"):
        training.verify_checkpoint(prefix)
    assert training.list_checkpoints(workdir / "checkpoints")[:2] == [
        str(workdir / "checkpoints" / "ckpt-5"), str(workdir / "checkpoints" / "ckpt-4")]


def test_restore_run_refuses_a_damaged_checkpoint_naming_the_others(trained_run, tmp_path):
    workdir = copy_run(trained_run, tmp_path)
    truncate(data_file(workdir, 6))
    with pytest.raises(training.UnreadableCheckpointError, match="Other checkpoints of the run: ckpt-5"):
        training.restore_run(workdir)
    assert training.restore_run(workdir, checkpoint=str(workdir / "checkpoints" / "ckpt-5")).step == 5


def cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "improved_gan_tf.cli", "train", "--config", "quickstart", *map(str, args)],
        capture_output=True, text=True, timeout=600, cwd=cwd,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"},
    )


CLI_FLAGS = [
    f"--config.data.dir={SHARED_DATA / 'mnist'}", "--config.train.epochs=2",
    f"--config.train.steps_per_epoch={STEPS_PER_EPOCH}", "--config.train.batch_size=8",
    "--config.train.init_examples=16", "--config.train.verbose=0", "--config.train.run_eagerly=True",
    "--config.train.num_samples=4", "--config.data.test_examples=16", "--config.data.num_labeled=20",
    "--config.checkpoint.every_steps=1", "--config.checkpoint.max_to_keep=50",
    "--config.distribute.strategy=none",
]


def test_cli_recovery_warns_on_stderr_and_restore_checkpoint_flag(trained_run, tmp_path):
    workdir = copy_run(trained_run, tmp_path)
    truncate(data_file(workdir, 6))
    result = cli("--workdir", workdir, *CLI_FLAGS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Restoring {workdir / 'checkpoints' / 'ckpt-5'}, the newest checkpoint that reads back intact" in result.stderr
    assert "ckpt-6: Checkpoint" in result.stderr and "cannot be read back" in result.stderr
    assert json.loads((workdir / "report.json").read_text())["resumed_from"].endswith("ckpt-5")

    # --restore_checkpoint, relative to the current directory.
    result = cli("--workdir", "run", "--restore_checkpoint", "run/checkpoints/ckpt-3", *CLI_FLAGS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((workdir / "report.json").read_text())["resumed_from"].endswith("ckpt-3")

    help_text = cli("--help", cwd=tmp_path)
    assert "--restore_checkpoint" in help_text.stdout + help_text.stderr

    # No readable checkpoint: one line, exit status 2, nothing changed.
    damage_every_checkpoint_now = sorted((workdir / "checkpoints").glob("ckpt-*.data-*"))
    for path in damage_every_checkpoint_now:
        truncate(path)
    before = tree_bytes(workdir)
    result = cli("--workdir", workdir, *CLI_FLAGS, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "NoReadableCheckpointError" not in result.stdout
    assert "reads back intact" in result.stderr
    assert tree_bytes(workdir) == before
