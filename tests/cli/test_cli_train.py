"""`improved-gan train` as a new user meets it: `--help`, config names, every mistake
one line with exit status 2, a diverged run exit status 1."""

import pytest

from improved_gan_tf import config as config_lib
from train_utils import SHARED_DATA

PROGRAM = "improved-gan train"
MNIST = SHARED_DATA / "mnist"
# A few eager steps on 16 test images: seconds, not minutes.
TINY = ["--config.train.epochs=1", "--config.train.steps_per_epoch=3",
        "--config.train.batch_size=8", "--config.train.init_examples=16",
        "--config.train.run_eagerly=True", "--config.train.num_samples=4",
        "--config.train.verbose=0", "--config.data.test_examples=16",
        "--config.data.num_labeled=20", "--config.checkpoint.every_steps=0",
        "--config.distribute.strategy=none"]


def test_help_lists_every_flag_and_config_key_and_the_exit_statuses(improved_gan):
    result = improved_gan("train", "--help", "--config", "quickstart")
    assert result.returncode == 0, result.stderr
    for flag in ("--config:", "--workdir:", "--config.KEY=VALUE:", "--verbose:"):
        assert flag in result.stdout
    for key in config_lib.flatten(config_lib.base_config()):
        assert f"--config.{key}  (default" in result.stdout
    assert "1 when the training loss became NaN" in " ".join(result.stdout.split())
    assert "'quickstart' in this config" in result.stdout  # config.experiment


@pytest.mark.parametrize("args, fragments", [
    (["--workdir", "RUN"], ["--config is required"]),
    (["--config", "quickstart"], ["--workdir"]),
    (["--config", "quickstrat", "--workdir", "RUN"], ["'quickstrat'", "known:", "quickstart"]),
    (["--config", "nowhere/quickstart.py", "--workdir", "RUN"], ["'nowhere/quickstart.py' does not exist"]),
    (["--config", "quickstart", "--workdir", "RUN", "--epochs=3"], ["Unknown command line flag 'epochs'"]),
    (["--config", "quickstart", "--workdir", "RUN", "--config.train.epocs=3"],
     ["'train.epocs'", "Did you mean train.epochs"]),
    (["--config", "quickstart", "--workdir", "RUN", "--config.train.epochs=three"],
     ["--config.train.epochs=three"]),
    (["--config", "quickstart", "--workdir", "RUN", "--config.train.epochs=0"],
     ["config.train.epochs=0 must be >= 1"]),
    (["--config", "quickstart", "--workdir", "RUN", "surplus"], ["unexpected arguments", "surplus"]),
    (["--config", "quickstart", "--workdir", "RUN", "--config.train.steps_per_execution=7"],
     ["config.train.steps_per_epoch=600 is not a multiple of config.train.steps_per_execution=7"]),
], ids=["no config", "no workdir", "unknown config name", "missing config file", "unknown flag",
        "unknown config key", "value of the wrong type", "value out of range", "surplus argument",
        "steps per execution that do not divide an epoch"])
def test_a_command_line_mistake_is_one_line_and_starts_nothing(improved_gan, tmp_path, args, fragments):
    improved_gan("train", *args).assert_one_line_user_error(PROGRAM, *fragments)
    assert not (tmp_path / "RUN").exists()


def test_an_unreachable_tfds_data_set_is_one_line_naming_the_way_out(improved_gan, tmp_path):
    # data.dir '' means TFDS: an empty TFDS directory, and no network in the tests.
    result = improved_gan("train", "--config", "quickstart", "--workdir", "RUN", "--config.data.dir=",
                          env={"TFDS_DATA_DIR": str(tmp_path / "tfds_empty")})
    result.assert_one_line_user_error(PROGRAM, "'mnist'", "cannot be downloaded", "--config.data.dir=DIR")


def test_a_damaged_data_file_is_one_line_naming_it_and_verbose_adds_the_traceback(
        improved_gan, damaged_mnist):
    args = ["train", "--config", "quickstart", "--workdir", "RUN", f"--config.data.dir={damaged_mnist}"]
    line = improved_gan(*args).assert_one_line_user_error(PROGRAM, "train-images-idx3-ubyte.gz", "truncated")
    verbose = improved_gan(*args, "--verbose")
    assert verbose.returncode == 2
    assert "Traceback (most recent call last)" in verbose.stderr
    assert verbose.message_lines[-1] == line


def test_a_diverged_run_exits_1_with_its_message_and_no_traceback(improved_gan):
    result = improved_gan("train", "--config", "quickstart", "--workdir", "RUN",
                          f"--config.data.dir={MNIST}", "--config.optimizer.learning_rate=1e30", *TINY)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.message_lines if line.startswith(PROGRAM)]
    assert line.startswith(f"{PROGRAM}: Non-finite") and "last good checkpoint" in line


def test_a_tiny_run_by_config_name_completes_and_prints_its_summary(improved_gan, tmp_path):
    result = improved_gan("train", "--config", "quickstart", "--workdir", "RUN",
                          f"--config.data.dir={MNIST}", *TINY)
    assert result.returncode == 0, result.stderr
    assert "[improved-gan] done: 1 epochs" in result.stdout
    assert "test error" in result.stdout
    assert (tmp_path / "RUN" / "report.md").is_file()
