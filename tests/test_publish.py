"""storage.publish: a finished temporary file takes its name in one step, and without replace never takes the
place of a file already there, with renameat2 and with the hardlink fallback for kernels that lack it."""
import errno
import os

import pytest

from appliance import storage


def finished(tmp_path, data):
    temp = tmp_path / ".filedock-part-x"
    temp.write_bytes(data)
    return temp


@pytest.fixture(params=["renameat2", "hardlink"])
def way(request, monkeypatch):
    if request.param == "hardlink":
        def refused(source, dest, flags):
            raise OSError(errno.ENOSYS, "renameat2 is not available")
        monkeypatch.setattr(storage, "rename_with", refused)
    return request.param


def test_a_new_name_is_taken_and_the_temp_is_gone(tmp_path, way):
    temp = finished(tmp_path, b"new")
    storage.publish(temp, tmp_path / "a.txt", replace=False)
    assert (tmp_path / "a.txt").read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == ["a.txt"]


def test_without_replace_an_existing_file_is_kept(tmp_path, way):
    (tmp_path / "a.txt").write_bytes(b"old")
    temp = finished(tmp_path, b"new")
    with pytest.raises(FileExistsError):
        storage.publish(temp, tmp_path / "a.txt", replace=False)
    assert (tmp_path / "a.txt").read_bytes() == b"old"
    assert temp.read_bytes() == b"new"   # the caller decides what becomes of it


def test_with_replace_the_existing_file_is_replaced(tmp_path, way):
    (tmp_path / "a.txt").write_bytes(b"old")
    storage.publish(finished(tmp_path, b"new"), tmp_path / "a.txt", replace=True)
    assert (tmp_path / "a.txt").read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == ["a.txt"]


def test_rename_with_names_the_errno():
    with pytest.raises(FileNotFoundError):
        storage.rename_with("/nonexistent/a", "/nonexistent/b", storage.RENAME_NOREPLACE)
