"""The one writer of a run's report: report.json, report.md and curves.png.

A report has three sections, written at different times by different tools:

- the training section (`write_training_report`, called by `improved_gan_tf.training`
  when a run, or a resumed part of it, ends): the run's config, data, schedule, speed,
  final and best test error, last checkpoint and weight fingerprints;
- the scores section (`write_scores`, called by `improved_gan_tf.evaluation.scoring`):
  report.json's "scores" entry, named by the checkpoint it was computed on; each score
  keeps its metric card ("card"), which report.md shows as a table under the score;
- the human-evaluation section (`write_human_evaluation`, called by `improved-gan
  humaneval report`): report.json's "human_evaluation" entry, one result per study
  (keyed by the study id, so a run's studies with and without feedback are all kept).

Each writer keeps the others' sections: report.json is read, one section replaced and
written back, and report.md is rendered again from all sections (and the run's
metrics history), in a fixed order whatever the order of writing, so a resumed
training keeps earlier scores and human evaluations and a new score keeps the
training section. Every file is written atomically.

TF-free: it imports only `rundir` and `fileio` of the package (and matplotlib to plot).
"""

from __future__ import annotations

import datetime
import io
import json
import math
import pathlib

from improved_gan_tf.fileio import atomic_write_bytes
from improved_gan_tf.fileio import atomic_write_text
from improved_gan_tf.rundir import CURVES_PNG
from improved_gan_tf.rundir import RunDir

SCORES_KEY = "scores"
SCORES_HEADING = "## Scores"
HUMAN_EVALUATION_KEY = "human_evaluation"
HUMAN_EVALUATION_HEADING = "## Human evaluation"
#: report.json's entries that tools other than training write; a training report keeps them.
OTHER_SECTIONS = (SCORES_KEY, HUMAN_EVALUATION_KEY)
#: The published human results, shown as context under the run's own (not comparable:
#: other models, evaluators and protocol).
PAPER_HUMAN_RESULTS = (
    "Salimans et al. (2016, abstract): CIFAR-10 samples yielded a human error rate of 21.3%, "
    "and humans could not distinguish their MNIST samples from real data; "
    "50% is the error rate of images indistinguishable from real (HYPE, Zhou et al. 2019, "
    "for a balanced study)"
)
#: Per-epoch columns of report.md's table, in this order (those that some record has).
EPOCH_TABLE_COLUMNS = (
    "epoch", "d_loss", "g_loss", "supervised_loss", "unsupervised_loss", "accuracy",
    "test_errors", "test_errors_raw", "test_errors_polyak", "learning_rate", "seconds_per_step",
)


def best_test_error(history: list[dict]) -> dict | None:
    """The report's test-error entries from the per-epoch history (None: no test error).

    Returns:
        `{"test_errors", "test_examples", "test_error_percent", "best_epoch"}` of the last
        record and of the record with the fewest test errors (the first of equals).
    """
    final = history[-1] if history else {}
    if "test_errors" not in final:
        return None
    best = min(history, key=lambda r: r.get("test_errors", math.inf))
    return {
        "test_errors": final["test_errors"],
        "test_examples": final["test_examples"],
        "test_error_percent": 100.0 * final["test_error"],
        "best_epoch": {"epoch": best["epoch"], "test_errors": best["test_errors"]},
    }


def write_training_report(run: RunDir, report: dict, history: list[dict]) -> dict:
    """Writes the training section; returns the report with any earlier scores.

    For a non-chief worker's `RunDir` only its own report.json is written (in its worker
    directory); for the chief also curves.png and report.md.

    Args:
        run: the run directory.
        report: the training section (`improved_gan_tf.training` builds it).
        history: the per-epoch records (metrics.json).

    Returns:
        `report`, plus the "scores" and "human_evaluation" entries of an earlier
        report.json if there were some.
    """
    report = dict(report)
    if run.worker is not None:
        atomic_write_text(run.report_json, json.dumps(report, indent=1) + "\n")
        return report
    plot_curves(history, run.curves_png, title=report.get("experiment") or "")
    earlier = run.read_report()
    for key in OTHER_SECTIONS:
        if earlier.get(key):
            # They survive a resumed run; they name the checkpoint they were computed on.
            report[key] = earlier[key]
    _write(run, report, history)
    return report


def write_scores(run: RunDir, scores: dict) -> dict:
    """Stores `scores` as report.json's "scores" and report.md's "Scores" section.

    Creates the files if training has not written them yet. Returns the whole report.
    """
    report = run.read_report()
    report[SCORES_KEY] = scores
    _write(run, report, run.read_history())
    return report


def human_evaluation_entry(result: dict, *, db, computed_at: str | None = None) -> dict:
    """The report.json entry of one study's result.

    Args:
        result: the study's result, as `improved-gan humaneval report --json` prints it
            (`improved_gan_tf.humaneval.report.build_report`, with its "grid").
        db: the study file.
        computed_at: when the result was computed (ISO 8601; default: now, UTC).

    Returns:
        The study's parameters ("study" id, "db", "dataset", "num_real",
        "num_generated", "feedback", "source", ...) and its result, with the same keys
        and values as `result` ("judgments", "error_rate", "error_rate_ci95",
        "error_rate_real", "error_rate_real_ci95", "error_rate_generated",
        "error_rate_generated_ci95", "evaluators", "most_taken_for_real", "bootstrap",
        "grid"), and "computed_at".
    """
    meta = result["study"]
    entry = {
        "study": meta["study"],
        "db": str(pathlib.Path(db).resolve()),
        "dataset": meta["dataset"],
        "image_shape": meta.get("image_shape"),
        "num_images": meta["num_images"],
        "num_real": meta["num_real"],
        "num_generated": meta["num_generated"],
        "fraction_real": meta.get("fraction_real"),
        "seed": meta.get("seed"),
        "feedback": bool(meta["feedback"]),
        "source": meta.get("source"),
        "real_data_dir": meta.get("real_data_dir"),
    }
    for key in ("judgments", "judgments_real", "judgments_generated", "error_rate",
                "error_rate_ci95", "error_rate_real", "error_rate_real_ci95",
                "error_rate_generated", "error_rate_generated_ci95", "evaluators",
                "most_taken_for_real", "bootstrap", "grid"):
        entry[key] = result.get(key)
    entry["computed_at"] = computed_at or datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds")
    return entry


def write_human_evaluation(run: RunDir, result: dict, *, db, computed_at: str | None = None) -> dict:
    """Stores one study's result in report.json's "human_evaluation" and report.md's
    "Human evaluation" section, next to the run's other studies.

    Creates the files if training has not written them yet; a study already in the
    report (same study id) is replaced, the others are kept.

    Args:
        run: the run directory the study's generated images came from.
        result: the study's result (see `human_evaluation_entry`).
        db: the study file.
        computed_at: when the result was computed (default: now).

    Returns:
        The whole report.
    """
    entry = human_evaluation_entry(result, db=db, computed_at=computed_at)
    report = run.read_report()
    studies = dict(report.get(HUMAN_EVALUATION_KEY) or {})
    studies[entry["study"]] = entry
    report[HUMAN_EVALUATION_KEY] = studies
    _write(run, report, run.read_history())
    return report


def _write(run: RunDir, report: dict, history: list[dict]) -> None:
    atomic_write_text(run.report_json, json.dumps(report, indent=1) + "\n")
    atomic_write_text(run.report_md, render_report_md(report, history, workdir=run.path))


# ---------------------------------------------------------------------------- markdown


def render_report_md(report: dict, history: list[dict], workdir=None) -> str:
    """report.md: the training section (if any), the scores (if any), the human
    evaluation (if any), then the config.

    Args:
        report: report.json's contents.
        history: the per-epoch records shown in the training section's table.
        workdir: named in the title of a report that has no training section; images
            inside it are linked relative to it.
    """
    sections = []
    if report.get(SCORES_KEY):
        sections.append(render_scores_md(report[SCORES_KEY]))
    if report.get(HUMAN_EVALUATION_KEY):
        sections.append(render_human_evaluation_md(
            report[HUMAN_EVALUATION_KEY], workdir=workdir if workdir is not None else report.get("workdir")))
    if "experiment" not in report:  # Scored before (or without) a training report.
        title = f"# Report: `{workdir if workdir is not None else report.get('workdir', '')}`"
        body = "\n".join(section.rstrip("\n") + "\n" for section in sections)
        return title + "\n\n" + (body or "\n")
    lines = _training_lines(report, history)
    for section in sections:
        lines += section.rstrip("\n").splitlines() + [""]
    lines += ["## Config", "", "```json", json.dumps(report["config"], indent=1), "```", ""]
    return "\n".join(lines)


def _training_lines(report: dict, history: list[dict]) -> list[str]:
    lines = [f"# Training report: {report['experiment'] or 'run'}", ""]
    lines.append(f"- run directory: `{report['workdir']}`")
    lines.append(f"- data: {report['data_source']}")
    if report.get("labeled_indices_file"):
        lines.append(
            f"- labeled examples: {report['num_labeled']} (indices: `{report['labeled_indices_file']}`)"
        )
    lines.append(
        f"- trained: {report['epochs_completed']} epochs, {report['global_step']} steps of "
        f"{report['steps_per_epoch']} per epoch, {report['replicas']} replica(s) ({report['strategy']})"
    )
    lines.append(f"- wall time: {report['wall_seconds']:.1f} s; {report['images_per_second']:.1f} images/s")
    if "test_errors" in report:
        model_config = report["config"]["model"]
        averaged = model_config["polyak_rate"] and model_config["test_with_polyak_average"]
        lines.append(
            f"- **test error: {report['test_errors']} / {report['test_examples']:,} "
            f"({report['test_error_percent']:.2f}%)** with the "
            f"{'Polyak-averaged' if averaged else 'current'} discriminator; "
            f"best {report['best_epoch']['test_errors']} at epoch {report['best_epoch']['epoch']}"
        )
    lines.append(f"- last checkpoint: `{report['last_checkpoint']}`")
    lines += ["", f"![losses and test error]({CURVES_PNG})", "", "## Per epoch", ""]
    columns = [c for c in EPOCH_TABLE_COLUMNS if any(c in r for r in history)]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "---|" * len(columns))
    for record in history:
        cells = []
        for column in columns:
            value = record.get(column, "")
            cells.append(f"{value:.4g}" if isinstance(value, float) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def format_pair(pair, digits: int = 3) -> str:
    """`mean ± std` of a (mean, std) pair."""
    return f"{pair[0]:.{digits}f} ± {pair[1]:.{digits}f}"


def _score_table(score_name, distance_name, samples_score, distance, real_score, real_label):
    """A samples-vs-real-test-set table: score (mean ± std over splits) and distance."""
    return [
        "", f"| | {score_name} (mean ± std over splits) | {distance_name} |", "|---|---|---|",
        f"| samples | {format_pair(samples_score)} | {distance:.3f} |",
        f"| {real_label} | {format_pair(real_score)} | 0 |",
    ]


def render_card_md(card: dict) -> list[str]:
    """A score's metric card as a two-column table (how the number was computed)."""
    file = card.get("weights") or card.get("classifier_path")
    sha256 = card.get("weights_sha256") or card.get("classifier_sha256")
    rows = [("scorer", card.get("scorer")),
            ("network file", f"`{file}`" if file else "none (random weights)"),
            ("sha256", f"`{sha256}`" if sha256 else "-")]
    if "resize" in card:
        rows.append(("resize", card["resize"]))
    if "logits" in card:
        rows.append(("logits", f"{card['logits']}; {card['num_classes']} classes"))
    else:
        rows.append(("classes / features", f"{card.get('num_classes')} / {card.get('feature_dim')}"))
    rows.append(("splits", f"{card.get('splits')}, {card.get('split_convention') or 'in order'}"))
    rows.append(("shuffle seed", str(card.get("shuffle_seed"))))
    rows.append(("N (samples)", f"{card.get('num_samples'):,}"))
    reference = card.get("reference")
    if reference:
        text = f"{reference.get('name') or 'given statistics'}"
        if reference.get("num_examples") is not None:
            text += f", N = {reference['num_examples']:,}"
        if reference.get("file"):
            text += f", file `{reference['file']}` (sha256 `{reference['file_sha256']}`)"
        text += f"; statistics sha256 `{reference.get('sha256')}`"
        rows.append(("reference", text))
    comparable = card.get("comparability") or card.get("comparable")
    if comparable:
        rows.append(("comparable", comparable))
    for message in card.get("warnings") or []:
        rows.append(("**warning**", message))
    lines = ["", "| metric card | |", "|---|---|"]
    lines += [f"| {name} | {str(value).replace('|', '/')} |" for name, value in rows]
    return lines


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
        if c.get("card"):
            lines += render_card_md(c["card"])
    i = scores.get("inception")
    if i:
        lines.append(f"- Inception-v3: {i['network']} network, weights `{i['weights']}`")
        lines += _score_table(
            "Inception score", "FID", i["inception_score"], i["fid"],
            i["real_test_inception_score"], "real test set",
        )
        if i.get("card"):
            lines += render_card_md(i["card"])
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


def format_rate(rate, ci=None) -> str:
    """`21.3% [15.0, 28.1]` of a rate and its interval (`-` for no rate)."""
    if rate is None:
        return "-"
    text = f"{100 * rate:.1f}%"
    if ci and ci[0] is not None:
        text += f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"
    return text


def _link_target(path, workdir) -> str:
    """`path` relative to `workdir` when it is inside it (so report.md's link works when
    the run directory moves), else as it is."""
    if workdir is not None:
        try:
            return pathlib.Path(path).resolve().relative_to(pathlib.Path(workdir).resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def render_human_evaluation_md(studies: dict, workdir=None) -> str:
    """The report.md "Human evaluation" section: every study of the run, in the order
    they were first written.

    Args:
        studies: report.json's "human_evaluation" (study id -> `human_evaluation_entry`).
        workdir: the run directory (the fooling-images grid is linked relative to it).
    """
    lines = [
        HUMAN_EVALUATION_HEADING, "",
        "The visual Turing test, scored as HYPE-infinity: evaluators told real from generated "
        "images with unlimited time; the score is their error rate (50% = indistinguishable "
        "from real, for a balanced study), with a 95% interval bootstrapped over evaluators and "
        "images (`improved-gan humaneval report`).",
    ]
    for study_id, study in studies.items():
        source = study.get("source") or {}
        if source.get("export"):
            generator = f"the exported generator `{source['export']}`"
        else:
            generator = f"the checkpoint of step {source.get('checkpoint_step')}"
        answered = sum(1 for row in study["evaluators"] if row["judgments"])
        bootstrap = study.get("bootstrap") or {}
        lines += [
            "", f"### Study `{study_id}`: feedback {'on' if study['feedback'] else 'off'}", "",
            f"- study file `{study['db']}`: {study['num_real']} real {study['dataset']} test "
            f"images and {study['num_generated']} generated from {generator}",
            f"- {study['judgments']} judgments by {answered} of {len(study['evaluators'])} "
            f"evaluators; computed {study['computed_at']} ({bootstrap.get('replicates')} "
            f"bootstrap replicates, seed {bootstrap.get('seed')})",
            f"- **error rate: {format_rate(study['error_rate'], study['error_rate_ci95'])}** (95% CI)",
            f"- real images judged generated: "
            f"{format_rate(study['error_rate_real'], study['error_rate_real_ci95'])}",
            f"- generated images judged real: "
            f"{format_rate(study['error_rate_generated'], study['error_rate_generated_ci95'])}",
            "", "| evaluator | judgments | error rate (95% CI) | real | generated | completed "
            "| median response |", "|---|---|---|---|---|---|---|",
        ]
        for row in study["evaluators"]:
            ms = row.get("median_response_ms")
            lines.append(
                f"| {row['evaluator']} | {row['judgments']} | "
                f"{format_rate(row['error_rate'], row['error_rate_ci95'])} | "
                f"{format_rate(row['error_rate_real'])} | {format_rate(row['error_rate_generated'])} | "
                f"{'yes' if row.get('completed') else 'no'} | "
                f"{'-' if ms is None else f'{ms:.0f} ms'} |"
            )
        if study.get("grid"):
            lines += ["", f"![generated images most often taken for real]"
                          f"({_link_target(study['grid'], workdir)})"]
        elif study["judgments"]:
            lines += ["", "No generated image was taken for real."]
    lines += ["", f"For context only (not comparable: other models, evaluators and "
                  f"protocol): {PAPER_HUMAN_RESULTS}.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- curves


def plot_curves(history: list[dict], path, title: str = "") -> None:
    """Losses (left) and test error (right) per epoch, as a PNG written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    has_error = any("test_errors" in r for r in history)
    fig, axes = plt.subplots(1, 2 if has_error else 1, figsize=(11 if has_error else 6, 4), squeeze=False)
    ax = axes[0][0]
    for key in ("d_loss", "g_loss", "supervised_loss", "unsupervised_loss"):
        points = [(r["epoch"], r[key]) for r in history if key in r]
        if points:
            ax.plot(*zip(*points), marker=".", label=key)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel("loss (epoch mean)")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title("losses")
    if has_error:
        ax = axes[0][1]
        points = [(r["epoch"], r["test_errors"]) for r in history if "test_errors" in r]
        n = next(r["test_examples"] for r in history if "test_examples" in r)
        for key, style, label in (
            ("test_errors_polyak", dict(marker="o", color="tab:red"), "Polyak-averaged D"),
            ("test_errors_raw", dict(marker=".", color="tab:gray", alpha=0.7), "current D"),
        ):
            curve = [(r["epoch"], r[key]) for r in history if key in r]
            if curve:
                ax.plot(*zip(*curve), label=label, **style)
        ax.legend()
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"test errors (of {n:,})")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        last = points[-1]
        ax.set_title(f"test errors: {last[1]} at epoch {last[0]}")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(pathlib.Path(path), buffer.getvalue())
