"""Coverage-guided fuzzing (atheris) of the readers of untrusted files.

Each target writes the fuzzer's bytes to a file and hands it to one reader. The only
outcomes allowed are a loaded array of the documented dtype and shape or the library's
named error (`DataFileError` for the data files; `UnsafeGraphError` / `WeightsFileError`
for a GraphDef). Anything else (another exception type, a wrong dtype or shape, a label
outside 0-9) is reported by atheris as a crash, with the input saved as `crash-*`.

Not run in CI (`atheris` is not a dependency of the package; `pip install atheris`).

Usage (see fuzz/README.md):

    python fuzz/fuzz_readers.py TARGET [--corpus DIR] [libFuzzer flags, e.g. -runs=1000000]

TARGET is one of `idx`, `cifar10_bin`, `svhn_mat`, `svhn_npz`, `graph_def`. The seed
corpus (small valid files, plus a refused graph for `graph_def`) is written to
`--corpus` (default `fuzz/corpus/TARGET`) when that directory is empty.
"""
from __future__ import annotations

import argparse
import atexit
import gzip
import io
import pathlib
import shutil
import sys
import tempfile

import atheris
import numpy as np

# Only the package's readers (and the file-format libraries they call, imported lazily
# by the targets) are instrumented for coverage, not numpy or TensorFlow.
with atheris.instrument_imports(include=["improved_gan_tf", "gzip", "zipfile", "scipy.io"]):
    from improved_gan_tf.data import files as data_files
    from improved_gan_tf.data.errors import DataFileError

TARGETS = ("idx", "cifar10_bin", "svhn_mat", "svhn_npz", "graph_def")
_REPORT_EVERY = 100_000


class _Outcomes:
    """Counts the inputs that loaded and that were refused, printed every 100k inputs."""

    def __init__(self, target: str):
        self.target = target
        self.loaded = 0
        self.refused = 0

    def add(self, loaded: bool) -> None:
        if loaded:
            self.loaded += 1
        else:
            self.refused += 1
        if (self.loaded + self.refused) % _REPORT_EVERY == 0:
            self.report()

    def report(self) -> None:
        print(
            f"#outcomes target={self.target} inputs={self.loaded + self.refused} "
            f"loaded={self.loaded} refused_with_named_error={self.refused}",
            file=sys.stderr,
            flush=True,
        )


# --------------------------------------------------------------------------------------
# Seed corpora: small valid files of each format.
# --------------------------------------------------------------------------------------


def _idx_bytes(array: np.ndarray, type_code: int) -> bytes:
    header = bytes([0, 0, type_code, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def _svhn_arrays(n: int):
    rng = np.random.default_rng(n)
    return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n)


def _seeds(target: str) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    if target == "idx":
        # The first byte picks how the rest is stored (see `_idx_target`).
        images = rng.integers(0, 256, size=(2, 3, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, size=(4,), dtype=np.uint8)
        ints = rng.integers(-5, 5, size=(2, 2), dtype=np.int32).astype(">i4")
        floats = rng.normal(size=(3,)).astype(">f8")
        seeds = {}
        for mode in range(3):
            for name, raw in (
                ("images", _idx_bytes(images, 0x08)),
                ("labels", _idx_bytes(labels, 0x08)),
                ("int32", _idx_bytes(ints, 0x0C)),
                ("float64", _idx_bytes(floats, 0x0E)),
            ):
                body = gzip.compress(raw, mtime=0) if mode == 2 else raw
                seeds[f"{name}-mode{mode}"] = bytes([mode]) + body
        return seeds
    if target == "cifar10_bin":
        records = rng.integers(0, 256, size=(2, 3073), dtype=np.uint8)
        records[:, 0] = [3, 9]
        return {"two-records": records.tobytes()}
    if target == "svhn_mat":
        import scipy.io

        seeds = {}
        for n in (1, 2):
            x, y = _svhn_arrays(n)
            buffer = io.BytesIO()
            scipy.io.savemat(
                buffer, {"X": np.transpose(x, (1, 2, 3, 0)), "y": (y + 1)[:, None].astype(np.uint8)}
            )
            seeds[f"n{n}"] = buffer.getvalue()
        return seeds
    if target == "svhn_npz":
        seeds = {}
        for n, compressed in ((1, False), (2, True)):
            x, y = _svhn_arrays(n)
            buffer = io.BytesIO()
            (np.savez_compressed if compressed else np.savez)(buffer, x=x, y=y)
            seeds[f"n{n}"] = buffer.getvalue()
        return seeds
    if target == "graph_def":
        import tensorflow as tf

        graph = tf.Graph()
        with graph.as_default():
            images = tf.compat.v1.placeholder(tf.float32, [None, 4], name="images")
            weights = tf.constant(rng.normal(size=(4, 3)).astype(np.float32), name="weights")
            logits = tf.nn.bias_add(tf.matmul(images, weights), tf.constant([0.0, 1.0, 2.0]))
            tf.nn.softmax(tf.reshape(logits, [-1, 3]), name="softmax")
        allowed = graph.as_graph_def().SerializeToString()
        with graph.as_default():
            tf.io.write_file("/nonexistent/x", "data", name="evil")
        refused = graph.as_graph_def().SerializeToString()
        return {"classifier": allowed, "with-write-file": refused}
    raise ValueError(f"unknown target {target!r}; expected one of {TARGETS}")


def write_seed_corpus(target: str, directory: pathlib.Path) -> None:
    """Writes the target's seed files into `directory` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, payload in _seeds(target).items():
        (directory / f"seed-{name}").write_bytes(payload)


# --------------------------------------------------------------------------------------
# Targets.
# --------------------------------------------------------------------------------------


def _check_images_labels(images: np.ndarray, labels: np.ndarray) -> None:
    assert images.dtype == np.uint8 and images.ndim == 4, (images.dtype, images.shape)
    assert images.shape[1:] == (32, 32, 3), images.shape
    assert labels.dtype == np.int64 and labels.shape == (images.shape[0],), (
        labels.dtype,
        labels.shape,
    )
    assert labels.size == 0 or (labels.min() >= 0 and labels.max() <= 9), labels


def _image_file_input(path, reader, outcomes):
    """The fuzz target of an image-file reader: each input is written to `path` and read
    back; a loaded array is checked, a `DataFileError` counted as refused."""

    def one_input(data: bytes) -> None:
        path.write_bytes(data)
        try:
            images, labels = reader(path)
        except DataFileError:
            outcomes.add(False)
            return
        _check_images_labels(images, labels)
        outcomes.add(True)

    return one_input


def _make_target(target: str, workdir: pathlib.Path, outcomes: _Outcomes):
    if target == "idx":
        raw_path = workdir / "fuzz-idx-ubyte"
        gz_path = workdir / "fuzz-idx-ubyte.gz"

        def one_input(data: bytes) -> None:
            # mode 0: the bytes as an uncompressed file; 1: the bytes gzip-compressed into
            # a `.gz` file (IDX headers fuzzed behind gzip); 2: the bytes as a `.gz` file
            # as they are (corrupt and truncated gzip streams).
            if not data:
                return
            mode, body = data[0] % 3, data[1:]
            if mode == 1:
                body = gzip.compress(body, compresslevel=1, mtime=0)
            path = raw_path if mode == 0 else gz_path
            path.write_bytes(body)
            try:
                array = data_files.read_idx(path)
            except DataFileError:
                outcomes.add(False)
                return
            assert array.dtype.isnative and array.dtype.kind in "iuf", array.dtype
            assert array.ndim >= 1, array.shape
            outcomes.add(True)

        return one_input
    if target == "cifar10_bin":
        path = workdir / "fuzz_batch.bin"

        return _image_file_input(path, data_files.read_cifar10_bin, outcomes)
    if target in ("svhn_mat", "svhn_npz"):
        path = workdir / ("fuzz_32x32.mat" if target == "svhn_mat" else "fuzz_32x32.npz")
        with atheris.instrument_imports(include=["scipy.io", "numpy.lib", "zipfile"]):
            import numpy.lib.format  # noqa: F401  (what np.load calls for .npz members)
            import scipy.io  # noqa: F401
        reader = data_files.read_svhn_mat if target == "svhn_mat" else data_files.read_svhn_npz

        return _image_file_input(path, reader, outcomes)
    if target == "graph_def":
        with atheris.instrument_imports(include=["improved_gan_tf"]):
            from improved_gan_tf.evaluation import inception_networks
        from improved_gan_tf.evaluation.errors import UnsafeGraphError
        from improved_gan_tf.evaluation.errors import WeightsFileError
        from improved_gan_tf.evaluation.graph_check import ALLOWED_GRAPH_OPS

        path = workdir / "fuzz_graph_def.pb"

        def one_input(data: bytes) -> None:
            path.write_bytes(data)
            try:
                graph_def, _, sha256 = inception_networks.read_graph_def(path)
            except (UnsafeGraphError, WeightsFileError):
                outcomes.add(False)
                return
            assert all(node.op in ALLOWED_GRAPH_OPS for node in graph_def.node)
            assert not graph_def.library.function
            assert len(sha256) == 64
            outcomes.add(True)

        return one_input
    raise ValueError(f"unknown target {target!r}; expected one of {TARGETS}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=TARGETS)
    parser.add_argument("--corpus", type=pathlib.Path, default=None)
    args, libfuzzer_args = parser.parse_known_args(argv[1:])
    corpus = args.corpus or pathlib.Path(__file__).resolve().parent / "corpus" / args.target
    if not corpus.is_dir() or not any(corpus.iterdir()):
        write_seed_corpus(args.target, corpus)
    shm = pathlib.Path("/dev/shm")
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="fuzz-readers-", dir=shm if shm.is_dir() else None))
    atexit.register(shutil.rmtree, workdir, True)
    outcomes = _Outcomes(args.target)
    atexit.register(outcomes.report)
    one_input = _make_target(args.target, workdir, outcomes)
    atheris.Setup([argv[0], *libfuzzer_args, str(corpus)], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
