"""ResNet v1 (He et al. 2016) from ``mx.gluon.model_zoo``, as a symbol.

Traced under the prefix ``resnet50_v1_`` / ``resnet101_v1_``. The ends of
stages 2, 3 and 4 (output strides 8, 16 and 32) are marked ``<prefix>stage2``
... ``<prefix>stage4``; the declared taps, which the presets use, are stages 3
and 4, as in the original MXNet SSD and GluonCV's ResNet SSDs (stage 2 stays
a named layer for other layouts).
"""
from __future__ import annotations

import mxnet as mx

from symbol.backbones.gluon import renaming_importer, trace
from symbol.backbones.registry import register

# Index of each stage in the Gluon network's ``features``: conv, bn, relu, pool, stage1..4.
_STAGE_INDEX = {2: 5, 3: 6, 4: 7}
#: Stages SSD taps (strides 16 and 32).
_SSD_STAGES = (3, 4)


def _register(depth: int):
    prefix = f"resnet{depth}_v1_"

    def factory():
        return mx.gluon.model_zoo.vision.get_resnet(1, depth, prefix=prefix)

    @register(f"resnet{depth}", taps=tuple(f"{prefix}stage{s}" for s in _SSD_STAGES),
              import_weights=renaming_importer(factory))
    def build(data):
        marks = {i: f"{prefix}stage{s}" for s, i in _STAGE_INDEX.items()}
        return trace(factory().features, data, marks)

    build.__doc__ = f"ResNet-{depth} v1 up to stage 4 (stride 32, 2048 channels)."
    return build


for _depth in (50, 101):
    _register(_depth)
