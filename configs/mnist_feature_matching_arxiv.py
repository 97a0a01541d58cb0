"""MNIST, semi-supervised, feature matching: the authors' first recipe (bb3d27b).

The authors' first commit of openai/improved-gan (bb3d27b, `train_mnist_feature_matching.py`
at the repository root, two days before the arXiv paper) trains the same model as their
final release (0fa06b5, `mnist_svhn_cifar10/train_mnist_feature_matching.py`, which
`mnist_feature_matching` follows) with a different schedule and test. Which of the two
produced the paper's 93 +- 6.5 test errors (Table 1, 100 labels) is what the records in
`results/mnist_100_labels/` measure. Differences, read line by line in both scripts:

- learning rate: `start_lr = 0.001` and `lr = start_lr * min(3 - epoch / 100, 1)` for
  the 0-based epoch: constant to epoch 200, then linearly to 0 (final: 0.003 constant);
- epochs: `range(301)`, so 301 epochs, the last one at learning rate 0 (final: 300);
- test error: the current D (`test_batch` has no `givens`; final: the Polyak average
  of D, rate 1e-4, which the first commit does not have at all);
- the rest is the same: networks, noise, losses (`loss_lab + unlabeled_weight * loss_unl`,
  `loss_unl` with the 0.5 factors), L2 feature matching on `layers[-3]`, `nn.adam_updates`
  with `mom1=0.5`, data-dependent init on `trainx[:500]`, 10 labels per class picked by a
  `RandomState(seed_data)` permutation, batches of 100 labeled + 100 unlabeled, and
  `mnist.npz` with the validation set merged into the 60,000 training images. The two
  scripts name their seeding generators differently (`rng_data` is created before `rng`
  in the first), which changes nothing here (our streams do not replay Theano's). The
  helper module each script imports (`nn.py` at the root in bb3d27b,
  `mnist_svhn_cifar10/nn.py` in 0fa06b5) computes the same `adam_updates`,
  `DenseLayer`, `GaussianNoiseLayer`, `batch_norm`, `l2normalize` and `log_sum_exp` in
  both (compared function by function; the differences are in layers this script does
  not use).

We keep the Polyak average (it does not touch training) so that its error is recorded
beside the current D's (`test_errors_polyak` in `metrics.csv`); `test_errors` is the
current D's, as the script reports.

    improved-gan train --config configs/mnist_feature_matching_arxiv.py \\
        --workdir runs/mnist_fm_arxiv --config.data.dir=../shared/data/mnist
"""

import pathlib

from improved_gan_tf.config import load_config_file


def get_config():
    config = load_config_file(pathlib.Path(__file__).with_name("mnist_feature_matching.py"))
    config.experiment = "mnist_feature_matching_arxiv"
    config.optimizer.learning_rate = 0.001  # bb3d27b: start_lr = 0.001
    config.optimizer.schedule = "linear_ramp_down"  # bb3d27b: start_lr * min(3 - epoch/100, 1)
    config.optimizer.ramp_offset = 3.0  # bb3d27b: the 3 in min(3 - epoch/100, 1)
    config.optimizer.ramp_epochs = 100.0  # bb3d27b: the 100 in min(3 - epoch/100, 1)
    config.train.epochs = 301  # bb3d27b: for epoch in range(301)
    config.model.test_with_polyak_average = False  # bb3d27b: test_batch uses the current D
    return config
