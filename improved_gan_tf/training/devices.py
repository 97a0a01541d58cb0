"""Devices, thread pools, determinism and distribution strategies of a training run.

`configure_devices(config)` must run before TensorFlow executes anything (the CLI calls
it first); `make_strategy(config)` then picks the strategy `distribute.strategy` names,
and `task_info(strategy)` says which worker of a multi-worker run this process is.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from improved_gan_tf.config import ConfigError


def configure_devices(config) -> None:
    """Logical CPUs, thread pools, op determinism and global seeds; call before any TF op runs.

    `distribute.logical_cpus=n` splits the first physical CPU into n logical devices
    (for exercising MirroredStrategy on a CPU machine). If TensorFlow is already
    initialized with n logical CPUs (e.g. by a test's conftest), that is accepted.
    """
    wanted = config.distribute.logical_cpus
    if wanted:
        cpus = tf.config.list_physical_devices("CPU")
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration()] * wanted
            )
        except RuntimeError as error:
            have = len(tf.config.list_logical_devices("CPU"))
            if have != wanted:
                raise RuntimeError(
                    f"config.distribute.logical_cpus={wanted}, but TensorFlow is already "
                    f"initialized with {have} logical CPU device(s); logical devices must be "
                    "configured before TensorFlow runs anything (use a fresh process)."
                ) from error
    if config.train.intra_op_threads:
        tf.config.threading.set_intra_op_parallelism_threads(config.train.intra_op_threads)
    if config.train.inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(config.train.inter_op_threads)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)


_MIRRORED_STRATEGIES: dict[tuple[str, ...], tf.distribute.MirroredStrategy] = {}


def mirrored_strategy(device_names) -> tf.distribute.MirroredStrategy:
    """One `MirroredStrategy` per device list and process, reused on later calls.

    Several MirroredStrategy objects in one process hand out clashing collective
    instance keys ("Shape mismatch in the collective instance ..."), e.g. when a
    notebook or a test session trains twice; reusing the first one avoids that.
    """
    key = tuple(device_names)
    if key not in _MIRRORED_STRATEGIES:
        _MIRRORED_STRATEGIES[key] = tf.distribute.MirroredStrategy(list(key))
    return _MIRRORED_STRATEGIES[key]


def make_strategy(config) -> tf.distribute.Strategy:
    """The strategy `distribute.strategy` asks for.

    - `auto`: `MirroredStrategy` over all visible GPUs, else over all logical CPUs,
      when there is more than one device; the default strategy otherwise;
    - `mirrored`: `MirroredStrategy` over the same devices, even if there is one;
    - `multi_worker`: `MultiWorkerMirroredStrategy` from the `TF_CONFIG` environment
      variable (one process per worker);
    - `none`: the default (single-device) strategy.
    """
    name = config.distribute.strategy
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ConfigError(
                "config.distribute.strategy='multi_worker' reads the cluster from the "
                "TF_CONFIG environment variable, which is not set."
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    if name == "none" or (name == "auto" and len(devices) <= 1):
        return tf.distribute.get_strategy()
    return mirrored_strategy(device.name for device in devices)


def task_info(strategy) -> tuple[str, int, bool]:
    """`(task_type, task_id, is_chief)` of this process (("", 0, True) on one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "", 0, True
    task_type, task_id = resolver.task_type, resolver.task_id or 0
    cluster = resolver.cluster_spec().as_dict()
    if "chief" in cluster:
        return task_type, task_id, task_type == "chief"
    return task_type, task_id, task_type in (None, "worker") and task_id == 0
