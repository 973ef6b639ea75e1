#!/usr/bin/env python3
"""Hostile clients against a modelcar HTTP(S) server on 127.0.0.1, while normal clients check that
it still serves everyone.

  abuse.py run --url URL --pid PID --post PATH --deep FILE --normal FILE [options]
      `--hostile` connections (default 200) for `--seconds`, split over the kinds below, each
      reconnecting when its connection ends. Meanwhile another process asks GET --health every
      0.2 s (each answer must be 200 in under --health-limit-s) and sends the --normal request
      (POST --post, must get --normal-status; or GET --normal-get) one after the other. The
      server's RSS is sampled every 0.2 s and must stay under --rss-limit-mib; the process must be
      alive at the end. A server without a POST route (--normal-get) runs the kinds that need
      no body (--kinds idle,line_only,slow_headers,header_flood).
  abuse.py flood --url URL --post PATH --body FILE --count N --min-503 M
      N concurrent requests (a stream each); at least M must be answered 503 at once; then all
      hang up.

Hostile kinds (the answer each must get):
  idle          connects (TCP only), sends nothing           -> cut by the header deadline
  line_only     sends a request line, then nothing           -> cut by the header deadline
  slow_headers  a header byte per second (slowloris)         -> cut by the header deadline
  slow_body     a declared 1 MB body, a byte per second      -> cut by the body deadline
  header_flood  5,000 header fields of 8 KB (40 MB)          -> 431
  deep_json     the --deep body (JSON nested 100,000 deep)   -> 400
  wide_json     with --wide: that body (JSON wide and cheap to write, dear to hold: `[{},{},...]`
                past the parse's memory or value limit)    -> 400, or 503 while the body memory
                                                               budget is spent
  disconnect    with --stream: a streaming request, reset after the first event; without: half
                a body, then reset                           -> nothing (the server must go on)
  slow_reader   with --slow-stream: that streaming request on a 4 KB receive window, nothing
                read for --pause seconds, then the rest      -> the whole stream, to [DONE]
Prints one line per kind and a JSON report (--report); exits 1 on any broken expectation.
"""
import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import ssl
import struct
import sys
import time

KINDS = {  # share of the hostile connections
    "idle": 20, "line_only": 30, "slow_headers": 30, "slow_body": 30, "header_flood": 20,
    "deep_json": 30, "wide_json": 20, "disconnect": 40, "slow_reader": 20,
}
SLACK_S = 5.0  # a cut may come this much after its deadline on a loaded machine


def parse_url(url):
    scheme, rest = url.split("://", 1)
    host, port = rest.rstrip("/").rsplit(":", 1)
    return scheme == "https", host, int(port)


class Target:
    def __init__(self, url, cafile):
        self.tls, self.host, self.port = parse_url(url)
        self.ctx = None
        if self.tls:
            self.ctx = ssl.create_default_context(cafile=cafile)

    async def connect(self):
        return await asyncio.open_connection(self.host, self.port, ssl=self.ctx,
                                             server_hostname=self.host if self.tls else None)


def abort(writer):
    """Closes with a reset (SO_LINGER 0), as a crashed or killed client does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def read_response(reader, limit_s):
    """Reads until the server closes; returns (status or 0, bytes)."""
    data = b""
    try:
        async with asyncio.timeout(limit_s):
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                data += chunk
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
        pass
    status = 0
    if data.startswith(b"HTTP/1."):
        try:
            status = int(data[9:12])
        except ValueError:
            pass
    return status, data


async def wait_cut(reader, trickle, limit_s):
    """Trickles bytes (if `trickle`) until the server closes; returns the seconds it took or None
    when the connection was still open after `limit_s`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        try:
            chunk = await asyncio.wait_for(reader.read(4096), 1.0)
            if not chunk:
                return time.monotonic() - t0
        except TimeoutError:
            pass
        except (ConnectionError, ssl.SSLError, OSError):
            return time.monotonic() - t0
        if trickle is not None:
            try:
                trickle.write(b"x")
                await trickle.drain()
            except (ConnectionError, ssl.SSLError, OSError):
                return time.monotonic() - t0
    return None


class Hostile:
    def __init__(self, args):
        self.args = args
        self.target = Target(args.url, args.cafile)
        self.deep = open(args.deep, "rb").read() if args.deep else None
        self.wide = open(args.wide, "rb").read() if args.wide else None
        self.stream = open(args.stream, "rb").read() if args.stream else None
        self.slow_stream = open(args.slow_stream, "rb").read() if args.slow_stream else None
        self.kinds = {k: v for k, v in KINDS.items() if k in args.kinds.split(",")}
        if not self.slow_stream:
            self.kinds.pop("slow_reader", None)
        if not self.wide:
            self.kinds.pop("wide_json", None)
        self.results = {k: {"connections": 0, "ok": 0, "bad": [], "max_s": 0.0, "answers": {}}
                        for k in self.kinds}
        self.end = time.monotonic() + args.seconds

    def note(self, kind, ok, detail="", seconds=None, status=None):
        r = self.results[kind]
        r["connections"] += 1
        if status is not None:
            r["answers"][str(status)] = r["answers"].get(str(status), 0) + 1
        if ok:
            r["ok"] += 1
        elif len(r["bad"]) < 5:
            r["bad"].append(detail)
        if seconds is not None:
            r["max_s"] = max(r["max_s"], round(seconds, 2))

    def head(self, method, path, extra=""):
        return (f"{method} {path} HTTP/1.1\r\nHost: {self.target.host}\r\n{extra}").encode()

    async def one(self, kind):
        a = self.args
        try:
            if kind == "idle":  # plain TCP, even to a TLS server: no handshake ever starts
                reader, writer = await asyncio.open_connection(self.target.host, self.target.port)
            elif kind == "slow_reader":  # a small window, so the server's writes really block
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.setblocking(False)
                await asyncio.get_running_loop().sock_connect(sock, (self.target.host,
                                                                     self.target.port))
                reader, writer = await asyncio.open_connection(
                    sock=sock, ssl=self.target.ctx,
                    server_hostname=self.target.host if self.target.tls else None, limit=4096)
            else:
                reader, writer = await self.target.connect()
        except (ConnectionError, ssl.SSLError, OSError) as e:
            self.note(kind, False, f"connect: {e}")
            return
        try:
            if kind in ("idle", "line_only", "slow_headers"):
                if kind != "idle":
                    writer.write(self.head("POST", a.post or a.health))
                    await writer.drain()
                took = await wait_cut(reader, writer if kind == "slow_headers" else None,
                                      a.header_deadline + SLACK_S)
                self.note(kind, took is not None, "still open past the header deadline", took)
            elif kind == "slow_body":
                writer.write(self.head("POST", a.post, "Content-Type: application/json\r\n"
                                       "Content-Length: 1000000\r\n\r\n{"))
                await writer.drain()
                took = await wait_cut(reader, writer, a.body_deadline + SLACK_S)
                self.note(kind, took is not None, "still open past the body deadline", took)
            elif kind == "header_flood":
                writer.write(self.head("GET", a.health))
                field = b"X-Flood: " + b"v" * 8192 + b"\r\n"
                block = field * 8

                async def flood():
                    try:
                        for _ in range(5000 // 8):
                            writer.write(block)
                            await writer.drain()
                        writer.write(b"\r\n")
                        await writer.drain()
                    except (ConnectionError, ssl.SSLError, OSError):
                        pass
                sender = asyncio.create_task(flood())
                t0 = time.monotonic()
                status, _ = await read_response(reader, 15)
                sender.cancel()
                self.note(kind, status == 431, f"answered {status}", time.monotonic() - t0)
            elif kind in ("deep_json", "wide_json"):
                body = self.deep if kind == "deep_json" else self.wide
                writer.write(self.head("POST", a.post, "Content-Type: application/json\r\n"
                                       f"Content-Length: {len(body)}\r\n"
                                       "Connection: close\r\n\r\n") + body)
                await writer.drain()
                t0 = time.monotonic()
                status, _ = await read_response(reader, 30)
                ok = status == 400 or (kind == "wide_json" and status == 503)
                self.note(kind, ok, f"answered {status}", time.monotonic() - t0, status)
            elif kind == "slow_reader":
                writer.write(self.head("POST", a.post, "Content-Type: application/json\r\n"
                                       f"Content-Length: {len(self.slow_stream)}\r\n"
                                       "Connection: close\r\n\r\n") + self.slow_stream)
                await writer.drain()
                await asyncio.sleep(a.pause)
                status, data = await read_response(reader, 120)
                ok = (status == 200 and b"data: [DONE]\n\n" in data and
                      data.endswith(b"\r\n0\r\n\r\n"))  # the last chunk: nothing cut
                self.note(kind, ok, f"answered {status}, ends {data[-40:]!r}")
            elif kind == "disconnect":
                body = self.stream if self.stream else self.deep
                writer.write(self.head("POST", a.post, "Content-Type: application/json\r\n"
                                       f"Content-Length: {len(body)}\r\n\r\n"))
                if self.stream:
                    writer.write(body)
                    await writer.drain()
                    data = b""
                    async with asyncio.timeout(30):
                        while b"data:" not in data:
                            chunk = await reader.read(4096)
                            if not chunk:
                                break
                            data += chunk
                    ok = data.startswith(b"HTTP/1.1 200") and b"data:" in data
                    self.note(kind, ok, data[:60].decode(errors="replace"))
                else:
                    writer.write(body[: len(body) // 2])
                    await writer.drain()
                    self.note(kind, True)
                abort(writer)
                return
        except (TimeoutError, ConnectionError, ssl.SSLError, OSError) as e:
            self.note(kind, False, f"{type(e).__name__}: {e}")
        writer.transport.abort()

    async def worker(self, kind):
        while time.monotonic() < self.end:
            await self.one(kind)
            if kind in ("header_flood", "deep_json", "wide_json", "disconnect", "slow_reader"):
                await asyncio.sleep(0.5)  # bounded request rate: abuse, not a benchmark

    async def run(self):
        kinds = self.kinds
        total = sum(kinds.values())
        tasks = []
        for kind, share in kinds.items():
            n = max(1, self.args.hostile * share // total)
            tasks += [asyncio.create_task(self.worker(kind)) for _ in range(n)]
        await asyncio.gather(*tasks)
        return self.results


def http_once(target, method, path, body, limit_s):
    """A normal client: one request on a fresh connection; returns (status, seconds, body)."""
    async def go():
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(limit_s):
                reader, writer = await target.connect()
                extra = "Connection: close\r\n"
                if body is not None:
                    extra += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                writer.write(f"{method} {path} HTTP/1.1\r\nHost: {target.host}\r\n{extra}\r\n"
                             .encode() + (body or b""))
                await writer.drain()
                data = b""
                while True:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    data += chunk
                writer.close()
        except (TimeoutError, ConnectionError, ssl.SSLError, OSError) as e:
            return 0, time.monotonic() - t0, str(e).encode()
        status = int(data[9:12]) if data.startswith(b"HTTP/1.") else 0
        return status, time.monotonic() - t0, data
    return asyncio.run(go())


def normal_health(args, out):
    target = Target(args.url, args.cafile)
    end = time.monotonic() + args.seconds
    n, worst, bad = 0, 0.0, []
    while time.monotonic() < end:
        status, took, _ = http_once(target, "GET", args.health, None, args.health_limit_s * 5)
        n += 1
        worst = max(worst, took)
        if status != 200 or took >= args.health_limit_s:
            bad.append(f"{status} in {took:.2f} s")
        time.sleep(0.2)
    out.put({"health": {"requests": n, "max_s": round(worst, 3), "bad": bad[:5],
                        "failed": len(bad)}})


def normal_requests(args, out):
    target = Target(args.url, args.cafile)
    body = open(args.normal, "rb").read() if args.normal else None
    method, path = ("GET", args.normal_get) if args.normal_get else ("POST", args.post)
    end = time.monotonic() + args.seconds
    n, worst, bad = 0, 0.0, []
    while time.monotonic() < end:
        status, took, data = http_once(target, method, path, body, 120)
        n += 1
        worst = max(worst, took)
        if status != args.normal_status or (args.normal_expect and
                                            args.normal_expect.encode() not in data):
            bad.append(f"{status}: {data[:200]!r}")
        time.sleep(0.5)
    out.put({"normal": {"requests": n, "max_s": round(worst, 3), "bad": bad[:5],
                        "failed": len(bad)}})


def rss_mib(pid):
    """The process's resident memory; 0 once it is gone (the report then says DEAD)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def cmd_run(args):
    out = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=f, args=(args, out))
             for f in (normal_health, normal_requests)]
    for p in procs:
        p.start()
    rss_max = [0.0]

    async def sample():
        end = time.monotonic() + args.seconds + 5
        while time.monotonic() < end:
            rss_max[0] = max(rss_max[0], rss_mib(args.pid))
            await asyncio.sleep(0.2)

    async def main():
        hostile = Hostile(args)
        results, _ = await asyncio.gather(hostile.run(), sample())
        return results

    results = asyncio.run(main())
    report = {"hostile": results}
    for _ in procs:
        report.update(out.get(timeout=300))
    for p in procs:
        p.join()
    alive = rss_mib(args.pid) > 0  # gone, or a zombie the shell has not reaped
    report["rss_max_mib"] = round(rss_max[0], 1)
    report["alive"] = alive

    failed = []
    for kind, r in results.items():
        bad = r["connections"] - r["ok"]
        print(f"abuse: {kind:13s} {r['connections']:5d} connections, {r['ok']:5d} as expected"
              f"{', max ' + str(r['max_s']) + ' s' if r['max_s'] else ''}"
              f"{', answers ' + str(r['answers']) if r['answers'] else ''}"
              f"{', FAILED: ' + '; '.join(r['bad']) if bad else ''}")
        if bad or r["connections"] == 0:
            failed.append(kind)
    h, n = report["health"], report["normal"]
    print(f"abuse: health        {h['requests']:5d} requests, max {h['max_s']} s (limit "
          f"{args.health_limit_s} s){', FAILED: ' + '; '.join(h['bad']) if h['failed'] else ''}")
    print(f"abuse: normal        {n['requests']:5d} requests, max {n['max_s']} s"
          f"{', FAILED: ' + '; '.join(n['bad']) if n['failed'] else ''}")
    print(f"abuse: rss max {report['rss_max_mib']} MiB (limit {args.rss_limit_mib} MiB), "
          f"server {'alive' if alive else 'DEAD'}")
    if h["failed"] or h["requests"] == 0:
        failed.append("health")
    if n["failed"] or n["requests"] == 0:
        failed.append("normal")
    if report["rss_max_mib"] > args.rss_limit_mib:
        failed.append("rss")
    if not alive:
        failed.append("alive")
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=1)
    if failed:
        print("abuse: FAILED: " + ", ".join(failed))
        return 1
    return 0


def cmd_flood(args):
    target = Target(args.url, args.cafile)
    body = open(args.body, "rb").read()

    async def one():
        try:
            reader, writer = await target.connect()
        except (ConnectionError, OSError) as e:
            return 0, str(e).encode(), None
        writer.write(f"POST {args.post} HTTP/1.1\r\nHost: {target.host}\r\nContent-Type: "
                     f"application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        data = b""
        try:
            async with asyncio.timeout(60):
                while b"\r\n\r\n" not in data:
                    chunk = await reader.read(4096)
                    if not chunk:
                        break
                    data += chunk
        except TimeoutError:
            pass
        status = int(data[9:12]) if data.startswith(b"HTTP/1.") else 0
        if status == 503:  # the error body too
            data += (await read_response(reader, 10))[1]
        return status, data, writer

    async def main():
        results = await asyncio.gather(*[one() for _ in range(args.count)])
        for _, _, writer in results:
            if writer is not None:
                abort(writer)
        return results

    results = asyncio.run(main())
    statuses = {}
    for status, _, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    busy = [d for s, d, _ in results if s == 503]
    print(f"abuse: flood {args.count} concurrent requests: answers {statuses}")
    if busy:
        print("abuse: a 503 answer: " + busy[0].split(b"\r\n\r\n", 1)[-1][:200].decode(errors="replace"))
    ok = len(busy) >= args.min_503 and set(statuses) <= {200, 503}
    if args.expect_503 and any(args.expect_503.encode() not in d for d in busy):
        ok = False
        print(f"abuse: a 503 lacks {args.expect_503!r}")
    print("abuse: flood " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run")
    run.add_argument("--url", required=True)
    run.add_argument("--cafile")
    run.add_argument("--pid", type=int, required=True)
    run.add_argument("--health", default="/health")
    run.add_argument("--post")
    run.add_argument("--deep")
    run.add_argument("--wide")
    run.add_argument("--stream")
    run.add_argument("--slow-stream")
    run.add_argument("--pause", type=float, default=10, help="slow_reader: seconds before reading")
    run.add_argument("--normal")
    run.add_argument("--normal-get")
    run.add_argument("--normal-status", type=int, default=200)
    run.add_argument("--normal-expect", default="")
    run.add_argument("--hostile", type=int, default=200)
    run.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset")
    run.add_argument("--seconds", type=float, default=40)
    run.add_argument("--header-deadline", type=float, default=10)
    run.add_argument("--body-deadline", type=float, default=30)
    run.add_argument("--health-limit-s", type=float, default=1.0)
    run.add_argument("--rss-limit-mib", type=float, required=True)
    run.add_argument("--report")
    flood = sub.add_parser("flood")
    flood.add_argument("--url", required=True)
    flood.add_argument("--cafile")
    flood.add_argument("--post", required=True)
    flood.add_argument("--body", required=True)
    flood.add_argument("--count", type=int, required=True)
    flood.add_argument("--min-503", type=int, required=True)
    flood.add_argument("--expect-503", default="")
    args = ap.parse_args()
    if args.cmd == "run" and not (args.normal or args.normal_get):
        ap.error("run needs --normal FILE or --normal-get PATH")
    if args.cmd == "run" and {"deep_json", "disconnect", "slow_body"} & set(args.kinds.split(",")) \
            and not (args.post and args.deep):
        ap.error("the deep_json, disconnect and slow_body kinds need --post and --deep")
    return cmd_run(args) if args.cmd == "run" else cmd_flood(args)


if __name__ == "__main__":
    sys.exit(main())
