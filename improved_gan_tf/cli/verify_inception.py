"""`improved-gan verify-inception`: check a local 2015 Inception graph against published figures.

    improved-gan verify-inception --graph classify_image_graph_def.pb --cifar10 DIR
        [--batch_size 100] [--json FILE]

For users who have the 2015 `classify_image_graph_def.pb` and the full CIFAR-10
(`DIR/cifar-10-batches-bin/`): runs the graph over the 60,000 images and prints, each
beside its published figure (`improved_gan_tf.evaluation.verification`):

- pool_3 sanity checks (2,048 features, 1,008 classes, finite non-negative features,
  probabilities summing to 1, the same features for an image alone and in a batch);
- the Inception Score of the 50,000 training images, 10 splits in file order (the
  paper: 11.24 +- 0.12) and with torch-fidelity's shuffle (11.23678 +- 0.0951);
- the FID between the first 5,000 training and first 5,000 test images
  (torch-fidelity's fixture: 10.3233274).

A directory with fewer images (a subset) runs every check but marks the figures "not
comparable". The exit status is 0 when every check that can be judged passes, 1 when
one fails (a graph with other than 2,048 features or 1,008 classes fails); a missing or unsafe graph, or missing CIFAR-10 files, is a user error: one
line on stderr, exit status 2. `--json FILE` also writes the whole result.
"""

from __future__ import annotations

import json
import sys

from absl import app
from absl import flags

from improved_gan_tf.cli import common

FLAGS = flags.FlagValues()
_GRAPH = flags.DEFINE_string("graph", None, "The 2015 classify_image_graph_def.pb. Required.",
                             flag_values=FLAGS)
_CIFAR10 = flags.DEFINE_string(
    "cifar10", None, "CIFAR-10 directory (with cifar-10-batches-bin/ or its .bin files). Required.",
    flag_values=FLAGS)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 100, "Images per forward pass.", lower_bound=1,
                                   flag_values=FLAGS)
_JSON = flags.DEFINE_string("json", None, "Also write the full result as JSON here.",
                            flag_values=FLAGS)
flags.mark_flags_as_required(["graph", "cifar10"], flag_values=FLAGS)

_POOL3_CHECKS = ("features_finite", "features_non_negative", "probabilities_sum_to_one",
                 "batch_independent")


def _verdict(within) -> str:
    return {True: "ok", False: "DIFFERS", None: "not comparable"}[within]


def render(result: dict) -> list[str]:
    """The lines the command prints for `verify_inception`'s result."""
    card, pool3 = result["card"], result["pool_3"]
    lines = [f"graph: {card['weights']} (sha256 {card['weights_sha256']})", "pool_3 checks:"]
    for name, expected in (("feature_dim", "expected_feature_dim"),
                           ("num_classes", "expected_num_classes")):
        status = "ok" if pool3[name] == pool3[expected] else "DIFFERS"
        lines.append(f"  {name}: {pool3[name]} (published graph: {pool3[expected]}) {status}")
    for name in _POOL3_CHECKS:
        lines.append(f"  {name}: {'ok' if pool3[name] else 'FAILED'}")
    lines.append(f"  batch_of_one_max_difference: {pool3['batch_of_one_max_difference']:.3g}")
    for name in ("inception_score_train", "inception_score_train_torch_fidelity"):
        r = result[name]
        lines.append(
            f"{name}: {r['mean']:.5f} ± {r['std']:.4f} on {r['num_images']:,} images "
            f"(published: {r['published']} ± {r['published_std']} on "
            f"{r['expected_num_images']:,}; difference {r['difference']:+.5f}, tolerance "
            f"{r['tolerance']}) {_verdict(r['within_tolerance'])}"
        )
    r = result["fid_train5k_test5k"]
    lines.append(
        f"fid_train5k_test5k: {r['value']:.5f} on {r['num_train']:,} + {r['num_test']:,} images "
        f"(published: {r['published']} on {r['expected_num_images']:,} + "
        f"{r['expected_num_images']:,}; difference {r['difference']:+.5f}, tolerance "
        f"{r['tolerance']}) {_verdict(r['within_tolerance'])}"
    )
    lines += [f"note: {note}" for note in result.get("notes", [])]
    return lines


def passed(result: dict) -> bool:
    """Every pool_3 check passed and no comparable figure differs."""
    pool3 = result["pool_3"]
    if not all(pool3[name] for name in _POOL3_CHECKS):
        return False
    if (pool3["feature_dim"], pool3["num_classes"]) != (
            pool3["expected_feature_dim"], pool3["expected_num_classes"]):
        return False
    figures = ("inception_score_train", "inception_score_train_torch_fidelity",
               "fid_train5k_test5k")
    return all(result[name]["within_tolerance"] is not False for name in figures)


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from improved_gan_tf.evaluation import verify_inception  # Imports TensorFlow.
    from improved_gan_tf.fileio import atomic_write_text

    result = verify_inception(_GRAPH.value, _CIFAR10.value, batch_size=_BATCH_SIZE.value)
    print("\n".join(render(result)))
    if _JSON.value:
        atomic_write_text(_JSON.value, json.dumps(result, indent=1, default=float) + "\n")
    return 0 if passed(result) else 1


def run(argv: list[str] | None = None) -> None:
    """Entry point of `improved-gan verify-inception` (`argv[0]` is the program name)."""
    common.run_command(main, sys.argv if argv is None else argv, flag_values=FLAGS)
