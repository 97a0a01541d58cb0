"""Random seeds that differ across the replicas of a distribution strategy.

Keras's `SeedGenerator` state is mirrored under `MirroredStrategy`, so every replica
would draw the same noise for its slice of the batch. `replica_seed` folds the
replica id into the drawn seed so that each replica gets its own stream, while the
single-replica stream stays exactly Keras's. `stateless_standard_normal` is the
Gaussian sampler of the noise layers.
"""

import math

import tensorflow as tf


def replica_seed(seed_generator):
    """Draws a stateless-RNG seed (int32, shape (2,)) distinct per replica.

    Args:
        seed_generator: a `keras.random.SeedGenerator`; its state advances by one.
    """
    seed = tf.cast(tf.math.floormod(seed_generator.next(), tf.int32.max - 1), tf.int32)
    replica_context = tf.distribute.get_replica_context()
    if replica_context is not None and replica_context.num_replicas_in_sync > 1:
        seed = tf.random.experimental.stateless_fold_in(
            seed, replica_context.replica_id_in_sync_group
        )
    return seed


def stateless_standard_normal(shape, seed, dtype=tf.float32, scale=1.0):
    """N(0, 1) samples (times `scale`) from TF's stateless Philox uniforms by the
    Box-Muller transform.

    For u1, u2 ~ U[0, 1): r = sqrt(-2 log(1 - u1)), theta = 2 pi u2 give two
    independent standard normals r cos(theta) and r sin(theta). On CPU this is about
    twice as fast as `tf.random.stateless_normal` (measured in benchmarks/README.md),
    and the noise layers draw millions of numbers per training step.

    Args:
        shape: output shape (a list, tuple or 1-D integer tensor).
        seed: integer tensor of shape (2,).
        dtype: floating output dtype.
        scale: a factor applied to the radius, so `scale * N(0, 1)` costs no extra
            pass over the output.
    """
    shape = tf.convert_to_tensor(shape, tf.int32)
    count = tf.reduce_prod(shape)
    half = (count + 1) // 2
    uniform = tf.random.stateless_uniform(tf.stack([2, half]), seed=seed, dtype=tf.float32)
    radius = scale * tf.sqrt(-2.0 * tf.math.log1p(-uniform[0]))
    angle = (2.0 * math.pi) * uniform[1]
    normals = tf.concat([radius * tf.cos(angle), radius * tf.sin(angle)], axis=0)
    return tf.cast(tf.reshape(normals[:count], shape), dtype)
