"""A test "internet" host: HTTPS and HTTP answering who they are, run inside a namespace.

``python upstream.py NAME BIND_ADDRESS CERT KEY HTTPS_PORT HTTP_PORT`` prints
``ready`` once both listen. Every request is answered with ``NAME`` and
appended to stderr as ``hit METHOD PATH`` (tests read it to prove what
reached which host).
"""

from __future__ import annotations

import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def handler_for(name: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: answers carry their length
        disable_nagle_algorithm = True  # as real servers: headers and body leave at once

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body_in = self.rfile.read(length) if length else b""
            sys.stderr.write(f"hit {self.command} {self.path} {len(body_in)}\n")
            sys.stderr.flush()
            size = int(self.headers.get("x-size") or 0)
            body = f"hello from {name} via {self.headers.get('host')}\n".encode() + b"x" * size
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = _answer
        do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def main(argv: list[str]) -> int:
    name, address, cert, key, https_port, http_port = argv
    handler = handler_for(name)
    https = ThreadingHTTPServer((address, int(https_port)), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    https.socket = context.wrap_socket(https.socket, server_side=True)
    http = ThreadingHTTPServer((address, int(http_port)), handler)
    for server in (https, http):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.read()  # until the test closes our stdin
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
