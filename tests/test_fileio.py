"""`improved_gan_tf.fileio`: atomic writes give files and directories the modes the
user's umask asks for, as a plain `open()` / `mkdir()` would."""

import os
import stat

import pytest

from improved_gan_tf import fileio


@pytest.fixture
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002], indirect=True, ids=oct)
def test_atomic_writes_respect_the_umask_for_new_files_and_directories(umask, tmp_path):
    run_dir = tmp_path / "run" / "samples"
    written = fileio.atomic_write_text(run_dir / "config.json", "{}\n")
    assert _mode(written) == 0o666 & ~umask
    assert _mode(run_dir) == 0o777 & ~umask
    assert _mode(tmp_path / "run") == 0o777 & ~umask
    # The same modes as a plain open() under the same umask.
    plain = tmp_path / "plain.json"
    with open(plain, "w") as f:
        f.write("{}\n")
    assert _mode(written) == _mode(plain)


@pytest.mark.parametrize("umask", [0o022, 0o077], indirect=True, ids=oct)
def test_replacing_a_file_gives_it_the_umask_mode_not_the_temporary_files(umask, tmp_path):
    target = tmp_path / "report.json"
    fileio.atomic_write_bytes(target, b"old")
    fileio.atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert _mode(target) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # No temporary left.
