"""A corporate proxy that answers with its own HTML page: ``mitmdump -s tests/lab/portal.py --set portal=all``.

Loaded into a real mitmdump chained to the lab's Squid (``--mode upstream:…``),
it plays the login portal or block page a web proxy serves instead of what was
asked: a ``200 text/html`` page with the proxy's own headers, where npm
expected JSON or a tarball. ``portal=all`` answers every request so;
``portal=tarballs`` lets package documents through and replaces only
tarballs (a "download in progress" or virus-scan page); ``portal=off``
forwards everything.
"""

from __future__ import annotations

from mitmproxy import http

PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Corporate Web Access - Sign in</title></head>\n"
    b"<body><h1>Sign in to continue</h1><p>Your request to the Internet needs a login.</p>"
    b'<form method="post" action="/portal/login"><input name="user"><input name="password" type="password">'
    b"</form></body></html>\n"
)


class Portal:
    def load(self, loader) -> None:
        loader.add_option("portal", str, "all", "all | tarballs | off: which requests get the portal page")

    def request(self, flow: http.HTTPFlow) -> None:
        from mitmproxy import ctx

        mode = ctx.options.portal
        tarball = flow.request.path.split("?", 1)[0].endswith(".tgz")
        if mode == "all" or (mode == "tarballs" and tarball):
            flow.response = http.Response.make(
                200,
                PAGE,
                {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"},
            )


addons = [Portal()]
