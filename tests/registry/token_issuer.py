#!/usr/bin/python3
"""A small token issuer for docker-registry's bearer-token auth (a test double for an auth
service such as Docker Hub's or Harbor's): signs RS256 JWTs with KEY, whose certificate CERT the
registry trusts via rootcertbundle (the certificate travels in the JWT's x5c header).

usage: token_issuer.py PORT KEY CERT SERVICE USER PASSWORD LOG
Requests with Basic USER:PASSWORD get the actions they ask for; anonymous requests get "pull" on
repositories under "public/" only. Every request appends "anonymous|USER scope..." to LOG.
Optional, from the environment:
  ISSUER_REFRESH_TOKEN=T   POST grant_type=refresh_token&refresh_token=T (docker's identity-token
                           flow) is USER too; another refresh token gets 401
  ISSUER_ACCESS_TOKENS=F   Basic oauth2accesstoken:TOKEN is accepted while F (lines "TOKEN EXPIRY",
                           written by gce_metadata.py) lists TOKEN with EXPIRY (epoch s) in the
                           future; logged as "oauth2accesstoken"
"""
import os
import base64
import json
import sys
import time
import urllib.parse
import http.server
import socketserver

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

PORT, KEY, CERT, SERVICE, USER, PASSWORD, LOG = sys.argv[1:8]
key = serialization.load_pem_private_key(open(KEY, "rb").read(), password=None)
cert = x509.load_pem_x509_certificate(open(CERT, "rb").read())
x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def access_token_valid(token):
    path = os.environ.get("ISSUER_ACCESS_TOKENS")
    if not path or not os.path.exists(path):
        return False
    for line in open(path):
        t, _, expiry = line.strip().partition(" ")
        if t == token and float(expiry) > time.time():
            return True
    return False


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def refuse(self):
        self.send_response(401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
        want = os.environ.get("ISSUER_REFRESH_TOKEN")
        if form.get("grant_type") != ["refresh_token"] or not want or form.get("refresh_token") != [want]:
            with open(LOG, "a") as f:
                f.write("refused-refresh-token\n")
            return self.refuse()
        self.issue(USER, form.get("scope", []))

    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        who = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            if user == "oauth2accesstoken" and access_token_valid(pw):
                who = user
            elif user != USER or pw != PASSWORD:
                with open(LOG, "a") as f:
                    f.write("refused %s\n" % user)
                return self.refuse()
            else:
                who = user
        self.issue(who, q.get("scope", []))

    def issue(self, who, scopes):
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            actions = actions.split(",")
            if who is None:
                actions = ["pull"] if name.startswith("public/") and "pull" in actions else []
            access.append({"type": kind, "name": name, "actions": actions})
        with open(LOG, "a") as f:
            f.write("%s %s\n" % (who or "anonymous", " ".join(scopes)))
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [x5c]}
        claims = {"iss": "modelcar-test-issuer", "sub": who or "", "aud": SERVICE,
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": str(now) + str(id(scopes)),
                  "access": access}
        signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
        sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        body = json.dumps({"token": signing_input + "." + b64(sig), "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


Server(("127.0.0.1", int(PORT)), Handler).serve_forever()
