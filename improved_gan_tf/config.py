"""The experiment configuration shared by every file in `configs/`, and its validation.

Every experiment config (`configs/<experiment>.py`, big_vision style) starts from
`base_config()`, which holds *every* key the trainer reads with its default, and then
changes the values its paper / script needs. The base is locked, so a config file that
sets a misspelled key fails at import with an `AttributeError` naming it, and a value of
the wrong type fails with a `TypeError` naming it (ml_collections' type-safe fields).
Command-line overrides (`--config.train.epochs=3`) are checked the same way by
`ml_collections.config_flags`; `validate_config` then checks value ranges and choices
before anything starts, and raises `ConfigError` naming the offending key.

Keys (see `base_config` for the defaults):

- `experiment`: name used in reports.
- `seed`: seed of the model's weights and noise and of the data stream's shuffling.
- `deterministic`: `tf.config.experimental.enable_op_determinism()` (bit-exact reruns
  and resumes; slower).
- `data.*`: dataset (`name`, local `dir` of standard files or empty for TFDS,
  `num_labeled` (0 = unsupervised GAN), `seed` (the authors' `seed_data`, which picks
  the labeled subset), `preprocess` (empty = the authors' input range for the dataset),
  `train_examples` / `test_examples` (0 = all), `test_split`, `synthetic` (random
  tensors of the right shape instead of data, for smoke tests).
- `model.*`: `architecture`, builder keyword arguments in `model.arch`, and every
  `ImprovedGAN` option (generator loss, feature-matching norm, minibatch
  discrimination, Polyak rate, historical averaging, label smoothing, k / g steps), and
  `test_with_polyak_average`: which D the reported test error uses (the Polyak average
  when there is one, as the authors' final scripts; False: the current D, as their first
  commit); `update_order` (`sequential` or `simultaneous`), `generator_target_probability`
  (of the `target_probability` generator loss) and `supervised_loss` (`real_classes` or
  `all_classes`), the options of the authors' ImageNet model.
- `optimizer.*`: `authors_adam` (the authors' Adam: epsilon inside the square root,
  see `optimizers.AuthorsAdam`), `adam` (Keras) or `sgd` (with optional linear momentum
  ramp) and the
  learning-rate `schedule`: `constant`, `linear_ramp_down` (the authors'
  `lr * min(ramp_offset - epoch / ramp_epochs, 1)`) or `exponential_per_step` (pylearn2's
  `ExponentialDecay`: `max(lr / decay_factor**step, min_learning_rate)`).
- `train.*`: `epochs`, `steps_per_epoch` (None or 0 = one pass over the unlabeled
  data), `batch_size`, `init_examples` (data-dependent init), `eval_every_epochs`,
  `jit_compile`, `run_eagerly` (debugging; tiny test runs), `precision`, `num_samples`, `log_every_steps`,
  `steps_per_execution` (steps per call of the compiled train step, Keras's
  `compile(steps_per_execution=...)`: the same training in fewer calls, bit for bit in the
  weights where tested, though a logged mean loss may differ in its last bits (as it can
  between two processes of one command); checkpoints,
  step logs and the steps per epoch must then fall on a call's end),
  `intra_op_threads` / `inter_op_threads` (TensorFlow's thread pools; 0 = its default.
  Deterministic runs give the same numbers only with the same thread counts).
- `checkpoint.*`: `every_steps` (0 = at epoch ends only), `max_to_keep`.
- `distribute.*`: `strategy` (`auto`, `mirrored`, `multi_worker`, `none`) and
  `logical_cpus` (split the CPU into that many logical devices; 0 = leave as is).
- `evaluation.*`: sample-quality scores during training (`evaluation.ScoreCallback`,
  built by `evaluation.make_score_callback`, which `improved-gan train` hands the trainer):
  `score_every_epochs` (0 = off), `score_num_samples`, `score_splits`, `scorer`
  (`classifier`: the dataset classifier score and FD of MNIST-like data, from
  `classifier_path`; `inception`: IS and FID with `inception_graph` (the 2015
  `classify_image_graph_def.pb`, comparable with published numbers) or
  `inception_weights` (Keras InceptionV3 `.h5`, not comparable), against
  `reference_statistics` (a TTUR `.npz`) or, when empty, the run's test images).

Resuming a run (`improved-gan train` on a run directory that has a checkpoint or an
epoch record) with a different config is refused (`rundir.RunConfigChangedError`, which
lists every differing key with its old and new value), except for the keys of
`RESUMABLE_KEYS`, which change how a run is watched, saved or how long it goes on, never
what it computes:

- `train.epochs`: a longer (or shorter) schedule; no schedule reads the number of
  epochs (the learning-rate ramp has its own `optimizer.ramp_epochs`).
- `train.verbose`, `train.log_every_steps`: Keras' progress output and the step
  scalars written to TensorBoard.
- `train.eval_every_epochs`: how often the test error is measured (D in inference
  mode, on the Polyak average, advancing no random stream).
- `checkpoint.every_steps`, `checkpoint.max_to_keep`: when checkpoints are saved and
  how many are kept (saving only reads the variables).
- `evaluation.score_every_epochs`: how often the sample-quality scores are taken (a
  stateless latent draw that advances none of the model's random streams).
- `train.intra_op_threads`, `train.inter_op_threads`, `train.steps_per_execution`: only
  when `deterministic` is False. With op determinism the thread counts are part of the
  numbers a run gives (see above), and so may be how the graph around the steps is
  built; without it the run has no bit-exact trajectory to keep.

Every other key defines the run (deny by default): the data, the labeled subset, the
model, the optimizer, the seeds, the steps per epoch, the batch size, the precision, the
strategy, the test set the history's test errors are measured on, and the scorer the
history's scores come from. To train with other values, start a new run in a new
`--workdir`.

The keys of `PATH_KEYS` name files or directories: `train` stores them resolved
(absolute, `resolve_paths`), so that `score`, `export` and a resume find them from any
working directory; a relative path and its stored absolute form are the same value.
"""

import importlib.util
import math
import os
import pathlib

from ml_collections import config_dict

from improved_gan_tf import registry
from improved_gan_tf.errors import UserInputError

#: Where `load_config_file` finds a config named without a path: the repository's
#: top-level `configs/` (beside the `improved_gan_tf/` package).
CONFIGS_DIR = pathlib.Path(__file__).resolve().parent.parent / "configs"


class ConfigError(UserInputError, ValueError):
    """A config value is out of range or not one of the allowed choices."""


def _is_bare_name(path: str) -> bool:
    return bool(path) and "/" not in path and os.sep not in path and not path.endswith(".py")


def resolve_config_spec(spec) -> str:
    """The config file a `--config` value means, as `PATH[:ARGUMENT]`.

    A path (or anything naming an existing file) is returned unchanged; a bare name
    without `.py` and without a directory (`quickstart`, `mnist_feature_matching:arg`)
    names `CONFIGS_DIR/<name>.py` when that file exists.
    """
    spec = str(spec)
    path, separator, argument = spec.partition(":")
    if not os.path.exists(path) and _is_bare_name(path):
        candidate = CONFIGS_DIR / f"{path}.py"
        if candidate.is_file():
            return f"{candidate}{separator}{argument}"
    return spec


def load_config_file(spec):
    """`get_config()` of a config file: the one way a config file is executed.

    Args:
        spec: `PATH` or `PATH:ARGUMENT` (`get_config(ARGUMENT)`), where PATH is a file
            or the bare name of a file of `CONFIGS_DIR` (see `resolve_config_spec`).
            Config files that build on another one load it with this function too.

    Raises:
        ConfigError: the file does not exist, has no `get_config()`, or sets a key the
            locked base config does not have / a value of the wrong type (the message
            names the file and the key).
    """
    path, _, argument = resolve_config_spec(spec).partition(":")
    if not os.path.exists(path):
        message = f"Config file {path!r} does not exist."
        if _is_bare_name(path):
            known = sorted(p.stem for p in CONFIGS_DIR.glob("*.py")) if CONFIGS_DIR.is_dir() else []
            message += (
                f" Nor is {path!r} the name of a config in {CONFIGS_DIR}"
                + (f" (known: {', '.join(known)})." if known else " (no such directory).")
            )
        raise ConfigError(message)
    module_spec = importlib.util.spec_from_file_location(
        f"_improved_gan_config_{pathlib.Path(path).stem}", path
    )
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ConfigError(f"Config file {path!r} has no get_config() function.")
    try:
        return module.get_config(argument) if argument else module.get_config()
    except (AttributeError, KeyError, TypeError) as error:
        # A locked ConfigDict names the misspelled key / mistyped field in its message.
        raise ConfigError(f"Config file {path!r}: {error}") from error


def base_config():
    """Every key the trainer reads, with its default; locked (no new keys)."""
    c = config_dict.ConfigDict()
    c.experiment = ""
    c.seed = 1
    c.deterministic = False

    c.data = config_dict.ConfigDict()
    c.data.name = "mnist"
    c.data.dir = ""
    c.data.num_labeled = 100
    c.data.seed = 1
    c.data.preprocess = ""
    c.data.train_examples = 0
    c.data.test_examples = 0
    c.data.test_split = "test"
    c.data.synthetic = False
    c.data.tfds_manual_dir = ""

    c.model = config_dict.ConfigDict()
    c.model.architecture = "mnist_mlp"
    c.model.minibatch_discrimination = False
    c.model.arch = config_dict.ConfigDict()  # extra keyword arguments of the builders
    c.model.latent_distribution = "uniform"
    c.model.generator_loss = "feature_matching"
    c.model.feature_matching_norm = "l2"
    c.model.unsupervised_weight = 0.5
    c.model.label_smoothing = 0.0
    c.model.discriminator_steps = 1
    c.model.generator_steps = 1
    c.model.polyak_rate = 1e-4
    c.model.polyak_debias = True
    c.model.test_with_polyak_average = True  # False: test_errors from the current D
    c.model.historical_averaging_weight = 0.0
    # "simultaneous": one forward pass, both players updated from it (the authors'
    # ImageNet loop, imagenet/train.py `sess.run([d_optim, ..., g_optim, ...])`).
    c.model.update_order = "sequential"
    # The target D(G(z)) of generator_loss="target_probability" (imagenet/train_imagenet.py:
    # generator_target_prob = .75 / 2.).
    c.model.generator_target_probability = 0.375
    # "all_classes": class cross-entropy over the K+1 classes (imagenet/build_model.py:
    # sparse_softmax_cross_entropy_with_logits over D's 1001 logits).
    c.model.supervised_loss = "real_classes"

    c.optimizer = config_dict.ConfigDict()
    c.optimizer.name = "adam"
    c.optimizer.learning_rate = 0.003
    c.optimizer.generator_learning_rate = 0.0  # 0 = same as learning_rate
    c.optimizer.beta_1 = 0.5
    c.optimizer.beta_2 = 0.999
    c.optimizer.epsilon = 1e-8
    c.optimizer.momentum = 0.0
    c.optimizer.final_momentum = -1.0  # < 0 = constant momentum
    c.optimizer.momentum_start_epoch = 1
    c.optimizer.momentum_saturate_epoch = 250
    c.optimizer.schedule = "constant"
    c.optimizer.ramp_offset = 3.0
    c.optimizer.ramp_epochs = 400.0
    c.optimizer.decay_factor = 1.000004
    c.optimizer.min_learning_rate = 1e-6

    c.train = config_dict.ConfigDict()
    c.train.epochs = 300
    c.train.steps_per_epoch = config_dict.placeholder(int)
    c.train.batch_size = 100
    c.train.init_examples = 500
    c.train.eval_every_epochs = 1
    c.train.jit_compile = False  # measured 0.20x the speed on the MNIST step (benchmarks/README.md)
    c.train.run_eagerly = False
    c.train.precision = "float32"  # mixed_bfloat16: 1.24x faster, but MNIST FM fails to train (README)
    c.train.num_samples = 100
    c.train.log_every_steps = 100
    # Steps per call of the compiled step: fewer calls, the same weights
    # (tests/training/test_steps_per_execution.py); its speed in benchmarks/README.md.
    c.train.steps_per_execution = 1
    c.train.verbose = 2
    c.train.intra_op_threads = 0  # 0 = TensorFlow's default (all cores)
    c.train.inter_op_threads = 0  # 0 = TensorFlow's default

    c.checkpoint = config_dict.ConfigDict()
    c.checkpoint.every_steps = 200
    c.checkpoint.max_to_keep = 3

    c.distribute = config_dict.ConfigDict()
    c.distribute.strategy = "auto"
    c.distribute.logical_cpus = 0

    c.evaluation = config_dict.ConfigDict()
    # Score the generator after every N epochs (0 = never: no scorer is even built).
    c.evaluation.score_every_epochs = 0
    c.evaluation.score_num_samples = 5000  # generated per scoring; FID warns below 2,048
    c.evaluation.score_splits = 10  # splits of the classifier / Inception score
    c.evaluation.scorer = "classifier"  # "classifier" (MNIST-like data) or "inception"
    c.evaluation.classifier_path = ""  # .keras of `improved-gan classifier train`
    c.evaluation.inception_graph = ""  # 2015 classify_image_graph_def.pb (comparable)
    c.evaluation.inception_weights = ""  # Keras InceptionV3 .h5 (not comparable)
    # TTUR .npz of the FID reference (`improved-gan stats`); "" = the run's test images.
    c.evaluation.reference_statistics = ""
    c.lock()
    return c


#: Keys that may change when a run resumes, each with why that is safe (see the module
#: docstring). Every key not listed defines the run: a resume that changes it is refused.
RESUMABLE_KEYS = {
    "train.epochs": "the length of the schedule; no schedule reads it",
    "train.verbose": "Keras' progress output only",
    "train.log_every_steps": "how often step scalars go to TensorBoard",
    "train.eval_every_epochs": "how often the test error is measured (inference mode)",
    "checkpoint.every_steps": "when checkpoints are saved; saving only reads variables",
    "checkpoint.max_to_keep": "how many checkpoints are kept",
    "evaluation.score_every_epochs": "how often scores are taken (stateless latents)",
}

#: Keys that may change on a resume only when `deterministic` is False: with op
#: determinism, TensorFlow gives the same numbers only with the same thread counts, and
#: a loop of several steps per call is a graph it optimizes on its own.
RESUMABLE_UNLESS_DETERMINISTIC_KEYS = (
    "train.intra_op_threads", "train.inter_op_threads", "train.steps_per_execution")

#: Keys whose value is a file or directory path ("" = none): stored resolved.
PATH_KEYS = (
    "data.dir",
    "data.tfds_manual_dir",
    "evaluation.classifier_path",
    "evaluation.inception_graph",
    "evaluation.inception_weights",
    "evaluation.reference_statistics",
)


class _Unset:
    """The value of a key one of two configs does not have (a `model.arch.*` key)."""

    def __repr__(self):
        return "(not set)"


#: See `_Unset`.
UNSET = _Unset()


def resolve_path(value: str) -> str:
    """`value` as an absolute local path ("~" expanded); "" and URLs (`gs://...`) as given.

    Symbolic links are kept (`os.path.abspath`, not `realpath`): the path a user gave
    is the one stored.
    """
    if not value or "://" in value:
        return value
    return os.path.abspath(os.path.expanduser(value))


def resolve_paths(config):
    """A copy of `config` whose `PATH_KEYS` are absolute paths (see `resolve_path`).

    The copy is locked like `config`; `config` itself is not changed.
    """
    resolved = config.copy_and_resolve_references()
    for key in PATH_KEYS:
        *parents, leaf = key.split(".")
        node = resolved
        for part in parents:
            node = node[part]
        node[leaf] = resolve_path(node[leaf])
    return resolved


def is_resumable_key(key: str, config) -> bool:
    """Whether `key` may differ between a run directory's config and `config` on a resume."""
    if key in RESUMABLE_KEYS:
        return True
    return key in RESUMABLE_UNLESS_DETERMINISTIC_KEYS and not config.deterministic


def run_defining_differences(old, new) -> list[tuple[str, object, object]]:
    """`(key, old value, new value)` of every run-defining key that differs, sorted
    (`UNSET` for a key one of them does not have).

    Paths are compared resolved (`resolve_path`, a stored relative path against the
    current directory), `train.steps_per_epoch` None and 0 are the same (one pass).
    A key is run-defining unless `is_resumable_key(key, old)` or `(key, new)` says it
    may change (the thread counts: only if neither config is deterministic).

    Args:
        old: the run directory's config (`rundir.config_from_dict` of config.json).
        new: the config of the start.
    """
    before, after = flatten(old), flatten(new)

    def normal(key, value):
        if key in PATH_KEYS and isinstance(value, str):
            return resolve_path(value)
        if key == "train.steps_per_epoch" and not value:
            return 0
        return value

    missing = UNSET
    differences = []
    for key in sorted(set(before) | set(after)):
        if is_resumable_key(key, old) and is_resumable_key(key, new):
            continue
        a, b = before.get(key, missing), after.get(key, missing)
        if normal(key, a) != normal(key, b):
            differences.append((key, a, b))
    return differences


def set_arch_kwargs(config, **kwargs):
    """Sets builder keyword arguments `config.model.arch.<name>` (new keys allowed there).

    `model.arch` is the one free-form part of a config: its keys are passed to the
    architecture's generator / discriminator builders (each to the builder whose
    signature has it), e.g. `gf_dim=8` for `imagenet128`.
    """
    with config.unlocked():
        for key, value in kwargs.items():
            config.model.arch[key] = value
    return config


def _choice(config, key, choices):
    value = _get(config, key)
    if value not in choices:
        raise ConfigError(f"config.{key}={value!r} is not one of {list(choices)}.")


def _at_least(config, key, minimum):
    value = _get(config, key)
    if value is not None and value < minimum:
        raise ConfigError(f"config.{key}={value!r} must be >= {minimum}.")


def _get(config, key):
    node = config
    for part in key.split("."):
        node = node[part]
    return node


def flatten(config, prefix=""):
    """`{"a.b": value}` for every leaf of a ConfigDict (sub-dicts flattened)."""
    out = {}
    for key, value in config.items():
        if isinstance(value, config_dict.ConfigDict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def validate_config(config):
    """Checks that `config` has every base key with the base's type, and sane values.

    Raises:
        ConfigError: naming the first key that is missing, unknown, of the wrong type
            or out of range.
    """
    base = flatten(base_config())
    given = flatten(config)
    for key in given:
        if key not in base and not key.startswith("model.arch."):
            raise ConfigError(f"Unknown config key {key!r}.")
    for key, default in base.items():
        if key not in given:
            raise ConfigError(f"Config key {key!r} is missing.")
        value = given[key]
        expected = type(default) if default is not None else int
        if value is None:
            if key != "train.steps_per_epoch":
                raise ConfigError(f"config.{key} is None; expected {expected.__name__}.")
            continue
        ok = isinstance(value, expected) or (expected is float and isinstance(value, int))
        if isinstance(value, bool) and expected is not bool:
            ok = False
        if not ok:
            raise ConfigError(
                f"config.{key}={value!r} has type {type(value).__name__}; "
                f"expected {expected.__name__}."
            )
    for key, value in given.items():
        # NaN passes every `<` / `>=` range check below, and inf is no learning rate,
        # decay or weight either: refuse every non-finite float, model.arch.* included.
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(
                f"config.{key}={value!r} is not a finite number; expected a finite float."
            )
    _choice(config, "data.name", registry.DATASET_NAMES)
    _choice(config, "data.preprocess", ("",) + registry.PREPROCESSES)
    _choice(config, "model.architecture", registry.ARCHITECTURES)
    _choice(config, "model.latent_distribution", registry.LATENT_DISTRIBUTIONS)
    _choice(config, "model.generator_loss", registry.GENERATOR_LOSSES)
    _choice(config, "model.feature_matching_norm", registry.FEATURE_MATCHING_NORMS)
    _choice(config, "model.update_order", registry.UPDATE_ORDERS)
    _choice(config, "model.supervised_loss", registry.SUPERVISED_LOSSES)
    _choice(config, "optimizer.name", registry.OPTIMIZERS)
    _choice(config, "optimizer.schedule", registry.SCHEDULES)
    _choice(config, "train.precision", registry.PRECISIONS)
    _choice(config, "distribute.strategy", registry.STRATEGIES)
    for key, minimum in (
        ("data.num_labeled", 0), ("data.train_examples", 0), ("data.test_examples", 0),
        ("model.discriminator_steps", 1), ("model.generator_steps", 1),
        ("model.polyak_rate", 0.0), ("model.historical_averaging_weight", 0.0),
        ("model.label_smoothing", 0.0), ("model.unsupervised_weight", 0.0),
        ("optimizer.learning_rate", 0.0), ("optimizer.generator_learning_rate", 0.0),
        ("optimizer.momentum", 0.0), ("optimizer.ramp_epochs", 1e-9),
        ("optimizer.decay_factor", 1.0), ("optimizer.min_learning_rate", 0.0),
        ("train.epochs", 1), ("train.steps_per_epoch", 0), ("train.batch_size", 1),
        ("train.init_examples", 0), ("train.eval_every_epochs", 0),
        ("train.num_samples", 1), ("train.log_every_steps", 0), ("train.steps_per_execution", 1),
        ("checkpoint.every_steps", 0), ("checkpoint.max_to_keep", 1),
        ("distribute.logical_cpus", 0), ("train.intra_op_threads", 0),
        ("train.inter_op_threads", 0), ("evaluation.score_every_epochs", 0),
        ("evaluation.score_num_samples", 2), ("evaluation.score_splits", 1),
    ):
        _at_least(config, key, minimum)
    if config.model.label_smoothing >= 1.0:
        raise ConfigError(
            f"config.model.label_smoothing={config.model.label_smoothing} is the target of "
            "real examples: use a value in (0, 1), or 0 to disable it."
        )
    if not 0.0 < config.model.generator_target_probability <= 1.0:
        raise ConfigError(
            "config.model.generator_target_probability="
            f"{config.model.generator_target_probability} is the target D(G(z)): use a value in (0, 1]."
        )
    if config.model.update_order == "simultaneous" and (
        config.model.discriminator_steps != 1 or config.model.generator_steps != 1
    ):
        raise ConfigError(
            "config.model.update_order='simultaneous' makes one update of each player per step; "
            f"config.model.discriminator_steps={config.model.discriminator_steps} and "
            f"config.model.generator_steps={config.model.generator_steps} must be 1."
        )
    if config.model.polyak_rate > 1.0:
        raise ConfigError(f"config.model.polyak_rate={config.model.polyak_rate} must be <= 1.")
    if config.train.batch_size % config.model.discriminator_steps:
        raise ConfigError(
            f"config.train.batch_size={config.train.batch_size} must be a multiple of "
            f"config.model.discriminator_steps={config.model.discriminator_steps} "
            "(each of the k D updates takes its own part of the batch)."
        )
    _validate_steps_per_execution(config)
    _validate_evaluation(config)
    if config.data.name == "imagenet2012" and config.model.architecture != "imagenet128":
        raise ConfigError("config.data.name='imagenet2012' needs config.model.architecture='imagenet128'.")
    return config


def _validate_steps_per_execution(config):
    """`train.steps_per_execution` = k runs k steps in one call of the compiled step, and
    the callbacks run between calls: what they do at a step must fall on a call's end."""
    k = config.train.steps_per_execution
    if k == 1:
        return
    for section, key, what in (
        ("train", "steps_per_epoch", "an epoch must end"),
        ("checkpoint", "every_steps", "a checkpoint is saved"),
        ("train", "log_every_steps", "step scalars are logged"),
    ):
        value = config[section][key]
        if value and value % k:
            raise ConfigError(
                f"config.{section}.{key}={value} is not a multiple of "
                f"config.train.steps_per_execution={k}: {what} between two calls of the "
                f"compiled step, each of which runs {k} steps."
            )
    if config.optimizer.schedule == "exponential_per_step":
        raise ConfigError(
            "config.optimizer.schedule='exponential_per_step' sets the learning rate before "
            f"every step, but config.train.steps_per_execution={k} runs {k} steps per call; "
            "use config.train.steps_per_execution=1 with it."
        )


#: Values of `config.evaluation.scorer`.
SCORERS = ("classifier", "inception")


def _validate_evaluation(config):
    """The `evaluation.*` keys: a scorer that can run, checked only when scoring is on."""
    _choice(config, "evaluation.scorer", SCORERS)
    e = config.evaluation
    if not e.score_every_epochs:
        return
    if e.score_num_samples < 2 * e.score_splits:
        raise ConfigError(
            f"config.evaluation.score_num_samples={e.score_num_samples} is too few for "
            f"config.evaluation.score_splits={e.score_splits}: each split needs 2 samples."
        )
    if e.scorer == "classifier":
        if not e.classifier_path:
            raise ConfigError(
                "config.evaluation.scorer='classifier' needs config.evaluation.classifier_path "
                "(a .keras file of `improved-gan classifier train`)."
            )
        if config.data.name not in ("mnist", "fashion_mnist"):
            raise ConfigError(
                f"config.evaluation.scorer='classifier' is for MNIST-like data; "
                f"config.data.name={config.data.name!r}: use scorer='inception'."
            )
    else:
        if bool(e.inception_graph) == bool(e.inception_weights):
            raise ConfigError(
                "config.evaluation.scorer='inception' needs exactly one of "
                "config.evaluation.inception_graph and config.evaluation.inception_weights; "
                f"got {e.inception_graph!r} and {e.inception_weights!r}."
            )
    if e.reference_statistics and not e.reference_statistics.endswith(".npz"):
        raise ConfigError(
            f"config.evaluation.reference_statistics={e.reference_statistics!r} must be a "
            "TTUR .npz statistics file."
        )
