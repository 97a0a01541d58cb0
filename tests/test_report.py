"""`improved_gan_tf.report`: the only writer of report.json / report.md / curves.png."""

import json

from PIL import Image

from improved_gan_tf import report as report_lib
from improved_gan_tf.rundir import RunDir

HISTORY = [
    {"epoch": 1, "step": 10, "d_loss": 1.5, "g_loss": 0.5, "test_error": 0.3, "test_errors": 30,
     "test_examples": 100, "test_errors_raw": 31, "learning_rate": 3e-4},
    {"epoch": 2, "step": 20, "d_loss": 1.0, "g_loss": 0.75, "test_error": 0.2, "test_errors": 20,
     "test_examples": 100, "test_errors_raw": 22, "learning_rate": 3e-4},
    {"epoch": 3, "step": 30, "d_loss": 0.9, "g_loss": 0.8, "test_error": 0.25, "test_errors": 25,
     "test_examples": 100, "test_errors_raw": 20, "learning_rate": 3e-4},
]

SCORES = {
    "dataset": "mnist", "checkpoint": "RUN/checkpoints/ckpt-30", "global_step": 30,
    "num_samples": 120, "sample_seed": [0, 20160611], "batch_size": 50,
    "reference_examples": 500, "seconds": 12.3,
    "classifier": {"path": "clf.keras", "test_accuracy": 0.99, "classifier_score": [8.5, 0.25],
                   "classifier_fd": 12.3456, "real_test_classifier_score": [9.75, 0.125]},
}


def training_report(run):
    report = {
        "experiment": "unit", "workdir": str(run.path), "config": {"model": {
            "polyak_rate": 0.0, "test_with_polyak_average": True}},
        "data_source": "local files", "labeled_indices_file": None, "num_labeled": 0,
        "epochs_completed": 3, "global_step": 30, "steps_per_epoch": 10, "replicas": 1,
        "strategy": "_DefaultDistributionStrategy", "wall_seconds": 5.0,
        "images_per_second": 60.0, "last_checkpoint": "RUN/checkpoints/ckpt-30",
    }
    report.update(report_lib.best_test_error(HISTORY))
    return report


def test_best_test_error_is_the_last_epochs_and_the_fewest_errors():
    entries = report_lib.best_test_error(HISTORY)
    assert entries == {"test_errors": 25, "test_examples": 100, "test_error_percent": 25.0,
                       "best_epoch": {"epoch": 2, "test_errors": 20}}
    tied = HISTORY + [{"epoch": 4, "test_error": 0.2, "test_errors": 20, "test_examples": 100}]
    assert report_lib.best_test_error(tied)["best_epoch"]["epoch"] == 2  # the first of equals
    assert report_lib.best_test_error([{"epoch": 1, "d_loss": 1.0}]) is None
    assert report_lib.best_test_error([]) is None


def test_scores_without_a_training_report_get_a_report_of_their_own(tmp_path):
    run = RunDir(tmp_path)
    report_lib.write_scores(run, SCORES)
    assert json.loads(run.report_json.read_text()) == {"scores": SCORES}
    md = run.report_md.read_text()
    assert md == f"# Report: `{tmp_path}`\n\n" + report_lib.render_scores_md(SCORES)
    assert "| samples | 8.500 ± 0.250 | 12.346 |" in md and "test accuracy 99.00%" in md


def test_training_report_has_its_sections_in_order(tmp_path):
    run = RunDir(tmp_path)
    run.write_history(HISTORY)
    report = report_lib.write_training_report(run, training_report(run), HISTORY)
    assert "scores" not in report
    assert json.loads(run.report_json.read_text()) == report
    md = run.report_md.read_text()
    assert md.startswith("# Training report: unit\n")
    assert "**test error: 25 / 100 (25.00%)** with the current discriminator; best 20 at epoch 2" in md
    assert md.index("## Per epoch") < md.index("## Config") and "## Scores" not in md
    assert "| epoch | d_loss | g_loss | test_errors | test_errors_raw | learning_rate |" in md
    assert "| 2 | 1 | 0.75 | 20 | 22 | 0.0003 |" in md
    assert md.endswith("```\n")
    assert Image.open(run.curves_png).size[0] >= 600


def test_scores_and_training_keep_each_others_sections(tmp_path):
    run = RunDir(tmp_path)
    run.write_history(HISTORY)
    report_lib.write_training_report(run, training_report(run), HISTORY)
    training_md = run.report_md.read_text()
    training_json = json.loads(run.report_json.read_text())

    report_lib.write_scores(run, SCORES)
    md = run.report_md.read_text()
    section = report_lib.render_scores_md(SCORES)
    # The scores section goes right before the config, the rest is untouched.
    assert md == training_md.replace("## Config", section + "\n## Config", 1)
    assert json.loads(run.report_json.read_text()) == {**training_json, "scores": SCORES}

    again = dict(SCORES, num_samples=30)
    report_lib.write_scores(run, again)
    md = run.report_md.read_text()
    assert md.count("## Scores") == 1 and "30 samples" in md and "120 samples" not in md

    # A resumed training rewrites its section and keeps the latest scores.
    report = report_lib.write_training_report(run, dict(training_report(run), global_step=40), HISTORY)
    assert report["scores"] == again and report["global_step"] == 40
    assert json.loads(run.report_json.read_text()) == report
    assert run.report_md.read_text().count("## Scores") == 1


def test_a_worker_writes_only_its_own_report(tmp_path):
    run = RunDir(tmp_path, worker=("worker", 1))
    report = report_lib.write_training_report(run, training_report(run), HISTORY)
    assert json.loads((tmp_path / ".worker_worker_1" / "report.json").read_text()) == report
    assert not (tmp_path / "report.md").exists() and not (tmp_path / "curves.png").exists()


def human_result(study="s1", feedback=False, error_rate=0.25, grid="RUN/humaneval_fooled.png"):
    """A result as `improved-gan humaneval report --json` prints it."""
    return {
        "judgments": 40, "error_rate": error_rate, "error_rate_ci95": [0.125, 0.375],
        "judgments_real": 20, "error_rate_real": 0.2, "error_rate_real_ci95": [0.05, 0.4],
        "judgments_generated": 20, "error_rate_generated": 0.3,
        "error_rate_generated_ci95": [0.1, 0.5],
        "evaluators": [
            {"evaluator": "e1", "judgments": 20, "error_rate": 0.2, "error_rate_ci95": [0.05, 0.4],
             "error_rate_real": 0.1, "error_rate_generated": 0.3, "completed": True,
             "median_response_ms": 812.5},
            {"evaluator": "e2", "judgments": 20, "error_rate": 0.3, "error_rate_ci95": [0.1, 0.5],
             "error_rate_real": 0.3, "error_rate_generated": 0.3, "completed": True,
             "median_response_ms": 640.0},
            {"evaluator": "e3", "judgments": 0, "error_rate": None, "error_rate_ci95": [None, None],
             "error_rate_real": None, "error_rate_generated": None, "completed": False,
             "median_response_ms": None},
        ],
        "most_taken_for_real": [{"image_id": 7, "judged_real": 2, "judgments": 2,
                                 "origin": "generated #3 (seed 0)"}],
        "study": {"study": study, "seed": 0, "dataset": "mnist", "image_shape": [28, 28, 1],
                  "num_images": 20, "num_real": 10, "num_generated": 10, "fraction_real": 0.5,
                  "feedback": feedback, "source": {"workdir": "RUN", "checkpoint_step": 30},
                  "real_data_dir": None},
        "bootstrap": {"replicates": 2000, "seed": 0, "resampled": "evaluators and images"},
        "grid": grid,
    }


def test_human_evaluation_entry_keeps_the_results_values_and_the_studys_parameters(tmp_path):
    result = human_result()
    entry = report_lib.human_evaluation_entry(result, db=tmp_path / "s.sqlite",
                                              computed_at="2026-01-02T03:04:05+00:00")
    assert {k: entry[k] for k in result if k != "study"} == {k: v for k, v in result.items() if k != "study"}
    assert entry["study"] == "s1" and entry["db"] == str(tmp_path / "s.sqlite")
    assert (entry["num_real"], entry["num_generated"], entry["feedback"]) == (10, 10, False)
    assert entry["source"] == {"workdir": "RUN", "checkpoint_step": 30}
    assert entry["computed_at"] == "2026-01-02T03:04:05+00:00"


def test_human_evaluation_without_a_training_report_gets_a_report_of_its_own(tmp_path):
    run = RunDir(tmp_path)
    grid = tmp_path / "humaneval_fooled.png"
    report_lib.write_human_evaluation(run, human_result(grid=str(grid)), db=tmp_path / "s.sqlite",
                                      computed_at="T")
    report = json.loads(run.report_json.read_text())
    assert list(report) == ["human_evaluation"] and list(report["human_evaluation"]) == ["s1"]
    md = run.report_md.read_text()
    assert md.startswith(f"# Report: `{tmp_path}`\n\n## Human evaluation\n")
    assert "### Study `s1`: feedback off" in md
    assert "- **error rate: 25.0% [12.5, 37.5]** (95% CI)" in md
    assert "- real images judged generated: 20.0% [5.0, 40.0]" in md
    assert "- generated images judged real: 30.0% [10.0, 50.0]" in md
    assert "- 40 judgments by 2 of 3 evaluators; computed T (2000 bootstrap replicates, seed 0)" in md
    assert "| e1 | 20 | 20.0% [5.0, 40.0] | 10.0% | 30.0% | yes | 812 ms |" in md
    assert "| e3 | 0 | - | - | - | no | - |" in md  # an evaluator who has not answered yet
    assert "![generated images most often taken for real](humaneval_fooled.png)" in md
    assert "21.3%" in md and md.endswith("\n") and not md.endswith("\n\n")


def test_sections_are_the_same_whatever_the_order_they_are_written_in(tmp_path):
    def write(run, order):
        run.write_history(HISTORY)
        writers = {
            "training": lambda: report_lib.write_training_report(run, training_report(run), HISTORY),
            "scores": lambda: report_lib.write_scores(run, SCORES),
            "human": lambda: report_lib.write_human_evaluation(
                run, human_result(), db="s1.sqlite", computed_at="T"),
            "feedback": lambda: report_lib.write_human_evaluation(
                run, human_result("s2", feedback=True, error_rate=0.5), db="s2.sqlite", computed_at="T"),
        }
        for name in order:
            writers[name]()
        return json.loads(run.report_json.read_text()), run.report_md.read_text()

    orders = [("training", "scores", "human", "feedback"), ("human", "training", "feedback", "scores"),
              ("feedback", "scores", "human", "training"), ("scores", "human", "feedback", "training")]
    written = []
    for k, order in enumerate(orders):
        (tmp_path / str(k)).mkdir()
        report, md = write(RunDir(tmp_path / str(k)), order)
        # Only the run directory itself differs between the copies.
        written.append((json.loads(json.dumps(report).replace(str(tmp_path / str(k)), "RUN")),
                        md.replace(str(tmp_path / str(k)), "RUN")))
        assert set(report["human_evaluation"]) == {"s1", "s2"} and report["scores"] == SCORES
        assert report["global_step"] == 30
        assert (md.index("## Per epoch") < md.index("## Scores") < md.index("## Human evaluation")
                < md.index("## Config"))
        assert md.count("## Human evaluation") == 1 and md.count("For context only") == 1
        assert "### Study `s1`: feedback off" in md and "### Study `s2`: feedback on" in md
        assert "- **error rate: 50.0% [12.5, 37.5]** (95% CI)" in md
    assert all(report == written[0][0] for report, _ in written)
    # report.md is the same too, but for the studies, listed in the order first written.
    s1_first = [md for (_, md), order in zip(written, orders)
                if order.index("human") < order.index("feedback")]
    assert len(s1_first) == 3 and len(set(s1_first)) == 1
    s2_first = written[2][1]
    assert s2_first.index("### Study `s2`") < s2_first.index("### Study `s1`")
    assert sorted(s2_first.splitlines()) == sorted(s1_first[0].splitlines())
