"""Export a training checkpoint as a deploy model with NMS fused in.

The deploy symbol shares the body of the training symbol and replaces the
loss head by softmax + MultiBoxDetection; its parameters are the
checkpoint's. Writes ``OUT-symbol.json``, ``OUT-NNNN.params`` (same epoch)
and ``OUT-meta.json`` (``kind: deploy``)::

    python deploy.py --prefix model/ssd_mobilenet0.5_synthetic --out build/deploy/ssd
"""
from detect.deploy import main  # the command's main() applies the runtime defaults before MXNet loads

if __name__ == "__main__":
    raise SystemExit(main())
