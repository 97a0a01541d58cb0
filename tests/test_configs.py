"""Every experiment config validates, builds its model and trains 2 steps.

The big configs run with tiny overrides (batch 8, 2 steps, 16 test images). CIFAR-10
and SVHN use the offline subsets under ../shared/data. ImageNet needs a TFDS manual
download, so its 2-step test uses random tensors of the right shape
(`data.synthetic=True`, 128x128x3 images) and tiny network dims.
"""

import json

import pytest

from improved_gan_tf import config as config_lib
from improved_gan_tf import training
from improved_gan_tf.cli import train as train_cli
from tests.train_utils import CONFIG_NAMES
from tests.train_utils import CONFIGS_DIR
from tests.train_utils import load_config
from tests.train_utils import tiny


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_config_validates_and_names_its_experiment(name):
    config = load_config(name)
    config_lib.validate_config(config)
    assert config.experiment == name
    for key in ("seed", "deterministic", "data.name", "data.dir", "data.num_labeled",
                "train.epochs", "train.steps_per_epoch", "train.batch_size",
                "distribute.strategy", "distribute.logical_cpus"):
        assert key in config_lib.flatten(config)


def test_paper_hyper_parameters():
    fm = load_config("mnist_feature_matching")
    assert (fm.optimizer.learning_rate, fm.optimizer.beta_1, fm.optimizer.schedule) == (0.003, 0.5, "constant")
    assert (fm.train.epochs, fm.train.steps_per_epoch, fm.train.batch_size) == (300, 600, 100)
    assert (fm.data.num_labeled, fm.train.init_examples, fm.model.polyak_rate) == (100, 500, 1e-4)
    cifar = load_config("cifar10_feature_matching")
    assert cifar.model.feature_matching_norm == "l1" and cifar.train.epochs == 1200
    assert training.learning_rate_at(cifar, 0, 0) == pytest.approx(3e-4)
    assert training.learning_rate_at(cifar, 1000, 0) == pytest.approx(3e-4 * (3 - 1000 / 400))
    svhn = load_config("svhn_feature_matching")
    assert training.learning_rate_at(svhn, 750, 0) == pytest.approx(3e-4 * 0.5)
    for name in ("cifar10_minibatch_discrimination", "svhn_minibatch_discrimination"):
        md = load_config(name)
        assert (md.model.generator_loss, md.model.generator_steps) == ("minimax", 3)
        assert md.model.minibatch_discrimination
    gan = load_config("goodfellow2014_mnist")
    assert gan.optimizer.name == "sgd" and gan.model.discriminator_steps == 1
    assert training.momentum_at(gan, 0) == pytest.approx(0.5)
    assert training.momentum_at(gan, 249) == pytest.approx(0.7)
    assert training.learning_rate_at(gan, 0, 10**7) == pytest.approx(1e-6)
    assert load_config("imagenet128_vbn").model.label_smoothing == 0.75


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_config_trains_two_steps(name, tmp_path):
    config = tiny(load_config(name))
    if name == "imagenet128_vbn":
        config.data.synthetic = True
        config.train.batch_size = 4
        config.model.arch.update(dict(gf_dim=4, df_dim=2, latent_dim=16, reference_batch_size=4,
                                      num_classes=10, minibatch_kernels=4, kernel_dim=3))
    report = training.train(config, tmp_path)
    assert report["global_step"] == 2
    history = json.loads((tmp_path / training.METRICS_JSON).read_text())
    assert len(history) == 1
    if config.data.num_labeled:
        assert 0 <= history[0]["test_errors"] <= config.data.test_examples
    assert (tmp_path / training.SAMPLES_SUBDIR / "epoch_0001.png").exists()
    assert training.latest_checkpoint(tmp_path).endswith("ckpt-2")


def test_misspelled_key_in_override_is_refused_naming_it():
    with pytest.raises(config_lib.ConfigError, match=r"train\.epocs.*train\.epochs"):
        train_cli.check_override_keys(
            ["--config", str(CONFIGS_DIR / "quickstart.py"), "--config.train.epocs=3"]
        )
    train_cli.check_override_keys(
        ["--config", str(CONFIGS_DIR / "quickstart.py"), "--config.train.epochs=3"]
    )


def test_misspelled_key_in_config_file_is_refused(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text(
        "from improved_gan_tf.config import base_config\n"
        "def get_config():\n"
        "    config = base_config()\n"
        "    config.train.bach_size = 10\n"
        "    return config\n"
    )
    with pytest.raises(config_lib.ConfigError, match="bach_size"):
        train_cli.make_flags(["improved-gan train", "--config", str(path), "--workdir", "w"])


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("train.batch_size", "10", "train.batch_size"),
        ("distribute.strategy", "everywhere", "distribute.strategy"),
        ("optimizer.learning_rate", -1.0, "optimizer.learning_rate"),
        ("model.label_smoothing", 1.5, "model.label_smoothing"),
    ],
)
def test_bad_values_are_refused_naming_the_key(key, value, message):
    config = load_config("quickstart")
    section, leaf = key.split(".")
    with pytest.raises((config_lib.ConfigError, TypeError), match=message.split(".")[-1]):
        config[section][leaf] = value
        config_lib.validate_config(config)


@pytest.mark.parametrize("overrides, message", [
    ({"train.steps_per_execution": 0}, "config.train.steps_per_execution=0 must be >= 1"),
    ({"train.steps_per_execution": 4, "train.steps_per_epoch": 10},
     "config.train.steps_per_epoch=10 is not a multiple of config.train.steps_per_execution=4: "
     "an epoch must end between two calls"),
    ({"train.steps_per_execution": 4, "train.log_every_steps": 8, "checkpoint.every_steps": 6},
     "config.checkpoint.every_steps=6 is not a multiple of config.train.steps_per_execution=4: "
     "a checkpoint is saved between two calls"),
    ({"train.steps_per_execution": 3, "train.log_every_steps": 10},
     "config.train.log_every_steps=10 is not a multiple of config.train.steps_per_execution=3"),
])
def test_steps_per_execution_must_divide_what_happens_between_calls(overrides, message):
    config = load_config("quickstart")
    for key, value in overrides.items():
        section, leaf = key.split(".")
        config[section][leaf] = value
    with pytest.raises(config_lib.ConfigError) as error:
        config_lib.validate_config(config)
    assert message in str(error.value)


def test_steps_per_execution_refuses_a_per_step_learning_rate_and_takes_what_divides():
    config = load_config("goodfellow2014_mnist")  # exponential per-step decay
    config.train.steps_per_execution = 2
    config.train.log_every_steps = 2
    config.checkpoint.every_steps = 0
    with pytest.raises(config_lib.ConfigError, match="'exponential_per_step' sets the learning rate before every step"):
        config_lib.validate_config(config)
    config = load_config("mnist_feature_matching")
    config.train.steps_per_execution = 10
    config_lib.validate_config(config)  # 600 steps per epoch, logs every 100, no step checkpoints
    assert "train.steps_per_execution" in config_lib.RESUMABLE_UNLESS_DETERMINISTIC_KEYS


def test_unknown_arch_argument_is_refused():
    config = load_config("quickstart")
    config_lib.set_arch_kwargs(config, width=3)
    with pytest.raises(config_lib.ConfigError, match="model.arch.width"):
        training.build_networks(config, 10)


def test_cli_refuses_bad_override_before_starting(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "improved_gan_tf.cli", "train", "--config", str(CONFIGS_DIR / "quickstart.py"),
         "--workdir", str(tmp_path / "run"), "--config.data.num_labled=10"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "data.num_labled" in result.stderr and "data.num_labeled" in result.stderr
    assert not (tmp_path / "run").exists()
    result = subprocess.run(
        [sys.executable, "-m", "improved_gan_tf.cli", "train", "--help", "--config",
         str(CONFIGS_DIR / "quickstart.py")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0
    for key in config_lib.flatten(config_lib.base_config()):
        assert f"--config.{key}" in result.stdout
    assert "--workdir" in result.stdout


_FLOAT_KEYS = sorted(
    key for key, value in config_lib.flatten(config_lib.base_config()).items()
    if isinstance(value, float)
)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=repr)
@pytest.mark.parametrize("key", _FLOAT_KEYS)
def test_non_finite_float_values_are_refused_naming_the_key_and_value(key, value):
    assert "optimizer.learning_rate" in _FLOAT_KEYS  # The keys were found.
    config = load_config("quickstart")
    *sections, leaf = key.split(".")
    node = config
    for section in sections:
        node = node[section]
    node[leaf] = value
    with pytest.raises(config_lib.ConfigError) as error:
        config_lib.validate_config(config)
    assert f"config.{key}={value!r} is not a finite number" in str(error.value)
