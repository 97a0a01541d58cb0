"""Quickstart: MNIST semi-supervised with 100 labels in a few minutes on 2 CPU cores.

The `mnist_feature_matching` model and optimizer, shortened: 8 epochs of 600 steps,
and a faster Polyak average (rate 1e-3 instead of the authors' 1e-4, whose average over
so few steps would still carry the untrained start). Deterministic, so a fresh clone
gets the README's figure (1453 / 10,000 test errors on the project's 2-core CPUs with
TensorFlow's default threads; the error is still falling at epoch 8).

    improved-gan train --config configs/quickstart.py --workdir runs/quickstart \
        --config.data.dir=../shared/data/mnist
"""

import pathlib

from improved_gan_tf.config import load_config_file


def get_config():
    config = load_config_file(pathlib.Path(__file__).with_name("mnist_feature_matching.py"))
    config.experiment = "quickstart"
    config.deterministic = True  # ours: a fresh clone gets the README's figure (see the docstring)
    config.train.epochs = 8  # ours: fits the 5-minute budget (README: measured time)
    config.train.steps_per_epoch = 600  # ours: one pass over the unlabeled data
    config.model.polyak_rate = 1e-3  # ours: see the docstring
    config.checkpoint.every_steps = 600  # ours: once per epoch
    return config
