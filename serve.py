"""Serve a detector over HTTP: a JSON API and a web page to drop images on.

With no arguments it serves the bundled model on http://127.0.0.1:8000::

    python serve.py                                   # then open http://127.0.0.1:8000/
    python serve.py --prefix build/onnx/ssd.onnx --host 0.0.0.0 --port 8080
    curl -F image=@data/demo/000000.jpg http://127.0.0.1:8000/api/v1/detect

Routes, JSON contract and limits: ``serve/app.py`` and docs/serving.md.
"""
from serve.cli import main  # the command's main() applies the runtime defaults before MXNet loads

if __name__ == "__main__":
    raise SystemExit(main())
