"""Property-based tests (hypothesis) of the GraphDef check and of reading a GraphDef file.

Any GraphDef is accepted exactly when every node's op type is an allowed one (and it has
no function library); any file, valid or damaged, gives a checked GraphDef or one of the
named errors (`UnsafeGraphError`, `WeightsFileError`), never another exception. The
coverage-guided fuzzing of the same code is `fuzz/fuzz_readers.py graph_def`.
"""
import contextlib
import hashlib
import pathlib
import tempfile

import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from improved_gan_tf.evaluation import ALLOWED_GRAPH_OPS
from improved_gan_tf.evaluation import UnsafeGraphError
from improved_gan_tf.evaluation import WeightsFileError
from improved_gan_tf.evaluation import check_graph_def
from improved_gan_tf.evaluation import inception_networks

BOUNDED = settings(max_examples=60, deadline=None)

DANGEROUS = ["WriteFile", "ReadFile", "SaveV2", "RestoreV2", "PyFunc", "EagerPyFunc",
             "MatchingFiles", "StatefulPartitionedCall", "While", "PrintV2", "DeleteFile"]
op_types = st.one_of(
    st.sampled_from(sorted(ALLOWED_GRAPH_OPS)),
    st.sampled_from(DANGEROUS),
    st.text(max_size=12),
)
nodes = st.lists(st.tuples(st.text(min_size=1, max_size=10), op_types), max_size=12)


def _graph_def(node_list):
    graph_def = tf.compat.v1.GraphDef()
    for name, op in node_list:
        node = graph_def.node.add()
        node.name, node.op = name, op
    return graph_def


@contextlib.contextmanager
def _file(payload):
    with tempfile.TemporaryDirectory() as directory:
        path = pathlib.Path(directory) / "classify_image_graph_def.pb"
        path.write_bytes(payload)
        yield path


def _read(payload):
    """`read_graph_def` of a file holding `payload`, or None when a named error refused it."""
    with _file(payload) as path:
        try:
            graph_def, source, sha256 = inception_networks.read_graph_def(path)
        except (UnsafeGraphError, WeightsFileError) as error:
            assert str(path) in str(error)
            return None
        assert source == str(path) and sha256 == hashlib.sha256(payload).hexdigest()
        return graph_def


@BOUNDED
@given(nodes)
def test_a_graph_is_accepted_exactly_when_every_op_type_is_allowed(node_list):
    graph_def = _graph_def(node_list)
    refused = [(name, op) for name, op in node_list if op not in ALLOWED_GRAPH_OPS]
    if not refused:
        check_graph_def(graph_def)
        return
    with pytest.raises(UnsafeGraphError) as error:
        check_graph_def(graph_def, source="graph.pb")
    name, op = refused[0]  # The first refused node in graph order is the one named.
    assert str(error.value).startswith(f"graph.pb: node {name!r} has op type {op!r}")


@BOUNDED
@given(nodes, st.text(min_size=1, max_size=10), op_types)
def test_a_graph_with_a_function_library_is_refused_whatever_its_nodes(node_list, fname, op):
    graph_def = _graph_def(node_list)
    function = graph_def.library.function.add()
    function.signature.name = fname
    function.node_def.add(name="inner", op=op)
    with pytest.raises(UnsafeGraphError, match="function library"):
        check_graph_def(graph_def)


@BOUNDED
@given(nodes)
def test_a_graph_def_file_reads_back_equal_or_is_refused_by_its_op_types(node_list):
    graph_def = _graph_def(node_list)
    payload = graph_def.SerializeToString()
    got = _read(payload)
    if all(op in ALLOWED_GRAPH_OPS for _, op in node_list):
        assert got == graph_def
    else:
        assert got is None


@BOUNDED
@given(nodes, st.data())
def test_a_damaged_graph_def_file_gives_a_checked_graph_or_a_named_error(node_list, draw):
    payload = bytearray(_graph_def(node_list).SerializeToString())
    action = draw.draw(st.sampled_from(["truncate", "flip", "extend", "random"]), label="action")
    if action == "truncate" and payload:
        payload = payload[: draw.draw(st.integers(0, len(payload) - 1), label="keep")]
    elif action == "flip" and payload:
        for _ in range(draw.draw(st.integers(1, 6), label="flips")):
            position = draw.draw(st.integers(0, len(payload) - 1), label="position")
            payload[position] ^= draw.draw(st.integers(1, 255), label="mask")
    elif action == "extend":
        payload += draw.draw(st.binary(min_size=1, max_size=40), label="extra")
    else:
        payload = bytearray(draw.draw(st.binary(max_size=200), label="random"))
    got = _read(bytes(payload))
    if got is not None:
        assert all(node.op in ALLOWED_GRAPH_OPS for node in got.node)
        assert not got.library.function
