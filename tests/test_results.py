"""The reproduction records in `results/` and the table rendered from them."""
import csv
import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from tests.conftest import REPO_ROOT

_spec = importlib.util.spec_from_file_location("records", REPO_ROOT / "results" / "records.py")
records = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(records)


def test_committed_readme_is_what_the_records_render():
    rendered = records.render_readme(records.load_records())
    committed = (REPO_ROOT / "results" / "README.md").read_text()
    assert committed == rendered, "results/README.md is stale: run python results/records.py render"


def test_every_record_is_complete_and_deterministic():
    found = records.load_records()
    assert found, "no records under results/"
    for record in found:
        folder = REPO_ROOT / "results" / record["folder"]
        for name in records.COPIED_FILES:
            assert (folder / name).is_file(), f"{folder}/{name} missing"
        config = json.loads((folder / "config.json").read_text())
        assert config["deterministic"] is True
        assert config["experiment"] == record["config"] and config["seed"] == record["seed"]
        assert record["last_epoch"] == record["curve"][-1][0]
        assert [e for e, _ in record["curve"]] == list(range(1, record["last_epoch"] + 1))
        if record["last_epoch"] >= config["train"]["epochs"]:
            assert record["status"] == "complete"
        else:
            assert record["status"] in ("running", "stopped")
            assert record["status"] == "running" or record["stopped_because"]
        assert len(record["commit"]) == 40 and record["threads"]["intra_op"] >= 1


# Student's t quantiles t(0.975, n - 1) from a printed table (n = 2, 3, 4, 10).
_T_975 = {2: 12.706, 3: 4.303, 4: 3.182, 10: 2.262}


@pytest.mark.parametrize("errors", [[90, 97], [87, 120, 95], [101, 88, 95, 93],
                                    [93, 85, 99, 90, 102, 88, 96, 91, 94, 97]])
def test_interval_of_the_mean_matches_a_t_table(errors):
    n = len(errors)
    half = _T_975[n] * np.std(errors, ddof=1) / np.sqrt(n)
    low, high = records.mean_interval(errors)
    assert low == pytest.approx(np.mean(errors) - half, rel=1e-4)
    assert high == pytest.approx(np.mean(errors) + half, rel=1e-4)


def test_interval_of_the_mean_needs_two_seeds_and_is_a_point_without_spread():
    assert records.mean_interval([93]) is None
    assert records.mean_interval([93, 93, 93]) == (93.0, 93.0)


@pytest.mark.parametrize("errors", [[93], [90, 97], [101, 88, 95, 93]])
def test_summary_matches_numpy(errors):
    mean, std = records.summarize(errors)
    assert mean == pytest.approx(np.mean(errors))
    if len(errors) == 1:
        assert std is None
    else:
        assert std == pytest.approx(np.std(errors, ddof=1))


def _samples_with(mean, std, n, seed=0):
    """n values whose sample mean and standard deviation (n - 1) are exactly mean and std."""
    z = np.random.default_rng(seed).normal(size=n)
    return mean + std * (z - z.mean()) / z.std(ddof=1)


@pytest.mark.parametrize("ours", [[87, 120, 99], [112, 87, 102], [93, 94], [60, 70, 65, 75]])
def test_welch_difference_matches_scipy_on_samples_of_the_papers_summary(ours):
    # scipy's Welch test on raw values: one side is ours, the other ten values with the
    # paper's mean and std, so only the summaries can matter.
    paper = _samples_with(93, 6.5, 10)
    expected = stats.ttest_ind(ours, paper, equal_var=False)
    low, high = expected.confidence_interval(0.95)
    difference, our_low, our_high, p = records.welch_difference(
        (np.mean(ours), np.std(ours, ddof=1), len(ours)), (93, 6.5, 10))
    assert difference == pytest.approx(np.mean(ours) - 93)
    assert (our_low, our_high) == (pytest.approx(low), pytest.approx(high))
    assert p == pytest.approx(expected.pvalue)


def test_welch_difference_matches_a_t_table_and_its_edge_cases():
    # Equal spreads and sizes n = 2: Welch's degrees of freedom are 2 (n_a + n_b - 2), and
    # t(0.975, 2) = 4.303 from a printed table; the standard error is sqrt(50 + 50) = 10.
    difference, low, high, _ = records.welch_difference((100, 10, 2), (90, 10, 2))
    assert (difference, low, high) == (10, pytest.approx(10 - 43.03, abs=0.01), pytest.approx(10 + 43.03, abs=0.01))
    assert records.welch_difference((95, 0, 3), (95, 0, 10)) == (0, 0, 0, 1.0)
    assert records.welch_difference((97, 0, 3), (95, 0, 10)) == (2, 2, 2, 0.0)
    assert records.welch_difference((95, 4, 3), (95, 6.5, 10))[3] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="got 1 and 10"):
        records.welch_difference((95, 0, 1), (93, 6.5, 10))


# F(0.975; 2, 9) = 5.715 and F(0.975; 9, 2) = 39.39 from a printed table: two-sided 5% points
# of the ratio of variances for 3 seeds against 10 runs are 5.715 and 1 / 39.39.
@pytest.mark.parametrize("variance_ratio", [5.715, 1 / 39.39])
def test_spread_ratio_matches_an_f_table(variance_ratio):
    ratio, p = records.spread_ratio((100, 6.5 * variance_ratio ** 0.5, 3), (93, 6.5, 10))
    assert ratio == pytest.approx(variance_ratio ** 0.5)
    assert p == pytest.approx(0.05, abs=5e-4)


def test_spread_ratio_of_equal_spreads_and_no_spread():
    assert records.spread_ratio((90, 6.5, 10), (93, 6.5, 10)) == (1.0, pytest.approx(1.0))
    assert records.spread_ratio((90, 0, 3), (93, 6.5, 10)) == (0.0, 0.0)


def test_prediction_interval_matches_a_t_table_and_covers_95_percent_of_new_runs():
    # t(0.975, 9) = 2.262 (printed tables): 93 -+ 2.262 * 6.5 * sqrt(1.1).
    low, high, _ = records.prediction_interval((93, 6.5, 10))
    assert (low, high) == (pytest.approx(93 - 2.262 * 6.5 * 1.1 ** 0.5, abs=0.01),
                           pytest.approx(93 + 2.262 * 6.5 * 1.1 ** 0.5, abs=0.01))
    # At either end of the 95% interval a value's two-sided p is 0.05; at the mean, 1.
    assert records.prediction_interval((93, 6.5, 10), high)[2] == pytest.approx(0.05)
    assert records.prediction_interval((93, 6.5, 10), low)[2] == pytest.approx(0.05)
    assert records.prediction_interval((93, 6.5, 10), 93)[2] == pytest.approx(1.0)
    # Simulated: ten normal runs, then one more; the interval from the ten holds the
    # eleventh in 95% of trials (20,000 trials: standard error 0.0015).
    rng = np.random.default_rng(0)
    runs = rng.normal(1677, 452, size=(20_000, 11))
    covered = 0
    for row in runs:
        low, high, _ = records.prediction_interval((row[:10].mean(), row[:10].std(ddof=1), 10))
        covered += low <= row[10] <= high
    assert covered / len(runs) == pytest.approx(0.95, abs=0.006)


def test_prediction_interval_edge_cases():
    assert records.prediction_interval((90, 0.0, 10), 90) == (90, 90, 1.0)
    assert records.prediction_interval((90, 0.0, 10), 91) == (90, 90, 0.0)
    with pytest.raises(ValueError, match="n >= 2"):
        records.prediction_interval((90, 4.2, 1), 91)


def _record(config, seed, status, final, num_labeled=100):
    return {"config": config, "seed": seed, "status": status, "num_labeled": num_labeled, "epochs": 300,
            "last_epoch": 300, "curve": [(1, 2000), (300, final)], "raw_curve": [], "commit": "0" * 40,
            "stopped_because": "its run directory was lost"}


def test_recipes_are_compared_with_the_paper_and_each_other_from_two_complete_seeds():
    group = [_record("mnist_feature_matching", 1, "complete", 87), _record("mnist_feature_matching", 3, "complete", 120),
             _record("mnist_feature_matching", 2, "stopped", 20),
             _record("mnist_feature_matching_arxiv", 1, "complete", 112),
             _record("mnist_feature_matching_arxiv", 3, "complete", 87),
             _record("mnist_feature_matching_arxiv", 4, "running", 20)]
    text = records.render_readme(group)
    paper = _samples_with(93, 6.5, 10)
    for name, ours in (("mnist_feature_matching", [87, 120]), ("mnist_feature_matching_arxiv", [112, 87])):
        welch = stats.ttest_ind(ours, paper, equal_var=False)
        low, high = welch.confidence_interval(0.95)
        spread_p = 2 * min(stats.f.cdf(np.var(ours, ddof=1) / 6.5 ** 2, 1, 9),
                           stats.f.sf(np.var(ours, ddof=1) / 6.5 ** 2, 1, 9))
        assert (f"| `{name}` | 2 | {np.mean(ours) - 93:+.1f} | {low:.1f} to {high:.1f} | {welch.pvalue:.2g} "
                f"| {np.std(ours, ddof=1) / 6.5:.2f} | {spread_p:.2g} |") in text
    between = stats.ttest_ind([112, 87], [87, 120], equal_var=False)
    low, high = between.confidence_interval(0.95)
    assert (f"`mnist_feature_matching_arxiv` − `mnist_feature_matching`, final mean: {99.5 - 103.5:+.1f} "
            f"(Welch's 95% interval {low:.1f} to {high:.1f}, p = {between.pvalue:.2g})") in text


@pytest.mark.parametrize("final_finals, arxiv_finals, side, chance", [
    ([87, 120], [112, 87], "lower", "a difference the seeds cannot tell from chance"),
    ([87, 120], [130, 110], "higher", "a difference the seeds cannot tell from chance"),
    ([120, 121, 119], [90, 91, 89], "lower", "a significant difference")])
def test_the_other_label_counts_recipe_is_compared_at_100_labels_from_the_records(final_finals, arxiv_finals,
                                                                                  side, chance):
    group = [*(_record("mnist_feature_matching", s, "complete", e) for s, e in enumerate(final_finals, 1)),
             *(_record("mnist_feature_matching_arxiv", s, "complete", e) for s, e in enumerate(arxiv_finals, 1)),
             _record("mnist_feature_matching_arxiv", 1, "running", 3000, num_labeled=20)]
    text = " ".join(records.render_readme(group).split())
    between = stats.ttest_ind(arxiv_finals, final_finals, equal_var=False)
    n, m = len(arxiv_finals), len(final_finals)
    assert "The other label counts use `mnist_feature_matching_arxiv`." in text
    assert (f"`mnist_feature_matching_arxiv`'s mean final error ({n} seeds) is {side} than "
            f"`mnist_feature_matching`'s ({m} seeds) by {abs(np.mean(arxiv_finals) - np.mean(final_finals)):.1f} "
            f"test errors of 10,000, {chance} (Welch's p = {between.pvalue:.2g}; below).") in text
    assert (between.pvalue < 0.05) == (chance == "a significant difference")


def test_no_other_label_counts_note_without_them_and_the_same_means_are_the_same():
    group = [_record("mnist_feature_matching", 1, "complete", 87), _record("mnist_feature_matching", 2, "complete", 99),
             _record("mnist_feature_matching_arxiv", 1, "complete", 99),
             _record("mnist_feature_matching_arxiv", 2, "complete", 87)]
    assert "other label counts" not in records.render_readme(group)
    text = " ".join(records.render_readme([*group, _record("mnist_feature_matching", 1, "running", 160,
                                                                   num_labeled=200)]).split())
    assert ("The other label counts use `mnist_feature_matching`. Over the complete 100-label seeds, "
            "`mnist_feature_matching`'s mean final error (2 seeds) is the same as "
            "`mnist_feature_matching_arxiv`'s (2 seeds).") in text


def test_one_complete_seed_is_placed_in_the_papers_prediction_interval():
    group = [_record("mnist_feature_matching_arxiv", 1, "complete", 2900, num_labeled=20),
             _record("mnist_feature_matching_arxiv", 2, "running", 1500, num_labeled=20)]
    text = " ".join(records.render_readme(group).split())
    scale = 452 * np.sqrt(1 + 1 / 10)
    low, high = stats.t.interval(0.95, 9, loc=1677, scale=scale)
    p = 2 * stats.t.sf((2900 - 1677) / scale, 9)
    assert (f"`mnist_feature_matching_arxiv` seed 1, the one complete seed, ended at 2900 test errors. One more "
            f"run like the paper's 10 (1677 ± 452) falls in {low:.1f} to {high:.1f} with 95% probability") in text
    assert f"as far from the mean as 2900 or farther: p = {p:.2g}." in text and "Against the paper" not in text


def test_no_comparison_without_two_complete_seeds():
    text = records.render_readme([_record("mnist_feature_matching", 1, "complete", 87),
                                  _record("mnist_feature_matching", 2, "running", 90)])
    assert "Against the paper" not in text and "Between the recipes" not in text


def _fake_run(root, epochs_done, epochs, deterministic=True, num_labeled=100):
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.email=t@t", "-c", "user.name=t", "commit",
                    "-q", "--allow-empty", "-m", "x"], check=True)
    run = root / "runs" / "seed_2"
    run.mkdir(parents=True)
    config = {"experiment": "mnist_feature_matching", "seed": 2, "deterministic": deterministic,
              "data": {"name": "mnist", "num_labeled": num_labeled, "seed": 2},
              "train": {"epochs": epochs, "intra_op_threads": 1, "inter_op_threads": 1}}
    (run / "config.json").write_text(json.dumps(config))
    history = [{"epoch": e, "d_loss": 1.0 / e, "test_errors": 200 - e, "test_errors_raw": 210 - e,
                "test_examples": 10000, "seconds_per_step": 0.05} for e in range(1, epochs_done + 1)]
    (run / "metrics.json").write_text(json.dumps(history))
    with open(run / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    (run / "labeled_indices.json").write_text("[]")
    return run


@pytest.mark.parametrize("epochs_done,status", [(2, "running"), (3, "complete")])
def test_collect_copies_a_run_and_renders_it(tmp_path, epochs_done, status):
    run = _fake_run(tmp_path / "checkout", epochs_done, epochs=3)
    results = tmp_path / "results"
    folder = records.collect(run, sys.executable, results=results)
    record = json.loads((folder / "record.json").read_text())
    head = subprocess.run(["git", "-C", str(run), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert record["commit"] == head and record["status"] == status and record["last_epoch"] == epochs_done
    assert record["libraries"]["tensorflow"].startswith("2.")
    assert (folder / "curves.png").stat().st_size > 0
    text = records.render(results)
    final = 200 - epochs_done
    assert f"| `mnist_feature_matching` | 2 | {status} | {epochs_done}/3 | {final} | {final} ({epochs_done}) |" in text
    if status == "complete":
        assert f"| `mnist_feature_matching` | 1 | {final:.1f} | — | {final:.1f} | 93 ± 6.5 |" in text
    assert (results / "100_labels_curves.png").is_file()


def test_each_label_count_gets_its_own_table_paper_figure_and_plot(tmp_path):
    results = tmp_path / "results"
    for count, done in ((20, 3), (100, 2)):
        folder = records.collect(_fake_run(tmp_path / f"checkout_{count}", done, epochs=3, num_labeled=count),
                                 sys.executable, results=results)
        assert folder == results / f"mnist_{count}_labels" / "mnist_feature_matching" / "seed_2"
    text = records.render(results)
    twenty, hundred = text.index("## 20 labels (paper: 1677 ± 452)"), text.index("## 100 labels (paper: 93 ± 6.5)")
    assert "| `mnist_feature_matching` | 1 | 197.0 | — | 197.0 | 1677 ± 452 |" in text[twenty:]
    assert "| `mnist_feature_matching` | 0 | — | — | — | 93 ± 6.5 |" in text[hundred:]
    assert twenty < text.index("| `mnist_feature_matching` | 2 | complete | 3/3 | 197 |") < hundred
    assert hundred < text.index("| `mnist_feature_matching` | 2 | running | 2/3 | 198 |")
    assert (results / "20_labels_curves.png").is_file() and (results / "100_labels_curves.png").is_file()


def test_collect_refuses_a_nondeterministic_run(tmp_path):
    run = _fake_run(tmp_path / "checkout", 1, epochs=3, deterministic=False)
    with pytest.raises(records.RecordError, match="deterministic"):
        records.collect(run, sys.executable, results=tmp_path / "results")
    assert not (tmp_path / "results").exists()


def test_collect_refuses_a_changed_checkout(tmp_path):
    run = _fake_run(tmp_path / "checkout", 1, epochs=3)
    (tmp_path / "checkout" / "tracked.py").write_text("x = 1\n")
    subprocess.run(["git", "-C", str(tmp_path / "checkout"), "add", "tracked.py"], check=True)
    with pytest.raises(records.RecordError, match="uncommitted"):
        records.collect(run, sys.executable, results=tmp_path / "results")


def test_collect_keeps_a_record_with_more_epochs_than_the_run(tmp_path):
    # The same seed started again elsewhere: its first epochs must not replace the record.
    results = tmp_path / "results"
    folder = records.collect(_fake_run(tmp_path / "first", 3, epochs=5), sys.executable, results=results)
    kept = {name: (folder / name).read_bytes() for name in ("metrics.csv", "record.json")}
    again = _fake_run(tmp_path / "again", 2, epochs=5)
    with pytest.raises(records.RecordError, match="last epoch is 2, but the record .* has 3"):
        records.collect(again, sys.executable, results=results)
    assert {name: (folder / name).read_bytes() for name in kept} == kept
    records.collect(again, sys.executable, results=results, replace=True)
    assert json.loads((folder / "record.json").read_text())["last_epoch"] == 2


def test_start_refuses_a_worktree_at_another_commit(tmp_path):
    checkout = tmp_path / "checkout"
    _fake_run(checkout, 1, epochs=3)
    with pytest.raises(records.RecordError, match="not 0000000"):
        records.start("mnist_feature_matching", 1, "0000000", checkout)
    assert not (checkout / ".venv").exists()


def test_a_stopped_record_keeps_its_epochs_and_is_not_a_complete_seed(tmp_path):
    results = tmp_path / "results"
    folder = records.collect(_fake_run(tmp_path / "checkout", 2, epochs=3), sys.executable, results=results)
    metrics = (folder / "metrics.csv").read_bytes()
    assert records.main(["stop", "--record", str(folder), "--why", "its run directory was lost"]) == 0
    record = json.loads((folder / "record.json").read_text())
    assert record["status"] == "stopped" and record["stopped_because"] == "its run directory was lost"
    assert (folder / "metrics.csv").read_bytes() == metrics
    text = records.render(results)
    assert "| `mnist_feature_matching` | 2 | stopped | 2/3 | 198 | 198 (2) |" in text
    assert "Stopped: `mnist_feature_matching` seed 2 at epoch 2: its run directory was lost" in text
    assert "| `mnist_feature_matching` | 0 | — | — | — | 93 ± 6.5 |" in text


def test_stop_refuses_a_complete_record_an_empty_reason_and_a_missing_folder(tmp_path, capsys):
    results = tmp_path / "results"
    folder = records.collect(_fake_run(tmp_path / "checkout", 3, epochs=3), sys.executable, results=results)
    before = (folder / "record.json").read_bytes()
    assert records.main(["stop", "--record", str(folder), "--why", "x"]) == 2
    assert records.main(["stop", "--record", str(folder), "--why", "  "]) == 2
    assert records.main(["stop", "--record", str(tmp_path / "nowhere"), "--why", "x"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert [e.split(": ")[0] for e in errors] == ["records"] * 3
    assert "is complete" in errors[0] and "--why is empty" in errors[1] and "no record.json" in errors[2]
    assert (folder / "record.json").read_bytes() == before


# A stand-in for the worktree's `improved-gan`: writes the first --config.train.epochs rows
# of the CSV named by RECHECK_SOURCE into --workdir, the value RECHECK_CHANGE (column=value,
# epoch 2) and the timings changed; RECHECK_STATUS ends it early with that exit status.
_FAKE_TRAINER = '''
import csv, os, pathlib, sys
args = sys.argv[1:]
workdir = pathlib.Path(args[args.index("--workdir") + 1])
epochs = int(next(a for a in args if a.startswith("--config.train.epochs=")).split("=")[1])
if os.environ.get("RECHECK_STATUS"):
    print("ValueError: data.dir has no train-images-idx3-ubyte.gz", file=sys.stderr)
    sys.exit(int(os.environ["RECHECK_STATUS"]))
rows = list(csv.DictReader(open(os.environ["RECHECK_SOURCE"])))[:epochs]
for row in rows:
    row["seconds_per_step"] = "9.9"
change = os.environ.get("RECHECK_CHANGE")
if change:
    column, value = change.split("=")
    rows[1][column] = value
workdir.mkdir(parents=True)
with open(workdir / "metrics.csv", "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
'''


def _record_to_recheck(tmp_path, monkeypatch):
    run = _fake_run(tmp_path / "checkout", 3, epochs=3)
    folder = records.collect(run, sys.executable, results=tmp_path / "results")
    trainer = tmp_path / "improved-gan"
    trainer.write_text(f"#!{sys.executable}\n{_FAKE_TRAINER}")
    trainer.chmod(0o755)
    monkeypatch.setenv("RECHECK_SOURCE", str(folder / "metrics.csv"))
    return folder, trainer


def test_check_finds_a_record_the_same_except_for_its_timings(tmp_path, monkeypatch, capsys):
    folder, trainer = _record_to_recheck(tmp_path, monkeypatch)
    assert records.check(folder, 2, tmp_path / "checkout", program=trainer) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-3:] == [
        "epoch 1: the same (test_errors 199, test_errors_raw 209, and every loss)",
        "epoch 2: the same (test_errors 198, test_errors_raw 208, and every loss)",
        "check: 2 of 2 epoch(s) the same as the record in every value; test errors the same in 2 of 2",
    ]


@pytest.mark.parametrize("change,line,errors_same", [
    ("test_errors=197", "epoch 2: differs: test_errors 198 -> 197 (relative 5.1e-03)", 2),
    ("d_loss=0.50000001", "epoch 2: differs: d_loss 0.5 -> 0.50000001 (relative 2.0e-08)", 3),
])
def test_check_names_the_epoch_and_the_value_that_differ(tmp_path, monkeypatch, capsys, change, line,
                                                         errors_same):
    folder, trainer = _record_to_recheck(tmp_path, monkeypatch)
    monkeypatch.setenv("RECHECK_CHANGE", change)
    assert records.check(folder, 3, tmp_path / "checkout", program=trainer) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-4:] == [lines[-4], line, lines[-2], "check: 2 of 3 epoch(s) the same as the record "
                          f"in every value; test errors the same in {errors_same} of 3"]
    assert lines[-4].startswith("epoch 1: the same") and lines[-2].startswith("epoch 3: the same")


def test_check_refuses_a_bad_request_and_reports_a_failed_rerun(tmp_path, monkeypatch, capsys):
    folder, trainer = _record_to_recheck(tmp_path, monkeypatch)
    elsewhere = tmp_path / "elsewhere"
    _fake_run(elsewhere, 1, epochs=3)  # a checkout at another commit
    assert records.main(["check", "--record", str(folder), "--worktree", str(elsewhere)]) == 2
    assert records.main(["check", "--record", str(folder), "--worktree", str(tmp_path / "checkout"),
                         "--epochs", "4"]) == 2
    assert records.main(["check", "--record", str(tmp_path / "nowhere"), "--worktree", str(elsewhere)]) == 2
    not_a_checkout = tmp_path / "plain"
    not_a_checkout.mkdir()
    assert records.main(["check", "--record", str(folder), "--worktree", str(not_a_checkout)]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 4 and all(e.startswith("records: ") for e in errors)
    assert "is at" in errors[0] and "not " in errors[0]
    assert "--epochs 4: the record has epochs 1 to 3" in errors[1]
    assert "no record.json" in errors[2]
    assert f"git rev-parse HEAD in {not_a_checkout}: fatal: not a git repository" in errors[3]
    assert not (elsewhere / ".venv").exists()
    monkeypatch.setenv("RECHECK_STATUS", "2")
    with pytest.raises(records.RecordError, match="status 2 after 0 epoch.*data.dir has no train-images"):
        records.check(folder, 2, tmp_path / "checkout", program=trainer)


def test_every_seed_of_a_recipe_gets_its_own_line_in_the_plot():
    runs = [{"config": c, "seed": s} for c in ("mnist_feature_matching", "mnist_feature_matching_arxiv")
            for s in (1, 2, 3, 4)]
    styles = records.line_styles(runs)
    assert len(set(styles.values())) == len(runs)
    assert {colour for colour, _ in styles.values()} == {"tab:red", "tab:blue"}
    assert styles["mnist_feature_matching", 1][0] == styles["mnist_feature_matching", 4][0]
