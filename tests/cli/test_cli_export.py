"""`improved-gan export` on a run made by `improved-gan train`: the JSON line, and every
mistake (missing flag, run directory, checkpoint; existing version; a model name
outside --output; a damaged checkpoint) one line with exit status 2."""

import json
import subprocess
import sys

import pytest

from train_utils import REPO_ROOT
from train_utils import SHARED_DATA

PROGRAM = "improved-gan export"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A 2-step quickstart run directory, made by the training command."""
    workdir = tmp_path_factory.mktemp("export_cli") / "run"
    subprocess.run(
        [sys.executable, "-m", "improved_gan_tf.cli", "train", "--config", "quickstart",
         "--workdir", str(workdir), f"--config.data.dir={SHARED_DATA / 'mnist'}",
         "--config.train.epochs=1", "--config.train.steps_per_epoch=2",
         "--config.train.batch_size=8", "--config.train.init_examples=16",
         "--config.train.run_eagerly=True", "--config.train.num_samples=4",
         "--config.train.verbose=0", "--config.data.test_examples=16",
         "--config.data.num_labeled=20", "--config.distribute.strategy=none"],
        check=True, capture_output=True, timeout=600, cwd=REPO_ROOT,
    )
    return workdir


def test_export_prints_its_json_line_then_refuses_the_same_version(improved_gan, run_dir, tmp_path):
    result = improved_gan("export", "--workdir", run_dir, "--output", "serving", "--version", "3",
                          "--max_batch_size", "16")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed == {"version": 3, "step": 2,
                       "generator": str(tmp_path / "serving" / "generator" / "3"),
                       "classifier": str(tmp_path / "serving" / "classifier" / "3"),
                       "classifier_weights": "polyak_average", "max_batch_size": 16}
    for name in ("generator", "classifier"):
        described = json.loads(
            (tmp_path / "serving" / name / "3" / "assets.extra" / "signatures.json").read_text())
        assert described["max_batch_size"] == 16
    assert (tmp_path / "serving" / "classifier" / "3" / "saved_model.pb").is_file()
    improved_gan("export", "--workdir", run_dir, "--output", "serving", "--version", "3",
                 ).assert_one_line_user_error(PROGRAM, "already exist", "--overwrite")


@pytest.mark.parametrize("args, fragments", [
    (["--workdir", "{run}"], ["--output"]),
    (["--output", "serving"], ["--workdir"]),
    (["--workdir", "{tmp}/nowhere", "--output", "serving"], ["{tmp}/nowhere does not exist"]),
    (["--workdir", "{tmp}", "--output", "serving"], ["config.json"]),
    (["--workdir", "{run}", "--output", "serving", "--checkpoint", "{run}/checkpoints/ckpt-9"],
     ["ckpt-9"]),
    (["--workdir", "{run}", "--output", "serving", "--generator_name", "../outside"],
     ["'../outside'", "one directory name"]),
    (["--workdir", "{run}", "--output", "serving", "--version", "0"], ["--version=0"]),
    (["--workdir", "{run}", "--output", "serving", "--max_batch_size", "0"], ["--max_batch_size=0"]),
    (["--workdir", "{run}", "--output", "serving", "--max_batch_size", "many"],
     ["--max_batch_size", "many"]),
], ids=["no output", "no workdir", "missing run directory", "not a run directory",
        "missing checkpoint", "model name outside --output", "version 0", "max_batch_size 0",
        "max_batch_size not a number"])
def test_an_export_mistake_is_one_line_and_writes_nothing(improved_gan, run_dir, tmp_path, args, fragments):
    names = {"run": run_dir, "tmp": tmp_path}
    args = [arg.format(**names) for arg in args]
    fragments = [fragment.format(**names) for fragment in fragments]
    improved_gan("export", *args).assert_one_line_user_error(PROGRAM, *fragments)
    assert not (tmp_path / "serving").exists() and not (tmp_path / "outside").exists()


def test_a_damaged_checkpoint_is_one_line_naming_the_run(improved_gan, run_dir, tmp_path):
    import shutil

    damaged = tmp_path / "damaged_run"
    shutil.copytree(run_dir, damaged)
    (data_file,) = (damaged / "checkpoints").glob("ckpt-2.data-*")
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    improved_gan("export", "--workdir", damaged, "--output", "serving").assert_one_line_user_error(
        PROGRAM, str(damaged))
    assert not (tmp_path / "serving" / "generator" / "1").exists()
