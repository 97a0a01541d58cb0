"""A GraphDef with the 2015 Inception graph's head, for tests without the real graph.

Importable by the tests in this folder as `synthetic_inception` (pytest puts a test
file's folder on `sys.path`; the folders have no `__init__.py`).
"""
import numpy as np
import scipy.special
import tensorflow as tf

FEATURES = 16
CLASSES = 1008


def build_tiny_inception_graph(path):
    """A GraphDef with the 2015 graph's tensor names and the same data flow:
    DecodeJpeg -> Cast -> ExpandDims (1, H, W, 3) -> ResizeBilinear -> (x - 128) / 128
    -> conv -> pool_3 (1, 1, 1, F) -> pool_3/_reshape (1, F) -> softmax/logits/MatMul
    -> + bias -> softmax (1008 classes)."""
    rng = np.random.default_rng(0)
    kernel = rng.normal(scale=0.05, size=(3, 3, 3, FEATURES)).astype(np.float32)
    weights = rng.normal(scale=0.5, size=(FEATURES, CLASSES)).astype(np.float32)
    bias = rng.normal(scale=3.0, size=(CLASSES,)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        decoded = tf.compat.v1.placeholder(tf.uint8, [None, None, 3], name="DecodeJpeg")
        cast = tf.cast(decoded, tf.float32, name="Cast")
        expanded = tf.expand_dims(cast, 0, name="ExpandDims")
        resized = tf.compat.v1.image.resize_bilinear(expanded, [10, 10], name="ResizeBilinear")
        normalised = tf.multiply(tf.subtract(resized, 128.0, name="Sub"), 1 / 128.0, name="Mul")
        conv = tf.nn.relu(tf.nn.conv2d(normalised, tf.constant(kernel), 1, "VALID"))
        pool = tf.nn.avg_pool2d(conv, 8, 1, "VALID", name="pool_3")
        flat = tf.reshape(pool, [1, FEATURES], name="pool_3/_reshape")
        with tf.name_scope("softmax"):
            with tf.name_scope("logits"):
                matmul = tf.matmul(flat, tf.constant(weights, name="weights"), name="MatMul")
                logits = tf.nn.bias_add(matmul, tf.constant(bias), name="logits")
        tf.nn.softmax(logits, name="softmax_out")
    graph_def = graph.as_graph_def()
    # The name scope "softmax" blocks an op of that name; the 2015 graph has both.
    for node in graph_def.node:
        if node.name == "softmax_out":
            node.name = "softmax"
    path.write_bytes(graph_def.SerializeToString())
    reloaded = tf.Graph()
    with reloaded.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    assert reloaded.get_operation_by_name("softmax/logits/MatMul").inputs[1].shape == (FEATURES, CLASSES)
    assert reloaded.get_tensor_by_name("ExpandDims:0").shape.as_list() == [1, None, None, 3]
    return reloaded, weights


def authors_forward(graph, weights, images):
    """The authors' procedure: one image per run fed to ExpandDims:0, pool_3 fetched,
    softmax(pool_3 @ W) without the bias, in NumPy."""
    probs, feats, with_bias = [], [], []
    with tf.compat.v1.Session(graph=graph) as sess:
        for image in images:
            pool3, graph_softmax = sess.run(
                ["pool_3:0", "softmax:0"], {"ExpandDims:0": image[None].astype(np.float32)}
            )
            f = pool3.reshape(1, -1).astype(np.float64)
            feats.append(f[0])
            probs.append(scipy.special.softmax(f @ weights.astype(np.float64), axis=1)[0])
            with_bias.append(graph_softmax[0])
    return np.array(probs), np.array(feats), np.array(with_bias)


