"""A study: a fixed, seeded set of real and generated images, and its evaluators.

`create_study` draws `round(num_images * fraction_real)` real test images and generates
the rest from a run's generator (its latest checkpoint, or an exported SavedModel),
all keyed by `seed`, and writes them with their parameters into the study file. Image
ids are a seeded shuffle of 1..N, so an id says nothing about its image's truth. Each
evaluator gets a random token (their link's secret) and their own seeded shuffle of the
images; both are stored, so a restarted server hands out the same links and orders.
"""

from __future__ import annotations

import io
import pathlib
import secrets
import uuid

import numpy as np

from improved_gan_tf import registry
from improved_gan_tf.errors import UserInputError
from improved_gan_tf.humaneval.store import Evaluator
from improved_gan_tf.humaneval.store import Store


class StudyError(UserInputError, ValueError):
    """A study that cannot be made or resumed as asked (a user error)."""


def encode_png(image: np.ndarray) -> bytes:
    from PIL import Image

    image = np.asarray(image, np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_png(png: bytes) -> np.ndarray:
    """uint8 `[H, W, C]` of a PNG."""
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(png)))
    return image[..., None] if image.ndim == 2 else image


# ---------------------------------------------------------------------- images
def _run_facts(config):
    """(dataset name, raw image shape, preprocess) of a run's config."""
    if config.data.name == "imagenet2012":
        raise StudyError("ImageNet runs have no local test split to draw real images from.")
    facts = registry.data_facts(config)
    return facts.name, tuple(facts.image_shape), facts.preprocess


def generated_from_checkpoint(workdir, count: int, seed: int):
    """`count` uint8 images from a run's latest checkpoint, latents keyed by `seed`, and
    the checkpoint's step."""
    import tensorflow as tf

    from improved_gan_tf import training
    from improved_gan_tf.latents import sample_latents

    restored = training.restore_run(workdir)
    config, model = restored.config, restored.model
    _, shape, preprocess = _run_facts(config)
    latents = sample_latents(
        model.latent_distribution, (count, model.latent_dim), tf.constant([seed, 1], tf.int64)
    )
    samples = training.generate_samples(model, latents)
    return training.to_uint8_images(samples, shape, preprocess), restored.step


def _saved_model_dir(path: pathlib.Path) -> pathlib.Path:
    """A generator version directory from `--export`: the version directory itself, the
    model directory (`.../generator`, newest version) or the export base."""
    if (path / "saved_model.pb").exists():
        return path
    for base in (path, path / "generator"):
        versions = sorted(
            (p for p in base.glob("*") if p.name.isdigit() and (p / "saved_model.pb").exists()),
            key=lambda p: int(p.name),
        )
        if versions:
            return versions[-1]
    raise StudyError(f"no generator SavedModel under {path} (expected saved_model.pb).")


def generated_from_export(export_dir, count: int, seed: int):
    """`count` uint8 images from an exported generator's `sample` signature."""
    import tensorflow as tf

    directory = _saved_model_dir(pathlib.Path(export_dir))
    loaded = tf.saved_model.load(str(directory))
    if "sample" not in loaded.signatures:
        raise StudyError(f"{directory} has no 'sample' signature: is it a generator export?")
    try:
        out = loaded.signatures["sample"](
            seed=tf.constant(seed, tf.int64), num_samples=tf.constant(count, tf.int32)
        )
    except tf.errors.InvalidArgumentError as error:
        raise StudyError(f"{directory}: {error.message.splitlines()[0]}") from None
    return out["images_uint8"].numpy().astype(np.uint8), str(directory)


def real_test_images(dataset: str, data_dir, count: int, seed: int):
    """`count` distinct test images of `dataset` (seeded choice) and their indices."""
    from improved_gan_tf import data as data_lib

    images, _ = data_lib.load_arrays(dataset, "test", data_dir=data_dir or None, download=False)
    if count > len(images):
        raise StudyError(f"{dataset} test split has {len(images)} images, fewer than {count}.")
    indices = np.sort(np.random.default_rng([seed, 2]).choice(len(images), count, replace=False))
    return images[indices], indices


# ---------------------------------------------------------------------- the study
def study_parameters(num_images: int, fraction_real: float) -> tuple[int, int]:
    """(number of real, number of generated images)."""
    if num_images < 2:
        raise StudyError(f"--num_images must be at least 2, got {num_images}.")
    if not 0.0 < fraction_real < 1.0:
        raise StudyError(f"--fraction_real must be strictly between 0 and 1, got {fraction_real}.")
    num_real = int(round(num_images * fraction_real))
    if num_real in (0, num_images):
        raise StudyError(
            f"--num_images {num_images} with --fraction_real {fraction_real} leaves no "
            f"{'real' if num_real == 0 else 'generated'} image."
        )
    return num_real, num_images - num_real


def create_study(store: Store, *, workdir=None, export=None, real=None, dataset=None,
                 num_images=100, fraction_real=0.5, feedback=False, seed=0) -> dict:
    """Makes the study's images and writes them and its parameters into `store`.

    Real images: `dataset`'s test split from `real` (default: the run's `data.dir`).
    Generated images: `export` (a generator SavedModel) if given, else `workdir`'s latest
    checkpoint. Returns the study's metadata.
    """
    num_real, num_generated = study_parameters(num_images, fraction_real)
    config = None
    if workdir is not None:
        from improved_gan_tf import training

        try:
            config = training.load_config(workdir)
        except FileNotFoundError as error:
            raise StudyError(str(error)) from None
    if config is not None:
        dataset_of_run, shape, _ = _run_facts(config)
        dataset = dataset or dataset_of_run
        real = real if real is not None else (config.data.dir or None)
    if dataset is None:
        raise StudyError("--dataset is needed when there is no --workdir to read it from.")

    from improved_gan_tf import data as data_lib

    try:
        dataset = data_lib.canonical_name(dataset)
        real_images, real_indices = real_test_images(dataset, real, num_real, seed)
    except (ValueError, FileNotFoundError) as error:
        raise StudyError(str(error).splitlines()[0]) from None
    if export is not None:
        fake_images, source = generated_from_export(export, num_generated, seed)
        source = {"export": source}
    else:
        try:
            fake_images, step = generated_from_checkpoint(workdir, num_generated, seed)
        except FileNotFoundError as error:
            raise StudyError(str(error)) from None
        source = {"workdir": str(pathlib.Path(workdir).resolve()), "checkpoint_step": step}
    if fake_images.shape[1:] != real_images.shape[1:]:
        raise StudyError(
            f"generated images are {fake_images.shape[1:]}, the real {dataset} images "
            f"{real_images.shape[1:]}."
        )

    truths = ["real"] * num_real + ["generated"] * num_generated
    origins = [f"{dataset} test #{i}" for i in real_indices] + [
        f"generated #{i} (seed {seed})" for i in range(num_generated)
    ]
    images = np.concatenate([real_images, fake_images])
    ids = np.random.default_rng([seed, 3]).permutation(num_images) + 1
    rows = [
        (int(ids[k]), truths[k], encode_png(images[k]), images[k].shape, origins[k])
        for k in range(num_images)
    ]
    meta = {
        "study": uuid.uuid4().hex[:12],
        "seed": int(seed),
        "dataset": dataset,
        "image_shape": list(images.shape[1:]),
        "num_images": int(num_images),
        "num_real": num_real,
        "num_generated": num_generated,
        "fraction_real": float(fraction_real),
        "feedback": bool(feedback),
        "source": source,
        "real_data_dir": str(real) if real else None,
    }
    store.initialize(meta, sorted(rows))
    return meta


def ensure_evaluators(store: Store, count: int) -> list[Evaluator]:
    """The study's evaluators, adding new ones until there are at least `count`."""
    if count < 1:
        raise StudyError(f"--evaluators must be at least 1, got {count}.")
    evaluators = store.evaluators()
    seed = store.meta()["seed"]
    ids = store.image_ids()
    for index in range(len(evaluators), count):
        order = np.random.default_rng([seed, 4, index]).permutation(ids)
        evaluators.append(store.add_evaluator(f"e{index + 1}", secrets.token_urlsafe(18), order))
    return evaluators


def evaluator_path(evaluator: Evaluator) -> str:
    return f"/e/{evaluator.evaluator_id}/{evaluator.token}/"
