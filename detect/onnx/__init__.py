"""ONNX: every model as one self-contained ``.onnx`` file whose output is the final detections.

``export`` writes the file (the network body exported by MXNet's ONNX exporter,
the input normalization and the detection stage as standard ONNX operators,
the model's metadata in ``metadata_props``); ``postprocess`` builds the
detection stages (MultiBoxDetection's semantics for models built here, Caffe
DetectionOutput's for converted ones); ``runtime`` is the ONNX Runtime backend
of ``detect.detector.Detector``; ``quantize`` makes INT8 files.
"""
