"""MNIST sample-quality model with minibatch discrimination (Salimans et al. 2016,
section 5.1, Figure 2).

The authors' final release has no script for it. This follows
`mnist_svhn_cifar10/train_mnist_minibatch.py` from an earlier commit of
openai/improved-gan (2b81a18): a convolutional G and a weight-normalized conv D with
minibatch discrimination ("MMDLayer", 100 kernels), 4000 labels (400 per class),
the saturating minimax generator loss, 3 generator steps per discriminator step,
Adam 3e-4 with lr * min(2.5 - epoch/200, 1), 500 epochs. That script tests the raw
(not Polyak-averaged) D, and feeds mnist.npz pixels in [0, 1] while G ends in tanh;
both are kept. Its G chained 4 -> 8 -> 16 -> 28 px; ours starts at 7x7 (see
`architectures.mnist_conv_generator`). As in that script, G's output layer is not
data-initialized (train_mnist_minibatch.py:75 initializes only D) and the minibatch
kernels' direction starts N(0, 0.1) (2b81a18 nn.py, `MMDLayer(theta=Normal(0.1))`;
`architectures.mnist_conv_discriminator`).

Comments `:N` cite line N of
`mnist_svhn_cifar10/train_mnist_minibatch.py` at commit 2b81a18.
"""

from improved_gan_tf.config import base_config


def get_config():
    config = base_config()
    config.experiment = "mnist_minibatch_discrimination"
    config.seed = 1  # :18 --seed default 1

    config.data.name = "mnist"
    config.data.num_labeled = 4000  # :117 txs.append(trainx[trainy == j][:400])
    # :111 labels picked by rng.permutation, rng = RandomState(--seed) (:26) after two draws;
    # ours picks them with RandomState(data.seed), another draw of the same kind.
    config.data.seed = 1
    config.data.preprocess = "unit"  # :31-33 mnist.npz pixels in [0, 1], (N, 1, 28, 28)

    config.model.architecture = "mnist_conv"
    config.model.minibatch_discrimination = True  # :68 nn.MMDLayer(num_kernels=100)
    config.model.latent_distribution = "uniform"  # :44 theano_rng.uniform((B, 100))
    config.model.generator_loss = "minimax"  # :105 loss_gen = -T.mean(T.nnet.softplus(l_gen))
    config.model.unsupervised_weight = 0.5  # :87 loss_unl = 0.5 * (...)
    config.model.generator_steps = 3  # :152 for rep in range(3): train_batch_gen(lr)
    config.model.polyak_rate = 0.0  # :101 test_batch uses the raw D weights (no givens)

    config.optimizer.name = "authors_adam"  # :98, :107 nn.adam_updates, g / sqrt(v + 1e-8)
    config.optimizer.learning_rate = 3e-4  # :21 --learning_rate 0.0003
    config.optimizer.beta_1 = 0.5  # :98 mom1=0.5
    config.optimizer.schedule = "linear_ramp_down"  # :125 lr * min(2.5 - epoch/200, 1)
    config.optimizer.ramp_offset = 2.5
    config.optimizer.ramp_epochs = 200.0

    config.train.epochs = 500  # :123 for epoch in range(500)
    config.train.steps_per_epoch = 600  # :36 nr_batches_train = 60000 / 100
    config.train.batch_size = 100
    # :139 init_param(trainx[:500]) runs on trainx, by then the permuted labeled set
    # (:128-135): 500 labeled images. Ours initializes on 500 images of the permuted
    # training set (labels unused; training.load_training_data).
    config.train.init_examples = 500
    return config
