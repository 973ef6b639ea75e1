#!/usr/bin/python3
"""A stand-in for the GCE metadata server (a test double: there is no cloud here), serving the
one endpoint node identity uses, as the real server does:

  GET /computeMetadata/v1/instance/service-accounts/default/token   (Metadata-Flavor: Google)
  -> {"access_token": "PREFIX-N-<random>", "expires_in": LIFE, "token_type": "Bearer"}

usage: gce_metadata.py PORT TOKENS_FILE LIFE PREFIX
Every answer carries "Metadata-Flavor: Google"; a request without that header gets 403. Each new
token is appended to TOKENS_FILE as "TOKEN EXPIRY" (epoch seconds), which token_issuer.py reads
(ISSUER_ACCESS_TOKENS) to accept it as the password of "oauth2accesstoken" until it expires, and
"token N" is written to stderr (never the token).
"""
import http.server
import json
import secrets
import socketserver
import sys
import threading
import time

PORT, TOKENS, LIFE, PREFIX = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
lock = threading.Lock()
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        global count
        if self.path != "/computeMetadata/v1/instance/service-accounts/default/token":
            return self.answer(404, b"not found")
        if self.headers.get("Metadata-Flavor") != "Google":
            return self.answer(403, b"Missing Metadata-Flavor:Google header.")
        with lock:
            count += 1
            token = "%s-%d-%s" % (PREFIX, count, secrets.token_hex(8))
            with open(TOKENS, "a") as f:
                f.write("%s %f\n" % (token, time.time() + LIFE))
            sys.stderr.write("token %d\n" % count)
            sys.stderr.flush()
        body = json.dumps({"access_token": token, "expires_in": LIFE, "token_type": "Bearer"})
        self.answer(200, body.encode(), "application/json")

    def answer(self, status, body, ctype="text/plain"):
        self.send_response(status)
        self.send_header("Metadata-Flavor", "Google")
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


Server(("127.0.0.1", PORT), Handler).serve_forever()
