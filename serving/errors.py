"""Client errors as plain JSON: 400 malformed JSON, 413 body too large, 422 field by field, 429 (limits.py).

A 422 names each field, the value sent and the field's rule with its units (`FIELD_RULES`), so a
caller who sends thousands or months (the original service's documented example) learns what to
send instead. Unexpected server errors become a 500 with an error id and no stack trace; the
trace goes to the replica log under the same id.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creditrisk.applicants.schema import FEATURES, FIELD_RULES

log = logging.getLogger("ray.serve")

OTHER_RULES: dict[str, str] = {
    "request_id": "must be a request_id returned by POST /predict",
    "loan_status": "must be 1 (the loan defaulted) or 0 (repaid)",
}
_UNKNOWN_FIELD = "is not an applicant field; allowed fields: " + ", ".join(FEATURES)


def error_body(error: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": error, "message": message, **extra}


async def reply_json(send: Send, status: int, body: dict[str, Any],
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer from an ASGI middleware, before the app (and its exception handlers) ever runs."""
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


def _field_error(err: dict[str, Any]) -> dict[str, Any]:
    loc = [str(p) for p in err.get("loc", ()) if p != "body"]
    name = ".".join(loc) or "body"
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        rule = OTHER_RULES.get(name, _UNKNOWN_FIELD)
    else:
        rule = FIELD_RULES.get(name) or OTHER_RULES.get(name) or "must be a JSON object"
    value = None if kind == "missing" else err.get("input")
    try:
        json.dumps(value, allow_nan=False)  # NaN or Infinity cannot go back in strict JSON: show its repr
    except (TypeError, ValueError):
        value = repr(value)
    message = err.get("msg", "invalid value")
    return {"field": name, "value": value, "rule": rule, "message": message, "type": kind}


async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    for err in errors:
        kind = err.get("type", "")
        if kind == "json_invalid":
            detail = err.get("ctx", {}).get("error", "")
            return JSONResponse(error_body("malformed_json",
                                           f"request body is not valid JSON: {detail}".strip()),
                                status_code=400)
        if kind == "missing" and tuple(err.get("loc", ())) == ("body",):
            return JSONResponse(error_body("malformed_json", "request body is empty: send a JSON object"),
                                status_code=400)
    fields = [_field_error(e) for e in errors]
    names = ", ".join(dict.fromkeys(f["field"] for f in fields))
    message = f"{len(fields)} invalid field{'s' if len(fields) != 1 else ''}: {names}"
    return JSONResponse(error_body("invalid_fields", message, detail=fields), status_code=422)


async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    error = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
             429: "rate_limited", 503: "unavailable"}.get(exc.status_code, f"http_{exc.status_code}")
    return JSONResponse(error_body(error, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex[:12]
    log.error("unhandled error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal_error", "the server could not answer this request",
                                   error_id=error_id), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, on_unexpected)


class BodyLimit:
    """ASGI middleware: 413 for bodies over `max_bytes` (declared or streamed); stamps the start time.

    A declared Content-Length over the limit is refused before reading. A chunked body is counted
    as it arrives; past the limit the read stops and whatever the app answers is replaced by 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, path_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = path_limits or {}  # e.g. a larger limit for the batch endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["t0"] = time.perf_counter()
        limit = self.path_limits.get(scope.get("path", ""), self.max_bytes)
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        too_large = error_body("payload_too_large", f"request body is larger than {limit} bytes")
        if declared is not None:
            if not declared.isdigit():
                await reply_json(send, 400, error_body("bad_request", "invalid Content-Length header"))
                return
            if int(declared) > limit:
                await reply_json(send, 413, too_large)
                return
        seen, over = 0, False

        async def counting_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise ValueError("request body too large")  # the app answers 400; replaced below
            return message

        replaced = False

        async def guarded_send(message: Message) -> None:
            nonlocal replaced
            if over:
                if not replaced:
                    replaced = True
                    await reply_json(send, 413, too_large)
                return
            await send(message)

        await self.app(scope, counting_receive, guarded_send)
