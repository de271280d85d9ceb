"""Box-coding constants shared by the training target and the detection output.

SSD (Liu et al., 2016, eq. 2) regresses offsets of a ground-truth box relative
to its default box. The Caffe reference implementation divides the encoded
offsets by a per-coordinate *variance* ("variance_encoded_in_target: false"
with ``variance: [0.1, 0.1, 0.2, 0.2]``); MXNet's ``MultiBoxTarget`` and
``MultiBoxDetection`` take the same four numbers. This module is the only
place that states them.
"""

#: Variances for (center-x, center-y, width, height) offsets.
VARIANCES = (0.1, 0.1, 0.2, 0.2)
