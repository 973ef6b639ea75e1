#!/usr/bin/python3
"""A hostile or misconfigured registry (a test double: the real one does not redirect its API):
answers every request with 307 and the Location given, e.g. a presigned URL whose query carries
a signature, or a file:// URL.

usage: redirector.py PORT LOCATION
Each request is logged to stderr as "METHOD PATH".
"""
import http.server
import socketserver
import sys

PORT, LOCATION = int(sys.argv[1]), sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def redirect(self):
        sys.stderr.write("%s %s\n" % (self.command, self.path))
        sys.stderr.flush()
        self.send_response(307)
        self.send_header("Location", LOCATION)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = redirect


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


Server(("127.0.0.1", PORT), Handler).serve_forever()
