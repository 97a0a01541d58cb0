#!/usr/bin/env python3
"""The reproduction records in `results/`: collect them from run directories, render the table.

A record is one training run of one config and seed, kept as the trainer wrote it:

    results/mnist_<N>_labels/<config>/seed_<s>/
        metrics.csv            per epoch, as the trainer writes it (test_errors: what the
                               recipe reports; test_errors_raw: the current D; losses;
                               seconds per step)
        config.json            the full config of the run
        labeled_indices.json   the labeled subset
        curves.png             the trainer's losses and test-error plot
        record.json            git commit, TensorFlow / Keras versions, machine, thread
                               settings, the command, status (running / complete /
                               stopped), last epoch

Five commands:

    # start or resume a record run in the background, from a worktree at a fixed commit
    python results/records.py start --config mnist_feature_matching --seed 2 \
        --commit c884aae --worktree ../records
    # copy run directories' records in (again and again while they run), then render;
    # a record with more epochs than its run directory is kept unless --replace
    python results/records.py collect --workdir RUN_DIR... [--python VENV/bin/python]
    # a record whose run cannot go on (its run directory was lost with its machine):
    # its epochs stay, marked stopped, and it is not counted as a complete seed
    python results/records.py stop --record results/mnist_100_labels/CONFIG/seed_S --why "..."
    # results/README.md and one plot per label count, from the records alone
    python results/records.py render
    # re-check a record: re-run its first epochs at its commit, compare every value
    python results/records.py check --record results/mnist_100_labels/CONFIG/seed_S \
        --worktree ../recheck [--epochs 2]

`collect` takes the commit from the git checkout that holds the run directory (record
runs train from a worktree at a fixed commit) and the library versions from the
interpreter that trained (`--python`, default this one). `render` reads nothing but
`results/`; `tests/test_results.py` checks that the committed README equals what it
renders, so the table cannot drift from the data.

To re-check a record, `check` checks out its `commit` in a worktree with its own venv,
runs its `command` for a few epochs (`--config.train.epochs=N`, the record's thread
settings) in a temporary run directory, and compares every value of those epochs'
`metrics.csv` rows but the timings with the record's, as text (exit status 0 when all are
the same; 1 when any differs, with the relative difference of each value and whether the
test errors are the same). On a CPU of the record's kind the test errors and the weights
come out the same; the epoch's mean D loss, a logged average, can differ in its 7th
significant digit between two processes of the same command (see results/README.md).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap

RESULTS = pathlib.Path(__file__).resolve().parent
RECORD_JSON = "record.json"
COPIED_FILES = ("metrics.csv", "config.json", "labeled_indices.json", "curves.png")
# Wall-clock columns of metrics.csv: the only values a re-check does not compare.
TIMING_COLUMNS = ("seconds_per_step", "images_per_second", "wall_seconds")
# The test-error counts of metrics.csv: what the reproduction issue asks a re-check to give again.
TEST_ERROR_COLUMNS = ("test_errors", "test_errors_raw", "test_errors_polyak")
# The MNIST files where this project keeps its data (see the top-level README).
DEFAULT_DATA_DIR = RESULTS.parent.parent / "shared" / "data" / "mnist"

# Salimans et al. 2016, Table 1: test errors out of 10,000 (mean +- std over 10 runs).
PAPER_TABLE_1 = {20: (1677, 452), 50: (221, 136), 100: (93, 6.5), 200: (90, 4.2)}
PAPER_RUNS = 10
RECIPES = {
    "mnist_feature_matching": "final release (0fa06b5): lr 0.003 constant, 300 epochs, Polyak-averaged D",
    "mnist_feature_matching_arxiv": "first commit (bb3d27b): lr 0.001, linear decay after epoch 200, "
                                    "301 epochs, current D",
}


class RecordError(ValueError):
    """A run directory or record is missing a file or holds something unexpected."""


# ---------------------------------------------------------------------------- collect
def _git(path, *args) -> str:
    done = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True)
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RecordError(f"git {' '.join(args)} in {path}: {message}")
    return done.stdout.strip()


def _library_versions(python: str) -> dict:
    code = ("import json, sys, numpy, tensorflow as tf, keras; print(json.dumps({'python': "
            "sys.version.split()[0], 'tensorflow': tf.__version__, 'keras': keras.__version__, "
            "'numpy': numpy.__version__}))")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cpu() -> dict:
    """The CPU's name, family / model / stepping and vector extensions (oneDNN picks its
    kernels, and so the rounding of deterministic runs, by these)."""
    fields = {}
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    flags = fields.get("flags", "").split()
    return {
        "name": fields.get("model name") or platform.processor() or platform.machine(),
        "family_model_stepping": "/".join(fields.get(k, "?") for k in ("cpu family", "model", "stepping")),
        "vector_extensions": sorted(f for f in flags if f.startswith(("avx", "fma", "amx"))),
    }


def _read_metrics(path: pathlib.Path) -> list[dict]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise RecordError(f"{path}: no epoch records")
    for key in ("epoch", "test_errors"):
        if key not in rows[0]:
            raise RecordError(f"{path}: no {key!r} column")
    return rows


def record_command(experiment, seed, num_labeled, threads, workdir, data_dir="../shared/data/mnist",
                   program="improved-gan", inter_op_threads=None) -> list[str]:
    """The `improved-gan train` command of a record run (deterministic, fixed threads;
    `inter_op_threads` defaults to `threads`)."""
    return [
        program, "train", "--config", f"configs/{experiment}.py", "--workdir", str(workdir),
        f"--config.data.dir={data_dir}", f"--config.data.num_labeled={num_labeled}",
        f"--config.seed={seed}", f"--config.data.seed={seed}", "--config.deterministic=True",
        f"--config.train.intra_op_threads={threads}",
        f"--config.train.inter_op_threads={inter_op_threads or threads}",
    ]


def collect(workdir, python=sys.executable, results=RESULTS, replace=False) -> pathlib.Path:
    """Copies one run directory's records into `results/`; returns the record folder.

    A record with more epochs than the run directory (the same config and seed started
    again, e.g. on another machine, where the first run's directory is not) is kept:
    collecting would lose its epochs. `replace=True` replaces it all the same.
    """
    workdir = pathlib.Path(workdir).resolve()
    for name in ("metrics.csv", "config.json"):
        if not (workdir / name).is_file():
            raise RecordError(f"{workdir}: no {name} (is this a run directory?)")
    config = json.loads((workdir / "config.json").read_text())
    if not config.get("deterministic"):
        raise RecordError(f"{workdir}: config.deterministic is false; records must be re-checkable")
    if _git(workdir, "status", "--porcelain", "--untracked-files=no"):
        raise RecordError(f"{workdir}: its checkout has uncommitted changes; the commit would not "
                          "be the code that trained")
    rows = _read_metrics(workdir / "metrics.csv")
    last_epoch = int(rows[-1]["epoch"])
    folder = (results / f"{config['data']['name']}_{config['data']['num_labeled']}_labels"
              / config["experiment"] / f"seed_{config['seed']}")
    if (folder / "metrics.csv").is_file() and not replace:
        kept_epoch = int(_read_metrics(folder / "metrics.csv")[-1]["epoch"])
        if kept_epoch > last_epoch:
            raise RecordError(
                f"{workdir}: its last epoch is {last_epoch}, but the record in {folder} has "
                f"{kept_epoch}; collecting would lose epochs (--replace to replace the record)")
    folder.mkdir(parents=True, exist_ok=True)
    for name in COPIED_FILES:
        if (workdir / name).is_file():
            shutil.copyfile(workdir / name, folder / name)
    if not (workdir / "curves.png").is_file():
        # The trainer plots its curves when the run ends; a running record gets the same
        # plot from its metrics so far.
        from improved_gan_tf.training import plot_curves

        history = json.loads((workdir / "metrics.json").read_text())
        plot_curves(history, folder / "curves.png", title=config["experiment"])
    record = {
        "config": config["experiment"],
        "seed": config["seed"],
        "num_labeled": config["data"]["num_labeled"],
        "commit": _git(workdir, "rev-parse", "HEAD"),
        "command": " ".join(record_command(
            config["experiment"], config["seed"], config["data"]["num_labeled"],
            config["train"]["intra_op_threads"],
            f"runs/{workdir.parent.name}/{workdir.name}",
            inter_op_threads=config["train"]["inter_op_threads"])),
        "libraries": _library_versions(python),
        "machine": {"cpu": _cpu(), "cores": os.cpu_count(), "system": platform.platform()},
        "threads": {"intra_op": config["train"]["intra_op_threads"],
                    "inter_op": config["train"]["inter_op_threads"]},
        "deterministic": config["deterministic"],
        "epochs": config["train"]["epochs"],
        "last_epoch": last_epoch,
        "status": "complete" if last_epoch >= config["train"]["epochs"] else "running",
    }
    (folder / RECORD_JSON).write_text(json.dumps(record, indent=1) + "\n")
    return folder


def stop(folder, why: str) -> pathlib.Path:
    """Marks the record in `folder` as stopped: its run cannot go on, for the reason `why`.

    Its epochs stay as recorded; a complete record cannot be stopped. Collecting the same
    config and seed again (a new run that gets further) replaces it as any record.
    """
    path = pathlib.Path(folder) / RECORD_JSON
    if not path.is_file():
        raise RecordError(f"{folder}: no {RECORD_JSON} (is this a record folder?)")
    if not why.strip():
        raise RecordError("--why is empty: say why the run cannot go on")
    record = json.loads(path.read_text())
    if record["status"] == "complete":
        raise RecordError(f"{folder}: the record is complete; only an unfinished one can be stopped")
    record.update(status="stopped", stopped_because=why.strip())
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path.parent


# ---------------------------------------------------------------------------- start
def _worktree_program(worktree, commit) -> pathlib.Path:
    """The `improved-gan` of `worktree`'s own venv; the worktree (at `commit`) and the venv
    are made when missing, so that work on the main checkout never changes the code a
    record run or a re-check runs."""
    worktree = pathlib.Path(worktree).resolve()
    if not worktree.exists():
        _git(RESULTS.parent, "worktree", "add", str(worktree), commit)
    head = _git(worktree, "rev-parse", "HEAD")
    if not head.startswith(commit) and not commit.startswith(head):
        raise RecordError(f"{worktree} is at {head[:7]}, not {commit[:7]}; use another --worktree")
    python = worktree / ".venv" / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(worktree / ".venv")], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(worktree)], check=True)
    return worktree / ".venv" / "bin" / "improved-gan"


def start(config_name, seed, commit, worktree, num_labeled=100, threads=1) -> pathlib.Path:
    """Starts (or resumes) one record run in the background from `worktree` at `commit`.

    Returns the run directory; the run's output goes to `<run directory>.log`.
    """
    program = _worktree_program(worktree, commit)
    worktree = pathlib.Path(worktree).resolve()
    suffix = "" if num_labeled == 100 else f"_{num_labeled}_labels"
    workdir = worktree / "runs" / f"{config_name}{suffix}" / f"seed_{seed}"
    workdir.parent.mkdir(parents=True, exist_ok=True)
    command = record_command(
        config_name, seed, num_labeled, threads, workdir, data_dir=DEFAULT_DATA_DIR,
        program=str(program),
    ) + ["--config.train.verbose=0"]
    with open(f"{workdir}.log", "a") as log:
        subprocess.Popen(command, cwd=worktree, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    return workdir


# ---------------------------------------------------------------------------- check
def compare_epochs(recorded: list[dict], rerun: list[dict]) -> list[tuple[int, list[tuple]]]:
    """`(epoch, differences)` for each re-run epoch; a difference is `(column, recorded
    value, re-run value)`, as the CSV text. Timings are not compared."""
    compared = []
    for old, new in zip(recorded, rerun):
        columns = [c for c in dict.fromkeys([*old, *new]) if c not in TIMING_COLUMNS]
        compared.append((int(new["epoch"]),
                         [(c, old.get(c), new.get(c)) for c in columns if old.get(c) != new.get(c)]))
    return compared


def check(folder, epochs, worktree, data_dir=DEFAULT_DATA_DIR, program=None) -> int:
    """Re-runs the record in `folder` for its first `epochs` epochs at its commit and
    compares them with it; returns how many epochs differ (0: the record is re-checked).

    `program` is the `improved-gan` to run (default: `worktree`'s, made at the record's
    commit when missing). The run directory is temporary. Prints what it finds.
    """
    folder = pathlib.Path(folder)
    if not (folder / RECORD_JSON).is_file():
        raise RecordError(f"{folder}: no {RECORD_JSON} (is this a record folder?)")
    record = json.loads((folder / RECORD_JSON).read_text())
    recorded = _read_metrics(folder / "metrics.csv")
    if not 1 <= epochs <= len(recorded):
        raise RecordError(f"--epochs {epochs}: the record has epochs 1 to {len(recorded)}")
    if program is None:
        program = _worktree_program(worktree, record["commit"])
    here, there = _cpu(), record["machine"]["cpu"]
    if (here["family_model_stepping"], here["vector_extensions"]) != (
            there["family_model_stepping"], there["vector_extensions"]):
        print(f"note: this CPU ({here['name']} {here['family_model_stepping']}) is not the record's "
              f"kind ({there['name']} {there['family_model_stepping']}); its rounding may differ",
              flush=True)
    threads = record["threads"]
    with tempfile.TemporaryDirectory(prefix="recheck_") as scratch:
        workdir = pathlib.Path(scratch) / f"seed_{record['seed']}"
        command = record_command(
            record["config"], record["seed"], record["num_labeled"], threads["intra_op"], workdir,
            data_dir=pathlib.Path(data_dir).resolve(), program=str(program),
            inter_op_threads=threads["inter_op"],
        ) + [f"--config.train.epochs={epochs}", "--config.train.verbose=0"]
        print(f"re-running {folder} for {epochs} epoch(s) at {record['commit'][:7]} "
              f"({threads['intra_op']} intra-op, {threads['inter_op']} inter-op threads)",
              flush=True)
        finished = subprocess.run(command, cwd=pathlib.Path(worktree).resolve(), capture_output=True,
                                  text=True)
        rerun = (_read_metrics(workdir / "metrics.csv") if (workdir / "metrics.csv").is_file() else [])
        if finished.returncode != 0 or len(rerun) < epochs:
            last = (finished.stderr or finished.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RecordError(f"the re-run ended with status {finished.returncode} after "
                              f"{len(rerun)} epoch(s): {last[0]}")
    differing = errors_differing = 0
    for epoch, differences in compare_epochs(recorded[:epochs], rerun[:epochs]):
        if differences:
            differing += 1
            errors_differing += any(column in TEST_ERROR_COLUMNS for column, _, _ in differences)
            print(f"epoch {epoch}: differs: " + ", ".join(
                f"{column} {old} -> {new}{_relative(old, new)}" for column, old, new in differences))
        else:
            row = rerun[epoch - 1]
            print(f"epoch {epoch}: the same (test_errors {row['test_errors']}, "
                  f"test_errors_raw {row.get('test_errors_raw', '')}, and every loss)")
    print(f"check: {epochs - differing} of {epochs} epoch(s) the same as the record in every value; "
          f"test errors the same in {epochs - errors_differing} of {epochs}", flush=True)
    return differing


def _relative(old, new) -> str:
    """' (relative 3.0e-07)' for two numbers, '' otherwise."""
    try:
        old, new = float(old), float(new)
    except (TypeError, ValueError):
        return ""
    return f" (relative {abs(new - old) / abs(old):.1e})" if old else ""


# ---------------------------------------------------------------------------- render
def load_records(results=RESULTS) -> list[dict]:
    """Every record under `results/`, with its per-epoch test errors."""
    records = []
    for path in sorted(results.glob("*_labels/*/seed_*/" + RECORD_JSON)):
        record = json.loads(path.read_text())
        rows = _read_metrics(path.parent / "metrics.csv")
        record["curve"] = [(int(r["epoch"]), int(r["test_errors"])) for r in rows]
        record["raw_curve"] = [(int(r["epoch"]), int(r["test_errors_raw"])) for r in rows
                               if r.get("test_errors_raw")]
        record["folder"] = path.parent.relative_to(results).as_posix()
        records.append(record)
    return records


def summarize(errors: list[int]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (n - 1; None for one value) of final errors."""
    mean = statistics.fmean(errors)
    return mean, (statistics.stdev(errors) if len(errors) > 1 else None)


def mean_interval(errors: list[int], confidence=0.95) -> tuple[float, float] | None:
    """Student's t interval for the mean of the final errors (None for fewer than two):
    mean -+ t(1 - (1 - confidence) / 2, n - 1) * std / sqrt(n)."""
    if len(errors) < 2:
        return None
    from scipy import stats

    mean, std = summarize(errors)
    half = stats.t.ppf(1 - (1 - confidence) / 2, len(errors) - 1) * std / len(errors) ** 0.5
    return mean - half, mean + half


def welch_difference(a, b, confidence=0.95) -> tuple[float, float, float, float]:
    """Welch's comparison of two means from their summaries a, b = (mean, std, n): the
    difference a - b, its t interval (Welch-Satterthwaite degrees of freedom) and the
    two-sided p-value of "the means are equal". Each n must be at least 2."""
    from scipy import stats

    (mean_a, std_a, n_a), (mean_b, std_b, n_b) = a, b
    if min(n_a, n_b) < 2:
        raise ValueError(f"Welch's comparison needs n >= 2 on both sides, got {n_a} and {n_b}")
    difference = mean_a - mean_b
    var_a, var_b = std_a ** 2 / n_a, std_b ** 2 / n_b
    if var_a + var_b == 0:  # no spread on either side: the difference is exact
        return difference, difference, difference, float(difference == 0)
    scale = (var_a + var_b) ** 0.5
    dof = (var_a + var_b) ** 2 / (var_a ** 2 / (n_a - 1) + var_b ** 2 / (n_b - 1))
    half = stats.t.ppf(1 - (1 - confidence) / 2, dof) * scale
    p = 2 * stats.t.sf(abs(difference) / scale, dof)
    return difference, difference - half, difference + half, p


def spread_ratio(a, b) -> tuple[float, float]:
    """The ratio of standard deviations a / b from summaries (mean, std, n), and the
    two-sided p-value of the F test of equal variances, (std_a / std_b)^2 ~ F(n_a - 1, n_b - 1)."""
    from scipy import stats

    (_, std_a, n_a), (_, std_b, n_b) = a, b
    ratio = std_a / std_b
    tail = min(stats.f.cdf(ratio ** 2, n_a - 1, n_b - 1), stats.f.sf(ratio ** 2, n_a - 1, n_b - 1))
    return ratio, min(1.0, 2 * tail)


def prediction_interval(paper, value=None, confidence=0.95):
    """Where one more run would fall if it came from the runs a summary (mean, std, n)
    describes: the t prediction interval mean -+ t(1 - (1 - confidence) / 2, n - 1) * std *
    sqrt(1 + 1 / n), and, for a `value`, the two-sided p-value of it under that
    distribution, (value - mean) / (std * sqrt(1 + 1 / n)) ~ t(n - 1). n must be at least 2."""
    from scipy import stats

    mean, std, n = paper
    if n < 2:
        raise ValueError(f"a prediction interval needs n >= 2 runs, got {n}")
    scale = std * (1 + 1 / n) ** 0.5
    half = stats.t.ppf(1 - (1 - confidence) / 2, n - 1) * scale
    if value is None:
        return mean - half, mean + half, None
    if scale == 0:
        return mean, mean, float(value == mean)
    return mean - half, mean + half, 2 * stats.t.sf(abs(value - mean) / scale, n - 1)


def _mean_std(errors) -> str:
    mean, std = summarize(errors)
    return f"{mean:.1f}" if std is None else f"{mean:.1f} ± {std:.1f}"


def _label_counts(records):
    return sorted({r["num_labeled"] for r in records})


def _final_errors(records) -> list[int]:
    """Each record's error after its last epoch."""
    return [r["curve"][-1][1] for r in records]


def _summary(errors) -> tuple[float, float | None, int]:
    """(mean, std, n) of final errors, the form `welch_difference` and `spread_ratio` take."""
    return (*summarize(errors), len(errors))


def _complete_by_recipe(group) -> dict[str, list[dict]]:
    """Each recipe of `group` (sorted by name) with its complete records."""
    return {name: [r for r in group if r["config"] == name and r["status"] == "complete"]
            for name in sorted({r["config"] for r in group})}


def _comparisons(complete, paper) -> list[str]:
    """Each recipe's final errors against the paper's, and the recipes against each other,
    over recipes with at least two complete seeds (`complete`: `_complete_by_recipe`); a
    recipe with one complete seed against the paper's prediction interval for one run."""
    finals, single = {}, []
    for name, done in complete.items():
        errors = _final_errors(done)
        if len(errors) > 1:
            finals[name] = _summary(errors)
        elif errors:
            low, high, p = prediction_interval(paper, errors[0])
            single.append(f"`{name}` seed {done[0]['seed']}, the one complete seed, ended at {errors[0]} test "
                          f"errors. One more run like the paper's {paper[2]} ({paper[0]} ± {paper[1]}) falls in "
                          f"{low:.1f} to {high:.1f} with 95% probability (t prediction interval, mean ± t · std "
                          f"· √(1 + 1/{paper[2]})); as far from the mean as {errors[0]} or farther: p = {p:.2g}.")
    lines = [line for text in single for line in ("", *textwrap.wrap(text, 88))]
    if not finals:
        return lines
    lines += ["", f"Against the paper (final errors, complete seeds; the paper's {paper[0]} ± {paper[1]} over",
             f"{paper[2]} runs): the difference of the means with Welch's 95% t interval and two-sided",
             "p-value, and the ratio of the standard deviations with the two-sided F test's p-value.", "",
             "| recipe | complete seeds | mean − paper | 95% interval | p | std / paper's std | p (F test) |",
             "|---|---|---|---|---|---|---|"]
    for name, ours in finals.items():
        difference, low, high, p = welch_difference(ours, paper)
        ratio, p_spread = spread_ratio(ours, paper)
        lines.append(f"| `{name}` | {ours[2]} | {difference:+.1f} | {low:.1f} to {high:.1f} | {p:.2g} "
                     f"| {ratio:.2f} | {p_spread:.2g} |")
    names = list(finals)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            difference, low, high, p = welch_difference(finals[second], finals[first])
            lines += ["", f"Between the recipes: `{second}` − `{first}`, final mean: {difference:+.1f} "
                      f"(Welch's 95% interval {low:.1f} to {high:.1f}, p = {p:.2g})."]
    return lines


def _other_label_counts_note(records) -> list[str]:
    """Which recipe the label counts other than 100 use, and how its mean final error over
    the complete 100-label seeds compares with each other recipe's (two complete seeds each)."""
    used = sorted({r["config"] for r in records if r["num_labeled"] != 100})
    if not used:
        return []
    finals = {name: _final_errors(done)
              for name, done in _complete_by_recipe([r for r in records if r["num_labeled"] == 100]).items()
              if len(done) > 1}
    note = f"The other label counts use {', '.join(f'`{name}`' for name in used)}."
    for chosen in (name for name in used if name in finals):
        for other in (name for name in finals if name != chosen):
            ours, theirs = finals[chosen], finals[other]
            difference, _, _, p = welch_difference(_summary(ours), _summary(theirs))
            note += (f" Over the complete 100-label seeds, `{chosen}`'s mean final error ({len(ours)} seeds) is ")
            if difference == 0:
                note += f"the same as `{other}`'s ({len(theirs)} seeds)."
                continue
            chance = "a difference the seeds cannot tell from chance" if p >= 0.05 else "a significant difference"
            note += (f"{'lower' if difference < 0 else 'higher'} than `{other}`'s ({len(theirs)} seeds) by "
                     f"{abs(difference):.1f} test errors of 10,000, {chance} (Welch's p = {p:.2g}; below).")
    return ["", *textwrap.wrap(note, 88)]


def render_readme(records: list[dict]) -> str:
    lines = [
        "# Reproduction records: MNIST semi-supervised (Salimans et al. 2016, Table 1)",
        "",
        "Generated by `python results/records.py render` from the records in this folder",
        "(do not edit by hand; `tests/test_results.py` checks it). Test errors are out of",
        "10,000 MNIST test images. *final*: the error after the recipe's last epoch (for a",
        "run still going, its latest epoch, marked *running*; *stopped*: a run that cannot go",
        "on, with the reason below the table); *best*: the lowest epoch. Means and sample",
        "standard deviations (n - 1) are over complete seeds only; the 95% interval of the",
        "mean is Student's t interval over those seeds (mean ± t · std / √n), so it shows how",
        "far a few seeds pin the mean down. The paper's figure is a mean ± std over 10 runs.",
        "Every record names the commit, libraries, machine, thread settings and command that",
        "produced it (`record.json`).",
        "`python results/records.py check --record results/mnist_100_labels/CONFIG/seed_S",
        "--worktree ../recheck --epochs 2` re-checks one: it re-runs the record's first epochs at",
        "its commit and compares every value of their `metrics.csv` rows but the timings. A",
        "re-check needs a CPU of the record's kind (`machine.cpu`) as well as its thread",
        "settings: seed 2's command for 2 epochs on an Intel Xeon (family 6, model 167, 1",
        "thread) gave 1940 and 1744 test errors where its record (AMD EPYC, family 25) has 2007",
        "and 1739. On the records' CPU kind (25/1/1), beside the running records, `check --epochs",
        "2` found `mnist_feature_matching` seed 4 (2173 and 1993 test errors) and",
        "`mnist_feature_matching_arxiv` seed 4 (2045 and 1992) the same in every value, as a",
        "re-run by hand had found `mnist_feature_matching` seed 3 (2060 and 1942). For",
        "`mnist_feature_matching_arxiv` seed 3 it found the test errors (2401 and 1847) and every",
        "value the same but the epoch's mean D loss (`d_loss`), which differed by 3e-7 of itself",
        "(0.30262163 in the record, 0.30262154 in three re-runs). The same command run again",
        "and again in fresh processes (60 steps, this seed) logged one of two mean D losses,",
        "1.42888999 or 1.42889047 (2 runs of 18), with every other value the same, graphs that",
        "TensorFlow's optimizer (grappler) had rewritten identically, and checkpoints whose",
        "every tensor but the elapsed time was the same: the weights do not differ, the logged",
        "average does; the cause is in TensorFlow's runtime and was not found.",
        "`seconds_per_step` in `metrics.csv` is wall time:",
        "the record runs are paused (SIGSTOP) while a benchmark runs on the same machine, so",
        "an epoch that spans a pause shows it (and the record runs share 2 cores with other",
        "work); it is not a speed measurement (those are in `benchmarks/README.md`).",
        "",
        "Recipes:",
        "",
    ]
    for name, text in RECIPES.items():
        lines.append(f"- `{name}`: {text}")
    lines += _other_label_counts_note(records)
    for count in _label_counts(records):
        paper_mean, paper_std = PAPER_TABLE_1[count]
        group = [r for r in records if r["num_labeled"] == count]
        lines += ["", f"## {count} labels (paper: {paper_mean} ± {paper_std})", "",
                  "| recipe | seed | status | epoch | final | best (epoch) | current D, final | commit |",
                  "|---|---|---|---|---|---|---|---|"]
        ordered = sorted(group, key=lambda r: (r["config"], r["seed"]))
        for r in ordered:
            epoch, final = r["curve"][-1]
            best_epoch, best = min(r["curve"], key=lambda p: (p[1], p[0]))
            raw = r["raw_curve"][-1][1] if r["raw_curve"] else ""
            lines.append(f"| `{r['config']}` | {r['seed']} | {r['status']} | {epoch}/{r['epochs']} | "
                         f"{final} | {best} ({best_epoch}) | {raw} | `{r['commit'][:7]}` |")
        stopped = [r for r in ordered if r["status"] == "stopped"]
        if stopped:
            lines.append("")
            lines += [f"- Stopped: `{r['config']}` seed {r['seed']} at epoch {r['last_epoch']}: "
                      f"{r['stopped_because']}." for r in stopped]
        lines += ["", "| recipe | complete seeds | final, mean ± std | final, 95% interval of the mean "
                  "| best, mean ± std | paper |",
                  "|---|---|---|---|---|---|"]
        complete = _complete_by_recipe(group)
        for name, done in complete.items():
            if done:
                finals = _final_errors(done)
                bests = [min(e for _, e in r["curve"]) for r in done]
                interval = mean_interval(finals)
                interval = "—" if interval is None else f"{interval[0]:.1f} to {interval[1]:.1f}"
                cells = f"{_mean_std(finals)} | {interval} | {_mean_std(bests)}"
            else:
                cells = "— | — | —"
            lines.append(f"| `{name}` | {len(done)} | {cells} | {paper_mean} ± {paper_std} |")
        lines += _comparisons(complete, (paper_mean, paper_std, PAPER_RUNS))
        lines += ["", f"![test errors per epoch, every seed]({count}_labels_curves.png)"]
    return "\n".join(lines) + "\n"


def line_styles(records: list[dict]) -> dict:
    """(config, seed) -> (colour, line style): a colour per recipe, a line style per seed
    within it, so that two seeds of one recipe can be told apart in the plot."""
    colours = dict(zip(sorted({r["config"] for r in records}), ("tab:red", "tab:blue", "tab:green")))
    linestyles = ("-", "--", ":", "-.")
    styles = {}
    for config in colours:
        seeds = sorted(r["seed"] for r in records if r["config"] == config)
        for i, seed in enumerate(seeds):
            styles[config, seed] = (colours[config], linestyles[i % len(linestyles)])
    return styles


def plot_curves(records: list[dict], path) -> None:
    """Every seed's test-error curve, a colour per recipe and a line style per seed, with
    the paper's band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = records[0]["num_labeled"]
    paper_mean, paper_std = PAPER_TABLE_1[count]
    fig, ax = plt.subplots(figsize=(8, 5))
    styles = line_styles(records)
    for r in sorted(records, key=lambda r: (r["config"], r["seed"])):
        colour, linestyle = styles[r["config"], r["seed"]]
        ax.plot(*zip(*r["curve"]), color=colour, linestyle=linestyle, alpha=0.8, linewidth=1,
                label=f"{r['config']} seed {r['seed']}" + ("" if r["status"] == "complete" else f" ({r['status']})"))
    ax.axhspan(paper_mean - paper_std, paper_mean + paper_std, color="black", alpha=0.12,
               label=f"paper {paper_mean} ± {paper_std}")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test errors (of 10,000)")
    ax.set_title(f"MNIST, {count} labels")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render(results=RESULTS) -> str:
    records = load_records(results)
    for count in _label_counts(records):
        plot_curves([r for r in records if r["num_labeled"] == count],
                    results / f"{count}_labels_curves.png")
    text = render_readme(records)
    (results / "README.md").write_text(text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("collect", help="copy a run directory's records into results/")
    one.add_argument("--workdir", required=True, nargs="+", help="run directory (several allowed)")
    one.add_argument("--python", default=sys.executable, help="the interpreter that trained")
    one.add_argument("--replace", action="store_true",
                     help="replace a record that has more epochs than the run directory")
    halt = commands.add_parser("stop", help="mark a record whose run cannot go on")
    halt.add_argument("--record", required=True, help="the record folder under results/")
    halt.add_argument("--why", required=True, help="why the run cannot go on (shown in the README)")
    commands.add_parser("render", help="write results/README.md and the plots")
    run = commands.add_parser("start", help="start or resume a record run in the background")
    run.add_argument("--config", required=True, choices=sorted(RECIPES))
    run.add_argument("--seed", type=int, required=True)
    run.add_argument("--commit", required=True, help="the commit the run trains from")
    run.add_argument("--worktree", required=True, help="a git worktree at that commit (made if missing)")
    run.add_argument("--num_labeled", type=int, default=100, choices=sorted(PAPER_TABLE_1))
    run.add_argument("--threads", type=int, default=1, help="TF intra- and inter-op threads")
    recheck = commands.add_parser("check", help="re-run a record's first epochs and compare them")
    recheck.add_argument("--record", required=True, help="the record folder under results/")
    recheck.add_argument("--worktree", required=True,
                         help="a git worktree at the record's commit (made, with its venv, if missing)")
    recheck.add_argument("--epochs", type=int, default=2, help="how many of its first epochs to re-run")
    recheck.add_argument("--data_dir", default=str(DEFAULT_DATA_DIR), help="the MNIST IDX files")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return 1 if check(args.record, args.epochs, args.worktree, args.data_dir) else 0
        if args.command == "start":
            print(start(args.config, args.seed, args.commit, args.worktree, args.num_labeled, args.threads))
            return 0
        if args.command == "collect":
            for workdir in args.workdir:
                print(collect(workdir, args.python, replace=args.replace))
        if args.command == "stop":
            folder = stop(args.record, args.why)
            print(folder)
            render(folder.resolve().parents[2])  # the results/ that holds the record
            return 0
        render()
    except (RecordError, OSError, subprocess.CalledProcessError, json.JSONDecodeError) as error:
        print(f"records: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
