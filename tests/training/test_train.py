"""End to end: a shortened quickstart fills the run directory; the NaN guard.

The shortened quickstart (2 epochs of 20 steps, 500 test images) runs under the
2-replica MirroredStrategy that conftest's logical CPUs make visible
(`distribute.strategy='auto'`).
"""

import csv
import json
import warnings

import numpy as np
import pytest
import tensorflow as tf

from improved_gan_tf import training
from tests.train_utils import load_config
from tests.train_utils import tiny


def short_quickstart():
    config = tiny(load_config("quickstart"), steps=20, batch_size=20, test_examples=500)
    config.data.num_labeled = 100
    config.train.epochs = 2
    config.train.run_eagerly = False
    config.train.num_samples = 100
    config.train.log_every_steps = 10
    config.checkpoint.every_steps = 10
    config.distribute.strategy = "auto"
    return config


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("quickstart")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = training.train(short_quickstart(), workdir)
    return workdir, report, caught


def test_training_does_not_warn_that_keras_ignores_shuffle(quickstart_run):
    # The trainer feeds fit a tf.data stream in its own order; Keras's default shuffle=True
    # would make fit warn on every run that it ignores it.
    messages = [str(w.message) for w in quickstart_run[2]]
    assert not [m for m in messages if "shuffle" in m], messages


def test_run_directory_has_everything_a_person_needs(quickstart_run):
    workdir, report, _ = quickstart_run
    assert report["replicas"] == 2 and report["strategy"] == "MirroredStrategy"
    assert report["global_step"] == 40 and report["epochs_completed"] == 2
    assert 0 <= report["test_errors"] <= 500 and report["test_examples"] == 500
    assert report["test_error_percent"] == pytest.approx(100 * report["test_errors"] / 500, abs=0.2)
    assert report["wall_seconds"] > 0 and report["images_per_second"] > 0

    assert json.loads((workdir / "config.json").read_text())["experiment"] == "quickstart"
    labeled = json.loads((workdir / "labeled_indices.json").read_text())
    assert labeled["per_class_counts"] == [10] * 10 and len(labeled["indices"]) == 100
    assert report["labeled_indices_file"].endswith("labeled_indices.json")

    history = json.loads((workdir / "metrics.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    for record in history:
        for key in ("d_loss", "g_loss", "supervised_loss", "accuracy", "test_errors",
                    "learning_rate", "seconds_per_step", "images_per_second"):
            assert np.isfinite(record[key]), key
    rows = list(csv.DictReader((workdir / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]

    from PIL import Image

    for epoch in (1, 2):
        grid = Image.open(workdir / "samples" / f"epoch_{epoch:04d}.png")
        assert grid.size[0] >= 500 and grid.size == grid.size[::-1]
        assert np.asarray(grid).std() > 10  # not a blank image
    assert Image.open(workdir / "curves.png").size[0] >= 600
    md = (workdir / "report.md").read_text()
    assert f"{report['test_errors']} / 500" in md and "curves.png" in md
    events = list((workdir / "tensorboard").glob("events.out.tfevents.*"))
    assert events
    tags = set()
    for event in tf.compat.v1.train.summary_iterator(str(events[0])):
        tags.update(value.tag for value in event.summary.value)
    assert {"epoch/test_error", "epoch/learning_rate", "epoch/seconds_per_step", "samples",
            "step/d_loss", "step/seconds_per_step"} <= tags


def test_restore_models_gives_the_trained_model(quickstart_run):
    workdir, report, _ = quickstart_run
    config, model = training.restore_models(workdir)
    assert config.experiment == "quickstart"
    assert training.weights_fingerprint(model) == report["weights_fingerprint"]
    assert int(model.d_polyak_average.count.numpy()) == 40
    restored = training.restore_run(workdir)
    assert restored.step == 40 and restored.checkpoint == report["last_checkpoint"]
    assert training.weights_fingerprint(restored.model) == report["weights_fingerprint"]
    assert not hasattr(restored.model, "restored_step")


def test_non_finite_loss_stops_naming_step_and_keeps_last_good_checkpoint(quickstart_run, tmp_path):
    import shutil

    workdir = tmp_path / "diverging"
    shutil.copytree(quickstart_run[0], workdir)
    before = training.latest_checkpoint(workdir)
    reader = tf.train.load_checkpoint(before)
    saved = {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(before)}

    config = short_quickstart()
    config.train.epochs = 4
    config.optimizer.learning_rate = 1e30  # diverges within a few steps
    config.train.run_eagerly = True  # a few eager steps cost less than tracing
    config.distribute.strategy = "none"  # (eager steps need a single replica)
    config.checkpoint.every_steps = 1
    # A resume refuses a changed learning rate / strategy (`RunDir.check_resume`): the
    # copy becomes a run of this config.
    training.RunDir(workdir).write_config(config)
    with pytest.raises(training.NonFiniteLossError) as info:
        training.train(config, workdir)
    message = str(info.value)
    assert "step 4" in message  # a step of epoch 3 (steps 41-60)
    assert "last good checkpoint" in message
    latest = training.latest_checkpoint(workdir)
    assert latest in message
    step = int(latest.rsplit("-", 1)[1])
    assert step < int(message.split("step ", 1)[1].split(" ", 1)[0])
    # The checkpoint the run resumed from is untouched.
    reader = tf.train.load_checkpoint(before)
    for name, value in saved.items():
        np.testing.assert_array_equal(reader.get_tensor(name), value, err_msg=name)
