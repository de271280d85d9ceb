"""The Python API: load any model, call it on images, get pixel detections with class names.

::

    import detect

    model = detect.load("model/ssd_mobilenet0.5_synthetic")   # or a .onnx file
    for d in model("data/demo/000004.jpg"):                    # a path, or a BGR uint8 array
        print(d.class_name, round(d.score, 2), d.box)          # box: [x1, y1, x2, y2] in pixels

``model(images)`` takes one image (a path or an (H, W, 3) BGR uint8 array, as ``cv2.imread``
gives) and returns its list of ``Detection``; given a list of images it returns one list per
image. Boxes are pixel corners inside the image, rows sorted by decreasing score, above the
model's ``threshold`` (0.5, as ``demo.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from detect.detector import Detector
from symbol import detection_layout as layout

Image = Union[str, Path, np.ndarray]


@dataclass(frozen=True)
class Detection:
    """One detected object: its class, score and box ``(x1, y1, x2, y2)`` in pixels of the image."""

    class_id: int
    class_name: str
    score: float
    box: Tuple[float, float, float, float]


class Model:
    """A loaded detector, callable on images (see the module docstring).

    Attributes
    ----------
    detector : Detector
        The engine underneath (``detect.detector.Detector``): ``detect`` gives raw pixel rows.
    class_names : tuple of str
    threshold : float
        Minimum score of a returned detection.
    """

    def __init__(self, detector: Detector, threshold: float = 0.5):
        self.detector = detector
        self.class_names = detector.meta.class_names
        self.threshold = threshold

    def __call__(self, images: Union[Image, Sequence[Image]]):
        if isinstance(images, (list, tuple)):
            return [self._detections(rows) for rows in self.detector.detect([_read(i) for i in images],
                                                                            thresh=self.threshold)]
        return self._detections(self.detector.detect([_read(images)], thresh=self.threshold)[0])

    def _detections(self, rows: np.ndarray) -> List[Detection]:
        return [Detection(int(r[layout.CLASS_ID]), self.class_names[int(r[layout.CLASS_ID])],
                          float(r[layout.SCORE]), tuple(float(v) for v in r[layout.BOX])) for r in rows]


def _read(image: Image) -> np.ndarray:
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 BGR image, got {image.dtype} {image.shape}")
        return image
    from common.images import read_image
    return read_image(image)


def load(prefix: Union[str, Path], *, threshold: float = 0.5, engine: str = "auto", precision: str = "fp32",
         epoch: Optional[int] = None, batch_size: int = 1) -> Model:
    """The model at ``prefix``: an MXNet model's prefix (``PREFIX-symbol.json`` ...) or a ``.onnx`` file.

    ``engine`` and ``precision`` choose how a ``.onnx`` file runs (``auto``: OpenVINO where it is
    installed, else ONNX Runtime); ``epoch`` picks a checkpoint's params (default: the latest).
    The project's runtime defaults (every core; ``common.runtime``) apply, as in the commands,
    unless MXNet was imported before.
    """
    from common import runtime
    from detect.loading import load_detector
    runtime.configure([])
    return Model(load_detector(str(prefix), epoch, batch_size=batch_size, engine=engine, precision=precision),
                 threshold=threshold)
