"""`improved-gan humaneval` as a subprocess: its flag mistakes and a damaged study file
are one line with exit status 2 (the study's own refusals: tests/test_humaneval.py)."""

import pytest


@pytest.mark.parametrize("args, fragments", [
    (["report"], ["--db"]),
    (["report", "--db", "{tmp}/missing.sqlite"], ["{tmp}/missing.sqlite: no such file"]),
    (["report", "--db", "{damaged}"], ["{damaged}"]),
    (["report", "--db", "{damaged}", "--replicates", "0"], ["--replicates=0"]),
    (["serve", "--workdir", "{tmp}/nowhere"], ["{tmp}/nowhere is not a directory"]),
    (["serve", "--port", "-1"], ["--port=-1"]),
    (["serve", "--evaluators", "none"], ["--evaluators=none"]),
], ids=["no db", "missing db", "damaged db", "zero replicates", "missing workdir", "bad port",
        "evaluators not a number"])
def test_a_humaneval_mistake_is_one_line(improved_gan, tmp_path, args, fragments):
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    names = {"tmp": tmp_path, "damaged": damaged}
    args = [arg.format(**names) for arg in args]
    fragments = [fragment.format(**names) for fragment in fragments]
    improved_gan("humaneval", *args).assert_one_line_user_error(
        f"improved-gan humaneval {args[0]}", *fragments)
