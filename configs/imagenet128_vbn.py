"""ImageNet 128x128 with virtual batch normalization (Salimans et al. 2016, sections 3.5
and 5.4, Figure 6).

Follows the authors' `imagenet/` code (openai/improved-gan, commit f9b62d3; lines cited
as file:line): a VBN generator with z ~ U(-1, 1)^8192 and noise channels, whose reference
batch is one per-device batch of 16 with fixed latents and fixed noise channels; a
discriminator of the joint batch [16 real; 16 generated] per device (cross-half batch
norm, minibatch features against each half) that predicts the 1000 classes + a learned
generated class; one-sided label smoothing (real target 0.75); G trained toward
D(G(z)) = 0.375; both players updated from one forward pass; Adam 4e-4 with beta1 0.5,
on 4 GPUs (global batch 64). See `architectures.imagenet128_generator` /
`imagenet128_discriminator` and README.md ("ImageNet").

Pixels: `data.preprocess=""` is the dataset's default. The authors map pixels with
`x * 2/255 - 1` (`imagenet/model.py`, `read_and_decode_with_labels`); that map is the
preprocess "signed_unit", which becomes the registry's default for imagenet2012 (where it
is not yet, the default is "symmetric", (x - 127.5) / 128: the same range).

Needs ImageNet through a TFDS manual download (`--config.data.tfds_manual_dir=DIR`
holding the ILSVRC2012 tars). Built and stepped here only on random tensors of the right
shape (`--config.data.synthetic=True` and tiny `model.arch` dims); a GPU user gets the
authors' setup.
"""

from improved_gan_tf.config import base_config
from improved_gan_tf.config import set_arch_kwargs


def get_config():
    config = base_config()
    config.experiment = "imagenet128_vbn"
    config.seed = 1

    config.data.name = "imagenet2012"  # build_model.py:8: imagenet_train_labeled_128 records
    config.data.num_labeled = 1281167  # build_model.py:49: every training image has a label
    config.data.test_split = "validation"
    config.data.preprocess = ""  # dataset default; authors: x * 2/255 - 1 (docstring)

    config.model.architecture = "imagenet128"
    set_arch_kwargs(
        config,
        gf_dim=64,  # model.py DCGAN(gf_dim=64), not overridden in train_imagenet.py:40-53
        df_dim=64,  # model.py DCGAN(df_dim=64), not overridden in train_imagenet.py:40-53
        latent_dim=8192,  # train_imagenet.py:42: z_dim = 8192
        # VBN reference batch = one per-device batch: build_model.py:60 generator(is_ref=True)
        # makes batch_size reference latents and noise; train_imagenet.sh:4 --batch_size 16.
        reference_batch_size=16,
        output_stddev=0.075,  # train_imagenet.py:45: out_stddev = .075
        output_bias=-0.45,  # train_imagenet.py:46: out_init_b = - .45
        num_classes=1000,  # discriminator.py:7: num_classes = 1001 (1000 + generated)
        minibatch_kernels=300,  # discriminator.py:86: n_kernels = 300
        kernel_dim=50,  # discriminator.py:87: dim_per_kernel = 50
    )
    config.model.minibatch_discrimination = True  # discriminator.py:88-111
    config.model.latent_distribution = "uniform_signed"  # generator.py:33: make_z(minval=-1., maxval=1.)
    config.model.generator_loss = "target_probability"  # build_model.py:114
    config.model.generator_target_probability = 0.375  # train_imagenet.py:44: .75 / 2.
    config.model.label_smoothing = 0.75  # train_imagenet.py:43 d_label_smooth = .25; build_model.py:89
    config.model.unsupervised_weight = 1.0  # build_model.py:123: d_loss_real + d_loss_fake + d_loss_class
    config.model.supervised_loss = "all_classes"  # build_model.py:91: softmax CE over the 1001 logits
    config.model.update_order = "simultaneous"  # train.py:72-73: sess.run([d_optim, ..., g_optim, ...])
    config.model.polyak_rate = 0.0  # the ImageNet code keeps no parameter average

    config.optimizer.name = "adam"  # build_model.py:15-16: tf.train.AdamOptimizer
    config.optimizer.learning_rate = 4e-4  # train_imagenet.py:14: discriminator_learning_rate 0.0004
    config.optimizer.generator_learning_rate = 4e-4  # train_imagenet.py:15: generator_learning_rate
    config.optimizer.beta_1 = 0.5  # train_imagenet.py:16: beta1 0.5
    config.optimizer.schedule = "constant"

    config.train.epochs = 100  # ours: the authors' loop runs until stopped (train.py:54)
    config.train.steps_per_epoch = 2000  # ours: an "epoch" is a reporting period here
    # train_imagenet.sh:4 --batch_size 16 per device; train_imagenet.py:53: 4 GPUs.
    config.train.batch_size = 64
    config.train.init_examples = 0  # the ImageNet model has no data-dependent init
    config.checkpoint.every_steps = 1000
    return config
