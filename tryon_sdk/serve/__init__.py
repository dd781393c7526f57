"""``tryon-sdk serve``: a local web demo of the SDK (photos and short videos in the browser).

Needs the ``serve`` extra (``pip install "tryon-sdk[serve]"``: Starlette, uvicorn,
python-multipart); nothing else in the SDK imports this package. Build the app with
:func:`tryon_sdk.serve.app.create_app` (one :class:`~tryon_sdk.parser.Parser`, loaded
once, shared by every request); ``docs/serve.md`` documents the page and the HTTP API.
"""

from .options import ParseOptions, ServeOptions

__all__ = ["ServeOptions", "ParseOptions"]
