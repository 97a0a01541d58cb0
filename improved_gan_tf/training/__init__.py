"""Training end to end: `train(config, workdir)` and the tools around a run.

    from improved_gan_tf import training

    training.configure_devices(config)       # first, in a fresh process
    report = training.train(config, "runs/quickstart")
    config, model = training.restore_models("runs/quickstart")

The package, one concept per module:

- `devices`: `configure_devices`, `make_strategy`, `mirrored_strategy`, `task_info`;
- `models`: `build_networks`, `build_model`;
- `checkpoints`: `RunState`, `make_checkpoint`, `latest_checkpoint`, `restore_run`,
  `restore_models`, `weights_fingerprint`, `NonFiniteLossError`; recovery:
  `list_checkpoints`, `verify_checkpoint`, `choose_checkpoint`;
- `callbacks`: the Keras callbacks of a run (schedule, non-finite guard, step timer,
  periodic checkpoint, epoch recorder, sample grid);
- `trainer`: `Trainer` and `train`.

The data of a run (`TrainingData`, `load_training_data`, `steps_per_epoch`, the
streams) is `improved_gan_tf.data.experiment`. The run directory's layout is `improved_gan_tf.rundir.RunDir`'s docstring; the report is
written by `improved_gan_tf.report`. The names below are re-exported for other tools.
"""

from improved_gan_tf.optimizers import AuthorsAdam
from improved_gan_tf.optimizers import ScheduledMomentumSGD
from improved_gan_tf.optimizers import learning_rate_at
from improved_gan_tf.optimizers import make_optimizer
from improved_gan_tf.optimizers import momentum_at
from improved_gan_tf.report import plot_curves
from improved_gan_tf.report import render_report_md
from improved_gan_tf.rundir import CHECKPOINT_PREFIX
from improved_gan_tf.rundir import CHECKPOINT_SUBDIR
from improved_gan_tf.rundir import CONFIG_FILENAME
from improved_gan_tf.rundir import CURVES_PNG
from improved_gan_tf.rundir import METRICS_CSV
from improved_gan_tf.rundir import METRICS_JSON
from improved_gan_tf.rundir import REPORT_JSON
from improved_gan_tf.rundir import REPORT_MD
from improved_gan_tf.rundir import SAMPLES_SUBDIR
from improved_gan_tf.rundir import TENSORBOARD_SUBDIR
from improved_gan_tf.rundir import RunDir
from improved_gan_tf.rundir import config_from_dict
from improved_gan_tf.rundir import config_to_dict
from improved_gan_tf.sampling import generate_samples
from improved_gan_tf.sampling import to_uint8_images
from improved_gan_tf.training.checkpoints import CheckpointChoice
from improved_gan_tf.training.checkpoints import CheckpointNotFoundError
from improved_gan_tf.training.checkpoints import NoCheckpointError
from improved_gan_tf.training.checkpoints import NoReadableCheckpointError
from improved_gan_tf.training.checkpoints import NonFiniteLossError
from improved_gan_tf.training.checkpoints import RestoredRun
from improved_gan_tf.training.checkpoints import RunState
from improved_gan_tf.training.checkpoints import UnreadableCheckpointError
from improved_gan_tf.training.checkpoints import choose_checkpoint
from improved_gan_tf.training.checkpoints import latest_checkpoint
from improved_gan_tf.training.checkpoints import list_checkpoints
from improved_gan_tf.training.checkpoints import make_checkpoint
from improved_gan_tf.training.checkpoints import restore_models
from improved_gan_tf.training.checkpoints import restore_run
from improved_gan_tf.training.checkpoints import verify_checkpoint
from improved_gan_tf.training.checkpoints import weights_fingerprint
from improved_gan_tf.training.devices import configure_devices
from improved_gan_tf.training.devices import make_strategy
from improved_gan_tf.training.devices import mirrored_strategy
from improved_gan_tf.training.devices import task_info
from improved_gan_tf.data.experiment import TrainingData
from improved_gan_tf.data.experiment import evaluation_stream
from improved_gan_tf.data.experiment import load_training_data
from improved_gan_tf.data.experiment import steps_per_epoch
from improved_gan_tf.data.experiment import training_stream
from improved_gan_tf.training.models import build_model
from improved_gan_tf.training.models import build_networks
from improved_gan_tf.training.trainer import Trainer
from improved_gan_tf.training.trainer import train


def load_config(workdir):
    """The config a run directory was trained with (`RunDir(workdir).read_config()`)."""
    return RunDir(workdir).read_config()


__all__ = [
    "AuthorsAdam", "CHECKPOINT_PREFIX", "CheckpointChoice", "CheckpointNotFoundError", "CHECKPOINT_SUBDIR", "CONFIG_FILENAME", "CURVES_PNG",
    "METRICS_CSV", "METRICS_JSON", "NoCheckpointError", "NoReadableCheckpointError", "NonFiniteLossError", "REPORT_JSON",
    "REPORT_MD", "RestoredRun", "RunDir", "RunState", "SAMPLES_SUBDIR", "ScheduledMomentumSGD", "TENSORBOARD_SUBDIR",
    "Trainer", "TrainingData", "UnreadableCheckpointError", "choose_checkpoint", "build_model", "build_networks", "config_from_dict",
    "config_to_dict", "configure_devices", "evaluation_stream", "generate_samples",
    "latest_checkpoint", "learning_rate_at", "list_checkpoints", "load_config", "load_training_data",
    "make_checkpoint", "make_optimizer", "make_strategy", "mirrored_strategy", "momentum_at", "plot_curves",
    "render_report_md", "restore_models", "restore_run", "steps_per_epoch", "task_info",
    "to_uint8_images", "train", "training_stream", "verify_checkpoint", "weights_fingerprint",
]
