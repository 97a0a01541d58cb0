"""Checks a GraphDef before TensorFlow imports it: only an image classifier's op types.

A `.pb` file is a program, not data: TensorFlow runs whatever ops it holds, and op types
such as `WriteFile`, `ReadFile`, `Save`/`SaveV2`, `Restore*`, `PyFunc` or
`MatchingFiles` read and write files or run Python when the graph runs. The 2015
Inception graph needs none of them, so `check_graph_def` allows exactly the op types an
image classifier of that kind uses and refuses any other, naming the node and its op,
before `tf.compat.v1.import_graph_def` sees the graph.

`ALLOWED_GRAPH_OPS` is derived from the op types of `classify_image_graph_def.pb`
(`inception-2015-12-05.tgz`: JPEG decoding and the [0, 255] -> [-1, 1] preprocessing,
convolutions with global batch normalisation, pooling, concatenation, the `pool_3`
reshape and the softmax head) and of the synthetic graph with the same head that the
tests build (which feeds a `Placeholder` and adds the bias with `BiasAdd`), plus the
newer spellings of the same computations (`ConcatV2`, `AddV2`, `FusedBatchNormV3`, ...)
that a re-export of the same network produces. None of them touches files, processes,
Python, queues, variables or control flow.
"""
from __future__ import annotations

from improved_gan_tf.evaluation.errors import UnsafeGraphError

__all__ = ["ALLOWED_GRAPH_OPS", "check_graph_def"]

ALLOWED_GRAPH_OPS = frozenset({
    # Inputs and constants.
    "Const", "Placeholder", "PlaceholderWithDefault", "Identity", "NoOp",
    # The 2015 graph's preprocessing: DecodeJpeg (a string tensor to pixels; no file
    # access) -> Cast -> ExpandDims -> ResizeBilinear -> Sub -> Mul.
    "DecodeJpeg", "Cast", "ExpandDims", "ResizeBilinear", "Sub", "Mul", "RealDiv",
    # Convolutions, normalisation, activations and pooling.
    "Conv2D", "BatchNormWithGlobalNormalization", "FusedBatchNorm", "FusedBatchNormV3",
    "CheckNumerics", "Relu", "MaxPool", "AvgPool",
    # Inception blocks and the head.
    "Concat", "ConcatV2", "Reshape", "Squeeze", "MatMul", "Add", "AddV2", "BiasAdd",
    "Softmax",
})

# Why a refused op type is dangerous, for the error message (any op not allowed is
# refused; these get a specific reason).
_DANGEROUS_OPS = {
    "file": {
        "WriteFile", "ReadFile", "Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2",
        "RestoreSlice", "MatchingFiles", "MergeV2Checkpoints", "ShardedFilename",
        "ShardedFilespec", "TFRecordReader", "TFRecordReaderV2", "FixedLengthRecordReader",
        "FixedLengthRecordReaderV2", "WholeFileReader", "WholeFileReaderV2", "ImmutableConst",
        "WriteSummary", "WriteImageSummary", "CreateSummaryFileWriter", "DeleteFile",
        "DebugIdentity", "Print", "PrintV2",
    },
    "Python": {"PyFunc", "PyFuncStateless", "EagerPyFunc"},
    "function-call or control-flow": {
        "PartitionedCall", "StatefulPartitionedCall", "While", "StatelessWhile", "If",
        "StatelessIf", "Case", "StatelessCase", "Enter", "Exit", "Switch", "Merge",
        "NextIteration", "LoopCond", "RemoteCall",
    },
}


def _reason(op: str) -> str:
    for kind, ops in _DANGEROUS_OPS.items():
        if op in ops:
            return f"a {kind} op"
    if op.startswith("Restore") or op.startswith("Save") or "File" in op or "Reader" in op:
        return "a file op"
    return "not an op of the Inception image classifier"


def check_graph_def(graph_def, source: str = "the GraphDef") -> None:
    """Refuses a GraphDef unless every node's op type is in `ALLOWED_GRAPH_OPS`.

    Also refuses a GraphDef with a function library: a function's body is a sub-graph
    whose ops would run without passing this check (the Inception graph has none).

    Args:
      graph_def: a `tf.compat.v1.GraphDef` (or any object with `.node` entries having
        `.name` and `.op`, and a `.library` with `.function`).
      source: how to name the graph in the error (e.g. its file path).

    Raises:
      UnsafeGraphError: (a `ValueError`) naming the first node whose op type is not
        allowed, its op type and why, or the library's first function.

    Examples:

    >>> import tensorflow as tf
    >>> graph = tf.Graph()
    >>> with graph.as_default():
    ...     _ = tf.io.write_file("/tmp/x", "data", name="evil")
    >>> check_graph_def(graph.as_graph_def())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    improved_gan_tf.evaluation.errors.UnsafeGraphError: the GraphDef: node 'evil' has op type 'WriteFile' (a file op), ...
    """
    library = getattr(graph_def, "library", None)
    functions = list(getattr(library, "function", ())) if library is not None else []
    if functions:
        name = functions[0].signature.name
        raise UnsafeGraphError(
            f"{source}: holds a function library ({len(functions)} functions, the "
            f"first is {name!r}); an Inception GraphDef has none, and their ops would "
            "run unchecked, so it is refused"
        )
    for node in graph_def.node:
        if node.op not in ALLOWED_GRAPH_OPS:
            raise UnsafeGraphError(
                f"{source}: node {node.name!r} has op type {node.op!r} ({_reason(node.op)}), "
                "which an image classifier does not need; refusing to import the graph. "
                f"Allowed op types: {', '.join(sorted(ALLOWED_GRAPH_OPS))}"
            )
