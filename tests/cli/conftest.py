"""Runs `improved-gan` as a user does: a subprocess, judged by its exit status and stderr."""

import dataclasses
import gzip
import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
MNIST = REPO_ROOT.parent / "shared" / "data" / "mnist"

# What TensorFlow's C++ runtime and Python libraries log on their own, before and while
# a command runs (not the command's own output): kept apart from the command's lines.
LIBRARY_LOG_LINE = re.compile(
    r"^([IWEF]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages before absl::InitializeLog"
    r"|(WARNING|INFO):(absl|tensorflow):)"
)


@dataclasses.dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str

    @property
    def message_lines(self) -> list[str]:
        """The stderr lines the command printed (libraries' log lines left out)."""
        return [line for line in self.stderr.splitlines()
                if line.strip() and not LIBRARY_LOG_LINE.match(line)]

    def assert_one_line_user_error(self, program: str, *fragments: str) -> str:
        """Exit status 2, one stderr line `program: ...` holding every fragment."""
        assert self.returncode == 2, (self.returncode, self.stderr)
        assert "Traceback" not in self.stderr, self.stderr
        assert len(self.message_lines) == 1, self.stderr
        (line,) = self.message_lines
        assert line.startswith(f"{program}: "), line
        for fragment in fragments:
            assert fragment in line, (fragment, line)
        return line


@pytest.fixture
def improved_gan(tmp_path):
    """`improved_gan(*args, env={...})` runs `improved-gan ARGS` (`python -m
    improved_gan_tf.cli`) in `tmp_path` with this checkout's package and returns a
    `Completed`."""
    base_env = dict(os.environ)
    base_env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), base_env.get("PYTHONPATH", "")]).rstrip(os.pathsep)

    def run(*args, cwd=None, env=None, timeout=600):
        process = subprocess.run(
            [sys.executable, "-m", "improved_gan_tf.cli", *map(str, args)],
            capture_output=True, text=True, timeout=timeout, cwd=cwd or tmp_path,
            env={**base_env, **(env or {})},
        )
        return Completed(process.returncode, process.stdout, process.stderr)

    return run


@pytest.fixture
def damaged_mnist(tmp_path):
    """A copy of the MNIST directory whose training images' gzip stream ends early."""
    damaged = tmp_path / "damaged_mnist"
    damaged.mkdir()
    for path in MNIST.glob("*.gz"):
        (damaged / path.name).write_bytes(path.read_bytes())
    images = damaged / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:5000])
    with pytest.raises(EOFError):
        gzip.decompress(images.read_bytes())
    return damaged
