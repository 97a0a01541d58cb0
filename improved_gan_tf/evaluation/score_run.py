"""`improved-gan score`: score a trained generator and write the figures into its report.

    improved-gan score --workdir RUN_DIR [--num_samples 50000] [--classifier PATH]
        [--inception_weights PATH] [--batch_size N] [--data_dir DIR] [--seed S]

What it does:

1. Restores the run's latest checkpoint (`training.restore_models`).
2. Draws `num_samples` latents from the run's latent distribution with the stateless
   seed `(seed, SAMPLE_SEED_SALT)` and generates the samples `batch_size` at a time
   exactly as the training run draws its sample grids (`training.generate_samples`:
   batch statistics in G, G's non-trainable state restored afterwards). Samples are
   mapped to pixels in [0, 255] (float32, not rounded).
3. Scores them against the run's dataset's real test split:
   - MNIST / Fashion-MNIST: the dataset classifier score (the Inception Score formula on
     a small CNN's predictions, 10 splits) and the classifier FD (Fréchet distance of its
     128-d features, samples vs. the test split), plus the real test split's classifier
     score and accuracy as the ceiling. The classifier is `--classifier` if it exists;
     otherwise it is trained with `train_dataset_classifier` (default epochs, ~10-20 min
     on 2 CPU cores) into `--classifier` or, when none is given, into the user cache
     `$IMPROVED_GAN_CACHE` (default `~/.cache/improved_gan_tf`)
     `/classifiers/<dataset>_classifier.keras`, and reused from there next time.
   - CIFAR-10 / SVHN: the Inception Score of the samples and of the real test split,
     and the FID between them, with `InceptionScorer(--inception_weights or
     "imagenet")`; samples are streamed batch by batch, so 50,000 fit in little
     memory. Offline with no weights this raises `MissingWeightsError` (naming the file
     to put where); the CLI prints it and exits with status 1.
   - Goodfellow et al. (2014) MNIST runs (`model.architecture == "goodfellow2014"`, or
     `--parzen=yes` on any MNIST run): the Parzen-window log-likelihood with their
     protocol (`mnist_parzen_protocol`: the first 10,000 samples, sigma from
     logspace(-1, 0, 10) chosen on training images 50,000-50,999, mean over the 10,000
     test images and its standard error), next to the paper's 225 +- 2. Read
     `improved_gan_tf.evaluation.parzen`'s docstring for the estimator's weaknesses.
4. Writes the figures into the run's `report.json` (key "scores") and `report.md`
   (a "## Scores" section, replacing an earlier one), each atomically (temporary file
   then `os.replace`), and prints them.

Note: `improved-gan train` rewrites report.json / report.md when a (resumed) training
ends, which drops the "scores" entry; score again after training.

Python API: `score_run(workdir, ...)` returns the "scores" dict and updates the report;
`generate_run_samples(...)` is the sampler it uses.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from improved_gan_tf import registry  # noqa: E402
from improved_gan_tf.fileio import atomic_write_text  # noqa: E402

__all__ = [
    "PAPER_PARZEN_MNIST",
    "SAMPLE_SEED_SALT",
    "default_classifier_path",
    "generate_run_samples",
    "render_scores_md",
    "score_run",
    "update_report",
]

#: Goodfellow et al. (2014), Table 1: Parzen log-likelihood of the MNIST test set.
PAPER_PARZEN_MNIST = (225.0, 2.0)
#: Second word of the stateless seed of the scoring latents: `(seed, SAMPLE_SEED_SALT)`.
SAMPLE_SEED_SALT = 20160610 + 1
CLASSIFIER_DATASETS = ("mnist", "fashion_mnist")
INCEPTION_DATASETS = ("cifar10", "svhn_cropped")
SCORES_HEADING = "## Scores"


def default_cache_dir() -> pathlib.Path:
    """`$IMPROVED_GAN_CACHE`, else `$XDG_CACHE_HOME/improved_gan_tf`, else
    `~/.cache/improved_gan_tf`."""
    if os.environ.get("IMPROVED_GAN_CACHE"):
        return pathlib.Path(os.environ["IMPROVED_GAN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "improved_gan_tf"


def default_classifier_path(dataset: str, cache_dir=None) -> pathlib.Path:
    """Where an automatically trained dataset classifier is cached."""
    root = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
    return root / "classifiers" / f"{dataset}_classifier.keras"


def _pixel_mapping(preprocess: str):
    """`(scale, offset)` with pixels = sample * scale + offset (inverse of the data's
    preprocessing; see `training.to_uint8_images`)."""
    if preprocess == "symmetric":
        return 128.0, 127.5
    if preprocess in ("unit", "unit_flat"):
        return 255.0, 0.0
    raise ValueError(f"cannot map samples of preprocess {preprocess!r} back to pixels")


def generate_run_samples(model, config, num_samples: int, *, batch_size: int | None = None,
                         seed: int = 0):
    """Yields the generator's samples as float32 pixels in [0, 255], batch by batch.

    Latents: `sample_latents(model.latent_distribution, (num_samples, latent_dim),
    seed=(seed, SAMPLE_SEED_SALT))`, cut into consecutive batches of `batch_size`
    (default: the run's `train.batch_size`; it matters for generators with batch
    normalisation, which sample with batch statistics as the authors did). Each batch
    goes through `training.generate_samples`, is mapped back to pixels (inverse of the
    run's preprocessing), clipped to [0, 255] and reshaped to the dataset's
    `(H, W, C)`.
    """
    import tensorflow as tf

    from improved_gan_tf import training
    from improved_gan_tf.latents import sample_latents

    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1; got {num_samples}")
    batch_size = int(batch_size or config.train.batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    facts = registry.data_facts(config)
    shape = facts.image_shape
    scale, offset = _pixel_mapping(facts.preprocess)
    latents = sample_latents(
        model.latent_distribution, (int(num_samples), model.latent_dim),
        seed=tf.constant([int(seed), SAMPLE_SEED_SALT], dtype=tf.int64),
    )
    for start in range(0, int(num_samples), batch_size):
        samples = training.generate_samples(model, latents[start:start + batch_size])
        pixels = samples.reshape((-1,) + shape) * scale + offset
        yield np.clip(pixels, 0.0, 255.0).astype(np.float32)


def _progress(iterable, total, label, verbose, every_seconds: float = 15.0):
    """Passes batches through, printing a progress line every `every_seconds` and at
    the end (stderr)."""
    done, started = 0, time.time()
    last = started
    for batch in iterable:
        done += len(batch)
        now = time.time()
        if verbose and (done >= total or now - last >= every_seconds):
            last = now
            print(f"[score] {label}: {done}/{total} ({now - started:.0f} s)",
                  file=sys.stderr, flush=True)
        yield batch


def _splits(n: int, splits: int) -> int:
    return max(1, min(int(splits), int(n)))


def _load_or_train_classifier(dataset, data_dir, classifier_path, cache_dir, verbose):
    from improved_gan_tf.evaluation import dataset_classifier as dc

    path = pathlib.Path(classifier_path) if classifier_path else default_classifier_path(
        dataset, cache_dir
    )
    info_path = path.with_suffix(".json")
    if path.is_file():
        classifier = dc.load_dataset_classifier(path)
        info = json.loads(info_path.read_text()) if info_path.is_file() else {}
        trained = False
    else:
        if not data_dir:
            raise FileNotFoundError(
                f"no dataset classifier at {path}, and no data directory to train one "
                "(pass --classifier PATH to an existing one or --data_dir DIR)"
            )
        print(f"[score] training the {dataset} classifier into {path} (this takes a while; "
              "it is cached for next time)", file=sys.stderr, flush=True)
        classifier, info = dc.train_dataset_classifier(
            dataset, data_dir, path, verbose=2 if verbose else 0
        )
        trained = True
    if info.get("dataset") not in (None, dataset):
        raise ValueError(f"classifier {path} was trained on {info['dataset']!r}, not {dataset!r}")
    return classifier, {
        "path": str(path),
        "trained_now": trained,
        "test_accuracy": info.get("test_accuracy"),
        "epochs": info.get("epochs"),
    }


def score_run(
    workdir,
    *,
    num_samples: int = 50000,
    classifier=None,
    classifier_cache_dir=None,
    inception_weights=None,
    batch_size: int | None = None,
    data_dir=None,
    seed: int = 0,
    splits: int = 10,
    parzen: str = "auto",
    parzen_samples: int = 10000,
    reference_examples: int | None = None,
    write_report: bool = True,
    verbose: int = 1,
) -> dict:
    """Scores a run directory's generator (see the module docstring); returns the scores.

    Args:
      workdir: the run directory of `improved-gan train`.
      num_samples: generated samples to score (the paper: 50,000).
      classifier: MNIST-like runs: path of the dataset classifier (`.keras`); trained
        into that path if missing. None: the user cache (`default_classifier_path`).
      classifier_cache_dir: cache root instead of `default_cache_dir()`.
      inception_weights: CIFAR/SVHN runs: Keras InceptionV3 `.h5` weights or the 2015
        `classify_image_graph_def.pb`; None means "imagenet" (Keras cache or download).
      batch_size: generator batch size (default: the run's training batch size); also
        the scorers' forward-pass batch size.
      data_dir: the dataset directory (default: the run's `config.data.dir`).
      seed: first word of the latents' stateless seed.
      splits: splits of the classifier / Inception score (fewer if fewer samples).
      parzen: "auto" (goodfellow2014 MNIST runs), "yes" (any MNIST run) or "no".
      parzen_samples: samples used for the Parzen estimate (the paper: 10,000).
      reference_examples: use only the first test images as the reference (and as the
        Parzen test set); None (default) uses the whole test split. For quick checks.
      write_report: update report.json / report.md.
      verbose: 1 prints progress to stderr.

    Returns:
      The dict stored under "scores" in report.json.
    """
    from improved_gan_tf import data as data_lib
    from improved_gan_tf import training

    started = time.time()
    workdir = pathlib.Path(workdir)
    if parzen not in ("auto", "yes", "no"):
        raise ValueError(f"parzen must be 'auto', 'yes' or 'no'; got {parzen!r}")
    config, model = training.restore_models(workdir)
    dataset = registry.data_facts(config).name
    data_dir = str(data_dir or config.data.dir or "") or None
    batch_size = int(batch_size or config.train.batch_size)
    num_samples = int(num_samples)
    scores = {
        "dataset": dataset,
        "checkpoint": str(training.latest_checkpoint(workdir)),
        "global_step": int(model.restored_step),
        "num_samples": num_samples,
        "sample_seed": [int(seed), SAMPLE_SEED_SALT],
        "batch_size": batch_size,
    }

    def samples():
        return _progress(
            generate_run_samples(model, config, num_samples, batch_size=batch_size, seed=seed),
            num_samples, "generating", verbose,
        )

    test_x, test_y = data_lib.load_arrays(dataset, "test", data_dir)
    test_x, test_y = np.asarray(test_x)[:reference_examples], np.asarray(test_y)[:reference_examples]
    scores["reference_examples"] = int(len(test_x))
    use_parzen = (dataset == "mnist") and (
        parzen == "yes" or (parzen == "auto" and config.model.architecture == "goodfellow2014")
    )
    if parzen == "yes" and dataset != "mnist":
        raise ValueError(f"the Parzen protocol is for MNIST runs; this run is {dataset!r}")

    if dataset in CLASSIFIER_DATASETS:
        from improved_gan_tf.evaluation import dataset_classifier as dc
        from improved_gan_tf.evaluation.metrics import fid_from_activations

        net, net_info = _load_or_train_classifier(
            dataset, data_dir, classifier, classifier_cache_dir, verbose
        )
        generated = np.concatenate(list(samples()))  # MNIST-size: 50,000 x 784 float32
        probs, feats = dc.classifier_predict(net, generated, batch_size=batch_size)
        real_probs, real_feats = dc.classifier_predict(net, test_x, batch_size=batch_size)
        scores["classifier"] = {
            **net_info,
            "classifier_score": list(dc.classifier_score(probs, _splits(len(probs), splits))),
            "classifier_fd": fid_from_activations(feats, real_feats),
            "real_test_classifier_score": list(
                dc.classifier_score(real_probs, _splits(len(real_probs), splits))
            ),
            "real_test_accuracy": float(np.mean(np.argmax(real_probs, 1) == test_y)),
        }
        if use_parzen:
            scores["parzen"] = _parzen(
                generated[:parzen_samples], data_dir, reference_examples, verbose
            )
    elif dataset in INCEPTION_DATASETS:
        from improved_gan_tf.evaluation.inception import InceptionScorer

        scorer = InceptionScorer(
            inception_weights or "imagenet", batch_size=min(batch_size, 50), verbose=verbose
        )
        reference = scorer.score(test_x, splits=_splits(len(test_x), splits))
        result = scorer.score(
            samples(), splits=_splits(num_samples, splits),
            reference=(reference["mu"], reference["sigma"]), num_images=num_samples,
        )
        scores["inception"] = {
            "weights": str(inception_weights or "imagenet"),
            "network": scorer.source,
            "inception_score": list(result["inception_score"]),
            "fid": float(result["fid"]),
            "real_test_inception_score": list(reference["inception_score"]),
        }
    else:
        raise ValueError(f"no scorer for dataset {dataset!r}")

    scores["seconds"] = round(time.time() - started, 1)
    if write_report:
        update_report(workdir, scores)
    return scores


def _parzen(pixels, data_dir, num_test, verbose):
    from improved_gan_tf.evaluation.parzen import mnist_parzen_protocol

    if verbose:
        print(f"[score] Parzen window estimate on {len(pixels)} samples", file=sys.stderr, flush=True)
    result = mnist_parzen_protocol(pixels, data_dir, value_range=(0.0, 255.0), num_test=num_test)
    result["paper"] = list(PAPER_PARZEN_MNIST)
    return result


def _fmt_pair(pair, digits=3):
    return f"{pair[0]:.{digits}f} ± {pair[1]:.{digits}f}"


def _score_table(score_name, distance_name, samples_score, distance, real_score, real_label):
    """A samples-vs-real-test-set table: score (mean ± std over splits) and distance."""
    return [
        "", f"| | {score_name} (mean ± std over splits) | {distance_name} |", "|---|---|---|",
        f"| samples | {_fmt_pair(samples_score)} | {distance:.3f} |",
        f"| {real_label} | {_fmt_pair(real_score)} | 0 |",
    ]


def render_scores_md(scores: dict) -> str:
    """The report.md "Scores" section."""
    lines = [SCORES_HEADING, ""]
    lines.append(
        f"- checkpoint `{scores['checkpoint']}` (step {scores['global_step']}); "
        f"{scores['num_samples']:,} samples (latent seed {scores['sample_seed']}, batches of "
        f"{scores['batch_size']}); reference: the first {scores['reference_examples']:,} images of "
        f"the {scores['dataset']} test split"
    )
    c = scores.get("classifier")
    if c:
        accuracy = c.get("test_accuracy")
        lines.append(
            f"- dataset classifier `{c['path']}`"
            + (f" (test accuracy {100 * accuracy:.2f}%)" if accuracy is not None else "")
        )
        lines += _score_table(
            "classifier score", "classifier FD", c["classifier_score"], c["classifier_fd"],
            c["real_test_classifier_score"], "real test set (ceiling)",
        )
    i = scores.get("inception")
    if i:
        lines.append(f"- Inception-v3: {i['network']} network, weights `{i['weights']}`")
        lines += _score_table(
            "Inception score", "FID", i["inception_score"], i["fid"],
            i["real_test_inception_score"], "real test set",
        )
    p = scores.get("parzen")
    if p:
        lines += [
            "",
            f"- **Parzen-window log-likelihood (Goodfellow et al. 2014 protocol): "
            f"{p['log_likelihood']:.1f} ± {p['standard_error']:.1f} nats** "
            f"(sigma {p['sigma']:.4g} chosen on {len(p['sigmas'])} bandwidths; "
            f"{p['num_samples']:,} samples, {p['num_test']:,} test images); the paper: "
            f"{p['paper'][0]:g} ± {p['paper'][1]:g}. A poor estimate of the true "
            "likelihood, for comparison with the published table only (see "
            "`improved_gan_tf/evaluation/parzen.py`).",
        ]
    lines += ["", f"Scored in {scores['seconds']:.0f} s by `improved-gan score`.", ""]
    return "\n".join(lines)




def _replace_section(markdown: str, section: str) -> str:
    """Puts `section` in place of an earlier "## Scores" section, else before
    "## Config", else at the end."""
    lines = markdown.splitlines()
    if SCORES_HEADING in lines:
        start = lines.index(SCORES_HEADING)
        end = next((k for k in range(start + 1, len(lines)) if lines[k].startswith("## ")),
                   len(lines))
        lines[start:end] = section.rstrip("\n").splitlines() + [""]
    elif "## Config" in lines:
        at = lines.index("## Config")
        lines[at:at] = section.rstrip("\n").splitlines() + [""]
    else:
        if lines and lines[-1] != "":
            lines.append("")
        lines += section.rstrip("\n").splitlines()
    return "\n".join(lines).rstrip("\n") + "\n"


def update_report(workdir, scores: dict) -> None:
    """Stores `scores` as report.json's "scores" and report.md's "Scores" section
    (creating the files if training has not written them yet), atomically."""
    workdir = pathlib.Path(workdir)
    json_path, md_path = workdir / "report.json", workdir / "report.md"
    report = json.loads(json_path.read_text()) if json_path.is_file() else {}
    report["scores"] = scores
    atomic_write_text(json_path, json.dumps(report, indent=1) + "\n")
    markdown = md_path.read_text() if md_path.is_file() else f"# Report: `{workdir}`\n"
    atomic_write_text(md_path, _replace_section(markdown, render_scores_md(scores)))


# ---------------------------------------------------------------------------- CLI

def _summary(scores: dict) -> str:
    out = [f"scores of {scores['checkpoint']} ({scores['num_samples']} samples):"]
    c = scores.get("classifier")
    if c:
        out.append(f"  classifier score {_fmt_pair(c['classifier_score'])} "
                   f"(real test set: {_fmt_pair(c['real_test_classifier_score'])}); "
                   f"classifier FD {c['classifier_fd']:.3f}")
    i = scores.get("inception")
    if i:
        out.append(f"  Inception score {_fmt_pair(i['inception_score'])} "
                   f"(real test set: {_fmt_pair(i['real_test_inception_score'])}); "
                   f"FID {i['fid']:.3f}")
    p = scores.get("parzen")
    if p:
        out.append(f"  Parzen log-likelihood {p['log_likelihood']:.2f} ± {p['standard_error']:.2f} "
                   f"(sigma {p['sigma']:.4g}; paper {p['paper'][0]:g} ± {p['paper'][1]:g})")
    return "\n".join(out)


def build_parser(prog: str = "improved-gan score"):
    import argparse

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Score a training run's generator (dataset classifier score and FD for "
        "MNIST-like data, Inception score and FID for CIFAR-10/SVHN, the Parzen "
        "log-likelihood for goodfellow2014 MNIST runs) and write the figures into the "
        "run's report.json / report.md.",
    )
    parser.add_argument("--workdir", required=True, help="run directory of `improved-gan train`")
    parser.add_argument("--num_samples", type=int, default=50000, help="generated samples to score")
    parser.add_argument(
        "--classifier", help="MNIST/Fashion-MNIST: dataset classifier (.keras); trained into "
        "this path if it does not exist (default: the user cache, "
        "~/.cache/improved_gan_tf/classifiers/<dataset>_classifier.keras)")
    parser.add_argument(
        "--inception_weights", help="CIFAR-10/SVHN: Keras InceptionV3 ImageNet .h5 weights or "
        "the 2015 classify_image_graph_def.pb (default: the Keras cache, else a download)")
    parser.add_argument("--batch_size", type=int, help="generation batch size (default: the run's)")
    parser.add_argument("--data_dir", help="dataset directory (default: the run's data.dir)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the scoring latents")
    parser.add_argument("--splits", type=int, default=10, help="splits of the classifier/Inception score")
    parser.add_argument("--parzen", choices=("auto", "yes", "no"), default="auto",
                        help="Parzen log-likelihood (auto: goodfellow2014 MNIST runs only)")
    parser.add_argument("--parzen_samples", type=int, default=10000,
                        help="samples for the Parzen estimate (the paper: 10,000)")
    parser.add_argument("--reference_examples", type=int,
                        help="use only the first N test images as the reference (quick checks)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


def run(argv=None) -> dict:
    """Entry point of `improved-gan score` (see `improved_gan_tf.cli`); returns the scores."""
    argv = list(sys.argv if argv is None else argv)
    args = build_parser(argv[0] if argv else "improved-gan score").parse_args(argv[1:])
    from improved_gan_tf.evaluation.inception import MissingWeightsError

    try:
        scores = score_run(
            args.workdir, num_samples=args.num_samples, classifier=args.classifier,
            inception_weights=args.inception_weights, batch_size=args.batch_size,
            data_dir=args.data_dir, seed=args.seed, splits=args.splits,
            parzen=args.parzen, parzen_samples=args.parzen_samples,
            reference_examples=args.reference_examples, verbose=0 if args.quiet else 1,
        )
    except (MissingWeightsError, FileNotFoundError, ValueError) as error:
        print(f"improved-gan score: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    print(_summary(scores))
    print(f"written to {pathlib.Path(args.workdir) / 'report.json'} and report.md")
    return scores


if __name__ == "__main__":
    run()
