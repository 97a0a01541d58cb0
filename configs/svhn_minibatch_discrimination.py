"""SVHN with minibatch discrimination (Salimans et al. 2016, sections 3.2 and 5.3).

Matches the authors' `mnist_svhn_cifar10/train_svhn_minibatch_discrimination.py`
(openai/improved-gan): D widths 96/192, Gaussian noise 0.2 on the input, minibatch
discrimination (100 kernels), saturating minimax generator loss, 3 generator steps per
discriminator step. GPU-scale.

Comments `:N` cite line N of
`mnist_svhn_cifar10/train_svhn_minibatch_discrimination.py`
(openai/improved-gan, commit 0fa06b5).
"""

from improved_gan_tf.config import base_config


def get_config():
    config = base_config()
    config.experiment = "svhn_minibatch_discrimination"
    config.seed = 1  # :19 --seed default 1

    config.data.name = "svhn_cropped"
    config.data.num_labeled = 1000  # :21 --count 100 per class
    config.data.seed = 1  # :20 --seed_data 1
    config.data.preprocess = "signed_unit"  # script rescale: (-127.5 + mat) / 127.5

    config.model.architecture = "svhn"
    config.model.minibatch_discrimination = True  # :60 GaussianNoise 0.2, :73 MinibatchLayer(100)
    config.model.latent_distribution = "uniform"
    config.model.generator_loss = "minimax"  # :113 loss_gen = -T.mean(T.nnet.softplus(l_gen))
    config.model.unsupervised_weight = 0.5  # :92 loss_unl = 0.5 * (...)
    config.model.generator_steps = 3  # :162 for rep in range(3): train_batch_gen(lr)
    config.model.polyak_rate = 1e-4  # :105 disc_avg_updates

    config.optimizer.name = "authors_adam"  # :103, :115 nn.adam_updates, g / sqrt(v + 1e-8)
    config.optimizer.learning_rate = 3e-4  # :24 --learning_rate 0.0003
    config.optimizer.beta_1 = 0.5  # :103 mom1=0.5
    config.optimizer.schedule = "linear_ramp_down"  # :133 lr * min(3 - epoch/300, 1)
    config.optimizer.ramp_offset = 3.0
    config.optimizer.ramp_epochs = 300.0

    config.train.epochs = 900  # :131 for epoch in range(900)
    config.train.steps_per_epoch = None
    config.train.batch_size = 100
    # :147 init_param(trainx[:500]) runs on trainx, by then the permuted labeled set
    # (:136-143): 500 labeled images. Ours initializes on 500 images of the permuted
    # training set (labels unused; training.load_training_data).
    config.train.init_examples = 500
    return config
