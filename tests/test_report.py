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
