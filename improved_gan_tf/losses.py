"""Losses of the GAN game and of "Improved Techniques for Training GANs".

Pure functions of logits and features (TF-GAN style). Conventions:

- Unsupervised discriminators output one logit `l` per example: D(x) = sigmoid(l).
- Semi-supervised (K+1 class) discriminators output K logits `l_1..l_K`; the
  generated class's logit is fixed at 0, so with Z(x) = sum_k exp(l_k):
  D(x) = Z(x) / (Z(x) + 1) = sigmoid(logsumexp(l)). `unsupervised_logit` maps such
  logits to the single logit of D(x).
- Every loss is a mean over the batch; `log sigmoid` and `log(1 - sigmoid)` are
  written with softplus (log sigmoid(l) = -softplus(-l), log(1 - sigmoid(l)) =
  -softplus(l)) so they stay finite for logits of +-1e4.

References:
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.
    Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016
    (arXiv:1606.03498), and the authors' released code (openai/improved-gan).
"""

import math

import tensorflow as tf
from keras import ops

from improved_gan_tf.registry import FEATURE_MATCHING_NORMS


def unsupervised_logit(logits):
    """The logit of D(x) for K-class logits with the fake class's logit fixed at 0.

    D(x) = Z(x) / (Z(x) + 1) with Z(x) = sum_k exp(l_k), so
    logit(D(x)) = log Z(x) = logsumexp_k(l_k). A `(N, 1)` or `(N,)` input is an
    unsupervised discriminator's logit and is returned as `(N,)`.
    """
    if len(logits.shape) == 1:
        return logits
    if logits.shape[-1] == 1:
        return ops.squeeze(logits, axis=-1)
    return ops.logsumexp(logits, axis=-1)


def discriminator_loss(real_logits, fake_logits, real_label=1.0):
    """D's loss of the GAN game, with optional one-sided label smoothing.

        L_D = -E_x[alpha log D(x) + (1 - alpha) log(1 - D(x))] - E_z[log(1 - D(G(z)))]

    `alpha = real_label`: 1 is Goodfellow et al.'s loss; 0.9 (or the ImageNet
    model's 0.75) is one-sided label smoothing (Salimans et al. 2016, section 3.4):
    only the positive targets are smoothed, the negative (fake) targets stay 0, so
    that the optimal D does not push samples towards regions where p_model is large
    and p_data small.

    Args:
        real_logits: D's logits on data, `(N,)`, `(N, 1)` or K-class `(N, K)`.
        fake_logits: D's logits on generated samples, same convention.
        real_label: alpha, the target for real examples, in (0, 1].

    Returns:
        Scalar loss.
    """
    if not 0.0 < real_label <= 1.0:
        raise ValueError(f"`real_label` must be in (0, 1]. Received: real_label={real_label}")
    real = unsupervised_logit(real_logits)
    fake = unsupervised_logit(fake_logits)
    real_term = real_label * ops.softplus(-real) + (1.0 - real_label) * ops.softplus(real)
    return ops.mean(real_term) + ops.mean(ops.softplus(fake))


def minimax_generator_loss(fake_logits):
    """G's loss in the original minimax game: E_z[log(1 - D(G(z)))] (to be minimized).

    Saturates when D rejects samples confidently (Goodfellow et al. 2014, section 3);
    the authors' minibatch-discrimination scripts use it.
    """
    return -ops.mean(ops.softplus(unsupervised_logit(fake_logits)))


def non_saturating_generator_loss(fake_logits):
    """G's non-saturating loss: -E_z[log D(G(z))] (Goodfellow et al. 2014, section 3)."""
    return ops.mean(ops.softplus(-unsupervised_logit(fake_logits)))


def feature_matching_loss(real_features, fake_features, norm="l2"):
    """Feature matching (Salimans et al. 2016, section 3.1).

    G matches the batch mean of an intermediate layer f of D on data and samples:

        "l2": mean_units( (E_x f(x) - E_z f(G(z)))^2 )   -- the paper's
              ||E f(x) - E f(G(z))||_2^2 divided by the number of units; the authors'
              MNIST script (config `mnist_feature_matching`).
        "l1": mean_units( |E_x f(x) - E_z f(G(z))| )     -- what the authors' CIFAR-10
              and SVHN scripts actually use (configs `cifar10_feature_matching`,
              `svhn_feature_matching`).

    Args:
        real_features: f(x) on data, `(N, ...)`.
        fake_features: f(G(z)), `(M, ...)` with the same trailing shape.
        norm: "l2" or "l1".

    Returns:
        Scalar loss.
    """
    real_mean = ops.mean(real_features, axis=0)
    fake_mean = ops.mean(fake_features, axis=0)
    return feature_matching_distance(real_mean, fake_mean, norm)


def feature_matching_distance(real_mean, fake_mean, norm="l2"):
    """The feature-matching distance between already-averaged features (see above)."""
    if norm not in FEATURE_MATCHING_NORMS:
        raise ValueError(
            f"`norm` must be one of {FEATURE_MATCHING_NORMS}. Received: norm={norm!r}"
        )
    difference = real_mean - fake_mean
    if norm == "l2":
        return ops.mean(ops.square(difference))
    return ops.mean(ops.abs(difference))


def supervised_loss(labeled_logits, labels):
    """Cross-entropy of the K real classes: -E log p(y | x, y < K+1).

    With the fake logit fixed at 0 this is the ordinary softmax cross-entropy over
    the K logits: mean(logsumexp(l) - l_y).
    """
    labeled_logits = tf.convert_to_tensor(labeled_logits)
    labels = ops.cast(labels, "int32")
    picked = ops.take_along_axis(labeled_logits, ops.expand_dims(labels, -1), axis=-1)
    return ops.mean(ops.logsumexp(labeled_logits, axis=-1) - ops.squeeze(picked, -1))


def semi_supervised_discriminator_loss(
    labeled_logits, labels, unlabeled_logits, fake_logits, real_label=1.0
):
    """The K+1-class discriminator's losses (Salimans et al. 2016, section 5).

    With the generated class's logit fixed at 0, Z(x) = sum_k exp(l_k) and
    D(x) = Z(x) / (Z(x) + 1):

        supervised   = -E_{x,y ~ labeled} log p(y | x, y < K+1)
                     = mean(logsumexp(l) - l_y)
        unsupervised = -E_{x ~ data} log D(x) - E_z log(1 - D(G(z)))
                     = mean(-lse(l_unl) + softplus(lse(l_unl))) + mean(softplus(lse(l_fake)))

    where lse = logsumexp over the K logits (the second line is the stable form).
    `real_label` < 1 applies one-sided label smoothing to the unsupervised real
    term as in `discriminator_loss`. The authors' scripts weight the unsupervised
    loss by 0.5 (an option of `ImprovedGAN`, not of this function).

    Args:
        labeled_logits: `(N_l, K)` logits of the labeled batch.
        labels: `(N_l,)` integer labels in [0, K).
        unlabeled_logits: `(N_u, K)` logits of the unlabeled batch.
        fake_logits: `(N_f, K)` logits of generated samples.
        real_label: alpha for one-sided label smoothing (1 = none).

    Returns:
        `(supervised, unsupervised)` scalar losses.
    """
    supervised = supervised_loss(labeled_logits, labels)
    unsupervised = discriminator_loss(unlabeled_logits, fake_logits, real_label)
    return supervised, unsupervised


def historical_averaging_penalty(variables, averages, weight):
    """Historical averaging (Salimans et al. 2016, section 3.3).

        penalty = weight * sum_params ||theta - (1/t) sum_{i=1..t} theta[i]||^2

    `averages` hold the running means (1/t) sum_i theta[i] (see
    `improved_gan_tf.averaging.HistoricalAverage`); they are treated as constants.

    Args:
        variables: the player's parameters theta.
        averages: tensors of the same shapes, their historical means.
        weight: lambda.

    Returns:
        Scalar penalty.
    """
    if len(variables) != len(averages):
        raise ValueError(
            f"Got {len(variables)} variables but {len(averages)} averages."
        )
    total = 0.0
    for variable, average in zip(variables, averages):
        total = total + ops.sum(ops.square(variable - ops.stop_gradient(average)))
    return weight * total


def sigmoid_kl_with_logits(logits, target):
    """KL(Bernoulli(target) || Bernoulli(sigmoid(logits))), elementwise.

        KL = t log(t / p) + (1 - t) log((1 - t) / (1 - p)),   p = sigmoid(l)
           = t softplus(-l) + (1 - t) softplus(l) - H(t)

    with the entropy H(t) = -t log t - (1 - t) log(1 - t) (0 for t in {0, 1}). This
    is the sigmoid cross-entropy to the constant target minus its entropy, the
    authors' `sigmoid_kl_with_logits` (`imagenet/model.py`); its minimum over l is 0,
    at sigmoid(l) = t.

    Args:
        logits: tensor of logits l.
        target: the target probability t, a Python float in [0, 1].

    Returns:
        Tensor of the shape of `logits`.
    """
    target = float(target)
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"`target` must be a probability in [0, 1]. Received: target={target}")
    entropy = 0.0
    if 0.0 < target < 1.0:
        entropy = -target * math.log(target) - (1.0 - target) * math.log(1.0 - target)
    return target * ops.softplus(-logits) + (1.0 - target) * ops.softplus(logits) - entropy


def target_probability_generator_loss(fake_logits, target_probability=0.375):
    """G's loss toward D(G(z)) = `target_probability`: E_z KL(t || D(G(z))).

    The authors' ImageNet model (`imagenet/build_model.py`:
    `g_loss = sigmoid_kl_with_logits(D_on_G_logits, self.generator_target_prob)`,
    with `generator_target_prob = .75 / 2.` in `train_imagenet.py`): with one-sided
    label smoothing to alpha = 0.75 the game's equilibrium is D = alpha / 2, so G
    aims at 0.375 instead of 1. A target of 1 is the non-saturating loss.

    Args:
        fake_logits: D's logits on generated samples, `(N,)`, `(N, 1)` or K-class
            `(N, K)` (see `unsupervised_logit`).
        target_probability: t in (0, 1].

    Returns:
        Scalar loss.
    """
    if not 0.0 < target_probability <= 1.0:
        raise ValueError(
            "`target_probability` must be in (0, 1]. Received: "
            f"target_probability={target_probability}"
        )
    return ops.mean(sigmoid_kl_with_logits(unsupervised_logit(fake_logits), target_probability))


def all_classes_supervised_loss(labeled_logits, labels):
    """Cross-entropy over all K+1 classes, the generated class's logit being 0.

        -E log p(y | x) = mean(log(1 + sum_k exp(l_k)) - l_y)

    Unlike `supervised_loss` (-log p(y | x, y < K+1)) the generated class competes
    for the probability mass. The authors' ImageNet D (`imagenet/build_model.py`:
    `sparse_softmax_cross_entropy_with_logits(class_logits, labels)` over its 1001
    logits). With a learned generated-class logit l_g (`layers.KPlusOneDense`)
    the layer's outputs are l_k - l_g and this is exactly the 1001-way
    cross-entropy of the raw logits.

    Args:
        labeled_logits: `(N, K)` logits of the real classes (generated logit 0).
        labels: `(N,)` integer labels in [0, K).

    Returns:
        Scalar loss.
    """
    labeled_logits = tf.convert_to_tensor(labeled_logits)
    labels = ops.cast(labels, "int32")
    picked = ops.take_along_axis(labeled_logits, ops.expand_dims(labels, -1), axis=-1)
    log_z = ops.logsumexp(labeled_logits, axis=-1)
    return ops.mean(ops.softplus(log_z) - ops.squeeze(picked, -1))
