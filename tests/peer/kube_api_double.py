#!/usr/bin/python3
"""A test double standing in for the Kubernetes API server: no real API server can run on this
machine, so this answers the one call `cache-agent --peer-service` makes, over HTTPS on 127.0.0.1
with a self-signed certificate (the agents' service account ca.crt).

usage: kube_api_double.py PORT CERT KEY TOKEN_FILE SLICES_FILE NAMESPACE SERVICE

GET /apis/discovery.k8s.io/v1/namespaces/NAMESPACE/endpointslices?labelSelector=
kubernetes.io/service-name=SERVICE answers the EndpointSliceList in SLICES_FILE when the request
carries "Authorization: Bearer T" where T is the content of TOKEN_FILE. Both files are read on every
request, so a test rewrites the slices mid-test (and can make the API refuse the agents' token by
rewriting TOKEN_FILE). A missing or other token is 401, another namespace or selector 403, any other
path 404, each with a Kubernetes Status body as the API server sends it. One line per request on
stderr ("GET PATH -> STATUS"), never the token.
"""
import http.server
import json
import ssl
import sys
import urllib.parse

PORT, CERT, KEY, TOKEN_FILE, SLICES_FILE, NAMESPACE, SERVICE = sys.argv[1:8]
PATH = "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices" % NAMESPACE
PREFIX = "/apis/discovery.k8s.io/v1/namespaces/"


def status(code, reason, message):
    return code, json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {},
                             "status": "Failure", "message": message, "reason": reason,
                             "code": code})


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        with open(TOKEN_FILE) as f:
            token = f.read().strip()
        if self.headers.get("Authorization") != "Bearer " + token:
            code, body = status(401, "Unauthorized", "Unauthorized")
        elif url.path == PATH and query.get("labelSelector") == [
                "kubernetes.io/service-name=" + SERVICE]:
            with open(SLICES_FILE) as f:
                code, body = 200, f.read()
        elif url.path.startswith(PREFIX) and url.path.endswith("/endpointslices"):
            code, body = status(403, "Forbidden",
                                "endpointslices.discovery.k8s.io is forbidden: this double "
                                "serves namespace %s, service %s only" % (NAMESPACE, SERVICE))
        else:
            code, body = status(404, "NotFound", "the server could not find the requested resource")
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        sys.stderr.write("GET %s -> %d\n" % (url.path, code))
        sys.stderr.flush()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(PORT)), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
