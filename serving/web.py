"""What a browser gets besides the API: the portal's and the docs page's files, and the security headers.

The OpenAPI page (`/docs`) is Swagger UI from the `swagger-ui-bundle-v2` package, served by this
app: no CDN (a bank's production origin holds the outcomes token's "Authorize" box, so it loads no
third-party code, and offline the page still renders), and no inline script (`static/docs.js`
starts it), so the Content-Security-Policy needs neither 'unsafe-inline' nor a nonce.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Only this origin's files run; data: images are Swagger UI's CSS icons; nothing may frame a page.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),  # for browsers that predate frame-ancestors
    (b"referrer-policy", b"no-referrer"),
]
_NAMES = {name for name, _ in SECURITY_HEADERS}


class SecurityHeaders:
    """ASGI middleware: every HTTP answer carries `SECURITY_HEADERS` (errors and static files too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _NAMES]
                message["headers"] = kept + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SecuredAPI(FastAPI):
    """A FastAPI app whose every answer carries `SECURITY_HEADERS`, the 500s included.

    Starlette puts ServerErrorMiddleware outside every added middleware, so an unexpected error's
    answer bypassed `add_middleware(SecurityHeaders)`: here the headers wrap the whole stack.
    """

    def build_middleware_stack(self) -> ASGIApp:
        """The usual stack, inside `SecurityHeaders`."""
        return SecurityHeaders(super().build_middleware_stack())


def swagger_ui_dir() -> Path:
    """The folder of Swagger UI's files in the installed package (imported only when the app is built)."""
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


def add_browser_pages(api: FastAPI) -> None:
    """The portal (`/`, `/static`) and the OpenAPI page (`/docs`, `/docs-assets`) on `api`."""

    @api.get("/", include_in_schema=False)
    async def portal() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @api.get("/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        return FileResponse(STATIC_DIR / "docs.html")

    # Files under their own prefixes, not "/": a catch-all mount would answer every other method
    # and path of the API (GET /predict 404, PUT /predict 405 "Allow: GET, HEAD") instead of the
    # router's 405 naming the methods the route really has.
    api.mount("/static", StaticFiles(directory=STATIC_DIR), name="portal")
    api.mount("/docs-assets", StaticFiles(directory=swagger_ui_dir()), name="docs-assets")
