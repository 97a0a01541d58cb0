"""The registry: dataset facts against the real files, `data_facts` of every config,
one declaration of each config choice and batch key, bare config names, no TensorFlow."""

import subprocess
import sys

import numpy as np
import pytest

from improved_gan_tf import config as config_lib
from improved_gan_tf import data
from improved_gan_tf import registry
from tests.train_utils import CONFIG_NAMES
from tests.train_utils import CONFIGS_DIR
from tests.train_utils import REPO_ROOT
from tests.train_utils import SHARED_DATA
from tests.train_utils import load_config

# What each experiment's data is: (dataset, raw image shape, classes, preprocess).
EXPECTED_FACTS = {
    "quickstart": ("mnist", (28, 28, 1), 10, "unit_flat"),
    "mnist_feature_matching": ("mnist", (28, 28, 1), 10, "unit_flat"),
    "mnist_feature_matching_arxiv": ("mnist", (28, 28, 1), 10, "unit_flat"),
    "mnist_minibatch_discrimination": ("mnist", (28, 28, 1), 10, "unit"),
    "cifar10_feature_matching": ("cifar10", (32, 32, 3), 10, "symmetric"),
    "cifar10_minibatch_discrimination": ("cifar10", (32, 32, 3), 10, "symmetric"),
    "svhn_feature_matching": ("svhn_cropped", (32, 32, 3), 10, "signed_unit"),
    "svhn_minibatch_discrimination": ("svhn_cropped", (32, 32, 3), 10, "signed_unit"),
    "imagenet128_vbn": ("imagenet2012", (128, 128, 3), 1000, "signed_unit"),
    "goodfellow2014_mnist": ("mnist", (28, 28, 1), 10, "unit_flat"),
}


def test_every_config_has_its_expected_facts():
    assert set(EXPECTED_FACTS) == set(CONFIG_NAMES)


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_data_facts_name_the_dataset_shape_classes_and_preprocessing_of_each_config(name):
    facts = registry.data_facts(load_config(name))
    assert (facts.name, facts.image_shape, facts.num_classes, facts.preprocess) == EXPECTED_FACTS[name]


def test_data_facts_fill_in_the_datasets_default_preprocessing_and_resolve_aliases():
    config = load_config("svhn_feature_matching")
    config.data.name = "svhn"
    config.data.preprocess = ""
    facts = registry.data_facts(config)
    assert (facts.name, facts.preprocess) == ("svhn_cropped", "signed_unit")
    config = load_config("mnist_feature_matching")
    config.data.preprocess = ""
    assert registry.data_facts(config).preprocess == "unit_flat"


def test_data_facts_take_the_number_of_classes_from_the_architecture_when_it_sets_one():
    config = load_config("imagenet128_vbn")
    config.model.arch.num_classes = 10  # the tiny ImageNet test runs
    assert registry.data_facts(config).num_classes == 10


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_the_trainer_sees_the_facts_data_facts_gives(name):
    from improved_gan_tf import training

    config = load_config(name)
    config.data.synthetic = True
    config.train.init_examples = 4
    config.train.batch_size = 4 * config.model.discriminator_steps
    config.data.num_labeled = 0
    if name == "imagenet128_vbn":
        config.model.arch.num_classes = 10
    loaded = training.load_training_data(config)
    facts = registry.data_facts(config)
    assert (loaded.name, loaded.image_shape, loaded.num_classes, loaded.preprocess) == (
        facts.name, facts.image_shape, facts.num_classes, facts.preprocess
    )
    assert loaded.train_images.shape[1:] == facts.image_shape


def test_mnist_files_have_the_registrys_shape_classes_and_split_size(mnist_dir):
    spec = registry.DATASETS["mnist"]
    images, labels = data.load_arrays("mnist", "test", mnist_dir)
    assert images.shape == (spec.split_sizes["test"],) + spec.image_shape
    assert sorted(np.unique(labels).tolist()) == list(range(spec.num_classes))


def test_fashion_mnist_files_have_the_registrys_shape_classes_and_split_size(fashion_mnist_dir):
    spec = registry.DATASETS["fashion_mnist"]
    images, labels = data.load_arrays("fashion_mnist", "test", fashion_mnist_dir)
    assert images.shape == (spec.split_sizes["test"],) + spec.image_shape
    assert sorted(np.unique(labels).tolist()) == list(range(spec.num_classes))


def test_cifar10_files_have_the_registrys_shape_and_classes():
    # The offline copy holds a part of the test batch (DataSubsetWarning).
    spec = registry.DATASETS["cifar10"]
    with pytest.warns(data.DataSubsetWarning):
        images, labels = data.load_arrays("cifar10", "test", SHARED_DATA / "cifar10")
    assert images.shape[1:] == spec.image_shape
    assert 0 <= labels.min() and labels.max() < spec.num_classes


def test_svhn_subset_has_the_registrys_shape_and_classes():
    spec = registry.DATASETS["svhn_cropped"]
    with pytest.warns(data.DataSubsetWarning):
        images, labels = data.load_arrays("svhn", "train", SHARED_DATA / "svhn" / "svhn_train_subset50.npz")
    assert images.shape[1:] == spec.image_shape
    assert 0 <= labels.min() and labels.max() < spec.num_classes


def test_the_imagenet_architecture_takes_the_registrys_imagenet_shape():
    from improved_gan_tf import architectures

    discriminator = architectures.imagenet128_discriminator(df_dim=2, num_classes=10, minibatch_kernels=2, kernel_dim=2)
    assert tuple(discriminator.inputs[0].shape[1:]) == registry.DATASETS["imagenet2012"].image_shape


def test_imagenet_is_refused_by_the_array_loader_with_a_clear_message():
    with pytest.raises(ValueError, match="imagenet2012 is streamed from TFDS"):
        data.load_arrays("imagenet2012", "validation")


def test_svhn_is_an_alias_of_svhn_cropped_everywhere():
    assert registry.canonical_name("svhn") == data.canonical_name("svhn") == "svhn_cropped"
    assert "svhn" in registry.DATASET_NAMES and "svhn" not in registry.DATASETS
    assert set(registry.DATASETS) <= set(registry.DATASET_NAMES)


def test_svhn_and_imagenet_default_to_the_authors_signed_unit_scaling():
    # train_svhn_*.py: (x - 127.5) / 127.5; imagenet/model.py: x * 2/255 - 1.
    assert "signed_unit" in registry.PREPROCESSES
    for name in ("svhn_cropped", "imagenet2012"):
        assert registry.DATASETS[name].default_preprocess == "signed_unit"
    assert data.output_range("signed_unit") == (-1.0, 1.0)
    pixels = np.array([0, 1, 127, 128, 254, 255], np.uint8).reshape(1, 6, 1, 1)
    np.testing.assert_allclose(
        data.preprocess_array(pixels, registry.DATASETS["svhn_cropped"].default_preprocess),
        pixels * (2.0 / 255.0) - 1.0, rtol=0, atol=1e-7,
    )
    assert registry.DATASETS["cifar10"].default_preprocess == "symmetric"


def test_a_config_may_name_signed_unit_and_data_facts_pass_it_on():
    config = load_config("svhn_feature_matching")
    config.data.preprocess = "signed_unit"
    config_lib.validate_config(config)
    assert registry.data_facts(config).preprocess == "signed_unit"
    config = load_config("cifar10_feature_matching")
    config.data.preprocess = "signed_unit"
    config_lib.validate_config(config)
    assert registry.data_facts(config).preprocess == "signed_unit"


def test_the_data_module_reads_its_dataset_facts_from_the_registry():
    assert data.DATASETS is registry.DATASETS
    for name, spec in registry.DATASETS.items():
        assert data.DEFAULT_PREPROCESS[name] == spec.default_preprocess
        assert spec.default_preprocess in registry.PREPROCESSES


def test_each_config_choice_is_declared_once_and_used_by_its_module():
    from improved_gan_tf import architectures
    from improved_gan_tf import latents
    from improved_gan_tf import losses
    from improved_gan_tf import model
    from improved_gan_tf import optimizers

    assert losses.FEATURE_MATCHING_NORMS is registry.FEATURE_MATCHING_NORMS
    assert latents.LATENT_DISTRIBUTIONS is registry.LATENT_DISTRIBUTIONS
    assert model.GENERATOR_LOSSES is registry.GENERATOR_LOSSES
    for name in registry.ARCHITECTURES:
        assert callable(getattr(architectures, f"{name}_generator"))
        assert callable(getattr(architectures, f"{name}_discriminator"))
    for name in registry.PREPROCESSES:
        assert callable(data.get_preprocess(name))
    config = load_config("quickstart")
    for name in registry.OPTIMIZERS:
        config.optimizer.name = name
        assert optimizers.make_optimizer(config, 0.1) is not None
    for name in registry.SCHEDULES:
        config.optimizer.schedule = name
        assert optimizers.learning_rate_at(config, 0, 0) > 0


@pytest.mark.parametrize(
    "key, value",
    [
        ("data.name", "imagenet"), ("data.preprocess", "scaled"), ("model.architecture", "resnet"),
        ("model.generator_loss", "wasserstein"), ("model.feature_matching_norm", "linf"),
        ("model.latent_distribution", "cauchy"), ("optimizer.name", "rmsprop"),
        ("optimizer.schedule", "cosine"), ("train.precision", "float16"),
        ("distribute.strategy", "tpu"),
    ],
)
def test_validation_refuses_a_value_the_registry_does_not_list(key, value):
    config = load_config("quickstart")
    section, leaf = key.split(".")
    config[section][leaf] = value
    with pytest.raises(config_lib.ConfigError, match=key.replace(".", r"\.")):
        config_lib.validate_config(config)


def test_the_batch_keys_are_what_the_pipelines_yield_and_the_model_reads():
    from improved_gan_tf import model

    images = np.random.RandomState(0).randint(0, 256, (40, 28, 28, 1)).astype(np.uint8)
    labels = np.arange(40) % 10
    ds = data.semi_supervised_dataset(
        images, labels, data.select_labeled_subset(labels, 20, 10, seed=1),
        preprocess="unit_flat", batch_size=10, seed=1,
    )
    assert set(ds.element_spec) == set(registry.BATCH_KEYS)
    assert (model.LABELED, model.LABELS, model.UNLABELED, model.UNLABELED_FOR_GENERATOR) == registry.BATCH_KEYS


def test_registry_and_config_import_without_tensorflow():
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None\n"
        "from improved_gan_tf import config, registry\n"
        f"for name in {list(CONFIG_NAMES)!r}:\n"
        "    facts = registry.data_facts(config.load_config_file(name))\n"
        "assert 'keras' not in sys.modules, 'keras was imported'\n"
        "print(facts.name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "mnist"


def test_a_bare_config_name_resolves_to_the_repositorys_configs_directory():
    assert config_lib.CONFIGS_DIR == CONFIGS_DIR
    path = str(CONFIGS_DIR / "quickstart.py")
    assert config_lib.resolve_config_spec("quickstart") == path
    assert config_lib.resolve_config_spec("quickstart:some_argument") == path + ":some_argument"
    assert config_lib.resolve_config_spec(path) == path
    assert config_lib.resolve_config_spec("configs/quickstart.py") == "configs/quickstart.py"
    assert config_lib.load_config_file("quickstart").to_dict() == config_lib.load_config_file(path).to_dict()


def test_an_unknown_bare_config_name_is_refused_listing_the_known_ones():
    with pytest.raises(config_lib.ConfigError, match="does not exist.*known: .*quickstart"):
        config_lib.load_config_file("quickstrat")
    with pytest.raises(config_lib.ConfigError, match="'nowhere/quickstart.py' does not exist"):
        config_lib.load_config_file("nowhere/quickstart.py")


def test_a_config_file_without_get_config_is_refused(tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("X = 1\n")
    with pytest.raises(config_lib.ConfigError, match="has no get_config"):
        config_lib.load_config_file(str(path))


def test_improved_gan_train_takes_a_bare_config_name(tmp_path):
    # The config is loaded by name, parsed by ml_collections' flag and validated (the
    # override makes validation fail, so nothing trains).
    result = subprocess.run(
        [sys.executable, "-m", "improved_gan_tf.cli", "train", "--config", "quickstart",
         "--workdir", str(tmp_path / "run"), "--config.train.epochs=0"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert "config.train.epochs=0 must be >= 1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()
