"""The players' updates of `ImprovedGAN.train_step`: sequential and simultaneous.

`GameSteps` is a mixin of `ImprovedGAN` (improved_gan_tf/model.py), which holds the
players, optimizers and options these methods read; it is not used on its own.
"""

import tensorflow as tf
from keras import ops

from improved_gan_tf import losses
from improved_gan_tf.registry import LABELED
from improved_gan_tf.registry import LABELS
from improved_gan_tf.registry import UNLABELED
from improved_gan_tf.registry import UNLABELED_FOR_GENERATOR

# Keys of the batches `fit` feeds besides the registry's data keys (see `ImprovedGAN`).
LATENTS, GENERATOR_LATENTS = "latents", "generator_latents"


def _num_replicas():
    replica_context = tf.distribute.get_replica_context()
    return 1 if replica_context is None else replica_context.num_replicas_in_sync


def _global_mean(local_mean):
    """Mean over the global batch of per-replica batch means, differentiable locally.

    The value is the all-reduced mean (what one device would compute on the global
    batch); the gradient flows only through this replica's own term, scaled by
    1/replicas, so that summing gradients over replicas (what the optimizer does)
    gives the global gradient.
    """
    replicas = _num_replicas()
    if replicas == 1:
        return local_mean
    replica_context = tf.distribute.get_replica_context()
    total = replica_context.all_reduce(tf.distribute.ReduceOp.SUM, tf.stop_gradient(local_mean))
    own_share = local_mean / replicas
    return own_share + tf.stop_gradient(total / replicas - own_share)


class GameSteps:
    """`ImprovedGAN`'s game: D's and G's losses and the two update orders."""

    def _joint_outputs(self, x_real, x_fake, with_features=False):
        """D on the joint batch [x_real; x_fake] (equal halves).

        Returns `(real_logits, fake_logits, real_features, fake_features)`, the
        features None unless `with_features`.
        """
        n = ops.shape(x_real)[0]
        tf.debugging.assert_equal(
            n, ops.shape(x_fake)[0],
            message="A joint-batch discriminator needs as many generated as real examples",
        )
        joint = ops.concatenate([x_real, x_fake], axis=0)
        if not with_features:
            logits = self.discriminator(joint, training=True)
            return logits[:n], logits[n:], None, None
        features, logits = self._features_and_logits(joint, training=True)
        return logits[:n], logits[n:], features[:n], features[n:]

    def _supervised(self, labeled_logits, labels):
        if self.supervised_loss == "all_classes":
            return losses.all_classes_supervised_loss(labeled_logits, labels)
        return losses.supervised_loss(labeled_logits, labels)

    def _generator_objective(self, fake_logits, real_features=None, fake_features=None):
        """G's loss and its replica-scaled form, from D's outputs on generated samples.

        For feature matching `real_features` is the (stop-gradient, global) real
        feature mean and `fake_features` the generated batch's features.
        """
        if self.generator_loss == "feature_matching":
            g_loss = losses.feature_matching_distance(
                real_features, _global_mean(ops.mean(fake_features, axis=0)), self.feature_matching_norm
            )
            # Already the global loss on every replica; summing the replicas'
            # gradients (each through its own share) gives its gradient.
            return g_loss, g_loss
        if self.generator_loss == "non_saturating":
            g_loss = losses.non_saturating_generator_loss(fake_logits)
        elif self.generator_loss == "target_probability":
            g_loss = losses.target_probability_generator_loss(fake_logits, self.generator_target_probability)
        else:
            g_loss = losses.minimax_generator_loss(fake_logits)
        return g_loss, g_loss / _num_replicas()

    def _discriminator_objective(self, labeled_logits, labels, unlabeled_logits, fake_logits, real_label):
        """`(d_loss, supervised, unsupervised)`; the last two None when unsupervised."""
        unsupervised = losses.discriminator_loss(unlabeled_logits, fake_logits, real_label)
        if self.num_classes is None:
            return unsupervised, None, None
        supervised = self._supervised(labeled_logits, labels)
        return supervised + self.unsupervised_weight * unsupervised, supervised, unsupervised

    def _penalty(self, variables, average):
        return losses.historical_averaging_penalty(
            variables, average.averages, self.historical_averaging_weight
        )

    def _sequential_step(self, data):
        replicas = _num_replicas()
        k = self.discriminator_steps
        semi_supervised = self.num_classes is not None
        unlabeled_parts = self._split(data[UNLABELED], k)
        labeled_parts = self._split(data.get(LABELED), k)
        label_parts = self._split(data.get(LABELS), k)
        latent_parts = self._split(data.get(LATENTS), k)
        real_label = 1.0 if self.label_smoothing is None else self.label_smoothing
        d_variables = self.discriminator.trainable_variables
        g_variables = self.generator.trainable_variables
        # A joint-batch D's real half in the D update: the labeled batch when there is one.
        joint_real_parts = labeled_parts if semi_supervised else unlabeled_parts
        supervised = unsupervised = labeled_logits = None

        # Discriminator: k updates, each on its own part of the real batch.
        for step in range(k):
            x_unlabeled = unlabeled_parts[step]
            latents = latent_parts[step]
            if latents is None:
                fake_count = ops.shape(joint_real_parts[step] if self._joint_batch else x_unlabeled)[0]
                latents = self._sample_latents(fake_count)
            x_fake = ops.stop_gradient(self.generator(latents, training=True))
            if self.d_historical_average is not None:
                # The mean (1/t) sum_{i<=t} theta[i] includes the current parameters.
                self.d_historical_average.update()
            with tf.GradientTape() as tape:
                if self._joint_batch:
                    real_logits, fake_logits, _, _ = self._joint_outputs(joint_real_parts[step], x_fake)
                    labeled_logits = unlabeled_logits = real_logits
                elif semi_supervised:
                    labeled_logits, unlabeled_logits, fake_logits = self._discriminator_logits(
                        [labeled_parts[step], x_unlabeled, x_fake]
                    )
                else:
                    unlabeled_logits, fake_logits = self._discriminator_logits([x_unlabeled, x_fake])
                d_loss, supervised, unsupervised = self._discriminator_objective(
                    labeled_logits, label_parts[step], unlabeled_logits, fake_logits, real_label
                )
                if self.d_historical_average is not None:
                    d_loss += self._penalty(d_variables, self.d_historical_average)
                scaled_d_loss = d_loss / replicas
            gradients = tape.gradient(scaled_d_loss, d_variables)
            self.d_optimizer.apply_gradients(zip(gradients, d_variables))
            if self.d_polyak_average is not None:
                self.d_polyak_average.update()

        # Generator: generator_steps updates, each with fresh latents.
        feature_matching = self.generator_loss == "feature_matching"
        x_real_for_g = data.get(UNLABELED_FOR_GENERATOR, data[UNLABELED])
        generator_latents = data.get(GENERATOR_LATENTS)
        batch = ops.shape(x_real_for_g)[0]
        real_feature_mean = None
        if feature_matching and not self._joint_batch:
            real_features, _ = self._features_and_logits(x_real_for_g, training=True)
            real_feature_mean = _global_mean(
                ops.stop_gradient(ops.mean(real_features, axis=0))
            )
        for _ in range(self.generator_steps):
            latents = generator_latents
            if latents is None:
                latents = self._sample_latents(batch)
            if self.g_historical_average is not None:
                self.g_historical_average.update()
            with tf.GradientTape() as tape:
                x_fake = self.generator(latents, training=True)
                fake_features = None
                if self._joint_batch:
                    _, fake_logits, real_features, fake_features = self._joint_outputs(
                        x_real_for_g, x_fake, with_features=feature_matching
                    )
                    if feature_matching:
                        real_feature_mean = _global_mean(
                            ops.stop_gradient(ops.mean(real_features, axis=0))
                        )
                elif feature_matching:
                    fake_features, fake_logits = self._features_and_logits(x_fake, training=True)
                else:
                    fake_logits = self.discriminator(x_fake, training=True)
                g_loss, scaled_g_loss = self._generator_objective(
                    fake_logits, real_feature_mean, fake_features
                )
                if self.g_historical_average is not None:
                    penalty = self._penalty(g_variables, self.g_historical_average)
                    g_loss += penalty
                    scaled_g_loss += penalty / replicas
            gradients = tape.gradient(scaled_g_loss, g_variables)
            self.g_optimizer.apply_gradients(zip(gradients, g_variables))
        return d_loss, g_loss, supervised, unsupervised, labeled_logits, label_parts[-1]

    def _simultaneous_step(self, data):
        """One forward pass G(z) -> D; both players' gradients from it, both applied.

        The authors' ImageNet loop (`imagenet/train.py`) runs
        `sess.run([d_optim, g_optim, ...])`: both updates come from the same
        samples and the same D, so G's gradient goes through D's weights before
        their update. Feature matching uses the same pass (the real features of
        the batch D is trained on).
        """
        replicas = _num_replicas()
        semi_supervised = self.num_classes is not None
        feature_matching = self.generator_loss == "feature_matching"
        real_label = 1.0 if self.label_smoothing is None else self.label_smoothing
        d_variables = self.discriminator.trainable_variables
        g_variables = self.generator.trainable_variables
        x_unlabeled = data[UNLABELED]
        x_real = data[LABELED] if (self._joint_batch and semi_supervised) else x_unlabeled
        latents = data.get(LATENTS)
        if latents is None:
            latents = self._sample_latents(ops.shape(x_real)[0])
        supervised = unsupervised = labeled_logits = None
        if self.d_historical_average is not None:
            self.d_historical_average.update()
            self.g_historical_average.update()
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            x_fake = self.generator(latents, training=True)
            if self._joint_batch:
                real_logits, fake_logits, real_features, fake_features = self._joint_outputs(
                    x_real, x_fake, with_features=feature_matching
                )
                labeled_logits = unlabeled_logits = real_logits
            else:
                batches = [data[LABELED], x_unlabeled, x_fake] if semi_supervised else [x_unlabeled, x_fake]
                if feature_matching:
                    outputs = [self._features_and_logits(b, training=True) for b in batches]
                    features = [f for f, _ in outputs]
                    logits = [l for _, l in outputs]
                    real_features, fake_features = features[-2], features[-1]
                else:
                    logits = self._discriminator_logits(batches)
                    real_features = fake_features = None
                unlabeled_logits, fake_logits = logits[-2], logits[-1]
                labeled_logits = logits[0] if semi_supervised else None
            d_loss, supervised, unsupervised = self._discriminator_objective(
                labeled_logits, data.get(LABELS), unlabeled_logits, fake_logits, real_label
            )
            real_feature_mean = None
            if feature_matching:
                real_feature_mean = _global_mean(ops.stop_gradient(ops.mean(real_features, axis=0)))
            g_loss, scaled_g_loss = self._generator_objective(fake_logits, real_feature_mean, fake_features)
            if self.d_historical_average is not None:
                d_loss += self._penalty(d_variables, self.d_historical_average)
                penalty = self._penalty(g_variables, self.g_historical_average)
                g_loss += penalty
                scaled_g_loss += penalty / replicas
            scaled_d_loss = d_loss / replicas
        d_gradients = d_tape.gradient(scaled_d_loss, d_variables)
        g_gradients = g_tape.gradient(scaled_g_loss, g_variables)
        self.d_optimizer.apply_gradients(zip(d_gradients, d_variables))
        self.g_optimizer.apply_gradients(zip(g_gradients, g_variables))
        if self.d_polyak_average is not None:
            self.d_polyak_average.update()
        return d_loss, g_loss, supervised, unsupervised, labeled_logits, data.get(LABELS)
