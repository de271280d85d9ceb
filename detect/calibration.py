"""Images to calibrate an INT8 model on: a packed ``.rec`` or a folder of images (no labels needed).

Both quantizers (MXNet's oneDNN INT8 and the ONNX quantizer) read the same
batches: raw pixel values (B, 3, S, S), float32, resized to the model's input
without keeping the aspect and in its channel order, exactly what
``detect.detector.resize_input`` gives a detector. Each quantizer applies
the model's own normalization where its graph needs it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List

import numpy as np

from common.modelmeta import ModelMeta


@dataclass(frozen=True)
class CalibrationSource:
    """At most ``images`` images of ``path``: a ``.rec`` file or a folder of images.

    Attributes
    ----------
    path : Path
    images : int
        How many images to use (fewer when the source has fewer).
    """

    path: Path
    images: int

    @property
    def is_folder(self) -> bool:
        return Path(self.path).is_dir()

    def check(self) -> None:
        """The source exists and, for a folder, holds images; errors name the path."""
        path = Path(self.path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: calibration images not found")
        if self.is_folder and not self._files():
            raise ValueError(f"{path}: no images (.jpg, .png, .bmp, .webp) to calibrate on")

    def _files(self) -> List[Path]:
        from common.paths import IMAGE_SUFFIXES
        found = sorted(p for p in Path(self.path).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        return found[:self.images]

    def raw_images(self, meta: ModelMeta, batch_size: int = 8) -> np.ndarray:
        """The images as raw pixels (N, 3, S, S) float32 in the model's channel order, N <= ``images``
        (read ``batch_size`` at a time)."""
        batches = self._folder_batches if self.is_folder else self._rec_batches
        return np.concatenate(list(batches(meta, batch_size)))

    def _folder_batches(self, meta: ModelMeta, batch_size: int) -> Iterator[np.ndarray]:
        from common.images import read_image
        from detect.detector import resize_input
        files = self._files()
        for start in range(0, len(files), batch_size):
            yield np.stack([resize_input(read_image(p), meta) for p in files[start:start + batch_size]])

    def _rec_batches(self, meta: ModelMeta, batch_size: int) -> Iterator[np.ndarray]:
        from dataset.iterator import DetRecordIter
        it = DetRecordIter(self.path, batch_size=min(batch_size, self.images), data_shape=meta.data_shape,
                           mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), wrap_last_batch=False,
                           channel_order=meta.channel_order)
        left = self.images
        for batch in it:
            data = batch.data[0].asnumpy()[:len(batch.data[0]) - (batch.pad or 0)][:left]
            left -= len(data)
            yield data.astype(np.float32)
            if left <= 0:
                return

    def record(self, used: int) -> dict:
        """How the model was calibrated, for its metadata."""
        return {"source": str(self.path), "kind": "folder" if self.is_folder else "rec", "images": used}
