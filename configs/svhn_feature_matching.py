"""SVHN, semi-supervised, feature matching (Salimans et al. 2016, section 5.3, Table 3).

Matches the authors' `mnist_svhn_cifar10/train_svhn_feature_matching.py`
(openai/improved-gan): 1000 labels from `train_32x32.mat` only (no `extra`).
Paper: 8.11 +- 1.3 % test error with 1000 labels (500: 18.44 +- 4.8). GPU-scale.

Comments `:N` cite line N of
`mnist_svhn_cifar10/train_svhn_feature_matching.py`
(openai/improved-gan, commit 0fa06b5).
"""

from improved_gan_tf.config import base_config


def get_config():
    config = base_config()
    config.experiment = "svhn_feature_matching"
    config.seed = 1  # :19 --seed default 1

    config.data.name = "svhn_cropped"  # :39 svhn_data.load(data_dir, 'train'), train only
    config.data.num_labeled = 1000  # :21 --count 100 per class
    config.data.seed = 1  # :20 --seed_data 1
    config.data.preprocess = "signed_unit"  # script rescale: (-127.5 + mat) / 127.5

    config.model.architecture = "svhn"  # :60-74 as CIFAR-10 with D widths 64/128
    config.model.minibatch_discrimination = False  # :61 dropout 0.2 on the input
    config.model.latent_distribution = "uniform"
    config.model.generator_loss = "feature_matching"
    config.model.feature_matching_norm = "l1"  # :118 loss_gen = T.mean(abs(m1 - m2))
    config.model.unsupervised_weight = 0.5  # :93 loss_unl = 0.5 * (...)
    config.model.polyak_rate = 1e-4  # :106 disc_avg_updates

    config.optimizer.name = "authors_adam"  # :104, :121 nn.adam_updates, g / sqrt(v + 1e-8)
    config.optimizer.learning_rate = 3e-4  # :24 --learning_rate 0.0003
    config.optimizer.beta_1 = 0.5  # :104 mom1=0.5
    config.optimizer.schedule = "linear_ramp_down"  # :139 lr * min(3 - epoch/300, 1)
    config.optimizer.ramp_offset = 3.0
    config.optimizer.ramp_epochs = 300.0

    config.train.epochs = 900  # :137 for epoch in range(900)
    config.train.steps_per_epoch = None  # one pass: 73257 // 100 = 732 steps
    config.train.batch_size = 100  # :22 --batch_size 100
    # :155 init_param(trainx[:500]) runs on trainx, by then the permuted labeled set
    # (:142-149): 500 labeled images. Ours initializes on 500 images of the permuted
    # training set (labels unused; training.load_training_data).
    config.train.init_examples = 500
    return config
