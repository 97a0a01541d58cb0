"""`RunDir`: the paths of a run directory, its history and its config."""

import csv
import json

import pytest

from improved_gan_tf.config import base_config
from improved_gan_tf.errors import UserInputError
from improved_gan_tf.rundir import DamagedRunFileError
from improved_gan_tf.rundir import NotARunDirectoryError
from improved_gan_tf.rundir import RunDir


def test_paths_follow_the_documented_layout(tmp_path):
    run = RunDir(tmp_path)
    assert run.config_json == tmp_path / "config.json"
    assert run.checkpoints == run.own_checkpoints == tmp_path / "checkpoints"
    assert run.sample_grid(7) == tmp_path / "samples" / "epoch_0007.png"
    assert (run.metrics_json.name, run.metrics_csv.name) == ("metrics.json", "metrics.csv")
    assert (run.report_json, run.report_md, run.curves_png) == (
        tmp_path / "report.json", tmp_path / "report.md", tmp_path / "curves.png")
    assert run.worker_dir is None


def test_a_worker_saves_into_its_own_directory_but_restores_the_chiefs(tmp_path):
    run = RunDir(tmp_path, worker=("worker", 1))
    assert run.own_checkpoints == tmp_path / ".worker_worker_1" / "checkpoints"
    assert run.checkpoints == tmp_path / "checkpoints"
    assert run.report_json == tmp_path / ".worker_worker_1" / "report.json"


def test_history_round_trips_and_csv_has_every_key_in_first_seen_order(tmp_path):
    run = RunDir(tmp_path)
    assert run.read_history() == []
    history = [{"epoch": 1, "d_loss": 0.5}, {"epoch": 2, "d_loss": 0.25, "test_errors": 3}]
    run.write_history(history)
    assert run.read_history() == history
    assert run.read_history(last_epoch=1) == history[:1]
    rows = list(csv.reader(run.metrics_csv.open()))
    assert rows == [["epoch", "d_loss", "test_errors"], ["1", "0.5", ""], ["2", "0.25", "3"]]
    assert not list(tmp_path.glob("*tmp*"))


def test_config_round_trips_and_reports_changed_keys(tmp_path):
    run = RunDir(tmp_path / "run")
    config = base_config()
    assert run.write_config(config) == []
    assert run.read_config().to_dict() == config.to_dict()
    config.train.epochs = config.train.epochs + 3
    assert run.write_config(config) == ["train.epochs"]
    assert run.read_config().train.epochs == config.train.epochs


def test_a_directory_without_config_is_not_a_run_directory(tmp_path):
    with pytest.raises(NotARunDirectoryError, match="config.json not found") as info:
        RunDir(tmp_path).read_config()
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, UserInputError)


def test_a_damaged_json_file_names_itself(tmp_path):
    (tmp_path / "metrics.json").write_text("[{")
    with pytest.raises(DamagedRunFileError, match="metrics.json"):
        RunDir(tmp_path).read_history()
    (tmp_path / "config.json").write_text(json.dumps({"train": {"no_such_key": 1}}))
    with pytest.raises(ValueError, match="train.no_such_key"):
        RunDir(tmp_path).read_config()
