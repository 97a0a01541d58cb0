"""The dispatcher and what every subcommand shares: true `--help`, one-line user errors
(exit status 2, no traceback), `--verbose` for the traceback."""

import pytest

from improved_gan_tf import cli
from improved_gan_tf.cli import classifier as classifier_cli
from improved_gan_tf.cli import export as export_cli
from improved_gan_tf.cli import humaneval as humaneval_cli

# Every subcommand (and action) this module's owner wrote, with its flags. `score`
# is tested with its own module.
HELP_CASES = {
    "export": export_cli.FLAGS,
    "classifier train": classifier_cli.TRAIN_FLAGS,
    "classifier evaluate": classifier_cli.EVALUATE_FLAGS,
    "humaneval serve": humaneval_cli.SERVE_FLAGS,
    "humaneval report": humaneval_cli.REPORT_FLAGS,
}


def test_improved_gan_help_lists_every_subcommand(improved_gan):
    result = improved_gan("--help")
    assert result.returncode == 0, result.stderr
    for name, (_, description) in cli.SUBCOMMANDS.items():
        assert f"  {name}" in result.stdout and description in result.stdout


@pytest.mark.parametrize("command", sorted(HELP_CASES))
def test_every_subcommand_help_exits_0_and_names_every_flag(improved_gan, command):
    result = improved_gan(*command.split(), "--help")
    assert result.returncode == 0, result.stderr
    flag_names = {HELP_CASES[command][name].name for name in HELP_CASES[command]} | {"verbose"}
    assert len(flag_names) > 2
    for name in flag_names:
        assert f"--{name}:" in result.stdout, name
    assert result.stdout.startswith(f"`improved-gan {command.split()[0]}")


@pytest.mark.parametrize("command", ["classifier", "humaneval"])
def test_a_command_with_actions_lists_them_on_help_and_refuses_none_or_an_unknown_one(
        improved_gan, command):
    module = {"classifier": classifier_cli, "humaneval": humaneval_cli}[command]
    result = improved_gan(command, "--help")
    assert result.returncode == 0, result.stderr
    for action in module.ACTIONS:
        assert f"  {action}  " in result.stdout
    improved_gan(command).assert_one_line_user_error(
        f"improved-gan {command}", "an action is required", *module.ACTIONS)
    improved_gan(command, "frobnicate").assert_one_line_user_error(
        f"improved-gan {command}", "unknown action 'frobnicate'")


def test_no_subcommand_and_an_unknown_one_are_one_line_errors(improved_gan):
    improved_gan().assert_one_line_user_error("improved-gan", "a subcommand is required", "train")
    improved_gan("trian").assert_one_line_user_error(
        "improved-gan", "unknown subcommand 'trian'", "train, export")


def test_hyphenated_flags_of_the_old_commands_are_unknown_and_named(improved_gan, tmp_path):
    improved_gan("export", "--workdir", tmp_path, "--output", tmp_path / "e",
                 "--generator-name", "g").assert_one_line_user_error(
        "improved-gan export", "Unknown command line flag 'generator-name'")
    improved_gan("humaneval", "serve", "--workdir", tmp_path, "--num-images", "10",
                 ).assert_one_line_user_error(
        "improved-gan humaneval serve", "Unknown command line flag 'num-images'")


def test_verbose_adds_the_traceback_to_a_user_error(improved_gan, tmp_path):
    missing = tmp_path / "missing_run"
    quiet = improved_gan("export", "--workdir", missing, "--output", tmp_path / "e")
    quiet.assert_one_line_user_error("improved-gan export", str(missing), "does not exist")
    loud = improved_gan("export", "--workdir", missing, "--output", tmp_path / "e", "--verbose")
    assert loud.returncode == 2
    assert "Traceback (most recent call last)" in loud.stderr
    assert "RunDirectoryError" in loud.stderr
    assert loud.message_lines[-1] == quiet.message_lines[0]
