"""Inference: loading any saved model by prefix + metadata, preprocessing, prediction, drawing.

The Python API is ``detect.load`` (``detect.api``): ``detect.load(prefix)(image)`` gives the
image's detections with class names and pixel boxes.
"""
from detect.api import Detection, Model, load

__all__ = ["Detection", "Model", "load"]
