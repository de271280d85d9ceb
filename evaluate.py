"""Evaluate a detector: VOC07 11-point and area-under-curve mAP per class.

Works with a training checkpoint or a deploy model (anything with
``PREFIX-meta.json``), on a packed ``.rec`` or on a VOC folder::

    python evaluate.py --prefix model/ssd_mobilenet0.5_synthetic --rec data/synthetic/val.rec
    python evaluate.py --prefix model/ssd_mobilenet0.5_synthetic \\
        --voc-root data/VOCdevkit/synthetic --split test
"""
from common import runtime

runtime.configure()  # thread settings must precede the first import of mxnet

from evaluate.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
