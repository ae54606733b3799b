"""Who may talk to the viewer: the Host header, the token, and where a POST comes from.

The viewer can approve payments and cancel runs, so it guards every request:

* the Host header must name the address it is bound to, so a web page whose DNS name
  was rebound to 127.0.0.1 cannot read or drive it;
* bound to anything but loopback, every request must carry the token: a
  ``Authorization: Bearer`` header, or the cookie that opening the printed
  ``?token=`` URL once sets (HttpOnly, SameSite=Strict; the token leaves the URL at once);
* a POST must come from the viewer's own pages: its ``Origin`` names this host (the
  forms also carry a CSRF token, which the handlers check);
* every response forbids framing, inline scripts, and referrers to other sites.
"""

from __future__ import annotations

import hmac
import ipaddress
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Guard", "allowed_hosts", "is_loopback", "url_host"]

_WILDCARDS = frozenset({"0.0.0.0", "::", ""})

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        "style-src-attr 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",  # "no-referrer" makes a form POST say Origin: null
    "cache-control": "no-store",
}


def is_loopback(host: str) -> bool:
    """True for the addresses only this machine can reach without a token:
    127.0.0.1, ::1 and ``localhost``."""
    return host.lower() in ("127.0.0.1", "::1", "localhost")


def url_host(host: str) -> str:
    """The host as it is written in a URL (IPv6 addresses in brackets)."""
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def allowed_hosts(host: str) -> frozenset[str] | None:
    """The names a request's Host header may give for a viewer bound to ``host``;
    None for a wildcard address (any name reaches it, and the token guards it)."""
    host = host.lower()
    if host in _WILDCARDS:
        return None
    if is_loopback(host):
        return frozenset({host, "localhost"})
    return frozenset({host})


def _hostname(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if header.count(":") == 1 else header


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class Guard:
    """ASGI middleware that refuses what the module docstring lists.

    Args:
        app: the viewer.
        host: the address the viewer is bound to.
        token: the token every request must carry; None to need none (loopback).
        cookie: the name of the cookie that carries the token.
    """

    def __init__(self, app: ASGIApp, *, host: str, token: str | None, cookie: str) -> None:
        self.app = app
        self.hosts = allowed_hosts(host)
        self.token = token
        self.cookie = cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await _secured(refusal)(scope, receive, send)
            return
        await self.app(scope, receive, _with_headers(send))

    def _refusal(self, scope: Scope) -> Response | None:
        headers = Headers(scope=scope)
        host_header = headers.get("host", "")
        if self.hosts is not None and _hostname(host_header) not in self.hosts:
            return PlainTextResponse(
                "refused: this viewer answers only to its own address (the Host header "
                "names another)",
                status_code=403,
            )
        if self.token is not None and not self._authorised(headers):
            return self._token_from_query(scope) or PlainTextResponse(
                "unauthorised: open the URL `tether ui` printed (it carries ?token=...), or "
                "send the header Authorization: Bearer TOKEN",
                status_code=401,
                headers={"www-authenticate": "Bearer"},
            )
        if scope["method"] not in ("GET", "HEAD") and not _same_origin(scope, headers):
            return PlainTextResponse(
                "refused: a change must come from the viewer's own pages", status_code=403
            )
        return None

    def _authorised(self, headers: Headers) -> bool:
        assert self.token is not None
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and _same(given.strip(), self.token):
            return True
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers.get("cookie", ""))
        except Exception:
            return False
        morsel = jar.get(self.cookie)
        return morsel is not None and _same(morsel.value, self.token)

    def _token_from_query(self, scope: Scope) -> Response | None:
        """A GET with the right ``?token=``: set the cookie and drop the token from the URL."""
        assert self.token is not None
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), True)
        given = next((v for k, v in query if k == "token"), None)
        if scope["method"] != "GET" or given is None or not _same(given, self.token):
            return None
        rest = urlencode([(k, v) for k, v in query if k != "token"])
        response = RedirectResponse(scope["path"] + (f"?{rest}" if rest else ""), 303)
        response.set_cookie(self.cookie, self.token, httponly=True, samesite="strict", path="/")
        return response


def _same_origin(scope: Scope, headers: Headers) -> bool:
    origin = headers.get("origin")
    if origin is not None:
        scheme = scope.get("scheme", "http")
        return origin.lower() == f"{scheme}://{headers.get('host', '')}".lower()
    # No Origin (not a browser, or an old one): refuse only what says it is cross-site.
    return headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in SECURITY_HEADERS.items():
                headers.setdefault(name, value)
        await send(message)

    return sending


def _secured(response: Response) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await response(scope, receive, _with_headers(send))

    return app
