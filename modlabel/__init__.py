"""modlabel's Python client: ``Client``, ``AsyncClient``, typed results and ``sign_webhook``.

The service itself lives in the ``service``, ``classifiers`` and ``labels`` packages;
this package only talks to it over HTTP (httpx).
"""

from modlabel.client import (
    ApiError,
    AsyncClient,
    AuthError,
    Client,
    Disclaimer,
    Evidence,
    Health,
    ItemRecord,
    Label,
    ModerationResult,
    ModlabelError,
    NotFound,
    PrePublishAnswer,
    StoredResult,
    TransportError,
    sign_webhook,
)

__all__ = ["ApiError", "AsyncClient", "AuthError", "Client", "Disclaimer", "Evidence", "Health", "ItemRecord", "Label",
           "ModerationResult", "ModlabelError", "NotFound", "PrePublishAnswer", "StoredResult", "TransportError",
           "sign_webhook"]
