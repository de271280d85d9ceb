"""The detection web service: an HTTP API (FastAPI) and a page, over one inference worker.

``worker`` owns the model (MXNet executors are not thread-safe) behind a
bounded queue; ``app`` is the ASGI application (API, page, limits, JSON
errors, request log); ``cli`` starts it with uvicorn (``serve.py``).
"""
