#!/usr/bin/env python3
"""Peer PyTorch version of our CIFAR-10 semi-supervised feature-matching train step.

Benchmark only: a speed anchor for `benchmarks/compare_with_peer.py --model cifar10_fm`,
run side by side with `benchmarks/train_throughput.py --model cifar10_fm`. It needs only
torch (CPU wheel, in a separate venv); it is never a dependency of `improved_gan_tf`,
and it is not a learning-quality reference (its training mode is a smoke test).

It mirrors, layer for layer, what `train_throughput.py --model cifar10_fm` times: the
networks of `improved_gan_tf.architectures.cifar10` (`dcgan_generator`,
`conv_discriminator`), `ImprovedGAN.train_step` with `generator_loss="feature_matching"`,
`feature_matching_norm="l1"`, `unsupervised_weight=0.5`, `polyak_rate=1e-4`, and
`training.AuthorsAdam(3e-4, beta_1=0.5)` for both players (the config
`configs/cifar10_feature_matching.py`, i.e. the authors' train_cifar_feature_matching.py).

Model (NCHW here, NHWC in ours; "same" padding reproduces TensorFlow's alignment)
  D: x (3x32x32, scaled (x - 127.5) / 128) -> dropout 0.2
     -> WN-conv 3x3 96 -> 96 -> 96 stride 2 -> dropout 0.5
     -> WN-conv 3x3 192 -> 192 -> 192 stride 2 -> dropout 0.5
     -> WN-conv 3x3 192 "valid" (8x8 -> 6x6) -> WN-NIN 1x1 192 -> WN-NIN 1x1 192
     (every conv: bias, LeakyReLU 0.2, weight-norm scale g fixed after data init)
     -> global average pool ("features", 192) -> WN-Dense 10 (trained g, init std 0.1).
  G: z ~ U(0,1)^100 -> Dense 8192 (no bias) -> BatchNorm over the 8192 units (shift only,
     eps 1e-6) -> ReLU -> 512x4x4 -> deconv 5x5/2 256 (no bias) + BN (shift only) + ReLU
     -> deconv 5x5/2 128 + BN + ReLU -> WN-deconv 5x5/2 3 (bias, trained g, init std 0.1)
     -> tanh. Kernels N(0, 0.05).
  Weight normalization: w = g * v / sqrt(||v||^2 + 1e-6) per output channel; data-
  dependent init (g, b set so pre-activations have mean 0, std init_scale), layer by
  layer on 500 images (dropout active, as ours) and on 500 latents for G.
Losses (K = 10 logits, the fake class's logit fixed at 0; lse = logsumexp over K)
  L_sup   = cross-entropy on the labelled batch
  L_unsup = mean(softplus(-lse(l_unl))) + mean(softplus(lse(l_fake)))
  L_D     = L_sup + 0.5 * L_unsup
  L_G     = mean_units |mean_batch f(x_unl2) - mean_batch f(G(z))|, f = "features"
            (dropout active in both D passes, as in ours and in the authors' code)
Per iteration: 100 labelled + 100 unlabelled + 100 generated rows through D as one
300-row batch (one D step, then the Polyak average of D's parameters, rate 1e-4); then
one G step (D frozen) on a second unlabelled batch of 100 and 100 new samples. Authors'
Adam for both players: w -= lr * m_hat / sqrt(v_hat + 1e-8) (epsilon inside the square
root), lr 3e-4, betas (0.5, 0.999).

Usage
  python peer_torch_cifar10_fm.py --data-dir DIR [--labels 4000] [--seed 1] [--epochs 1]
         [--max-steps N] [--threads T] [--compile] [--bench N [--warmup W]] [--no-polyak]
  python peer_torch_cifar10_fm.py --check [--data-dir DIR]
  DIR holds cifar-10-batches-bin/data_batch_*.bin (and test_batch.bin for the test error);
  the binary records are parsed here with torch.frombuffer, nothing is unpickled.
  --bench N: W warm-up (default W = N) + N timed iterations, then one line:
    peer_torch_cifar10_fm: steps_per_s=<float> images_per_s=<float> threads=<n>
  (images = 300 per iteration: 100 labelled + 100 unlabelled + 100 generated).
  --check: parameter counts next to ours (keras `count_params()`) and output shapes;
  exits 1 if a count differs.
"""

import argparse
import glob
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 100
Z_DIM = 100
NUM_CLASSES = 10
INIT_EXAMPLES = 500
WN_EPS = 1e-6
LEAK = 0.2

# Our Keras models' `count_params()` (every weight: trainable, BN moving statistics, the
# fixed WN scales g, and one boolean `initialized` flag per weight-normalized layer),
# read from `architectures.cifar10_generator()` / `cifar10_discriminator()`, and their
# trainable parts.
OURS = {
    "generator": {"count_params": 4_950_535, "trainable": 4_933_382, "wn_layers": 1},
    "discriminator": {"count_params": 1_408_254, "trainable": 1_406_804, "wn_layers": 10},
}


# ----------------------------------------------------------------------------- data
RECORD = 1 + 3 * 32 * 32


def read_cifar10_bin(path):
    """One CIFAR-10 binary batch: records of 1 label byte + 3072 pixel bytes (R, G, B planes,
    row-major). Returns uint8 images (N, 3, 32, 32) and int64 labels (N,)."""
    with open(path, "rb") as f:
        raw = f.read()
    if not raw or len(raw) % RECORD:
        raise ValueError(f"{path}: {len(raw)} bytes is not a whole number of {RECORD}-byte records")
    records = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(-1, RECORD)
    labels = records[:, 0].long()
    if int(labels.max()) >= NUM_CLASSES:
        raise ValueError(f"{path}: label {int(labels.max())} out of range 0-9")
    return records[:, 1:].reshape(-1, 3, 32, 32).clone(), labels


def _bin_dir(data_dir):
    sub = os.path.join(data_dir, "cifar-10-batches-bin")
    return sub if os.path.isdir(sub) else data_dir


def scale(images_uint8):
    """Ours' "symmetric" preprocessing (the authors' cifar10_data): (x - 127.5) / 128."""
    return (images_uint8.float() - 127.5) / 128.0


def load_cifar10(data_dir):
    bin_dir = _bin_dir(data_dir)
    paths = sorted(glob.glob(os.path.join(bin_dir, "data_batch_*.bin")))
    if not paths:
        raise FileNotFoundError(f"no data_batch_*.bin in {bin_dir}")
    parts = [read_cifar10_bin(p) for p in paths]
    out = {"train": (scale(torch.cat([p[0] for p in parts])), torch.cat([p[1] for p in parts]))}
    test = os.path.join(bin_dir, "test_batch.bin")
    if os.path.exists(test):
        x, y = read_cifar10_bin(test)
        out["test"] = (scale(x), y)
    return out


def balanced_labelled_subset(y, n_labels, gen):
    """n_labels / 10 examples per class (all of a class's examples if it has fewer)."""
    if n_labels % NUM_CLASSES:
        raise ValueError("--labels must be a multiple of 10 (balanced classes)")
    per_class = n_labels // NUM_CLASSES
    perm = torch.randperm(y.shape[0], generator=gen)
    return torch.cat([perm[y[perm] == c][:per_class] for c in range(NUM_CLASSES)])


# ----------------------------------------------------------------------------- model
def _same_padding(size, kernel, stride):
    """TensorFlow's "same" padding (before, after) of one spatial axis: the extra pixel of
    an odd total goes after, so stride-2 3x3 convs pad (0, 1), not PyTorch's (1, 1)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


@torch.no_grad()
def _init_scale_and_bias(layer, preactivations):
    """Weight-norm data init: sets `layer.g`, `layer.b` so that `preactivations` (computed
    without bias) get mean 0 and std `layer.init_scale` per output channel (axis 1)."""
    dims = [d for d in range(preactivations.dim()) if d != 1]
    m = preactivations.mean(dim=dims)
    shape = [1, -1] + [1] * (preactivations.dim() - 2)
    s = (preactivations - m.view(shape)).pow(2).mean(dim=dims).sqrt()
    layer.g.mul_(layer.init_scale / s)
    layer.b.copy_(-m * layer.init_scale / s)


class WNConv2d(nn.Module):
    """Weight-normalized conv, ours' `WeightNormalization(Conv2D)`: w = g v / sqrt(||v||^2 + eps)."""

    def __init__(self, c_in, c_out, kernel, stride=1, padding="same", train_scale=False, init_scale=1.0):
        super().__init__()
        self.v = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel) * 0.05)
        if train_scale:
            self.g = nn.Parameter(torch.ones(c_out))
        else:
            self.register_buffer("g", torch.ones(c_out))
        self.b = nn.Parameter(torch.zeros(c_out))
        self.kernel, self.stride, self.padding, self.init_scale = kernel, stride, padding, init_scale

    def weight(self):
        norm = torch.rsqrt(self.v.pow(2).sum(dim=(1, 2, 3)) + WN_EPS)
        return self.v * (self.g * norm).view(-1, 1, 1, 1)

    def _conv(self, x, weight, bias):
        pad = 0
        if self.padding == "same":
            before, after = _same_padding(x.shape[-1], self.kernel, self.stride)
            if before == after:
                pad = before
            else:
                x = F.pad(x, (before, after, before, after))
        return F.conv2d(x, weight, bias, stride=self.stride, padding=pad)

    def forward(self, x):
        return self._conv(x, self.weight(), self.b)

    @torch.no_grad()
    def data_init(self, x):
        """Sets g, b from x; returns the pre-activations computed with the new weights."""
        _init_scale_and_bias(self, self._conv(x, self.weight(), None))
        return self(x)


class WNDense(nn.Module):
    """Weight-normalized dense layer, ours' `WeightNormalization(Dense)`."""

    def __init__(self, n_in, n_out, train_scale=True, init_scale=1.0):
        super().__init__()
        self.v = nn.Parameter(torch.randn(n_out, n_in) * 0.05)
        if train_scale:
            self.g = nn.Parameter(torch.ones(n_out))
        else:
            self.register_buffer("g", torch.ones(n_out))
        self.b = nn.Parameter(torch.zeros(n_out))
        self.init_scale = init_scale

    def weight(self):
        return self.v * (self.g * torch.rsqrt(self.v.pow(2).sum(dim=1) + WN_EPS)).unsqueeze(1)

    def forward(self, x):
        return F.linear(x, self.weight(), self.b)

    @torch.no_grad()
    def data_init(self, x):
        _init_scale_and_bias(self, F.linear(x, self.weight()))
        return self(x)


class Deconv(nn.Module):
    """Keras `Conv2DTranspose(c_out, 5, strides=2, padding="same")`: doubles H and W.

    TensorFlow crops the full (2n + 3)-pixel transposed-conv output 1 before and 2 after;
    PyTorch's padding=1 crops 1 on both sides, so the last row and column are dropped.
    With `weight_norm`: ours' `WeightNormalization(..., train_g=True)` with a bias.
    """

    def __init__(self, c_in, c_out, weight_norm=False, init_scale=1.0):
        super().__init__()
        self.v = nn.Parameter(torch.randn(c_in, c_out, 5, 5) * 0.05)  # (in, out, kh, kw)
        self.weight_norm, self.init_scale = weight_norm, init_scale
        if weight_norm:
            self.g = nn.Parameter(torch.ones(c_out))
            self.b = nn.Parameter(torch.zeros(c_out))
        else:
            self.g = self.b = None

    def weight(self):
        if not self.weight_norm:
            return self.v
        norm = torch.rsqrt(self.v.pow(2).sum(dim=(0, 2, 3)) + WN_EPS)
        return self.v * (self.g * norm).view(1, -1, 1, 1)

    def _deconv(self, x, weight, bias):
        n = x.shape[-1]
        return F.conv_transpose2d(x, weight, bias, stride=2, padding=1)[:, :, :2 * n, :2 * n]

    def forward(self, x):
        return self._deconv(x, self.weight(), self.b)

    @torch.no_grad()
    def data_init(self, x):
        _init_scale_and_bias(self, self._deconv(x, self.weight(), None))
        return self(x)


class ShiftOnlyBatchNorm(nn.Module):
    """Ours' `BatchNormalization(center=True, scale=False, epsilon=1e-6, momentum=0.9)`:
    batch statistics in training, a learned shift beta, no scale; normalizes over every
    axis but 1 (the 8192 dense units, or the channels of a conv map)."""

    def __init__(self, units):
        super().__init__()
        self.beta = nn.Parameter(torch.zeros(units))
        self.register_buffer("running_mean", torch.zeros(units))
        self.register_buffer("running_var", torch.ones(units))

    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, None, self.beta,
                            training=self.training, momentum=0.1, eps=1e-6)


class Discriminator(nn.Module):
    # (layer index, dropout rate applied to its output)
    DROPOUT_AFTER = {2: 0.5, 5: 0.5}

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([
            WNConv2d(3, 96, 3), WNConv2d(96, 96, 3), WNConv2d(96, 96, 3, stride=2),
            WNConv2d(96, 192, 3), WNConv2d(192, 192, 3), WNConv2d(192, 192, 3, stride=2),
            WNConv2d(192, 192, 3, padding="valid"),
            WNConv2d(192, 192, 1), WNConv2d(192, 192, 1),
        ])
        self.out = WNDense(192, NUM_CLASSES, train_scale=True, init_scale=0.1)

    def forward(self, x, logits=True):
        """Returns (logits or None, features): features = the global average pool."""
        h = F.dropout(x, 0.2, self.training)
        for i, conv in enumerate(self.convs):
            h = F.leaky_relu(conv(h), LEAK)
            if i in self.DROPOUT_AFTER:
                h = F.dropout(h, self.DROPOUT_AFTER[i], self.training)
        features = h.mean(dim=(2, 3))
        return (self.out(features) if logits else None), features

    @torch.no_grad()
    def data_init(self, x):
        """Layer by layer, each on the already-initialized layers' outputs, dropout on."""
        h = F.dropout(x, 0.2, True)
        for i, conv in enumerate(self.convs):
            h = F.leaky_relu(conv.data_init(h), LEAK)
            if i in self.DROPOUT_AFTER:
                h = F.dropout(h, self.DROPOUT_AFTER[i], True)
        self.out.data_init(h.mean(dim=(2, 3)))


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Parameter(torch.randn(4 * 4 * 512, Z_DIM) * 0.05)  # no bias
        self.bn0 = ShiftOnlyBatchNorm(4 * 4 * 512)
        self.deconv1, self.bn1 = Deconv(512, 256), ShiftOnlyBatchNorm(256)
        self.deconv2, self.bn2 = Deconv(256, 128), ShiftOnlyBatchNorm(128)
        self.out = Deconv(128, 3, weight_norm=True, init_scale=0.1)

    def hidden(self, z):
        h = F.relu(self.bn0(F.linear(z, self.dense))).view(-1, 512, 4, 4)
        h = F.relu(self.bn1(self.deconv1(h)))
        return F.relu(self.bn2(self.deconv2(h)))

    def forward(self, n=None, z=None):
        if z is None:
            z = torch.rand(n, Z_DIM, device=self.dense.device)
        return torch.tanh(self.out(self.hidden(z)))

    @torch.no_grad()
    def data_init(self, n):
        self.out.data_init(self.hidden(torch.rand(n, Z_DIM)))


# ----------------------------------------------------------------------------- losses
def d_loss_fn(D, G, x_lab, y_lab, x_unl, unsup_weight):
    with torch.no_grad():
        x_fake = G(BATCH)
    logits, _ = D(torch.cat([x_lab, x_unl, x_fake], 0))
    l_lab, l_unl, l_fake = logits.split([x_lab.shape[0], x_unl.shape[0], BATCH])
    loss_sup = F.cross_entropy(l_lab, y_lab)
    loss_unsup = (F.softplus(-torch.logsumexp(l_unl, 1)).mean()
                  + F.softplus(torch.logsumexp(l_fake, 1)).mean())
    loss = loss_sup + unsup_weight * loss_unsup
    train_err = (l_lab.argmax(1) != y_lab).float().mean()
    return loss, loss_sup.detach(), loss_unsup.detach(), train_err


def g_loss_fn(D, G, x_unl2):
    with torch.no_grad():
        _, f_real = D(x_unl2, logits=False)
    _, f_fake = D(G(BATCH), logits=False)
    return (f_real.mean(0) - f_fake.mean(0)).abs().mean()


class AuthorsAdam:
    """The authors' `nn.adam_updates` (ours' `training.AuthorsAdam`):
    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  w <- w - lr m_hat / sqrt(v_hat + eps)."""

    def __init__(self, params, lr=3e-4, betas=(0.5, 0.999), eps=1e-8):
        self.params = list(params)
        self.lr, (self.b1, self.b2), self.eps = lr, betas, eps
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        self.t += 1
        grads = [p.grad for p in self.params]
        torch._foreach_mul_(self.m, self.b1)
        torch._foreach_add_(self.m, grads, alpha=1 - self.b1)
        torch._foreach_mul_(self.v, self.b2)
        torch._foreach_addcmul_(self.v, grads, grads, value=1 - self.b2)
        denom = torch._foreach_div(self.v, 1 - self.b2 ** self.t)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_sqrt_(denom)
        torch._foreach_addcdiv_(self.params, self.m, denom, value=-self.lr / (1 - self.b1 ** self.t))


class Trainer:
    def __init__(self, D, G, lr, unsup_weight, compile_, polyak_rate):
        self.D, self.G = D, G
        self.unsup_weight = unsup_weight
        self.d_params = [p for p in D.parameters() if p.requires_grad]
        self.opt_d = AuthorsAdam(self.d_params, lr=lr)
        self.opt_g = AuthorsAdam(G.parameters(), lr=lr)
        self.polyak_rate = polyak_rate
        self.polyak = [torch.zeros_like(p) for p in self.d_params] if polyak_rate else None
        self.d_loss = d_loss_fn
        self.g_loss = g_loss_fn
        if compile_:
            # inductor's own in-kernel RNG is slower on CPU than ATen's for the dropout
            # masks; use ATen's random ops inside the compiled graphs instead
            import torch._inductor.config as inductor_config
            inductor_config.fallback_random = True
            self.d_loss = torch.compile(d_loss_fn)
            self.g_loss = torch.compile(g_loss_fn)

    def step(self, x_lab, y_lab, x_unl, x_unl2):
        D, G = self.D, self.G
        # discriminator step, then the Polyak average of its parameters (ours: polyak_rate)
        loss, l_sup, l_unsup, err = self.d_loss(D, G, x_lab, y_lab, x_unl, self.unsup_weight)
        self.opt_d.zero_grad()
        loss.backward()
        self.opt_d.step()
        if self.polyak is not None:
            with torch.no_grad():
                torch._foreach_lerp_(self.polyak, self.d_params, self.polyak_rate)
        # generator step (D frozen: only input gradients flow through it)
        for p in self.d_params:
            p.requires_grad_(False)
        loss_g = self.g_loss(D, G, x_unl2)
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        for p in self.d_params:
            p.requires_grad_(True)
        return l_sup, l_unsup, err, loss_g.detach()


def batches(n, lab_idx, gen):
    """Infinite stream of (labelled idx, unlabelled idx, unlabelled idx 2); n // 100 per epoch."""
    per_epoch = n // BATCH
    while True:
        reps = math.ceil(per_epoch * BATCH / lab_idx.shape[0])
        lab_order = torch.cat([lab_idx[torch.randperm(lab_idx.shape[0], generator=gen)]
                               for _ in range(reps)])
        p1 = torch.randperm(n, generator=gen)
        p2 = torch.randperm(n, generator=gen)
        for t in range(per_epoch):
            s = slice(t * BATCH, (t + 1) * BATCH)
            yield lab_order[s], p1[s], p2[s]


@torch.no_grad()
def test_errors(D, x_test, y_test):
    D.eval()
    errs = 0
    for i in range(0, x_test.shape[0], 500):
        logits, _ = D(x_test[i:i + 500])
        errs += int((logits.argmax(1) != y_test[i:i + 500]).sum())
    D.train()
    return errs


# ----------------------------------------------------------------------------- check
def count(module):
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    buffers = sum(b.numel() for b in module.buffers())
    return trainable, buffers


def check(args):
    """Parameter counts next to ours, output shapes; returns the exit status."""
    torch.manual_seed(args.seed)
    D, G = Discriminator(), Generator()
    ok = True
    for name, module in (("generator", G), ("discriminator", D)):
        trainable, buffers = count(module)
        ours = OURS[name]
        # keras count_params() also counts one boolean `initialized` per WN layer
        keras_equivalent = trainable + buffers + ours["wn_layers"]
        same = trainable == ours["trainable"] and keras_equivalent == ours["count_params"]
        ok &= same
        print(f"{name}: peer trainable={trainable:,} fixed (BN statistics, frozen WN g)={buffers:,} "
              f"total={trainable + buffers:,} (+{ours['wn_layers']} init flag(s) = {keras_equivalent:,}); "
              f"ours count_params()={ours['count_params']:,} trainable={ours['trainable']:,} "
              f"-> {'same' if same else 'DIFFERENT'}")
    x = scale(torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8))
    if args.data_dir:
        data = load_cifar10(args.data_dir)
        x_train, y_train = data["train"]
        print(f"data: train {tuple(x_train.shape)} in [{float(x_train.min()):.4f}, {float(x_train.max()):.4f}], "
              f"labels per class {torch.bincount(y_train, minlength=10).tolist()}"
              + (f"; test {tuple(data['test'][0].shape)}" if "test" in data else ""))
        x = x_train[:8]
    G.data_init(8)
    D.data_init(x)
    with torch.no_grad():
        fake = G(8)
        logits, features = D(torch.cat([x, fake]))
    print(f"shapes: G(z) {tuple(fake.shape)}, D logits {tuple(logits.shape)}, features {tuple(features.shape)}")
    print("check: " + ("OK" if ok else "parameter counts differ from ours"))
    return 0 if ok else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="directory with cifar-10-batches-bin/data_batch_*.bin")
    ap.add_argument("--labels", type=int, default=4000,
                    help="labelled examples, balanced (default 4000 as the config)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=1, help="epochs of n_train / 100 iterations")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many iterations (0: no cap)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch default)")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--unsup-weight", type=float, default=0.5, help="weight of L_unsup (ours: 0.5)")
    ap.add_argument("--no-polyak", action="store_true",
                    help="skip the Polyak average of D's parameters (ours updates it every step)")
    ap.add_argument("--compile", action="store_true",
                    help="torch.compile the two loss functions (inductor, fallback_random)")
    ap.add_argument("--bench", type=int, default=0, metavar="N",
                    help="run warm-up + N timed iterations and print throughput")
    ap.add_argument("--warmup", type=int, default=None, metavar="W",
                    help="warm-up iterations before the --bench timing (default: N)")
    ap.add_argument("--check", action="store_true",
                    help="print parameter counts next to ours and output shapes, then exit")
    args = ap.parse_args(argv)

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.check:
        return check(args)
    if not args.data_dir:
        ap.error("--data-dir is required (except with --check)")
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    data = load_cifar10(args.data_dir)
    x_train, y_train = data["train"]
    lab_idx = balanced_labelled_subset(y_train, args.labels, gen)

    D, G = Discriminator(), Generator()
    D.train()
    G.train()
    G.data_init(INIT_EXAMPLES)
    D.data_init(x_train[torch.randperm(x_train.shape[0], generator=gen)[:INIT_EXAMPLES]])
    trainer = Trainer(D, G, args.lr, args.unsup_weight, args.compile,
                      polyak_rate=None if args.no_polyak else 1e-4)
    stream = batches(x_train.shape[0], lab_idx, gen)

    def one_step():
        li, u1, u2 = next(stream)
        return trainer.step(x_train[li], y_train[li], x_train[u1], x_train[u2])

    if args.bench > 0:
        warmup = args.bench if args.warmup is None else args.warmup
        for _ in range(warmup):
            one_step()
        t0 = time.perf_counter()
        for _ in range(args.bench):
            one_step()
        dt = time.perf_counter() - t0
        sps = args.bench / dt
        print(f"peer_torch_cifar10_fm: steps_per_s={sps:.4f} images_per_s={3 * BATCH * sps:.2f} "
              f"threads={torch.get_num_threads()}", flush=True)
        return 0

    per_epoch = x_train.shape[0] // BATCH
    total = args.epochs * per_epoch
    if args.max_steps > 0:
        total = min(total, args.max_steps)
    print(f"train: {x_train.shape[0]} images, {lab_idx.shape[0]} labelled; "
          f"threads={torch.get_num_threads()} compile={args.compile} steps={total}", flush=True)
    sums = torch.zeros(4)
    n_since = 0
    t_start = time.perf_counter()
    for step in range(1, total + 1):
        sums += torch.stack(one_step())
        n_since += 1
        if step % 10 == 0 or step == total:
            l_sup, l_unsup, err, l_g = (sums / n_since).tolist()
            print(f"step {step}: {(time.perf_counter() - t_start) / n_since:.2f} s/step "
                  f"loss_sup={l_sup:.4f} loss_unsup={l_unsup:.4f} loss_gen={l_g:.4f} "
                  f"train_err={err:.4f}", flush=True)
            sums.zero_()
            n_since = 0
            t_start = time.perf_counter()
    if "test" in data:
        x_test, y_test = data["test"]
        errs = test_errors(D, x_test, y_test)
        print(f"final: steps={total} test_errors={errs}/{x_test.shape[0]} (current D, not the Polyak "
              f"average) ({100.0 * errs / x_test.shape[0]:.2f}%)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
