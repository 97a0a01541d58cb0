"""A GraphDef is checked before import: an image classifier's op types only."""
import numpy as np
import pytest
import tensorflow as tf

from improved_gan_tf.evaluation import (
    ALLOWED_GRAPH_OPS,
    InceptionScorer,
    UnsafeGraphError,
    check_graph_def,
)
from synthetic_inception import build_tiny_inception_graph

# The op types of the 2015 classify_image_graph_def.pb (its preprocessing, Inception
# blocks with global batch normalisation, pool_3 and the softmax head).
REAL_GRAPH_OPS = {
    "Const", "DecodeJpeg", "Cast", "ExpandDims", "ResizeBilinear", "Sub", "Mul", "Conv2D",
    "BatchNormWithGlobalNormalization", "CheckNumerics", "Identity", "Relu", "MaxPool",
    "AvgPool", "Concat", "Reshape", "MatMul", "Add", "Softmax",
}


def _graph_def(path):
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(path.read_bytes())
    return graph_def


def test_the_inception_graphs_op_types_are_allowed(tmp_path):
    path = tmp_path / "classify_image_graph_def.pb"
    build_tiny_inception_graph(path)
    graph_def = _graph_def(path)
    test_graph_ops = {node.op for node in graph_def.node}
    assert test_graph_ops <= ALLOWED_GRAPH_OPS
    assert REAL_GRAPH_OPS <= ALLOWED_GRAPH_OPS
    check_graph_def(graph_def)  # no error


def test_a_write_file_node_is_refused_with_node_and_op_named():
    graph = tf.Graph()
    with graph.as_default():
        tf.io.write_file("/tmp/never-written", "payload", name="exfiltrate")
    with pytest.raises(UnsafeGraphError, match=r"node 'exfiltrate' has op type 'WriteFile' \(a file op\)"):
        check_graph_def(graph.as_graph_def(), source="evil.pb")
    with pytest.raises(ValueError, match="^evil.pb: "):
        check_graph_def(graph.as_graph_def(), source="evil.pb")


@pytest.mark.parametrize(
    "op,reason",
    [
        ("ReadFile", "a file op"), ("Save", "a file op"), ("SaveV2", "a file op"),
        ("Restore", "a file op"), ("RestoreV2", "a file op"), ("RestoreSlice", "a file op"),
        ("MatchingFiles", "a file op"), ("PyFunc", "a Python op"),
        ("EagerPyFunc", "a Python op"), ("StatefulPartitionedCall", "a function-call"),
        ("SomeCustomOp", "not an op of the Inception image classifier"),
    ],
)
def test_dangerous_and_unknown_op_types_are_refused(tmp_path, op, reason):
    path = tmp_path / "classify_image_graph_def.pb"
    build_tiny_inception_graph(path)
    graph_def = _graph_def(path)
    node = graph_def.node.add()
    node.name = f"hidden/{op.lower()}"
    node.op = op
    with pytest.raises(UnsafeGraphError, match=rf"node 'hidden/{op.lower()}' has op type '{op}' \({reason}"):
        check_graph_def(graph_def)


def test_a_function_library_is_refused():
    graph_def = tf.compat.v1.GraphDef()
    graph_def.library.function.add().signature.name = "innocent_looking"
    with pytest.raises(UnsafeGraphError, match="function library.*'innocent_looking'"):
        check_graph_def(graph_def)


def test_scorer_refuses_the_graph_before_running_it(tmp_path):
    """An Inception-shaped graph with a WriteFile node: the scorer refuses it, and the
    file the node would write is never created (the graph was not imported or run)."""
    path = tmp_path / "classify_image_graph_def.pb"
    build_tiny_inception_graph(path)
    target = tmp_path / "written-by-graph"
    with tf.Graph().as_default() as graph:
        tf.io.write_file(str(target), "payload", name="pool_3/side_effect")
    graph_def = _graph_def(path)
    graph_def.node.extend(graph.as_graph_def().node)
    evil = tmp_path / "evil.pb"
    evil.write_bytes(graph_def.SerializeToString())
    with pytest.raises(UnsafeGraphError, match=r"evil.pb: node 'pool_3/side_effect' has op type 'WriteFile'"):
        InceptionScorer(evil, verbose=0)
    with pytest.raises(UnsafeGraphError, match="WriteFile"):
        InceptionScorer(graph_def, verbose=0)
    assert not target.exists()
    # The same graph without the extra node scores.
    InceptionScorer(path, verbose=0).predict(np.zeros((2, 12, 12, 3), np.uint8))
