"""The ASGI application: detection API, model card, health, the page and its sample gallery.

Routes (JSON unless said otherwise; every error is ``{"error": message}``):

* ``POST /api/v1/detect``: the image as a multipart field ``image`` or as the
  raw body; optional ``threshold`` (default 0.5, as ``demo.py``), ``nms``,
  ``max_detections`` (query or form fields). Answers ``{"model", "width",
  "height", "detections": [{"class_id", "class_name", "score", "box": [xmin,
  ymin, xmax, ymax]}], "time_ms"}``: pixel boxes in the uploaded image, the
  rows ``demo.py`` writes for it.
* ``GET /api/v1/model``, ``GET /healthz``, ``GET /api/v1/samples``,
  ``GET /samples/{name}`` (the sample images of ``serve.py --samples``, by listed name only),
  ``GET /`` (the page, plain HTML/JS/CSS from ``serve/static``).

Limits: a body above ``max_upload_mb`` is refused with 413 before it is read
whole (its Content-Length, or the bytes as they arrive); an image whose header
declares more than ``max_pixels`` is refused with 413 before decoding
(decompression bombs); an unknown format gets 415, a corrupt or truncated one
400; a full queue 503 with ``Retry-After``. File names sent by clients are
never used.
"""
from __future__ import annotations

import asyncio
import io
import logging
import re
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from common.images import ImageError, decode_image, image_format
from common.paths import IMAGE_SUFFIXES
from serve.worker import Busy, InferenceWorker

log = logging.getLogger("serve")
STATIC = Path(__file__).resolve().parent / "static"
#: Default score threshold of an answer: demo.py's.
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Limits:
    """Request limits. ``max_pixels``: width x height an image may declare (decompression bombs)."""

    max_upload_mb: float = 16.0
    max_pixels: int = 40_000_000
    retry_after_s: int = 1

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: Optional[dict] = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class UploadLimit:
    """ASGI middleware: refuse bodies above ``limit`` bytes with 413, before reading them whole.

    A declared Content-Length above the limit is answered at once. A body sent without one
    (chunked) is counted as it arrives: past the limit, the 413 is sent, the application is told
    the client left, and whatever it does next is dropped.
    """

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await _send_error(send, 413, self._message(int(length)))
        seen, refused = 0, False

        async def limited_receive():
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    refused = True
                    await _send_error(send, 413, self._message(seen))
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not refused:
                await send(message)
        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:  # noqa: BLE001  the application failing on the cut-off body: answered already
            if not refused:
                raise

    def _message(self, size: int) -> str:
        return (f"upload of {size} bytes is larger than the limit of {self.limit} bytes "
                f"({self.limit / 1024 / 1024:g} MB, --max-upload-mb)")


class RequestLog:
    """ASGI middleware: one log line per request (method, path, status, milliseconds)."""

    def __init__(self, app):
        self.app = app

    def __getattr__(self, name):  # the FastAPI application's attributes (openapi, routes, ...)
        return getattr(self.app.app, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed_ms = 1000 * (time.perf_counter() - start)
            log.info("%s %s %d %.1f ms", scope["method"], scope["path"], status, elapsed_ms)


async def _send_error(send, status: int, message: str) -> None:
    response = JSONResponse({"error": message}, status_code=status)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


def _declared_pixels(data: bytes) -> Optional[int]:
    """Width x height from the image header (no decoding), or None when the header says nothing."""
    from PIL import Image
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Image.DecompressionBombError as err:  # PIL's own limit, far above ours: the size is in the message
        found = re.search(r"\((\d+) pixels\)", str(err))
        return int(found.group(1)) if found else None
    except Exception:  # noqa: BLE001  undecodable headers are judged by decode_image
        return None
    return width * height


def check_image(data: bytes, limits: Limits) -> "np.ndarray":  # noqa: F821
    """The decoded BGR image of an upload, or an ApiError with the status its problem deserves."""
    if not data:
        raise ApiError(400, "no image: send a multipart field 'image' or the image bytes as the body")
    if image_format(data) in ("unknown", "gif"):
        raise ApiError(415, "not a JPEG, PNG, BMP or WebP image")
    pixels = _declared_pixels(data)
    if pixels is not None and pixels > limits.max_pixels:
        raise ApiError(413, f"image of {pixels} pixels is larger than the limit of "
                            f"{limits.max_pixels} pixels")
    try:
        return decode_image(data, "upload")
    except ImageError as err:
        raise ApiError(400, str(err)) from None


def _number(value, name: str, kind, low, high):
    if value is None or value == "":
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ApiError(422, f"{name} must be a number, got {value!r}") from None
    if not low <= number <= high:
        raise ApiError(422, f"{name} must be between {low} and {high}, got {value!r}")
    return number


def create_app(worker: InferenceWorker, meta, *, model_name: str, limits: Limits = Limits(),
               gallery: Optional[Path] = None) -> "RequestLog":
    """The application serving ``worker``'s model (``meta``: its ModelMeta).

    ``model_name`` is what clients see (a display name, never a path on the server);
    ``gallery`` the folder of the page's sample images (None: no samples). Returns the ASGI
    application: the FastAPI app inside the upload limit inside the request log.
    """
    from detect.draw import detections_to_dicts
    app = FastAPI(title="SSD detection service", version="1",
                  description="Single Shot MultiBox Detector served by this toolkit.")
    samples = sorted(p.name for p in gallery.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) \
        if gallery is not None and gallery.is_dir() else []

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError):
        return JSONResponse({"error": err.message}, status_code=err.status, headers=err.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException):
        return JSONResponse({"error": str(err.detail)}, status_code=err.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, err: RequestValidationError):
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ())[1:])
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid request')}"}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, err: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "internal error (logged by the server)"}, status_code=500)

    @app.post("/api/v1/detect")
    async def detect(request: Request):
        start = time.perf_counter()
        data, fields = await _upload(request)
        params = {**dict(request.query_params), **fields}
        threshold = _number(params.get("threshold"), "threshold", float, 0.0, 1.0)
        nms = _number(params.get("nms"), "nms", float, 0.0, 1.0)
        top = _number(params.get("max_detections"), "max_detections", int, 1, 100000)
        image = await asyncio.get_running_loop().run_in_executor(None, check_image, data, limits)
        detection = worker.default if nms is None else replace(worker.default, nms_threshold=nms)
        try:
            future = worker.submit(image, detection)
        except Busy as err:
            raise ApiError(503, f"busy: {err}; retry later",
                           headers={"Retry-After": str(limits.retry_after_s)}) from None
        rows = await asyncio.wrap_future(future)
        rows = rows[rows[:, 1] >= (DEFAULT_THRESHOLD if threshold is None else threshold)][:top]
        return {"model": model_name, "width": int(image.shape[1]), "height": int(image.shape[0]),
                "detections": detections_to_dicts(rows, meta.class_names),
                "time_ms": round(1000 * (time.perf_counter() - start), 2)}

    @app.get("/api/v1/model")
    async def model():
        return {"model": model_name, "network": meta.network, "input_size": meta.data_shape,
                "channel_order": meta.channel_order, "class_names": list(meta.class_names),
                "detection": asdict(worker.default), "default_threshold": DEFAULT_THRESHOLD,
                "precision": meta.made_by.get("precision", "fp32"),
                "limits": {"max_upload_mb": limits.max_upload_mb, "max_pixels": limits.max_pixels}}

    @app.get("/healthz")
    async def health():
        return {"status": "ok", "pending": worker.pending}

    @app.get("/api/v1/samples")
    async def sample_list():
        return {"samples": samples}

    @app.get("/samples/{name}")
    async def sample(name: str):
        if name not in samples:  # only the listed names; never a client's path
            raise ApiError(404, f"no sample image named {name!r}")
        return FileResponse(gallery / name)

    @app.get("/")
    async def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return RequestLog(UploadLimit(app, limits.max_upload_bytes))


async def _upload(request: Request):
    """``(image bytes, form fields)`` of a multipart upload, or the raw body with no fields."""
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "multipart upload without a file field 'image'")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return await upload.read(), fields
    return await request.body(), {}
