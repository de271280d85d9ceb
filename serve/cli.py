"""Serve a detector over HTTP: an API and a page (``serve.py``).

The command line of ``serve.py``; the routes and limits are described in
``serve.app``.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Optional, Sequence

from common import cli
from common.paths import BUNDLED_MODEL, DEMO_IMAGES
from symbol import options

log = logging.getLogger("serve")


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python serve.py", "Serve a detector: HTTP API (/api/v1/detect) and a web page (/).")
    cli.add_model_args(p, default=str(BUNDLED_MODEL))
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (0.0.0.0: every interface, as in the Docker image)")
    p.add_argument("--port", type=cli.positive_int, default=8000, help="TCP port")
    p.add_argument("--max-upload-mb", type=cli.positive_float, default=16.0,
                   help="largest request body (413 above it)")
    p.add_argument("--max-pixels", type=cli.positive_int, default=40_000_000,
                   help="largest image, width x height, a request may declare (413 above it)")
    p.add_argument("--queue", type=cli.positive_int, default=64,
                   help="requests that may wait for the model (503 with Retry-After beyond); the default "
                        "lets 50 concurrent clients wait without a 503")
    p.add_argument("--max-batch", type=cli.positive_int, default=8,
                   help="waiting requests run together as one batch")
    p.add_argument("--samples", type=Path, default=None, metavar="DIR",
                   help="images the page offers as samples (default: the bundled sample images when "
                        "serving the bundled model, none otherwise)")
    options.add_detection_args(p)
    cli.add_engine_args(p)
    cli.add_device_args(p)
    return p


def build_app(args: argparse.Namespace):
    """The ASGI application for the parsed flags (loads the model)."""
    from detect.loading import load_detector, load_meta
    from serve.app import Limits, create_app
    from serve.worker import InferenceWorker
    meta = load_meta(args.prefix)
    gallery = sample_folder(args)
    default = options.detection_params(args, meta.detection)

    def load(detection):
        return load_detector(args.prefix, args.epoch, batch_size=args.max_batch, detection=detection,
                             gpus=args.gpus, cpus=args.cpus, engine=args.engine,
                             precision=args.precision)
    worker = InferenceWorker(load, default, queue_size=args.queue, max_batch=args.max_batch)
    limits = Limits(max_upload_mb=args.max_upload_mb, max_pixels=args.max_pixels)
    return create_app(worker, meta, model_name=meta.name_for(args.prefix), limits=limits,
                      gallery=gallery)


def sample_folder(args: argparse.Namespace) -> Optional[Path]:
    """The page's sample images: ``--samples``, else the bundled samples for the bundled model."""
    if args.samples is not None:
        if not args.samples.is_dir():
            raise FileNotFoundError(f"--samples {args.samples}: no such folder")
        return args.samples
    same = Path(args.prefix).resolve() == BUNDLED_MODEL.resolve()
    return DEMO_IMAGES if same else None


def run(args: argparse.Namespace) -> int:
    import uvicorn
    app = build_app(args)
    log.info("serving %s on http://%s:%d (API: /api/v1/detect, docs: /docs)",
             args.prefix, args.host, args.port)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)
