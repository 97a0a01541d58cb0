"""ImageNet 128x128 with virtual batch normalization (Salimans et al. 2016, sections 3.5
and 5.4, Figure 6).

Follows the authors' `imagenet/` code (openai/improved-gan): VBN generator with
z ~ U(-1, 1)^8192 and noise channels, a D with minibatch features that predicts the 1000
classes + fake, one-sided label smoothing (real target 0.75, `d_label_smooth = .25`),
Adam 4e-4 with beta1 0.5, batches of 16 per GPU on 4 GPUs (64). Needs ImageNet through
a TFDS manual download (`--config.data.tfds_manual_dir=DIR` holding the ILSVRC2012
tars). Built and stepped here only on random tensors of the right shape
(`--config.data.synthetic=True` and tiny `model.arch` dims); a GPU user gets the
authors' setup.
"""

from improved_gan_tf.config import base_config
from improved_gan_tf.config import set_arch_kwargs


def get_config():
    config = base_config()
    config.experiment = "imagenet128_vbn"
    config.seed = 1

    config.data.name = "imagenet2012"  # authors: imagenet_train records, 128 px center crops
    config.data.num_labeled = 1281167  # every training image is labeled
    config.data.test_split = "validation"
    config.data.preprocess = "symmetric"  # authors: pixels scaled to [-1, 1]

    config.model.architecture = "imagenet128"
    set_arch_kwargs(
        config,
        gf_dim=64,  # authors' Generator: gf_dim 64
        df_dim=64,  # authors' discriminator: df_dim 64
        latent_dim=8192,  # train_imagenet.py: z_dim = 8192
        reference_batch_size=64,  # train_imagenet.py: sample_size 64 (VBN reference batch)
        num_classes=1000,  # ImageNet classes (+ the generated class, logit fixed at 0)
        minibatch_kernels=300,  # authors' minibatch features: 300 kernels
        kernel_dim=50,  # of dimension 50
    )
    config.model.minibatch_discrimination = True
    config.model.latent_distribution = "uniform_signed"  # z ~ U(-1, 1)
    config.model.generator_loss = "non_saturating"
    config.model.label_smoothing = 0.75  # train_imagenet.py: d_label_smooth = .25 -> target .75
    config.model.unsupervised_weight = 1.0
    config.model.polyak_rate = 0.0

    config.optimizer.name = "adam"
    config.optimizer.learning_rate = 4e-4  # train_imagenet.py: discriminator_learning_rate 0.0004
    config.optimizer.generator_learning_rate = 4e-4  # generator_learning_rate 0.0004
    config.optimizer.beta_1 = 0.5  # train_imagenet.py: beta1 0.5
    config.optimizer.schedule = "constant"

    config.train.epochs = 100  # ours: the authors' loop runs until stopped
    config.train.steps_per_epoch = 2000  # ours: an "epoch" is a reporting period here
    config.train.batch_size = 64  # train_imagenet.sh: 16 per GPU x 4 GPUs
    config.train.init_examples = 0  # the ImageNet model has no data-dependent init
    config.checkpoint.every_steps = 1000
    return config
