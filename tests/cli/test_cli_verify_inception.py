"""`improved-gan verify-inception`'s plumbing: the synthetic 2015-style graph over a small
CIFAR-10 directory (the real graph and the full CIFAR-10 are not available here, so the
published figures cannot be reproduced). The printed figures are the library's
(`verify_inception`), each beside its published value; a graph whose head is not the
published one (16 features here, not 2,048) exits with status 1; mistakes exit 2."""

import json

import pytest

from improved_gan_tf.evaluation import verify_inception
from tests.evaluation.synthetic_inception import build_tiny_inception_graph
from train_utils import SHARED_DATA

PROGRAM = "improved-gan verify-inception"
RECORD = 1 + 32 * 32 * 3  # CIFAR-10 binary: a label byte, then the R, G, B planes
IMAGES = 300


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    path = tmp_path_factory.mktemp("graph") / "classify_image_graph_def.pb"
    build_tiny_inception_graph(path)
    return path


@pytest.fixture(scope="module")
def small_cifar10(tmp_path_factory):
    """The first IMAGES records of the local training and test batch files."""
    root = tmp_path_factory.mktemp("cifar10")
    source = SHARED_DATA / "cifar10" / "cifar-10-batches-bin"
    target = root / "cifar-10-batches-bin"
    target.mkdir()
    for name in ("data_batch_1.bin", "test_batch.bin"):
        (target / name).write_bytes((source / name).read_bytes()[:IMAGES * RECORD])
    return root


@pytest.fixture(scope="module")
def library_result(graph, small_cifar10):
    return verify_inception(graph, small_cifar10, batch_size=100)


def test_each_figure_is_printed_beside_the_published_one(improved_gan, graph, small_cifar10,
                                                         library_result, tmp_path):
    result = improved_gan("verify-inception", "--graph", graph, "--cifar10", small_cifar10,
                          "--json", "result.json")
    assert result.returncode == 1, result.stderr  # 16 features, 1008 classes: not the 2015 graph
    lines = result.stdout.splitlines()
    written = json.loads((tmp_path / "result.json").read_text())
    r = library_result
    line = next(l for l in lines if l.startswith("inception_score_train:"))
    mean, std = r["inception_score_train"]["mean"], r["inception_score_train"]["std"]
    assert f"{mean:.5f} ± {std:.4f} on {IMAGES} images" in line
    assert "(published: 11.24 ± 0.12 on 50,000" in line and line.endswith("not comparable")
    line = next(l for l in lines if l.startswith("inception_score_train_torch_fidelity:"))
    assert f"{r['inception_score_train_torch_fidelity']['mean']:.5f}" in line
    assert "published: 11.23678 ± 0.0951" in line
    line = next(l for l in lines if l.startswith("fid_train5k_test5k:"))
    assert f"{r['fid_train5k_test5k']['value']:.5f} on {IMAGES} + {IMAGES} images" in line
    assert "published: 10.3233274 on 5,000 + 5,000" in line and line.endswith("not comparable")
    assert "  feature_dim: 16 (published graph: 2048) DIFFERS" in lines
    assert "  num_classes: 1008 (published graph: 1008) ok" in lines
    for check in ("features_finite", "features_non_negative", "probabilities_sum_to_one",
                  "batch_independent"):
        assert f"  {check}: ok" in lines
    assert lines[0].startswith(f"graph: {graph} (sha256 ")
    assert any(l.startswith("note: ") for l in lines)  # the subset warning
    for name in ("inception_score_train", "inception_score_train_torch_fidelity"):
        assert written[name]["mean"] == pytest.approx(r[name]["mean"], rel=1e-6)
    assert written["fid_train5k_test5k"]["value"] == pytest.approx(
        r["fid_train5k_test5k"]["value"], rel=1e-6)
    assert written["card"]["weights_sha256"] == r["card"]["weights_sha256"]


def test_a_missing_graph_or_cifar10_directory_is_one_line(improved_gan, graph, tmp_path):
    improved_gan("verify-inception", "--graph", tmp_path / "none.pb", "--cifar10",
                 SHARED_DATA / "cifar10").assert_one_line_user_error(PROGRAM, "none.pb")
    improved_gan("verify-inception", "--graph", graph, "--cifar10",
                 tmp_path / "no_cifar").assert_one_line_user_error(PROGRAM, "no_cifar")
    improved_gan("verify-inception", "--graph", graph).assert_one_line_user_error(
        PROGRAM, "--cifar10")
