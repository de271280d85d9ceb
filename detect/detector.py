"""What every detector offers, whatever runs the model: preprocessing, batches, detections in pixels.

Backends: ``detect.model.MXNetDetector`` (the three MXNet model files) and
``detect.onnx.runtime.OnnxDetector`` (a ``.onnx`` file); ``detect.loading``
picks one from a ``--prefix``.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from common.modelmeta import ModelMeta
from symbol import detection_layout as rows
from symbol.coding import DetectionParams


def resize_input(image_bgr: np.ndarray, meta: ModelMeta) -> np.ndarray:
    """(3, S, S) float32 pixel values (0-255) of an 8-bit BGR image, in the model's channel order.

    The image is resized to the square input without keeping its aspect, as the
    training iterator does (bilinear).
    """
    size = meta.data_shape
    resized = cv2.resize(image_bgr, (size, size), interpolation=cv2.INTER_LINEAR)
    if meta.channel_order == "RGB":
        resized = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)  # (2x faster than a reversed numpy view)
    return np.ascontiguousarray(resized.transpose(2, 0, 1), dtype=np.float32)


def normalize(pixels: np.ndarray, mean, std) -> np.ndarray:
    """``(pixels - mean) / std`` per channel, float32, of raw pixel values (3, S, S) or (B, 3, S, S);
    ``mean`` and ``std`` are 3 values in the pixels' channel order."""
    mean = np.asarray(mean, np.float32).reshape(3, 1, 1)
    std = np.asarray(std, np.float32).reshape(3, 1, 1)
    return (np.asarray(pixels, np.float32) - mean) / std


def preprocess(image_bgr: np.ndarray, meta: ModelMeta) -> np.ndarray:
    """(3, S, S) float32 network input: ``resize_input`` normalized with the model's mean and std."""
    return normalize(resize_input(image_bgr, meta), meta.mean, meta.std)


class Detector:
    """A model ready to detect. Subclasses implement ``forward``.

    Parameters
    ----------
    meta : ModelMeta
    batch_size : int
        Largest batch ``forward`` takes.
    epoch : int or None
        NNNN of the params file the model came from, for reports.
    detection : DetectionParams
        The settings of the model's detection stage.
    normalizes_inside : bool
        True when the model takes raw pixels (the normalization is in its graph).
    """

    def __init__(self, meta: ModelMeta, *, batch_size: int, epoch: Optional[int], detection: DetectionParams,
                 normalizes_inside: bool):
        self.meta = meta
        self.batch_size = batch_size
        self.epoch = epoch
        self.detection = detection
        self.normalizes_inside = normalizes_inside

    @property
    def input_normalization(self) -> Tuple[Tuple[float, ...], Tuple[float, ...]]:
        """``(mean, std)`` a data iterator applies before ``forward`` (identity when done inside)."""
        if self.normalizes_inside:
            return (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
        return tuple(self.meta.mean), tuple(self.meta.std)

    def preprocess(self, image_bgr: np.ndarray) -> np.ndarray:
        """The (3, S, S) input of ``forward`` for one 8-bit BGR image."""
        if self.normalizes_inside:
            return resize_input(image_bgr, self.meta)
        return preprocess(image_bgr, self.meta)

    def forward(self, data: np.ndarray) -> np.ndarray:
        """Detection rows (B, K, 6), normalized, ``class_id -1`` padding, for a batch of inputs."""
        raise NotImplementedError

    def detect(self, images_bgr: Sequence[np.ndarray], thresh: float = 0.0) -> List[np.ndarray]:
        """Detections per image in **pixels**: (K, 6) ``[class_id, score, x1, y1, x2, y2]``.

        Rows are sorted by descending score and have ``score >= thresh``; boxes are clipped to
        the image and rows left with no area are dropped (``detection_layout.inside_image``).
        """
        results = []
        for start in range(0, len(images_bgr), self.batch_size):
            chunk = images_bgr[start:start + self.batch_size]
            out = self.forward(np.stack([self.preprocess(im) for im in chunk]))
            for image, dets in zip(chunk, out):
                keep = rows.valid(dets)
                keep = rows.by_score(keep[keep[:, rows.SCORE] >= thresh])
                h, w = image.shape[:2]
                results.append(rows.inside_image(rows.to_pixels(keep, w, h), w, h))
        return results
