"""Defaults of a network's definition that several commands share.

Light on purpose (no MXNet), so command lines can show them in ``--help``.
"""
#: The backbone ``train.py`` builds when ``--network`` is not given.
DEFAULT_NETWORK = "mobilenet0.25"
#: Square input side in pixels.
DEFAULT_DATA_SHAPE = 300
#: ImageNet RGB statistics in pixel units: the input normalization of the Gluon model-zoo backbones.
IMAGENET_MEAN = (123.68, 116.78, 103.94)
IMAGENET_STD = (58.395, 57.12, 57.375)
#: Channel orders a model may take; models trained here take RGB, Caffe models BGR.
CHANNEL_ORDERS = ("RGB", "BGR")
#: The original (Caffe) SSD's input preprocessing, in BGR order and pixels: mean subtraction, scale 1.
CAFFE_SSD_MEAN = (104.0, 117.0, 123.0)
