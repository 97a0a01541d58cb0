"""Exported SavedModels: contract, fidelity outside the package, determinism, atomicity.

The fidelity tests load the exports in a fresh Python that cannot import
`improved_gan_tf` (see `_isolated_python`), through `saved_model_cli`, and through
TensorFlow's C API (`export/c_api_smoke/serve_generator.c`, the C++ SavedModel
loader that TF Serving uses), and compare with the in-process Keras models.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from improved_gan_tf import ImprovedGAN
from improved_gan_tf import architectures
from improved_gan_tf import data as data_lib
from improved_gan_tf import export

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
C_SOURCE = REPO_ROOT / "export" / "c_api_smoke" / "serve_generator.c"
LATENT_DIM = 100
TOLERANCE = 1e-5


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def mnist_arrays(mnist_dir):
    images, labels = data_lib.load_arrays("mnist", "train", mnist_dir)
    return images[:1000], labels[:1000]


@pytest.fixture(scope="module")
def trained_gan(mnist_arrays):
    """The MNIST semi-supervised model after a few real training steps, with a
    fast Polyak average so that the averaged D differs visibly from the current D."""
    images, labels = mnist_arrays
    x = data_lib.preprocess_array(images, "unit_flat")
    gan = ImprovedGAN(
        architectures.mnist_mlp_generator(),
        architectures.mnist_mlp_discriminator(seed=1),
        num_classes=10,
        feature_layer=architectures.FEATURE_LAYER,
        polyak_rate=0.3,
        seed=3,
    )
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3)
    )
    gan.initialize(x[:200])
    batches = tf.data.Dataset.from_tensor_slices(
        {"labeled_images": x[:100], "labels": labels[:100], "unlabeled_images": x[100:200]}
    ).batch(25)
    gan.fit(batches, epochs=2, verbose=0)
    return gan


@pytest.fixture(scope="module")
def export_base(trained_gan, tmp_path_factory):
    base = tmp_path_factory.mktemp("exports")
    export.export_generator(trained_gan, base / "generator" / "1")
    export.export_classifier(trained_gan, base / "classifier" / "1", dataset="mnist")
    return base


@pytest.fixture(scope="module")
def references(trained_gan, mnist_arrays):
    """Inputs for every signature and the in-process Keras outputs for them."""
    rng = np.random.default_rng(0)
    z = rng.random((7, LATENT_DIM), dtype=np.float32)
    raw = trained_gan.generator(z, training=False).numpy()
    sample_z = export.sample_signature_latents("uniform", LATENT_DIM, 1234, 5)
    sample_raw = trained_gan.generator(sample_z, training=False).numpy()
    images = mnist_arrays[0][:9]
    float_images = np.clip(raw[:4].reshape(4, 28, 28, 1), 0, 1)
    with trained_gan.averaged_discriminator_weights():
        logits = trained_gan.discriminator(
            data_lib.preprocess_array(images, "unit_flat"), training=False
        ).numpy()
        float_logits = trained_gan.discriminator(float_images.reshape(4, 784), training=False).numpy()
    current_logits = trained_gan.discriminator(
        data_lib.preprocess_array(images, "unit_flat"), training=False
    ).numpy()
    return {
        "z": z,
        "images": raw.reshape(7, 28, 28, 1),
        "sample_seed": np.int64(1234),
        "sample_num": np.int32(5),
        "sample_images": sample_raw.reshape(5, 28, 28, 1),
        "classifier_images": images,
        "classifier_logits": logits,
        "classifier_float_images": float_images,
        "classifier_float_logits": float_logits,
        "current_logits": current_logits,
    }


def _softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _p_real(logits):
    # D(x) = Z / (Z + 1), Z = sum_k exp(l_k), computed in float64.
    z = np.exp(logits.astype(np.float64)).sum(-1)
    return z / (z + 1.0)


def _isolated_python(script, cwd):
    """Starts `script` in a fresh interpreter that cannot import improved_gan_tf.

    `-I` drops PYTHONPATH, the user site and the script directory / cwd from
    sys.path; `-S` skips `site`, so no `.pth` file runs and the editable install's
    finder (`__editable__.improved_gan_tf-*.pth`) is never registered. The script
    then puts back only the venv's site-packages directories (for TensorFlow) and
    installs a `sys.meta_path` blocker for `improved_gan_tf`, which also covers a
    regular (non-editable) install in those directories. The script asserts the
    package cannot be imported before it loads anything.
    """
    paths = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    prologue = textwrap.dedent(
        f"""
        import sys
        sys.path.extend({paths!r})

        class _Blocker:
            def find_spec(self, name, path=None, target=None):
                if name == "improved_gan_tf" or name.startswith("improved_gan_tf."):
                    raise ModuleNotFoundError(f"{{name}} is blocked in this process")
                return None

        sys.meta_path.insert(0, _Blocker())
        try:
            import improved_gan_tf  # noqa: F401
        except ImportError:
            pass
        else:
            raise SystemExit("improved_gan_tf is importable in the isolated process")
        assert not any(p in ("", ".") for p in sys.path), sys.path  # no cwd on the path
        """
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return _start([sys.executable, "-I", "-S", "-c", prologue + textwrap.dedent(script)], cwd=cwd, env=env)


def _start(args, cwd=None, env=None):
    """Starts a subprocess now (several run side by side); `.result()` waits for it."""
    return _Process(args, cwd, env)


class _Process:
    def __init__(self, args, cwd, env):
        self._popen = subprocess.Popen(
            args, cwd=cwd, env=env or {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self._result = None

    def result(self, timeout=300):
        if self._result is None:
            try:
                stdout, stderr = self._popen.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                stdout, stderr = self._popen.communicate()
            self._result = subprocess.CompletedProcess(self._popen.args, self._popen.returncode, stdout, stderr)
        return self._result


# ----------------------------------------------------------------------------- fidelity
def test_isolated_process_cannot_import_package(tmp_path):
    # Control: a plain interpreter of this venv finds the package...
    plain = subprocess.run(
        [sys.executable, "-c", "import importlib.util; print(importlib.util.find_spec('improved_gan_tf').origin)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert plain.returncode == 0 and "improved_gan_tf" in plain.stdout, plain.stderr
    # ...the isolated one does not (its prologue exits non-zero if it can).
    isolated = _isolated_python(
        "import importlib.util; print('spec', importlib.util.find_spec('numpy') is not None)", cwd=tmp_path
    ).result()
    assert isolated.returncode == 0, isolated.stderr[-3000:]
    assert "spec True" in isolated.stdout


_FIDELITY_SCRIPT = """
import numpy as np, tensorflow as tf
print("TF", tf.__version__, "sys.path", sys.path)
inputs = np.load("inputs.npz")
generator = tf.saved_model.load(GENERATOR)
classifier = tf.saved_model.load(CLASSIFIER)
assert sorted(generator.signatures) == ["sample", "serving_default"], list(generator.signatures)
assert sorted(classifier.signatures) == ["classify_float", "serving_default"], list(classifier.signatures)
outputs = {}
def keep(prefix, result):
    for key, value in result.items():
        outputs[prefix + "/" + key] = value.numpy()
serve = generator.signatures["serving_default"]
keep("generator/serving_default", serve(z=tf.constant(inputs["z"])))
keep("generator/serving_default_1", serve(z=tf.constant(inputs["z"][:1])))
sample = generator.signatures["sample"]
seed, num = tf.constant(inputs["sample_seed"]), tf.constant(inputs["sample_num"])
keep("generator/sample", sample(seed=seed, num_samples=num))
keep("generator/sample_again", sample(seed=seed, num_samples=num))
keep("classifier/serving_default",
     classifier.signatures["serving_default"](images=tf.constant(inputs["classifier_images"])))
keep("classifier/classify_float",
     classifier.signatures["classify_float"](images=tf.constant(inputs["classifier_float_images"])))
assert "improved_gan_tf" not in sys.modules
np.savez("outputs.npz", **outputs)
print("ok")
"""


_REFUSALS_SCRIPT = """
import json
import numpy as np, tensorflow as tf
generator = tf.saved_model.load(GENERATOR)
classifier = tf.saved_model.load(CLASSIFIER)
limit = MAX_BATCH
results = {}

def attempt(case, signature, **inputs):
    try:
        out = signature(**{key: tf.constant(value) for key, value in inputs.items()})
    except tf.errors.InvalidArgumentError as error:
        results[case] = {"refused": "InvalidArgumentError", "message": error.message}
    except Exception as error:  # anything else is a failure of the contract
        results[case] = {"refused": type(error).__name__, "message": str(error)}
    else:
        results[case] = {"shapes": {key: list(value.shape) for key, value in out.items()},
                         "finite": bool(all(np.isfinite(v.numpy()).all() for v in out.values()
                                            if v.dtype.is_floating))}

serve, sample = generator.signatures["serving_default"], generator.signatures["sample"]
classify, classify_float = classifier.signatures["serving_default"], classifier.signatures["classify_float"]
rng = np.random.default_rng(0)
z = rng.random((limit, 100), dtype=np.float32)
images = rng.integers(0, 256, (limit, 28, 28, 1), dtype=np.uint8)
unit = rng.random((limit, 28, 28, 1), dtype=np.float32)
unit[0, 0, 0, 0], unit[-1, -1, -1, -1] = 0.0, 1.0  # the range's endpoints are accepted
seed = np.int64(7)

# Valid requests at batch 1 and at the maximum.
attempt("z/1", serve, z=z[:1])
attempt("z/max", serve, z=z)
attempt("sample/1", sample, seed=seed, num_samples=np.int32(1))
attempt("sample/max", sample, seed=seed, num_samples=np.int32(limit))
attempt("uint8/1", classify, images=images[:1])
attempt("uint8/max", classify, images=images)
attempt("float/1", classify_float, images=unit[:1])
attempt("float/max", classify_float, images=unit)
# Refusals.
attempt("z/batch", serve, z=np.zeros((limit + 1, 100), np.float32))
bad = z[:4].copy(); bad[2, 17] = np.nan; bad[3, 0] = np.inf
attempt("z/nan", serve, z=bad)
bad = z[:4].copy(); bad[1, 5] = -np.inf
attempt("z/inf", serve, z=bad)
attempt("sample/batch", sample, seed=seed, num_samples=np.int32(limit + 1))
attempt("sample/negative", sample, seed=seed, num_samples=np.int32(-3))
attempt("uint8/batch", classify, images=np.zeros((limit + 1, 28, 28, 1), np.uint8))
attempt("float/batch", classify_float, images=np.zeros((limit + 1, 28, 28, 1), np.float32))
bad = unit[:3].copy(); bad[1, 4, 5, 0] = np.nan
attempt("float/nan", classify_float, images=bad)
bad = unit[:3].copy(); bad[0, 0, 1, 0] = np.inf
attempt("float/inf", classify_float, images=bad)
bad = unit[:3].copy(); bad[2, 3, 3, 0] = 255.0; bad[0, 9, 9, 0] = -0.5
attempt("float/range", classify_float, images=bad)
bad = unit[:3].copy(); bad[1, 1, 1, 0] = 1.0 + 1e-6
attempt("float/just_above", classify_float, images=bad)
assert "improved_gan_tf" not in sys.modules
with open("refusals.json", "w") as handle:
    json.dump(results, handle)
print("ok")
"""


@pytest.fixture(scope="module")
def launched(export_base, references, tmp_path_factory):
    """Starts the out-of-process checks side by side as soon as the exports exist."""
    workdir = tmp_path_factory.mktemp("isolated")
    np.savez(workdir / "inputs.npz", **references)
    script = _FIDELITY_SCRIPT.replace(
        "GENERATOR", repr(str(export_base / "generator" / "1"))
    ).replace("CLASSIFIER", repr(str(export_base / "classifier" / "1")))
    refusals = _REFUSALS_SCRIPT.replace(
        "GENERATOR", repr(str(export_base / "generator" / "1"))
    ).replace("CLASSIFIER", repr(str(export_base / "classifier" / "1"))).replace(
        "MAX_BATCH", str(export.MAX_BATCH_SIZE))
    return {
        "workdir": workdir,
        "isolated": _isolated_python(script, cwd=workdir),
        "refusals": _isolated_python(refusals, cwd=workdir),
        **{
            f"cli/{name}": _start([_saved_model_cli(), "show", "--all", "--dir", str(export_base / name / "1")])
            for name in ("generator", "classifier")
        },
    }


def test_every_signature_matches_keras_in_a_process_without_the_package(launched, references):
    result = launched["isolated"].result()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "TF 2." in result.stdout and "ok" in result.stdout
    out = dict(np.load(launched["workdir"] / "outputs.npz"))
    ref = references

    images = out["generator/serving_default/images"]
    assert images.dtype == np.float32 and images.shape == (7, 28, 28, 1)
    np.testing.assert_allclose(images, ref["images"], atol=TOLERANCE)
    assert images.min() >= 0.0 and images.max() <= 1.0
    uint8 = out["generator/serving_default/images_uint8"]
    assert uint8.dtype == np.uint8
    assert np.abs(uint8.astype(int) - np.round(ref["images"] * 255).astype(int)).max() <= 1
    np.testing.assert_allclose(out["generator/serving_default_1/images"], ref["images"][:1], atol=TOLERANCE)

    np.testing.assert_allclose(out["generator/sample/images"], ref["sample_images"], atol=TOLERANCE)
    np.testing.assert_array_equal(out["generator/sample/images"], out["generator/sample_again/images"])
    np.testing.assert_array_equal(out["generator/sample/images_uint8"], out["generator/sample_again/images_uint8"])

    logits = ref["classifier_logits"]
    got = {key.split("/")[-1]: value for key, value in out.items() if key.startswith("classifier/serving_default/")}
    np.testing.assert_allclose(got["logits"], logits, atol=TOLERANCE)
    np.testing.assert_allclose(got["class_probabilities"], _softmax(logits), atol=TOLERANCE)
    np.testing.assert_array_equal(got["predicted_class"], logits.argmax(-1))
    assert got["predicted_class"].dtype == np.int64
    np.testing.assert_allclose(got["p_real"], _p_real(logits), atol=TOLERANCE)
    float_logits = out["classifier/classify_float/logits"]
    np.testing.assert_allclose(float_logits, ref["classifier_float_logits"], atol=TOLERANCE)
    np.testing.assert_allclose(out["classifier/classify_float/p_real"], _p_real(float_logits), atol=TOLERANCE)


def test_served_signatures_refuse_bad_input_in_a_process_without_the_package(launched):
    result = launched["refusals"].result()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok" in result.stdout
    got = json.loads((launched["workdir"] / "refusals.json").read_text())
    limit = export.MAX_BATCH_SIZE
    assert limit == 1024

    # Batch 1 and the maximum batch are served, with finite outputs.
    for case, key, shape in [
        ("z", "images", [28, 28, 1]), ("sample", "images", [28, 28, 1]),
        ("uint8", "logits", [10]), ("float", "logits", [10]),
    ]:
        for batch, size in (("1", 1), ("max", limit)):
            served = got[f"{case}/{batch}"]
            assert "refused" not in served, (case, batch, served)
            assert served["shapes"][key] == [size, *shape] and served["finite"], served

    expected = {
        "z/batch": [f"z: batch size must be <= {limit}", "max_batch_size", f"Received: {limit + 1}"],
        "z/nan": ["z must be finite: 2 of 400 values are NaN or infinite", "Received: nan at index [2 17]"],
        "z/inf": ["z must be finite: 1 of 400 values", "Received: -inf at index [1 5]"],
        "sample/batch": [f"num_samples must be <= {limit}", "max_batch_size", f"Received: {limit + 1}"],
        "sample/negative": ["num_samples must be >= 0. Received: -3"],
        "uint8/batch": [f"images: batch size must be <= {limit}", f"Received: {limit + 1}"],
        "float/batch": [f"images: batch size must be <= {limit}", f"Received: {limit + 1}"],
        "float/nan": ["images must be finite: 1 of 2352 values", "Received: nan at index [1 4 5 0]"],
        "float/inf": ["images must be finite: 1 of 2352 values", "Received: inf at index [0 0 1 0]"],
        "float/range": ["images must lie in [0, 1]", "pixels / 255",
                        "Received: 2 of 2352 values outside, min -0.5, max 255"],
        "float/just_above": ["images must lie in [0, 1]", "Received: 1 of 2352 values outside"],
    }
    for case, fragments in expected.items():
        refusal = got[case]
        assert refusal.get("refused") == "InvalidArgumentError", (case, refusal)
        for fragment in fragments:
            assert fragment in refusal["message"], (case, fragment, refusal["message"])


def test_classifier_uses_polyak_averaged_weights(export_base, references):
    classifier = tf.saved_model.load(str(export_base / "classifier" / "1"))
    logits = classifier.signatures["serving_default"](
        images=tf.constant(references["classifier_images"])
    )["logits"].numpy()
    np.testing.assert_allclose(logits, references["classifier_logits"], atol=TOLERANCE)
    # The fixture's averaged D is far enough from the current D to tell them apart.
    assert np.abs(references["current_logits"] - references["classifier_logits"]).max() > 1e-2
    assert np.abs(logits - references["current_logits"]).max() > 1e-2


def test_the_classifier_records_which_weights_it_holds(trained_gan, export_base, references, mnist_arrays,
                                                       tmp_path):
    def described(version_dir):
        return json.loads((version_dir / export.SIGNATURES_FILENAME).read_text())["weights"]

    assert described(export_base / "classifier" / "1") == "polyak_average"
    current = export.export_classifier(trained_gan, tmp_path / "current" / "1", dataset="mnist",
                                       use_averaged_weights=False)
    logits = tf.saved_model.load(str(current)).signatures["serving_default"](
        images=tf.constant(references["classifier_images"]))["logits"].numpy()
    np.testing.assert_allclose(logits, references["current_logits"], atol=TOLERANCE)
    assert described(current) == "current"
    # An average that was never updated holds nothing to serve: the current weights are.
    untrained = ImprovedGAN(architectures.mnist_mlp_generator(), architectures.mnist_mlp_discriminator(seed=1),
                            num_classes=10, feature_layer=architectures.FEATURE_LAYER, polyak_rate=0.3)
    untrained.initialize(data_lib.preprocess_array(mnist_arrays[0][:100], "unit_flat"))
    assert described(export.export_classifier(untrained, tmp_path / "untrained" / "1", dataset="mnist")) == "current"


def test_signatures_refuse_wrong_dtype_and_shape(export_base):
    classifier = tf.saved_model.load(str(export_base / "classifier" / "1"))
    serve = classifier.signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected shape \[\?,28,28,1\]"):
        serve(images=tf.zeros([2, 32, 32, 3], tf.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="uint8"):
        serve(images=tf.zeros([2, 28, 28, 1], tf.float32))
    generator = tf.saved_model.load(str(export_base / "generator" / "1"))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected shape \[\?,100\]"):
        generator.signatures["serving_default"](z=tf.zeros([2, 99]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="float"):
        generator.signatures["serving_default"](z=tf.zeros([2, 100], tf.float64))
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_samples must be <= 1024.*Received: 5000"):
        generator.signatures["sample"](seed=tf.constant(1, tf.int64), num_samples=tf.constant(5000))
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_samples must be >= 0. Received: -1"):
        generator.signatures["sample"](seed=tf.constant(1, tf.int64), num_samples=tf.constant(-1))
    empty = generator.signatures["sample"](seed=tf.constant(1, tf.int64), num_samples=tf.constant(0))
    assert empty["images"].shape == (0, 28, 28, 1)


_SIGNATURE = re.compile(r"^signature_def\['(?P<name>[^']+)'\]:$")
_TENSOR = re.compile(r"^\s+(?P<kind>inputs|outputs)\['(?P<key>[^']+)'\] tensor_info:$")
_FIELD = re.compile(r"^\s+(?P<field>dtype|shape|name): (?P<value>.*)$")
_METHOD = re.compile(r"^\s+Method name is: (?P<method>.*)$")


def _parse_saved_model_cli(text):
    """`saved_model_cli show --all` -> {signature: {"inputs"/"outputs": {key: (dtype, shape)}, "method": m}}."""
    signatures, current, tensor = {}, None, None
    for line in text.splitlines():
        if match := _SIGNATURE.match(line):
            current = signatures.setdefault(match["name"], {"inputs": {}, "outputs": {}, "method": None})
        elif current is not None and (match := _TENSOR.match(line)):
            tensor = current[match["kind"]].setdefault(match["key"], {})
        elif current is not None and tensor is not None and (match := _FIELD.match(line)):
            tensor[match["field"]] = match["value"]
        elif current is not None and (match := _METHOD.match(line)):
            current["method"] = match["method"]
            tensor = None
    return {
        name: {
            "method": sig["method"],
            **{kind: {key: (t["dtype"], t["shape"]) for key, t in sig[kind].items()} for kind in ("inputs", "outputs")},
        }
        for name, sig in signatures.items()
        if not name.startswith("__")
    }


def _saved_model_cli():
    candidate = pathlib.Path(sys.executable).parent / "saved_model_cli"
    found = str(candidate) if candidate.exists() else shutil.which("saved_model_cli")
    if not found:
        pytest.fail("saved_model_cli (shipped with the tensorflow wheel) is not installed")
    return found


def test_saved_model_cli_lists_the_documented_signatures(launched):
    def _show_all(name):
        result = launched[f"cli/{name}"].result()
        assert result.returncode == 0, result.stderr[-3000:]
        return _parse_saved_model_cli(result.stdout)

    predict = "tensorflow/serving/predict"
    images_out = {"images": ("DT_FLOAT", "(-1, 28, 28, 1)"), "images_uint8": ("DT_UINT8", "(-1, 28, 28, 1)")}
    assert _show_all("generator") == {
        "serving_default": {"method": predict, "inputs": {"z": ("DT_FLOAT", "(-1, 100)")}, "outputs": images_out},
        "sample": {
            "method": predict,
            "inputs": {"seed": ("DT_INT64", "()"), "num_samples": ("DT_INT32", "()")},
            "outputs": images_out,
        },
    }
    classifier_out = {
        "class_probabilities": ("DT_FLOAT", "(-1, 10)"),
        "predicted_class": ("DT_INT64", "(-1)"),
        "p_real": ("DT_FLOAT", "(-1)"),
        "logits": ("DT_FLOAT", "(-1, 10)"),
    }
    assert _show_all("classifier") == {
        "serving_default": {
            "method": predict, "inputs": {"images": ("DT_UINT8", "(-1, 28, 28, 1)")}, "outputs": classifier_out,
        },
        "classify_float": {
            "method": predict, "inputs": {"images": ("DT_FLOAT", "(-1, 28, 28, 1)")}, "outputs": classifier_out,
        },
    }


def test_parse_saved_model_cli_reads_a_known_listing():
    listing = textwrap.dedent(
        """\
        signature_def['serving_default']:
          The given SavedModel SignatureDef contains the following input(s):
            inputs['z'] tensor_info:
                dtype: DT_FLOAT
                shape: (-1, 100)
                name: serving_default_z:0
          The given SavedModel SignatureDef contains the following output(s):
            outputs['images'] tensor_info:
                dtype: DT_FLOAT
                shape: (-1, 28, 28, 1)
                name: StatefulPartitionedCall:0
          Method name is: tensorflow/serving/predict
        """
    )
    assert _parse_saved_model_cli(listing) == {
        "serving_default": {
            "method": "tensorflow/serving/predict",
            "inputs": {"z": ("DT_FLOAT", "(-1, 100)")},
            "outputs": {"images": ("DT_FLOAT", "(-1, 28, 28, 1)")},
        }
    }


# ----------------------------------------------------------------------------- C API
def _tensorflow_dir():
    return pathlib.Path(tf.__file__).resolve().parent


@pytest.fixture(scope="module")
def c_loader(tmp_path_factory):
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: cannot build the C API loader (apt-get install gcc)")
    tf_dir = _tensorflow_dir()
    header = tf_dir / "include" / "tensorflow" / "c" / "c_api.h"
    libraries = [tf_dir / "libtensorflow_cc.so.2", tf_dir / "libtensorflow_framework.so.2"]
    missing = [str(p) for p in [header, *libraries] if not p.exists()]
    assert not missing, f"the tensorflow wheel no longer ships {missing}"
    binary = tmp_path_factory.mktemp("c_api") / "serve_generator"
    # gold links against the 1 GB libtensorflow_cc in seconds; GNU ld takes ~30 s.
    linker = ["-fuse-ld=gold"] if shutil.which("ld.gold") else []
    result = subprocess.run(
        [gcc, *linker, "-O1", "-Wall", "-Werror", f"-I{tf_dir / 'include'}", str(C_SOURCE), "-o", str(binary),
         f"-L{tf_dir}", "-l:libtensorflow_cc.so.2", "-l:libtensorflow_framework.so.2",
         f"-Wl,-rpath,{tf_dir}"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return binary


def _run_c(binary, *args, cwd):
    return subprocess.run(
        [str(binary), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=180,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )


def test_c_api_loader_serves_the_generator_like_python(c_loader, export_base, references, tmp_path):
    model = export_base / "generator" / "1"
    z = references["z"]
    z.astype("<f4").tofile(tmp_path / "z.bin")
    result = _run_c(c_loader, model, "serving_default", tmp_path / "z.bin", *z.shape, tmp_path / "default", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "input z -> serving_default_z:0" in result.stdout
    assert re.search(r"images shape \[7,28,28,1\] dtype float32", result.stdout), result.stdout
    images = np.fromfile(tmp_path / "default.images.f32", "<f4").reshape(7, 28, 28, 1)
    np.testing.assert_allclose(images, references["images"], atol=TOLERANCE)
    uint8 = np.fromfile(tmp_path / "default.images_uint8.u8", np.uint8).reshape(7, 28, 28, 1)
    python = tf.saved_model.load(str(model)).signatures["serving_default"](z=tf.constant(z))
    np.testing.assert_allclose(images, python["images"].numpy(), atol=TOLERANCE)
    np.testing.assert_array_equal(uint8, python["images_uint8"].numpy())

    result = _run_c(c_loader, model, "sample", 1234, 5, tmp_path / "sample", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    sample = np.fromfile(tmp_path / "sample.images.f32", "<f4").reshape(5, 28, 28, 1)
    np.testing.assert_allclose(sample, references["sample_images"], atol=TOLERANCE)

    # The shape check survives the C++ loader's graph optimizations.
    z[:, :99].astype("<f4").tofile(tmp_path / "z99.bin")
    result = _run_c(c_loader, model, "serving_default", tmp_path / "z99.bin", 7, 99, tmp_path / "bad", cwd=tmp_path)
    assert result.returncode == 2
    assert "is not compatible with expected shape [?,100]" in result.stderr


def test_c_api_loader_sees_the_refusals_as_invalid_argument(c_loader, export_base, references, tmp_path):
    # The C++ SavedModel loader TF Serving uses, after its graph optimizations: the
    # in-graph checks still refuse, with TF_Code 3 (INVALID_ARGUMENT).
    model = export_base / "generator" / "1"
    z = references["z"].copy()
    z[3, 42] = np.nan
    z.astype("<f4").tofile(tmp_path / "nan.bin")
    result = _run_c(c_loader, model, "serving_default", tmp_path / "nan.bin", *z.shape, tmp_path / "nan", cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert "run failed (TF_Code 3)" in result.stderr
    assert "z must be finite: 1 of 700 values are NaN or infinite. Received: nan at index [3 42]" in result.stderr
    assert not (tmp_path / "nan.images.f32").exists()

    big = export.MAX_BATCH_SIZE + 1
    np.zeros((big, LATENT_DIM), "<f4").tofile(tmp_path / "big.bin")
    result = _run_c(c_loader, model, "serving_default", tmp_path / "big.bin", big, LATENT_DIM, tmp_path / "big", cwd=tmp_path)
    assert result.returncode == 2 and "run failed (TF_Code 3)" in result.stderr
    assert f"z: batch size must be <= {export.MAX_BATCH_SIZE}" in result.stderr
    assert f"Received: {big}" in result.stderr

    result = _run_c(c_loader, model, "sample", 1, big, tmp_path / "sample_big", cwd=tmp_path)
    assert result.returncode == 2 and "run failed (TF_Code 3)" in result.stderr
    assert f"num_samples must be <= {export.MAX_BATCH_SIZE}" in result.stderr


# ----------------------------------------------------------------------------- VBN generator
def test_vbn_generator_exports_frozen_reference_statistics(tmp_path):
    generator = architectures.imagenet128_generator(gf_dim=4, latent_dim=16, reference_batch_size=4)
    generator(np.zeros((1, 16), "float32"))  # built, but no training-mode call yet
    with pytest.raises(ValueError, match="no reference statistics"):
        export.export_generator(generator, tmp_path / "vbn" / "1")
    z_train = np.random.default_rng(1).uniform(-1, 1, (3, 16)).astype("float32")
    generator(z_train, training=True)  # stores the reference statistics
    path = export.export_generator(generator, tmp_path / "vbn" / "1")
    served = tf.saved_model.load(str(path)).signatures

    z = np.random.default_rng(2).uniform(-1, 1, (64, 16)).astype("float32")
    batch = served["serving_default"](z=tf.constant(z))["images"].numpy()
    assert batch.shape == (64, 128, 128, 3)
    np.testing.assert_allclose(batch, (generator(z, training=False).numpy() + 1) / 2, atol=TOLERANCE)
    for index in (0, 37):
        single = served["serving_default"](z=tf.constant(z[index : index + 1]))["images"].numpy()
        np.testing.assert_allclose(single[0], batch[index], atol=TOLERANCE)
    # Another training-mode call changes the model's reference statistics, not the export's.
    generator(np.random.default_rng(3).uniform(-1, 1, (3, 16)).astype("float32") * 0.1, training=True)
    again = served["serving_default"](z=tf.constant(z[:2]))["images"].numpy()
    np.testing.assert_allclose(again, batch[:2], atol=TOLERANCE)
    # `sample` draws U(-1, 1) latents, the generator's distribution.
    sample = served["sample"](seed=tf.constant(9, tf.int64), num_samples=tf.constant(2))["images"].numpy()
    latents = export.sample_signature_latents("uniform_signed", 16, 9, 2)
    assert latents.numpy().min() < 0
    reference = tf.saved_model.load(str(path)).signatures["serving_default"](z=latents)["images"].numpy()
    np.testing.assert_allclose(sample, reference, atol=TOLERANCE)


# ----------------------------------------------------------------------------- files on disk
def _variables_bytes(directory):
    root = pathlib.Path(directory) / "variables"
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def test_export_is_deterministic_and_refuses_to_overwrite(trained_gan, export_base, tmp_path):
    for name in ("generator", "classifier"):
        write = export.export_generator if name == "generator" else export.export_classifier
        kwargs = {} if name == "generator" else {"dataset": "mnist"}
        first = _variables_bytes(export_base / name / "1")
        assert set(first) == {"variables.index", "variables.data-00000-of-00001"}
        again = write(trained_gan, tmp_path / name / "7", **kwargs)
        assert _variables_bytes(again) == first

        before = (again / "saved_model.pb").read_bytes()
        with pytest.raises(FileExistsError, match="overwrite"):
            write(trained_gan, again, **kwargs)
        assert (again / "saved_model.pb").read_bytes() == before
        write(trained_gan, again, overwrite=True, **kwargs)
        assert _variables_bytes(again) == first
        assert sorted(p.name for p in again.parent.iterdir()) == ["7"]  # no temporary left over
        mode = os.stat(again).st_mode & 0o777
        assert mode == 0o755, oct(mode)


def test_max_batch_size_is_the_exports_own_and_is_written_down(trained_gan, tmp_path):
    generator = export.export_generator(trained_gan, tmp_path / "generator" / "1", max_batch_size=4)
    classifier = export.export_classifier(trained_gan, tmp_path / "classifier" / "1", dataset="mnist",
                                          max_batch_size=4)
    served_g = tf.saved_model.load(str(generator)).signatures
    served_c = tf.saved_model.load(str(classifier)).signatures
    assert served_g["serving_default"](z=tf.zeros([4, LATENT_DIM]))["images"].shape == (4, 28, 28, 1)
    assert served_g["sample"](seed=tf.constant(1, tf.int64), num_samples=tf.constant(4))["images"].shape[0] == 4
    assert served_c["serving_default"](images=tf.zeros([4, 28, 28, 1], tf.uint8))["logits"].shape == (4, 10)
    assert served_c["classify_float"](images=tf.ones([4, 28, 28, 1]))["logits"].shape == (4, 10)
    refused = "batch size must be <= 4 .*Received: 5"
    with pytest.raises(tf.errors.InvalidArgumentError, match="z: " + refused):
        served_g["serving_default"](z=tf.zeros([5, LATENT_DIM]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_samples must be <= 4 .*Received: 5"):
        served_g["sample"](seed=tf.constant(1, tf.int64), num_samples=tf.constant(5))
    with pytest.raises(tf.errors.InvalidArgumentError, match="images: " + refused):
        served_c["serving_default"](images=tf.zeros([5, 28, 28, 1], tf.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="images: " + refused):
        served_c["classify_float"](images=tf.zeros([5, 28, 28, 1]))
    # A batch too large is refused before the range check reads its values.
    with pytest.raises(tf.errors.InvalidArgumentError, match="images: batch size"):
        served_c["classify_float"](images=tf.fill([5, 28, 28, 1], np.nan))

    described = json.loads((generator / export.SIGNATURES_FILENAME).read_text())
    assert described["max_batch_size"] == 4 and described["latent_distribution"] == "uniform"
    assert described["signatures"]["serving_default"]["inputs"]["z"] == {
        "dtype": "float32", "shape": [-1, LATENT_DIM], "finite": True}
    assert described["signatures"]["sample"]["inputs"]["num_samples"]["range"] == [0, 4]
    assert {sig["max_batch_size"] for sig in described["signatures"].values()} == {4}
    described = json.loads((classifier / export.SIGNATURES_FILENAME).read_text())
    assert described["signatures"]["classify_float"]["inputs"]["images"] == {
        "dtype": "float32", "shape": [-1, 28, 28, 1], "range": list(export.FLOAT_IMAGE_RANGE), "finite": True}
    assert described["signatures"]["serving_default"]["inputs"]["images"]["range"] == [0, 255]
    assert set(described["signatures"]) == set(served_c) and {sig["max_batch_size"] for sig in described["signatures"].values()} == {4}


@pytest.mark.parametrize("value", [0, -1, 2.5, True, None, "8"])
def test_a_max_batch_size_that_is_not_a_positive_integer_is_refused(trained_gan, tmp_path, value):
    with pytest.raises(ValueError, match=f"max_batch_size must be a positive integer. Received: {value!r}"):
        export.export_generator(trained_gan, tmp_path / "generator" / "1", max_batch_size=value)
    with pytest.raises(ValueError, match="max_batch_size must be a positive integer"):
        export.export_classifier(trained_gan, tmp_path / "classifier" / "1", dataset="mnist", max_batch_size=value)
    assert not (tmp_path / "generator").exists() and not (tmp_path / "classifier").exists()


def test_export_dir_must_be_a_version_directory(trained_gan, tmp_path):
    with pytest.raises(ValueError, match="version"):
        export.export_generator(trained_gan, tmp_path / "generator")
    with pytest.raises(ValueError, match="version"):
        export.export_generator(trained_gan, tmp_path / "generator" / "0")


def test_crashed_export_leaves_no_half_model(trained_gan, tmp_path, monkeypatch):
    target = tmp_path / "generator" / "3"
    save = tf.saved_model.save

    class Crash(RuntimeError):
        pass

    def crashing_save(obj, export_dir, *args, **kwargs):
        (pathlib.Path(export_dir) / "saved_model.pb").write_bytes(b"half")
        raise Crash("killed mid-export")

    monkeypatch.setattr(tf.saved_model, "save", crashing_save)
    with pytest.raises(Crash):
        export.export_generator(trained_gan, target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []

    # An existing version survives a crashed overwrite untouched.
    monkeypatch.setattr(tf.saved_model, "save", save)
    export.export_generator(trained_gan, target)
    saved = _variables_bytes(target)
    monkeypatch.setattr(tf.saved_model, "save", crashing_save)
    with pytest.raises(Crash):
        export.export_generator(trained_gan, target, overwrite=True)
    assert _variables_bytes(target) == saved
    assert (target / "saved_model.pb").read_bytes() != b"half"
    assert sorted(p.name for p in target.parent.iterdir()) == ["3"]


def test_next_version_counts_both_models(tmp_path):
    assert export.next_version(tmp_path) == 1
    (tmp_path / "generator" / "2").mkdir(parents=True)
    (tmp_path / "classifier" / "5").mkdir(parents=True)
    (tmp_path / "classifier" / ".6.tmp-x").mkdir()
    assert export.next_version(tmp_path) == 6


def test_unsupervised_model_has_no_classifier(tmp_path):
    gan = ImprovedGAN(
        architectures.goodfellow2014_generator(), architectures.goodfellow2014_discriminator()
    )
    with pytest.raises(ValueError, match="semi-supervised"):
        export.export_classifier(gan, tmp_path / "classifier" / "1")


def test_export_writes_the_tf_serving_layout(export_base):
    for name in ("generator", "classifier"):
        files = sorted(
            str(p.relative_to(export_base)) for p in (export_base / name).rglob("*") if p.is_file()
        )
        assert f"{name}/1/saved_model.pb" in files
        assert f"{name}/1/variables/variables.index" in files
        assert json.dumps(files)  # plain paths only


# ----------------------------------------------------------------------------- operator files
EXPORT_FOLDER = REPO_ROOT / "export"


class _FakeTFServingREST:
    """The part of TF Serving's REST predict API the operator files use, on 127.0.0.1.

    POST /v1/models/<name>[/versions/<n>]:predict with "inputs" (columnar) or
    "instances" (row) bodies; JSON values are converted to the signature's dtypes and
    the reply is {"outputs": {...}} or {"predictions": [...]} as TF Serving's.
    """

    def __init__(self, export_base):
        import http.server
        import threading

        self.models = {}
        self.base = pathlib.Path(export_base)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                match = re.fullmatch(r"/v1/models/([^/:]+)(?:/versions/(\d+))?:predict", self.path)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                try:
                    reply = server.predict(match[1], match[2], body)
                    status, payload = 200, json.dumps(reply).encode()
                except Exception as error:  # noqa: BLE001 - reported to the client like TF Serving
                    status, payload = 400, json.dumps({"error": str(error)}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def predict(self, name, version, body):
        versions = sorted(int(p.name) for p in (self.base / name).iterdir() if p.name.isdigit())
        version = int(version) if version else versions[-1]
        key = (name, version)
        if key not in self.models:
            self.models[key] = tf.saved_model.load(str(self.base / name / str(version)))
        signature = self.models[key].signatures[body.get("signature_name", "serving_default")]
        _, specs = signature.structured_input_signature
        if "inputs" in body:
            values = body["inputs"] if isinstance(body["inputs"], dict) else {next(iter(specs)): body["inputs"]}
        else:
            rows = body["instances"]
            values = {k: [row[k] for row in rows] for k in specs} if isinstance(rows[0], dict) else {next(iter(specs)): rows}
        tensors = {k: tf.constant(np.asarray(v), dtype=specs[k].dtype) for k, v in values.items()}
        outputs = {k: v.numpy().tolist() for k, v in signature(**tensors).items()}
        if "inputs" in body:
            return {"outputs": outputs if len(outputs) > 1 else next(iter(outputs.values()))}
        count = len(next(iter(outputs.values())))
        return {"predictions": [{k: v[i] for k, v in outputs.items()} for i in range(count)]}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def fake_server(export_base):
    server = _FakeTFServingREST(export_base)
    yield server
    server.close()


def _post(url, body):
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def test_client_script_writes_the_sample_grid(fake_server, export_base, tmp_path):
    from PIL import Image

    output = tmp_path / "grid.png"
    result = subprocess.run(
        [sys.executable, "-I", str(EXPORT_FOLDER / "client.py"), "--server", fake_server.url,
         "--model", "generator", "--seed", "42", "--num-samples", "5", "--columns", "3",
         "--output", str(output)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    grid = np.asarray(Image.open(output))
    expected = tf.saved_model.load(str(export_base / "generator" / "1")).signatures["sample"](
        seed=tf.constant(42, tf.int64), num_samples=tf.constant(5)
    )["images_uint8"].numpy()
    # 3 columns x 2 rows of 28x28 with 2-pixel padding; grayscale.
    assert grid.shape == (2 * 28 + 3 * 2, 3 * 28 + 4 * 2) and grid.dtype == np.uint8
    for index in range(5):
        top, left = 2 + (index // 3) * 30, 2 + (index % 3) * 30
        np.testing.assert_array_equal(grid[top:top + 28, left:left + 28], expected[index, :, :, 0])
    assert not grid[2 + 30:2 + 58, 2 + 60:2 + 88].any()  # the sixth cell stays empty


def test_example_rest_bodies_run_against_the_exports(fake_server):
    requests = EXPORT_FOLDER / "requests"
    sample = _post(f"{fake_server.url}/v1/models/generator:predict",
                   json.loads((requests / "generator_sample.json").read_text()))
    assert np.asarray(sample["outputs"]["images_uint8"]).shape == (16, 28, 28, 1)
    by_z = _post(f"{fake_server.url}/v1/models/generator/versions/1:predict",
                 json.loads((requests / "generator_predict_z.json").read_text()))
    images = np.asarray(by_z["outputs"]["images"])
    assert images.shape == (2, 28, 28, 1) and 0 <= images.min() and images.max() <= 1
    classified = _post(f"{fake_server.url}/v1/models/classifier:predict",
                       json.loads((requests / "classifier_predict.json").read_text()))
    (prediction,) = classified["predictions"]
    assert set(prediction) == {"class_probabilities", "predicted_class", "p_real", "logits"}
    assert len(prediction["class_probabilities"]) == 10
    assert abs(sum(prediction["class_probabilities"]) - 1) < 1e-5
    assert 0 <= prediction["p_real"] <= 1 and prediction["predicted_class"] in range(10)


def test_example_grpc_bodies_hold_tensors_the_signatures_accept(export_base):
    from google.protobuf import json_format
    from tensorflow.core.framework import tensor_pb2

    for file, model in (("generator_sample.grpc.json", "generator"), ("classifier_predict.grpc.json", "classifier")):
        body = json.loads((EXPORT_FOLDER / "requests" / file).read_text())
        assert body["model_spec"]["name"] == model
        signature = tf.saved_model.load(str(export_base / model / "1")).signatures[body["model_spec"]["signature_name"]]
        _, specs = signature.structured_input_signature
        assert set(body["inputs"]) == set(specs)
        tensors = {}
        for key, proto_json in body["inputs"].items():
            proto = json_format.ParseDict(proto_json, tensor_pb2.TensorProto())
            tensors[key] = tf.constant(tf.make_ndarray(proto))
            assert tensors[key].dtype == specs[key].dtype, key
        outputs = signature(**tensors)
        assert set(body.get("output_filter", [])) <= set(outputs)


def test_models_config_names_the_exported_models():
    text = (EXPORT_FOLDER / "models.config").read_text()
    names = re.findall(r'name:\s*"([^"]+)"', text)
    paths = re.findall(r'base_path:\s*"([^"]+)"', text)
    assert names == [export.GENERATOR_MODEL_NAME, export.CLASSIFIER_MODEL_NAME]
    assert paths == [f"/models/{name}" for name in names]
    assert text.count("{") == text.count("}")


# ----------------------------------------------------------------------------- run directories
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory as `improved-gan train` leaves it (config.json + a checkpoint),
    made with the trainer's public helpers after two training steps on random data."""
    from improved_gan_tf import training
    from improved_gan_tf.config import base_config

    config = base_config()
    config.model.polyak_rate = 0.3  # the averaged D differs visibly after two steps
    workdir = tmp_path_factory.mktemp("run")
    gan = training.build_model(config)
    rng = np.random.default_rng(0)
    x = rng.random((40, 784), dtype=np.float32)
    gan.initialize(x)
    gan.fit(
        tf.data.Dataset.from_tensor_slices(
            {"labeled_images": x[:20], "labels": np.arange(20) % 10, "unlabeled_images": x[20:]}
        ).batch(10),
        epochs=1, verbose=0,
    )
    (workdir / training.CONFIG_FILENAME).write_text(json.dumps(training.config_to_dict(config)))
    state = training.RunState.create()
    state.step.assign(2)
    manager = tf.train.CheckpointManager(
        training.make_checkpoint(gan, state), str(workdir / training.CHECKPOINT_SUBDIR),
        max_to_keep=1, checkpoint_name=training.CHECKPOINT_PREFIX,
    )
    manager.save(checkpoint_number=2)
    return workdir, gan


def test_export_run_restores_the_checkpoint_and_exports_both_models(run_dir, tmp_path):
    workdir, gan = run_dir
    base = tmp_path / "serving"
    result = export.export_run(workdir, base)
    assert result["version"] == 1 and result["step"] == 2
    assert result["generator"] == base / "generator" / "1"
    assert result["classifier"] == base / "classifier" / "1"
    assert result["classifier_weights"] == "polyak_average"
    assert json.loads((result["classifier"] / export.SIGNATURES_FILENAME).read_text())["weights"] == "polyak_average"

    z = np.random.default_rng(5).random((3, 100), dtype=np.float32)
    served = tf.saved_model.load(str(result["generator"])).signatures["serving_default"](z=tf.constant(z))
    np.testing.assert_allclose(
        served["images"].numpy(), gan.generator(z, training=False).numpy().reshape(3, 28, 28, 1), atol=TOLERANCE
    )
    pixels = np.random.default_rng(6).integers(0, 256, (4, 28, 28, 1), dtype=np.uint8)
    logits = tf.saved_model.load(str(result["classifier"])).signatures["serving_default"](
        images=tf.constant(pixels)
    )["logits"].numpy()
    x = data_lib.preprocess_array(pixels, "unit_flat")
    with gan.averaged_discriminator_weights():
        np.testing.assert_allclose(logits, gan.discriminator(x, training=False).numpy(), atol=TOLERANCE)
    assert np.abs(logits - gan.discriminator(x, training=False).numpy()).max() > 1e-3

    # The next export gets the next version; the same version is refused, then replaced.
    again = export.export_run(workdir, base)
    assert again["version"] == 2
    assert _variables_bytes(again["generator"]) == _variables_bytes(result["generator"])
    assert _variables_bytes(again["classifier"]) == _variables_bytes(result["classifier"])
    with pytest.raises(FileExistsError, match="--overwrite"):
        export.export_run(workdir, base, version=2)
    assert export.export_run(workdir, base, version=2, overwrite=True)["version"] == 2


def test_export_run_serves_the_current_d_when_the_run_tests_the_current_d(run_dir, tmp_path):
    # `mnist_feature_matching_arxiv` reports the current D's test error although its
    # model keeps a Polyak average: the exported classifier is the D the figure is of.
    from improved_gan_tf import training

    workdir, gan = run_dir
    current_run = tmp_path / "run"
    shutil.copytree(workdir, current_run)
    config = json.loads((current_run / training.CONFIG_FILENAME).read_text())
    config["model"]["test_with_polyak_average"] = False
    (current_run / training.CONFIG_FILENAME).write_text(json.dumps(config))
    result = export.export_run(current_run, tmp_path / "serving")
    assert result["classifier_weights"] == "current"
    assert json.loads((result["classifier"] / export.SIGNATURES_FILENAME).read_text())["weights"] == "current"
    pixels = np.random.default_rng(6).integers(0, 256, (4, 28, 28, 1), dtype=np.uint8)
    logits = tf.saved_model.load(str(result["classifier"])).signatures["serving_default"](
        images=tf.constant(pixels)
    )["logits"].numpy()
    x = data_lib.preprocess_array(pixels, "unit_flat")
    np.testing.assert_allclose(logits, gan.discriminator(x, training=False).numpy(), atol=TOLERANCE)
    with gan.averaged_discriminator_weights():
        assert np.abs(logits - gan.discriminator(x, training=False).numpy()).max() > 1e-3


def test_export_run_passes_max_batch_size_to_both_models(run_dir, tmp_path):
    from improved_gan_tf.errors import UserInputError

    workdir, _ = run_dir
    result = export.export_run(workdir, tmp_path / "serving", max_batch_size=3)
    assert result["max_batch_size"] == 3
    for name in ("generator", "classifier"):
        assert json.loads((result[name] / export.SIGNATURES_FILENAME).read_text())["max_batch_size"] == 3
    with pytest.raises(tf.errors.InvalidArgumentError, match="batch size must be <= 3 .*Received: 4"):
        tf.saved_model.load(str(result["classifier"])).signatures["serving_default"](
            images=tf.zeros([4, 28, 28, 1], tf.uint8))
    with pytest.raises(export.ExportOptionError, match="Received: 0") as error:
        export.export_run(workdir, tmp_path / "other", max_batch_size=0)
    assert isinstance(error.value, UserInputError)
    assert not (tmp_path / "other").exists()


def test_export_command_line(run_dir, tmp_path, capsys):
    from improved_gan_tf.cli import export as export_cli

    workdir, _ = run_dir
    base = tmp_path / "serving"
    export_cli.run(["improved-gan export", "--workdir", str(workdir), "--output", str(base), "--version", "7"])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["version"] == 7 and printed["generator"] == str(base / "generator" / "7")
    assert printed["max_batch_size"] == export.MAX_BATCH_SIZE == export_cli.FLAGS["max_batch_size"].default
    assert (base / "classifier" / "7" / "saved_model.pb").exists()
    with pytest.raises(SystemExit) as exit_info:
        export_cli.run(["improved-gan export", "--workdir", str(workdir), "--output", str(base), "--version", "7"])
    assert exit_info.value.code == 2
    assert "--overwrite" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        export_cli.run(["improved-gan export", "--workdir", str(tmp_path / "missing"), "--output", str(base)])
    assert exit_info.value.code == 2
    assert str(tmp_path / "missing") in capsys.readouterr().err


def test_cli_dispatches_export():
    from improved_gan_tf import cli
    from improved_gan_tf.cli import export as export_cli

    module, description = cli.SUBCOMMANDS["export"]
    assert module == "improved_gan_tf.cli.export" and callable(export_cli.run)
    assert "export" in cli.usage()


@pytest.mark.parametrize("name", ["../escaped", "a/b", "..", ".", "", ".hidden", "a\\b"])
def test_export_run_refuses_a_model_name_outside_the_export_base(run_dir, tmp_path, name):
    from improved_gan_tf.errors import UserInputError

    workdir, _ = run_dir
    base = tmp_path / "serving" / "base"
    for keyword in ("generator_name", "classifier_name"):
        with pytest.raises(export.ExportNameError, match="one directory name") as error:
            export.export_run(workdir, base, **{keyword: name})
        assert isinstance(error.value, UserInputError) and isinstance(error.value, ValueError)
    assert not (tmp_path / "serving").exists()


def test_export_run_names_a_missing_run_directory_and_a_missing_checkpoint(run_dir, tmp_path):
    from improved_gan_tf.errors import UserInputError

    with pytest.raises(export.RunDirectoryError, match="does not exist") as error:
        export.export_run(tmp_path / "nowhere", tmp_path / "serving")
    assert isinstance(error.value, UserInputError) and isinstance(error.value, FileNotFoundError)
    (tmp_path / "empty").mkdir()
    with pytest.raises(export.RunDirectoryError, match="config.json"):
        export.export_run(tmp_path / "empty", tmp_path / "serving")
    workdir, _ = run_dir
    no_checkpoints = tmp_path / "no_checkpoints"
    no_checkpoints.mkdir()
    shutil.copy(workdir / "config.json", no_checkpoints / "config.json")
    with pytest.raises(export.RunDirectoryError, match="No checkpoint"):
        export.export_run(no_checkpoints, tmp_path / "serving")
    with pytest.raises(export.RunDirectoryError, match="ckpt-999"):
        export.export_run(workdir, tmp_path / "serving", checkpoint=str(workdir / "checkpoints" / "ckpt-999"))
    assert not (tmp_path / "serving").exists()


def test_an_existing_version_is_refused_as_a_user_error(run_dir, tmp_path):
    from improved_gan_tf.errors import UserInputError

    workdir, _ = run_dir
    base = tmp_path / "serving"
    (base / "classifier" / "3").mkdir(parents=True)
    with pytest.raises(export.ExportExistsError, match="--overwrite") as error:
        export.export_run(workdir, base, version=3)
    assert isinstance(error.value, UserInputError) and isinstance(error.value, FileExistsError)
    assert not (base / "generator").exists()


def _tree_bytes(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_failed_classifier_export_leaves_neither_model(run_dir, tmp_path, monkeypatch):
    workdir, _ = run_dir
    base = tmp_path / "serving"
    first = export.export_run(workdir, base, version=1)
    before = {name: _tree_bytes(first[name]) for name in ("generator", "classifier")}
    save = tf.saved_model.save
    calls = []

    def save_then_fail_on_the_classifier(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise OSError("disk full (injected while writing the classifier)")
        return save(*args, **kwargs)

    monkeypatch.setattr(tf.saved_model, "save", save_then_fail_on_the_classifier)
    with pytest.raises(OSError, match="injected"):
        export.export_run(workdir, base, version=2)
    assert sorted(p.name for p in (base / "generator").iterdir()) == ["1"]
    assert sorted(p.name for p in (base / "classifier").iterdir()) == ["1"]

    # Replacing version 1 fails the same way: the old pair stays, byte for byte.
    calls.clear()
    with pytest.raises(OSError, match="injected"):
        export.export_run(workdir, base, version=1, overwrite=True)
    assert sorted(p.name for p in (base / "generator").iterdir()) == ["1"]
    assert sorted(p.name for p in (base / "classifier").iterdir()) == ["1"]
    assert {name: _tree_bytes(first[name]) for name in ("generator", "classifier")} == before

    # Both written, the generator renamed in, the classifier's rename fails: the
    # generator's new version is taken out again.
    monkeypatch.setattr(tf.saved_model, "save", save)
    rename = os.rename

    def rename_failing_for_the_classifier(source, target):
        if pathlib.Path(target) == (base / "classifier" / "2").absolute():
            raise OSError("injected rename failure")
        return rename(source, target)

    monkeypatch.setattr(os, "rename", rename_failing_for_the_classifier)
    with pytest.raises(OSError, match="injected"):
        export.export_run(workdir, base, version=2)
    assert sorted(p.name for p in (base / "generator").iterdir()) == ["1"]
    assert sorted(p.name for p in (base / "classifier").iterdir()) == ["1"]
    monkeypatch.setattr(os, "rename", rename)
    assert export.export_run(workdir, base, version=2)["classifier"] == base / "classifier" / "2"


@pytest.mark.parametrize("distribution", ["uniform", "uniform_signed", "normal"])
def test_sample_latents_follow_the_generator_distribution(distribution):
    from improved_gan_tf.latents import sample_latents

    drawn = export.sample_signature_latents(distribution, 8, 5, 3000).numpy()
    assert drawn.shape == (3000, 8)
    # On this CPU, Philox is also what "auto_select" picks: the library's own sampler agrees.
    reference = sample_latents(distribution, (3000, 8), seed=tf.constant([5, 0], tf.int64)).numpy()
    np.testing.assert_array_equal(drawn, reference)
    low, high = {"uniform": (0, 1), "uniform_signed": (-1, 1)}.get(distribution, (None, None))
    if low is not None:
        assert drawn.min() >= low and drawn.max() < high
        assert abs(drawn.mean() - (low + high) / 2) < 0.02
    else:
        assert abs(drawn.mean()) < 0.03 and abs(drawn.std() - 1) < 0.03
    assert not np.array_equal(drawn, export.sample_signature_latents(distribution, 8, 6, 3000).numpy())


@pytest.mark.parametrize("preprocess", ["unit", "unit_flat", "symmetric", "signed_unit"])
def test_exported_pixels_invert_the_datas_own_preprocessing(preprocess, tmp_path):
    # The inverse written from each forward map: unit x/255, symmetric (x-127.5)/128,
    # signed_unit (x-127.5)/127.5. Exported images, sample grids and scores agree.
    scale, offset = {"unit": (255.0, 0.0), "unit_flat": (255.0, 0.0),
                     "symmetric": (128.0, 127.5), "signed_unit": (127.5, 127.5)}[preprocess]
    shape = (4, 4, 1)
    generator = keras.Sequential([keras.Input((3,)), keras.layers.Dense(16, activation="tanh"),
                                  keras.layers.Reshape(shape)])
    export.export_generator(generator, tmp_path / "generator" / "1", output_range=preprocess,
                                image_shape=shape)
    served = tf.saved_model.load(str(tmp_path / "generator" / "1")).signatures["serving_default"]
    z = np.random.RandomState(0).uniform(-3, 3, size=(64, 3)).astype(np.float32)
    raw = generator(z).numpy().astype(np.float64)
    expected = np.clip(np.round(raw * scale + offset), 0, 255).astype(np.uint8)
    uint8 = served(z=tf.constant(z))["images_uint8"].numpy()
    assert np.abs(uint8.astype(int) - expected.astype(int)).max() <= 1  # float32 at .5 ties
    assert np.mean(uint8 == expected) > 0.99
