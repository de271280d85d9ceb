"""Export a training checkpoint as a deploy model with NMS fused in.

The deploy symbol shares the body of the training symbol and replaces the
loss head by softmax + MultiBoxDetection; its parameters are the
checkpoint's. Writes ``OUT-symbol.json``, ``OUT-NNNN.params`` (same epoch)
and ``OUT-meta.json`` (``kind: deploy``)::

    python deploy.py --prefix model/ssd_mobilenet0.5_synthetic --out build/deploy/ssd
"""
from common import runtime

runtime.configure()  # thread settings must precede the first import of mxnet

from detect.deploy import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
