"""CIFAR-10 with minibatch discrimination (Salimans et al. 2016, sections 3.2 and 5.2).

The sample-quality model (Figure 4 / Inception score 8.09 with all techniques).
Matches the authors' `mnist_svhn_cifar10/train_cifar_minibatch_discrimination.py`
(openai/improved-gan): semi-supervised K+1 D with minibatch discrimination, the
saturating minimax generator loss and 3 generator steps per discriminator step.
GPU-scale: on a 2-core CPU run it for a bounded number of steps only.

Comments `:N` cite line N of
`mnist_svhn_cifar10/train_cifar_minibatch_discrimination.py`
(openai/improved-gan, commit 0fa06b5).
"""

from improved_gan_tf.config import base_config


def get_config():
    config = base_config()
    config.experiment = "cifar10_minibatch_discrimination"
    config.seed = 1  # :19 --seed default 1

    config.data.name = "cifar10"
    config.data.num_labeled = 4000  # :24 --count 400 per class
    # The script has no --seed_data: the labels are picked by rng.permutation
    # (:112), rng = RandomState(--seed 1) (:29) after two
    # draws; ours picks them with RandomState(data.seed), another draw of the same kind.
    config.data.seed = 1
    config.data.preprocess = "symmetric"  # cifar10_data.load: (x - 127.5) / 128

    config.model.architecture = "cifar10"
    config.model.minibatch_discrimination = True  # :53 GaussianNoise 0.2, :66 MinibatchLayer(100)
    config.model.latent_distribution = "uniform"  # :42 theano_rng.uniform((B, 100))
    config.model.generator_loss = "minimax"  # :106 loss_gen = -T.mean(T.nnet.softplus(l_gen))
    config.model.unsupervised_weight = 0.5  # :85 loss_unl = 0.5 * (...)
    config.model.generator_steps = 3  # :153 for rep in range(3): train_batch_gen(lr)
    config.model.polyak_rate = 1e-4  # :98 disc_avg_updates a + 0.0001 (p - a)

    config.optimizer.name = "authors_adam"  # :96, :108 nn.adam_updates, g / sqrt(v + 1e-8)
    config.optimizer.learning_rate = 3e-4  # :22 --learning_rate 0.0003
    config.optimizer.beta_1 = 0.5  # :96 mom1=0.5
    config.optimizer.schedule = "linear_ramp_down"  # :126 lr * min(3 - epoch/400, 1)
    config.optimizer.ramp_offset = 3.0
    config.optimizer.ramp_epochs = 400.0

    config.train.epochs = 1200  # :124 for epoch in range(1200)
    config.train.steps_per_epoch = None  # one pass over the 50,000 training images
    config.train.batch_size = 100  # :20 --batch_size 100
    # :140 init_param(trainx[:500]) runs on trainx, by then the permuted labeled set
    # (:129-136): 500 labeled images. Ours initializes on 500 images of the permuted
    # training set (labels unused; training.load_training_data).
    config.train.init_examples = 500
    return config
