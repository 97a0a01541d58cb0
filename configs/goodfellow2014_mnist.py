"""The original GAN on MNIST (Goodfellow et al. 2014), unsupervised.

Matches `mnist.yaml` of goodfeli/adversarial: G 100 -> ReLU 1200 -> ReLU 1200 ->
sigmoid 784; D maxout 240x5 -> maxout 240x5 -> sigmoid, dropout 0.2 on the input and 0.5
on hidden layers; one D step per G step (Algorithm 1 with k = 1); SGD with momentum.
"""

from improved_gan_tf.config import base_config


def get_config():
    config = base_config()
    config.experiment = "goodfellow2014_mnist"
    config.seed = 1

    config.data.name = "mnist"
    config.data.num_labeled = 0  # unsupervised GAN
    config.data.train_examples = 50000  # mnist.yaml: which_set 'train', start 0, stop 50000
    config.data.preprocess = "unit_flat"  # pylearn2 MNIST: pixels in [0, 1], 784 inputs

    config.model.architecture = "goodfellow2014"
    config.model.latent_distribution = "normal"  # adversarial.Generator.get_noise: "gaussian" default
    config.model.generator_loss = "non_saturating"  # paper section 3: maximize log D(G(z))
    config.model.discriminator_steps = 1  # Algorithm 1: k = 1 (the paper's experiments)
    config.model.generator_steps = 1
    config.model.polyak_rate = 0.0  # no classifier to evaluate
    config.model.unsupervised_weight = 1.0

    config.optimizer.name = "sgd"  # mnist.yaml: pylearn2 SGD with Momentum learning rule
    config.optimizer.learning_rate = 0.1  # mnist.yaml: learning_rate .1
    config.optimizer.momentum = 0.5  # mnist.yaml: init_momentum .5
    config.optimizer.final_momentum = 0.7  # mnist.yaml: MomentumAdjustor final_momentum .7
    config.optimizer.momentum_start_epoch = 1  # mnist.yaml: start 1
    config.optimizer.momentum_saturate_epoch = 250  # mnist.yaml: saturate 250
    config.optimizer.schedule = "exponential_per_step"  # mnist.yaml: ExponentialDecay
    config.optimizer.decay_factor = 1.000004  # mnist.yaml: decay_factor 1.000004
    config.optimizer.min_learning_rate = 1e-6  # mnist.yaml: min_lr .000001

    config.train.epochs = 250  # ours: mnist.yaml has no termination criterion; momentum saturates at 250
    config.train.steps_per_epoch = 500  # 50,000 / 100
    config.train.batch_size = 100  # mnist.yaml: batch_size 100
    config.train.init_examples = 0  # no data-dependent init in this model
    return config
