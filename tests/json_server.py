"""A local HTTP server speaking JSON, for sources that read a live API (Discourse, Confluence)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# (path with query, request headers) -> (status, JSON body, extra response headers)
Respond = Callable[[str, dict[str, str]], tuple[int, Any, dict[str, str]]]


@contextmanager
def json_server(respond: Respond) -> Iterator[str]:
    """Serves GETs with ``respond`` on 127.0.0.1 and yields the server's URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            code, body, headers = respond(self.path, dict(self.headers))
            data = json.dumps(body, default=str).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
