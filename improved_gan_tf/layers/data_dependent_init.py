"""Shared machinery for layers whose weights are initialized from a batch of data.

Weight normalization (Salimans & Kingma, 2016) and the authors' minibatch
discrimination layer both set some of their weights from the statistics of the
first batch they see. The protocol, shared by every such layer:

- The layer owns a non-trainable boolean weight `initialized`. It is saved in
  checkpoints, so a restored layer never re-runs its initialization.
- The first call with `training=True` on an uninitialized layer runs the
  initialization on that call's inputs and returns the output computed with the
  new weights, so in a network of such layers each one is initialized on the
  activations of the already-initialized layers below it (the authors' layer-by-layer
  scheme).
- Eagerly, this is plain Python control flow. Inside a `tf.function` on a single
  replica it is a `tf.cond` on `initialized` (what `tfa.layers.WeightNormalization`
  did). Inside a replica context with several replicas (`MirroredStrategy`), weights
  cannot be set from one replica's data, so the layer must already be initialized:
  call the model once eagerly on an init batch first (`ImprovedGAN.initialize` does);
  a graph that runs on an uninitialized layer fails with an error that says so.
"""

import tensorflow as tf
from keras import ops


def _in_multi_replica_context():
    replica_context = tf.distribute.get_replica_context()
    return (
        replica_context is not None
        and replica_context.num_replicas_in_sync > 1
    )


class DataDependentInitMixin:
    """Adds the `initialized` flag and the first-call initialization protocol.

    A layer using it calls `self._add_initialized_flag()` in `build`, implements
    `_initialize_from(inputs)` (assigns its weights from `inputs`) and starts `call`
    with `self._maybe_initialize(inputs, training)`.
    """

    def _add_initialized_flag(self):
        self.initialized = self.add_weight(
            name="initialized",
            shape=(),
            dtype="bool",
            initializer="zeros",
            trainable=False,
        )
        # Set once the flag has been read as True eagerly (see `mark_initialized_if_done`);
        # traces made after that carry no initialization branch at all.
        self._known_initialized = False

    def _initialize_from(self, inputs):
        raise NotImplementedError

    def mark_initialized_if_done(self):
        """Reads `initialized` eagerly; if set, later traces skip the init branch.

        Returns:
            Whether the layer is initialized (always True when `data_init=False`).
        """
        if not self.data_init:
            return True
        self._known_initialized = bool(ops.convert_to_numpy(self.initialized))
        return self._known_initialized

    def initialize_from(self, inputs):
        """Runs the data-dependent initialization on `inputs` now (eagerly)."""
        if not self.built:
            self.build(tuple(inputs.shape))
        self._initialize_from(inputs)
        self.initialized.assign(True)
        self._known_initialized = True

    def _maybe_initialize(self, inputs, training):
        if not self.data_init or self._known_initialized or not training:
            return
        if tf.executing_eagerly():
            if not bool(ops.convert_to_numpy(self.initialized)):
                self.initialize_from(inputs)
            else:
                self._known_initialized = True
            return
        if _in_multi_replica_context():
            tf.debugging.assert_equal(
                self.initialized,
                True,
                message=(
                    f"{type(self).__name__} '{self.name}' has data_init=True but "
                    "was never initialized. Under a multi-replica strategy, call the "
                    "model once eagerly with training=True on an init batch first "
                    "(ImprovedGAN.initialize(x) does this)."
                ),
            )
            return

        def initialize():
            self._initialize_from(inputs)
            self.initialized.assign(True)
            return tf.constant(True)

        tf.cond(self.initialized, lambda: tf.constant(True), initialize)
