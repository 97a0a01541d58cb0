"""A study's result: error rates with 95% CIs (`stats.analyze`), as JSON or text, a
grid of the generated images most often taken for real, and the run directory whose
report gets the result (`improved_gan_tf.report.write_human_evaluation` writes it)."""

from __future__ import annotations

import math

import numpy as np

from improved_gan_tf.grids import image_grid
from improved_gan_tf.grids import save_png
from improved_gan_tf.humaneval import stats
from improved_gan_tf.humaneval.store import Store
from improved_gan_tf.humaneval.study import decode_png
from improved_gan_tf.report import format_rate
from improved_gan_tf.rundir import RunDir


def build_report(store: Store, *, replicates=stats.DEFAULT_REPLICATES, seed=0, top=16) -> dict:
    meta = store.meta()
    judgments = store.judgments()
    evaluators = [e.evaluator_id for e in store.evaluators()]
    evaluator = np.array([j["evaluator_id"] for j in judgments], dtype=object)
    image = np.array([j["image_id"] for j in judgments], dtype=np.int64)
    is_real = np.array([j["truth"] == "real" for j in judgments], dtype=bool)
    said_real = np.array([j["answer"] == "real" for j in judgments], dtype=bool)
    result = stats.analyze(evaluator.astype(str), image, is_real, said_real,
                           replicates=replicates, seed=seed)
    answered = {row["evaluator"]: row for row in result["evaluators"]}
    times = {}
    for j in judgments:
        if j["response_ms"] is not None:
            times.setdefault(j["evaluator_id"], []).append(j["response_ms"])
    rows = []
    for who in evaluators:  # every evaluator, including those who answered nothing yet
        row = answered.get(who) or {
            "evaluator": who, "judgments": 0, "error_rate": float("nan"),
            "error_rate_ci95": [float("nan")] * 2, "error_rate_real": float("nan"),
            "error_rate_generated": float("nan"),
        }
        row["completed"] = row["judgments"] == meta["num_images"]
        row["median_response_ms"] = float(np.median(times[who])) if times.get(who) else None
        rows.append(row)
    result["evaluators"] = rows
    origins = {row["image_id"]: row["origin"] for row in store.images()}
    result["most_taken_for_real"] = [
        {"image_id": i, "judged_real": k, "judgments": n, "origin": origins[i]}
        for i, k, n in stats.most_taken_for_real(image, is_real, said_real, top=top)
    ]
    result["study"] = meta
    result["bootstrap"] = {"replicates": int(replicates), "seed": int(seed),
                           "resampled": "evaluators and images"}
    return _json_safe(result)


def _json_safe(value):
    """nan -> None, recursively, so that the JSON is standard."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def render_text(report: dict) -> str:
    meta = report["study"]
    source = meta["source"]
    where = source.get("export") or f"{source.get('workdir')} (step {source.get('checkpoint_step')})"
    lines = [
        f"Human evaluation, study {meta['study']}: {meta['dataset']}, {meta['num_real']} real + "
        f"{meta['num_generated']} generated images from {where}; feedback "
        f"{'on' if meta['feedback'] else 'off'}.",
        f"{report['judgments']} judgments by {sum(1 for e in report['evaluators'] if e['judgments'])}"
        f" of {len(report['evaluators'])} evaluators.",
        "",
        "error rate (95% CI, bootstrap over evaluators and images; 50% = indistinguishable)",
        f"  overall    {format_rate(report['error_rate'], report['error_rate_ci95'])}",
        f"  real       {format_rate(report['error_rate_real'], report['error_rate_real_ci95'])}"
        "  (real judged generated)",
        f"  generated  {format_rate(report['error_rate_generated'], report['error_rate_generated_ci95'])}"
        "  (generated judged real)",
        "",
        "evaluator  judgments  error rate (95% CI)      real     generated  median ms",
    ]
    for row in report["evaluators"]:
        ms = "-" if row["median_response_ms"] is None else f"{row['median_response_ms']:.0f}"
        lines.append(
            f"{row['evaluator']:<10} {row['judgments']:>9}  "
            f"{format_rate(row['error_rate'], row['error_rate_ci95']):<23}  "
            f"{format_rate(row['error_rate_real']):>7}  {format_rate(row['error_rate_generated']):>9}  {ms:>9}"
        )
    if report["most_taken_for_real"]:
        lines += ["", "generated images most often taken for real:"]
        for row in report["most_taken_for_real"]:
            lines.append(f"  image {row['image_id']}: {row['judged_real']} / {row['judgments']}"
                         f"  ({row['origin']})")
    if report.get("grid"):
        lines.append(f"grid: {report['grid']}")
    return "\n".join(lines)


def save_fooled_grid(store: Store, report: dict, path, columns=8, min_cell=56) -> bool:
    """Writes the most-taken-for-real generated images as one PNG (nearest-neighbour
    upscaled, white borders); False when no generated image was taken for real."""
    ids = [row["image_id"] for row in report["most_taken_for_real"]]
    if not ids:
        return False
    images = np.stack([decode_png(store.image_png(i)) for i in ids])
    save_png(path, image_grid(images, columns=min(columns, len(ids)), min_cell=min_cell))
    return True


def run_directory_of(meta: dict) -> tuple[RunDir | None, str | None]:
    """The run directory a study's generated images were sampled from.

    Args:
        meta: the study's metadata (`Store.meta()`); its "source" names the run
            directory ("workdir") or the exported generator ("export").

    Returns:
        `(RunDir, None)`, or `(None, why not)` when the study was sampled from an export,
        or its run directory no longer exists or is no longer a run directory (has no
        config.json).
    """
    source = meta.get("source") or {}
    workdir = source.get("workdir")
    if workdir is None:
        return None, (f"study {meta['study']} was sampled from the exported generator "
                      f"{source.get('export')}, not from a run directory")
    run = RunDir(workdir)
    if not run.path.is_dir():
        return None, f"the run directory {workdir} of study {meta['study']} no longer exists"
    if not run.config_json.is_file():
        return None, f"{workdir} (study {meta['study']}) is no longer a run directory: no config.json"
    return run, None
