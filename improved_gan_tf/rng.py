"""Random seeds that differ across the replicas of a distribution strategy.

Keras's `SeedGenerator` state is mirrored under `MirroredStrategy`, so every replica
would draw the same noise for its slice of the batch. `replica_seed` folds the
replica id into the drawn seed so that each replica gets its own stream, while the
single-replica stream stays exactly Keras's.
"""

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
