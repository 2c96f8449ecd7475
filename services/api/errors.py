"""Error responses in Partner Center's shape (models.ErrorBody), the one way the API says no."""

from __future__ import annotations

from starlette.responses import JSONResponse

from services.api.models import SOURCE


def error(status: int, code: str, description: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "description": description, "data": [], "source": SOURCE},
        status,
        headers=headers or None,
    )
