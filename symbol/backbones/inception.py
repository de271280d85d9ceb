"""Inception-v3 (Szegedy et al. 2016) from ``mx.gluon.model_zoo``, as a symbol.

Traced under the prefix ``inceptionv3_``. The ends of the 35x35, 17x17 and
8x8 groups (at 299x299 input) are marked with the paper's block names:
``inceptionv3_mixed_5d`` (288 channels), ``inceptionv3_mixed_6e`` (768) and
``inceptionv3_mixed_7c`` (2048). The stem uses unpadded convolutions, so the
maps are 35, 17 and 8 at 300x300 input.
"""
from __future__ import annotations

import mxnet as mx

from symbol.backbones.gluon import renaming_importer, trace
from symbol.backbones.registry import register

PREFIX = "inceptionv3_"
# Index in Gluon's ``features``: 7 stem blocks, A1-A3 (7-9), B (10), C1-C4 (11-14), D (15), E1-E2 (16-17).
_MARKS = {9: PREFIX + "mixed_5d", 14: PREFIX + "mixed_6e", 17: PREFIX + "mixed_7c"}


def _factory():
    return mx.gluon.model_zoo.vision.inception_v3(prefix=PREFIX)


@register("inceptionv3", taps=tuple(_MARKS.values()), import_weights=renaming_importer(_factory))
def inceptionv3(data):
    """Inception-v3 up to mixed_7c."""
    return trace(_factory().features, data, _MARKS)
