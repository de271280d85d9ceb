"""Detect objects in images and write annotated copies plus JSON/TSV of the detections.

With no arguments it runs the bundled model on the bundled sample images::

    python demo.py                     # model/ssd_mobilenet0.5_synthetic on data/demo/
    python demo.py photos/ 'more/*.png' --prefix build/deploy/ssd --thresh 0.3

Writes ``<out>/<image>.jpg``, ``<out>/detections.json`` and
``<out>/detections.tsv``; boxes are in pixels of the original images.
"""
from detect.demo import main  # the command's main() applies the runtime defaults before MXNet loads

if __name__ == "__main__":
    raise SystemExit(main())
