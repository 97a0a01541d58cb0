"""MNIST, semi-supervised, feature matching (Salimans et al. 2016, section 5.1, Table 1).

Matches the authors' final release of `mnist_svhn_cifar10/train_mnist_feature_matching.py`
(openai/improved-gan, commit 0fa06b5; `:N` below is line N of it). Their first commit (bb3d27b) trains
the same model with another schedule and tests the current D:
`mnist_feature_matching_arxiv`. Paper: 93 +- 6.5 test errors out of 10,000 with 100 labels
(20: 1677 +- 452, 50: 221 +- 136, 200: 90 +- 4.2) after 300 epochs.

    improved-gan train --config configs/mnist_feature_matching.py --workdir runs/mnist_fm \
        --config.data.dir=../shared/data/mnist [--config.data.num_labeled=20|50|200]
"""

from improved_gan_tf.config import base_config


def get_config():
    config = base_config()
    config.experiment = "mnist_feature_matching"
    config.seed = 1  # :14 --seed 1 (weights, noise, batch order)

    config.data.name = "mnist"
    config.data.num_labeled = 100  # :18 --count 10 per class; Table 1 also 20/50/200
    config.data.seed = 1  # :15 --seed_data 1 (:108 its permutation picks the labels)
    config.data.preprocess = "unit_flat"  # :97-98 mnist.npz pixels in [0, 1], 784 inputs

    config.model.architecture = "mnist_mlp"  # :29-33 G 100-500-500-784, :37-49 D 1000-500-250x3-10
    config.model.latent_distribution = "uniform"  # :29 theano_rng.uniform(size=(B, 100))
    config.model.generator_loss = "feature_matching"  # section 3.1; :76 loss_gen
    config.model.feature_matching_norm = "l2"  # :76 T.mean(T.square(mom_gen - mom_real))
    config.model.unsupervised_weight = 0.5  # :70 loss_unl = 0.5 * (...), :16 unlabeled_weight 1
    config.model.polyak_rate = 1e-4  # :87 disc_avg_updates a + 0.0001 (p - a), test error
    config.model.polyak_debias = True  # ours: removes the zero start (:86-87: no correction)
    config.model.test_with_polyak_average = True  # :94 test_batch givens=disc_avg_givens

    config.optimizer.name = "authors_adam"  # :85, :90 nn.adam_updates, g / sqrt(v + 1e-8)
    config.optimizer.learning_rate = 0.003  # :122 lr = 0.003, constant
    config.optimizer.beta_1 = 0.5  # :85 mom1=0.5
    config.optimizer.beta_2 = 0.999  # nn.adam_updates default mom2
    config.optimizer.epsilon = 1e-8  # nn.adam_updates
    config.optimizer.schedule = "constant"  # :122 lr is set once

    config.train.epochs = 300  # :123 for epoch in range(300)
    config.train.steps_per_epoch = 600  # :102 nr_batches_train = 60000 / 100
    config.train.batch_size = 100  # :17 --batch_size 100: 100 labeled + 100 unlabeled
    config.train.init_examples = 500  # :119 init_param(trainx[:500]), trainx permuted (:108-110)
    return config
