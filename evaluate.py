"""Evaluate a detector: VOC07 11-point and area mAP, and COCO AP (pycocotools), per class.

Works with a training checkpoint, a deploy model or a converted Caffe model
(anything with ``PREFIX-meta.json``), on a packed ``.rec``, a VOC folder or
a COCO json with its images::

    python evaluate.py --prefix model/ssd_mobilenet0.5_synthetic --rec data/synthetic/val.rec
    python evaluate.py --prefix model/ssd_mobilenet0.5_synthetic \\
        --voc-root data/VOCdevkit/synthetic --split test --plot-dir build/plots --examples 8
    python evaluate.py --prefix build/ssd --coco-json instances_val.json --image-root images/ \\
        --coco-results build/detections.json
"""
from evaluate.cli import main  # the command's main() applies the runtime defaults before MXNet loads

if __name__ == "__main__":
    raise SystemExit(main())
