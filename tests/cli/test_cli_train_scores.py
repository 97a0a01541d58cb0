"""`improved-gan train` with `--config.evaluation.*`: a scorer that cannot run is one line
with exit status 2, before any training."""

PROGRAM = "improved-gan train"


def test_scores_without_a_classifier_path_are_refused_in_one_line(improved_gan, tmp_path):
    improved_gan("train", "--config", "quickstart", "--workdir", tmp_path / "run",
                 "--config.evaluation.score_every_epochs=1").assert_one_line_user_error(
        PROGRAM, "config.evaluation.classifier_path")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_an_unknown_scorer_is_refused_in_one_line(improved_gan, tmp_path):
    improved_gan("train", "--config", "quickstart", "--workdir", tmp_path / "run",
                 "--config.evaluation.scorer=fid").assert_one_line_user_error(
        PROGRAM, "config.evaluation.scorer='fid'", "classifier", "inception")
