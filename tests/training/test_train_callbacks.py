"""The training callbacks, driven through Keras's `CallbackList` as `fit` calls them.

The orderings the trainer relies on (an epoch is recorded before the checkpoint that
ends it; a step with a non-finite loss is never saved) must hold for any order of the
callback list, so each such test runs both orders.
"""

import types

import keras
import pytest

from improved_gan_tf.training import NonFiniteLossError
from improved_gan_tf.optimizers import ScheduledMomentumSGD
from improved_gan_tf.training import learning_rate_at
from improved_gan_tf.training import momentum_at
from improved_gan_tf.training.callbacks import NonFiniteGuard
from improved_gan_tf.training.callbacks import PeriodicCheckpoint
from improved_gan_tf.training.callbacks import RunCallback
from improved_gan_tf.training.callbacks import Schedule
from improved_gan_tf.training.callbacks import StepTimer
from tests.train_utils import load_config


class FakeCheckpointer:
    """Records the steps saved, in order, into a shared event log."""

    def __init__(self, events):
        self.events = events
        self.last_saved = None

    def save(self, step):
        self.events.append(("save", step))
        self.last_saved = f"ckpt-{step}"
        return self.last_saved


class EventLog(keras.callbacks.Callback):
    """Stands for the epoch recorder: logs each epoch's end."""

    def __init__(self, events):
        super().__init__()
        self.events = events

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("record", epoch + 1))


def drive(callbacks, initial_epoch, epochs, steps, losses=None, steps_per_execution=1):
    """Calls the hooks exactly as `Model.fit` does for `steps` batches per epoch: with
    `steps_per_execution` k, once per call of k steps, its first batch at the begin hook
    and its last at the end hook, whose logs are the last step's (a loss that was not
    finite in an earlier step of the call stays so: the weights carry it)."""
    callback_list = keras.callbacks.CallbackList(callbacks, epochs=epochs, steps=steps)
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        for first in range(0, steps, steps_per_execution):
            last = first + steps_per_execution - 1
            callback_list.on_train_batch_begin(first)
            call_losses = [(losses or {}).get((epoch, batch), 1.0) for batch in range(first, last + 1)]
            loss = next((value for value in call_losses if value != 1.0), 1.0)
            callback_list.on_train_batch_end(last, {"d_loss": loss})
        callback_list.on_epoch_end(epoch, {})
    callback_list.on_train_end()


@pytest.mark.parametrize("reverse", [False, True])
def test_an_epoch_is_recorded_before_the_checkpoint_that_ends_it(reverse):
    events = []
    callbacks = [PeriodicCheckpoint(4, FakeCheckpointer(events), every_steps=2), EventLog(events)]
    drive(callbacks[::-1] if reverse else callbacks, initial_epoch=0, epochs=2, steps=4)
    assert events == [("save", 2), ("record", 1), ("save", 4), ("save", 6), ("record", 2),
                      ("save", 8)]


@pytest.mark.parametrize("reverse", [False, True])
def test_a_step_with_a_non_finite_loss_is_never_saved(reverse):
    events = []
    checkpointer = FakeCheckpointer(events)
    callbacks = [PeriodicCheckpoint(4, checkpointer, every_steps=1),
                 NonFiniteGuard(4, lambda: checkpointer.last_saved)]
    with pytest.raises(NonFiniteLossError) as info:
        drive(callbacks[::-1] if reverse else callbacks, 0, 2, 4, losses={(1, 1): float("nan")})
    assert events == [("save", step) for step in range(1, 6)]
    message = str(info.value)
    assert "step 6 (epoch 2)" in message and "d_loss=nan" in message
    assert "the last good checkpoint is ckpt-5" in message


def test_with_steps_per_execution_saves_fall_on_call_ends_and_the_guard_names_the_call():
    events = []
    checkpointer = FakeCheckpointer(events)
    callbacks = [PeriodicCheckpoint(10, checkpointer, every_steps=5),
                 NonFiniteGuard(10, lambda: checkpointer.last_saved)]
    with pytest.raises(NonFiniteLossError) as info:
        drive(callbacks, 0, 2, 10, losses={(1, 6): float("nan")}, steps_per_execution=5)
    assert events == [("save", 5), ("save", 10), ("save", 15)]
    message = str(info.value)
    assert "in steps 16 to 20 (one call of the compiled step" in message and "(epoch 2)" in message
    assert "the last good checkpoint is ckpt-15" in message


@pytest.mark.parametrize("steps_per_execution", [1, 5])
def test_the_step_timer_counts_every_step_of_a_call(steps_per_execution):
    timer = StepTimer(None, 10, writer=None, log_every_steps=0)
    drive([timer], 0, 1, 10, steps_per_execution=steps_per_execution)
    assert timer.epoch_steps == 10 and timer.epoch_seconds > 0


def test_a_fit_that_finishes_an_interrupted_epoch_knows_its_global_steps():
    seen = []

    class Steps(RunCallback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((self.epoch, self.steps_done(batch)))

    # Steps 0-6 of epoch 2 (of 10 steps) were done before: the short fit runs 7-9.
    drive([Steps(10)], initial_epoch=2, epochs=3, steps=3)
    assert seen == [(2, 28), (2, 29), (2, 30)]


def test_the_schedule_sets_each_steps_learning_rate_and_momentum():
    config = load_config("goodfellow2014_mnist")  # exponential per-step decay, SGD momentum
    assert config.optimizer.schedule == "exponential_per_step"
    optimizers = [ScheduledMomentumSGD(1.0, momentum=0.0) for _ in range(2)]
    for optimizer in optimizers:
        optimizer.build([keras.Variable(0.0)])

    class Recorder(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            applied.append(float(optimizers[0].learning_rate.numpy()))
            momenta.append([float(o.momentum.numpy()) for o in optimizers])

    applied, momenta = [], []
    model = types.SimpleNamespace(d_optimizer=optimizers[0], g_optimizer=optimizers[1])
    schedule, recorder = Schedule(config, 3), Recorder()
    for callback in (schedule, recorder):
        callback.set_model(model)
    drive([schedule, recorder], initial_epoch=1, epochs=3, steps=3)
    expected = [learning_rate_at(config, epoch, step)
                for epoch in (1, 2) for step in range(3 * epoch, 3 * epoch + 3)]
    assert applied == pytest.approx(expected, rel=1e-6)
    assert expected[0] > expected[-1]  # the rate did decay
    g_rates = [float(optimizers[1].learning_rate.numpy())]
    assert g_rates == pytest.approx(expected[-1:], rel=1e-6)  # no separate G rate
    expected_momenta = [momentum_at(config, epoch) for epoch in (1, 2) for _ in range(3)]
    assert momenta == [[pytest.approx(m, rel=1e-6)] * 2 for m in expected_momenta]
    assert expected_momenta[0] < expected_momenta[-1]  # MomentumAdjustor ramps up
