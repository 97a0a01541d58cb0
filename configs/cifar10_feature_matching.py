"""CIFAR-10, semi-supervised, feature matching (Salimans et al. 2016, section 5.2, Table 2).

Matches the authors' `mnist_svhn_cifar10/train_cifar_feature_matching.py`
(openai/improved-gan). Paper: 18.63 +- 2.32 % test error with 4000 labels (1000: 21.83,
2000: 19.61, 8000: 17.72). GPU-scale: on a 2-core CPU run it for a bounded number of
steps only (e.g. `--config.train.epochs=1 --config.train.steps_per_epoch=50`).

Comments `:N` cite line N of
`mnist_svhn_cifar10/train_cifar_feature_matching.py`
(openai/improved-gan, commit 0fa06b5).
"""

from improved_gan_tf.config import base_config


def get_config():
    config = base_config()
    config.experiment = "cifar10_feature_matching"
    config.seed = 1  # :18 --seed default 1

    config.data.name = "cifar10"
    config.data.num_labeled = 4000  # :20 --count 400 per class; Table 2: 1000/2000/8000 too
    config.data.seed = 1  # :19 --seed_data 1
    config.data.preprocess = "symmetric"  # cifar10_data.load: (x - 127.5) / 128

    config.model.architecture = "cifar10"  # :45-50 DCGAN G; :54-68 weight-normed conv D 96/192
    config.model.minibatch_discrimination = False  # :55 dropout 0.2 on the input, no MD
    config.model.latent_distribution = "uniform"  # :44 theano_rng.uniform((B, 100))
    config.model.generator_loss = "feature_matching"  # section 3.1
    config.model.feature_matching_norm = "l1"  # :112 loss_gen = T.mean(abs(m1 - m2))
    config.model.unsupervised_weight = 0.5  # :87 loss_unl = 0.5 * (...), :22 unlabeled_weight 1
    config.model.polyak_rate = 1e-4  # :100 disc_avg_updates a + 0.0001 (p - a)

    config.optimizer.name = "authors_adam"  # :98, :114 nn.adam_updates, g / sqrt(v + 1e-8)
    config.optimizer.learning_rate = 3e-4  # :23 --learning_rate 0.0003
    config.optimizer.beta_1 = 0.5  # :98 mom1=0.5
    config.optimizer.schedule = "linear_ramp_down"  # :132 lr * min(3 - epoch/400, 1)
    config.optimizer.ramp_offset = 3.0
    config.optimizer.ramp_epochs = 400.0

    config.train.epochs = 1200  # :130 for epoch in range(1200)
    config.train.steps_per_epoch = None  # :39 nr_batches_train = 50000 / 100 = 500
    config.train.batch_size = 100  # :21 --batch_size 100
    # :148 init_param(trainx[:500]) runs on trainx, by then the permuted labeled set
    # (:135-142): 500 labeled images. Ours initializes on 500 images of the permuted
    # training set (labels unused; training.load_training_data).
    config.train.init_examples = 500
    return config
