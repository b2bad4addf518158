#!/usr/bin/env python3
# tests/hrana/server.py - a Hrana over HTTP server for the tests, written from
# the published spec (tursodatabase/libsql docs/HRANA_3_SPEC.md, "Hrana over
# HTTP" and "Shared structures"; see README.md for what it implements) over
# Python's sqlite3 and one database file, with /__test/ endpoints for the
# tests: direct SQL, stats and fault injection.
#
#   python3 server.py --dir DIR [--port N] [--token T] [--versions v2,v3]
#                     [--no-unhex] [--no-atan2]
#
# --port 0 (the default) lets the system pick a free port.  When it listens
# it writes DIR/env (HRANA_URL HRANA_TOKEN HRANA_SQLITE HRANA_PID, shell
# syntax) and runs until SIGTERM.  Normally started by scripts/hrana-server.
import argparse
import base64
import json
import os
import re
import secrets
import signal
import sqlite3
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

opt = None
lock = threading.Lock()		# one statement at a time on the file
streams = {}			# baton -> Stream
stats = {}
fault = None			# {kind, remaining, after, interval}


def fresh_stats():
    return {"requests": 0, "pipelines": 0, "version_gets": 0, "statements": 0,
            "batches": 0, "max_args": 0, "blob_args": 0, "unauthorized": 0, "v2": 0, "v3": 0}


class HranaError(Exception):
    def __init__(self, message, code="SQLITE_ERROR"):
        super().__init__(message)
        self.message, self.code = message, code


def error_obj(e):
    return {"message": e.message, "code": e.code}


def unhex(s):
    if s is None:
        return None
    try:
        return bytes.fromhex(s if isinstance(s, str) else s.decode())
    except ValueError:
        return None


class Text(bytes):
    """A text cell's bytes, told from a blob's."""


def connect():
    db = sqlite3.connect(opt.sqlite, isolation_level=None, check_same_thread=False, timeout=10)
    # text as its bytes, marked (blobs come as plain bytes): text that is
    # not UTF-8 fails the statement, as in libsql-server's result_builder.rs
    db.text_factory = Text
    if not opt.no_unhex and sqlite3.sqlite_version_info < (3, 41, 0):
        db.create_function("unhex", 1, unhex, deterministic=True)
    return db


# ---- values (spec: "Values") ------------------------------------------------

def value_in(v):
    if not isinstance(v, dict) or "type" not in v:
        raise HranaError("a value is not an object with a type", "PROTOCOL")
    t = v["type"]
    if t == "null":
        return None
    if t == "integer":
        s = v.get("value")
        if not isinstance(s, str) or not re.fullmatch(r"-?[0-9]+", s):
            raise HranaError("an integer value must be a decimal string", "PROTOCOL")
        i = int(s)
        if not -2**63 <= i < 2**63:
            raise HranaError("integer out of range", "PROTOCOL")
        return i
    if t == "float":
        f = v.get("value")
        if isinstance(f, bool) or not isinstance(f, (int, float)):
            raise HranaError("a float value must be a number", "PROTOCOL")
        return float(f)
    if t == "text":
        s = v.get("value")
        if not isinstance(s, str):
            raise HranaError("a text value must be a string", "PROTOCOL")
        return s
    if t == "blob":
        s = v.get("base64")
        try:
            return base64.b64decode(s, validate=True)
        except Exception:
            raise HranaError("a blob value must be base64", "PROTOCOL")
    raise HranaError("unknown value type %r" % t, "PROTOCOL")


def value_out(x):
    if x is None:
        return {"type": "null"}
    if isinstance(x, int):
        return {"type": "integer", "value": str(x)}
    if isinstance(x, float):
        # serde_json, libsql-server's, writes a float that is not finite as null
        return {"type": "float", "value": x if x == x and abs(x) != float("inf") else None}
    if isinstance(x, bytes):
        raise AssertionError("text and blobs are typed by the caller")
    return x


# ---- statements and batches (spec: "Statements", "Batches") -----------------

MISSING = re.compile(r"\b(unhex|atan2)\s*\(", re.I)


class Stream:
    def __init__(self):
        self.db = connect()
        self.version = "v3"

    def close(self):
        try:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        self.db.close()

    def execute(self, stmt):
        if not isinstance(stmt, dict) or not isinstance(stmt.get("sql"), str):
            raise HranaError("a statement needs its sql (sql_id is not implemented)", "PROTOCOL")
        sql = stmt["sql"]
        m = MISSING.search(sql)
        if m and ((m.group(1).lower() == "unhex" and opt.no_unhex) or
                  (m.group(1).lower() == "atan2" and opt.no_atan2)):
            raise HranaError("no such function: %s" % m.group(1).lower())
        args = [value_in(a) for a in stmt.get("args") or []]
        if stmt.get("named_args"):
            raise HranaError("named_args are not implemented by this test server", "PROTOCOL")
        stats["statements"] += 1
        stats["max_args"] = max(stats["max_args"], len(args))
        stats["blob_args"] += sum(isinstance(a, bytes) for a in args)
        try:
            with lock:
                cur = self.db.execute(sql, args)
                rows = cur.fetchall() if stmt.get("want_rows", True) else []
                cols = [{"name": d[0], "decltype": None} for d in cur.description or []]
                out = [[self.cell(c) for c in r] for r in rows]
                return {"cols": cols, "rows": out, "affected_row_count": max(cur.rowcount, 0),
                        "last_insert_rowid": str(cur.lastrowid) if cur.lastrowid else None,
                        "rows_read": 0, "rows_written": 0, "query_duration_ms": 0.0}
        except sqlite3.Error as e:
            raise HranaError(str(e))

    def cell(self, c):
        if isinstance(c, Text):
            try:
                return {"type": "text", "value": bytes(c).decode("utf-8")}
            except UnicodeDecodeError:
                raise HranaError("invalid utf-8 sequence in a text value")
        if isinstance(c, bytes):
            return {"type": "blob", "base64": base64.b64encode(c).decode()}
        return value_out(c)

    def cond(self, c, results, errors):
        t = c.get("type") if isinstance(c, dict) else None
        if t == "ok":
            return results[c["step"]] is not None
        if t == "error":
            return errors[c["step"]] is not None
        if t == "not":
            return not self.cond(c["cond"], results, errors)
        if t == "and":
            return all(self.cond(x, results, errors) for x in c["conds"])
        if t == "or":
            return any(self.cond(x, results, errors) for x in c["conds"])
        if t == "is_autocommit" and self.version == "v3":
            return not self.db.in_transaction
        raise HranaError("bad condition %r" % c, "PROTOCOL")

    def batch(self, b):
        steps = b.get("steps") if isinstance(b, dict) else None
        if not isinstance(steps, list):
            raise HranaError("a batch needs its steps", "PROTOCOL")
        stats["batches"] += 1
        results, errors = [None] * len(steps), [None] * len(steps)
        for k, step in enumerate(steps):
            c = step.get("condition")
            if c is not None and not self.cond(c, results, errors):
                continue
            try:
                results[k] = self.execute(step.get("stmt"))
            except HranaError as e:
                errors[k] = error_obj(e)
        return {"step_results": results, "step_errors": errors}

    def request(self, req):
        t = req.get("type")
        if t == "execute":
            return {"type": "execute", "result": self.execute(req.get("stmt"))}
        if t == "batch":
            return {"type": "batch", "result": self.batch(req.get("batch"))}
        if t == "sequence":
            sql = req.get("sql")
            if not isinstance(sql, str):
                raise HranaError("sequence needs its sql", "PROTOCOL")
            try:
                with lock:
                    self.db.executescript(sql)
            except sqlite3.Error as e:
                raise HranaError(str(e))
            return {"type": "sequence"}
        if t == "get_autocommit" and self.version == "v3":
            return {"type": "get_autocommit", "is_autocommit": not self.db.in_transaction}
        if t == "close":
            return {"type": "close"}
        raise HranaError("request type %r is not implemented" % t, "PROTOCOL")


# ---- HTTP --------------------------------------------------------------------

def pipeline(handler, version, body):
    global fault
    baton = body.get("baton")
    reqs = body.get("requests")
    if not isinstance(reqs, list):
        raise HranaError("requests must be an array", "PROTOCOL")
    if baton is None:
        s = Stream()
    else:
        s = streams.pop(baton, None)
        if s is None:
            raise HranaError("unknown or expired baton", "STREAM_EXPIRED")
    s.version = version
    results, closed = [], False
    for r in reqs:
        if closed:
            results.append({"type": "error", "error": {"message": "the stream is closed",
                                                        "code": "STREAM_CLOSED"}})
            continue
        try:
            results.append({"type": "ok", "response": s.request(r)})
        except HranaError as e:
            results.append({"type": "error", "error": error_obj(e)})
        closed = closed or r.get("type") == "close"
    if closed:
        s.close()
        new = None
    else:
        new = secrets.token_hex(16)
        streams[new] = s
    return {"baton": new, "base_url": None, "results": results}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        if opt.verbose:
            sys.stderr.write("hrana: " + (fmt % a) + "\n")

    def send(self, status, body, ctype="application/json", length=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        if not opt.token:
            return True
        if self.headers.get("Authorization") == "Bearer " + opt.token:
            return True
        stats["unauthorized"] += 1
        self.send(401, {"message": "Unauthorized: the token is missing or wrong",
                        "code": "AUTH_HEADER_INVALID"})
        return False

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n)

    def do_GET(self):
        stats["requests"] += 1
        v = self.path.strip("/")
        if v in ("v2", "v3"):
            stats["version_gets"] += 1
            if v in opt.versions:
                return self.send(200, b"", "text/plain")
        if self.path == "/__test/stats":
            return self.send(200, dict(stats, pending_fault=fault))
        self.send(404, b"Not Found", "text/plain")

    def do_POST(self):
        global fault, stats
        stats["requests"] += 1
        raw = self.body()
        if self.path.startswith("/__test/"):
            return self.test_endpoint(self.path[8:], raw)
        m = re.fullmatch(r"/(v2|v3)/pipeline", self.path)
        if not m or m.group(1) not in opt.versions:
            return self.send(404, b"Not Found", "text/plain")
        if not self.authorized():
            return
        stats["pipelines"] += 1
        stats[m.group(1)] += 1
        f = None
        if fault and fault["after"] > 0:
            fault["after"] -= 1
        elif fault:
            f = fault
            fault["remaining"] -= 1
            if fault["remaining"] <= 0:
                fault = None
        if f and f["kind"] != "trickle":
            return self.faulty(f)
        try:
            body = json.loads(raw)
            answer = pipeline(self, m.group(1), body)
        except (ValueError, AttributeError):
            return self.send(400, {"message": "the body is not a JSON pipeline request",
                                   "code": "PROTOCOL"})
        except HranaError as e:
            return self.send(400, error_obj(e))
        if f:
            return self.trickle(json.dumps(answer).encode(), f["interval"])
        self.send(200, answer)

    # Faults answer without running the request, so nothing is written,
    # but "trickle", which runs it and sends the answer a byte at a time.
    def faulty(self, f):
        k = f["kind"]
        if k == "garbage":
            return self.send(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
        if k == "truncated":
            return self.send(200, b'{"baton":null,"base_url":null,"results":[{"type":"ok","resp')
        if k == "short":
            # Content-Length promises more than comes before the close
            self.close_connection = True
            return self.send(200, b'{"baton":null,', length=400)
        if k == "no_result":
            return self.send(200, {"baton": None, "base_url": None, "results": []})
        if k == "missing_step":
            return self.send(200, {"baton": None, "base_url": None, "results": [
                {"type": "ok", "response": {"type": "batch", "result": {
                    "step_results": [{"cols": [], "rows": [], "affected_row_count": 0}],
                    "step_errors": [None]}}}, {"type": "ok", "response": {"type": "close"}}]})
        if k == "no_commit":
            # every step there, but the COMMIT's result null and no error
            return self.send(200, {"baton": None, "base_url": None, "results": [
                {"type": "ok", "response": {"type": "batch", "result": {
                    "step_results": [{"cols": [], "rows": [], "affected_row_count": 0}] *
                    (f["steps"] - 2) + [None, None], "step_errors": [None] * f["steps"]}}},
                {"type": "ok", "response": {"type": "close"}}]})
        if k == "stream_error":
            return self.send(200, {"baton": None, "base_url": None, "results": [
                {"type": "error", "error": {"message": "injected: stream expired",
                                            "code": "STREAM_EXPIRED"}}]})
        if k == "http500":
            return self.send(500, {"message": "injected: internal error", "code": "INTERNAL"})
        return self.send(500, {"message": "test server: unknown fault %s" % k})

    def trickle(self, data, interval):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            for i in range(len(data)):
                time.sleep(interval / 1000.0)
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
        except OSError:
            pass

    def test_endpoint(self, what, raw):
        global fault, stats
        if what == "sql":
            try:
                sql = json.loads(raw)["sql"]
                db = sqlite3.connect(opt.sqlite, isolation_level=None, timeout=10)
                with lock:
                    db.executescript(sql)
                db.close()
            except (sqlite3.Error, ValueError, KeyError) as e:
                return self.send(400, {"error": str(e)})
            return self.send(200, {"ok": True})
        if what == "reset":
            stats = fresh_stats()
            fault = None
            return self.send(200, {"ok": True})
        if what == "fault":
            b = json.loads(raw or b"{}")
            count = b.get("count", 1)
            fault = None if count == 0 else {"kind": b["kind"], "remaining": count,
                                             "after": b.get("after", 0),
                                             "interval": b.get("interval", 1000),
                                             "steps": b.get("steps", 4)}
            return self.send(200, {"ok": True, "pending_fault": fault})
        self.send(404, b"Not Found", "text/plain")


def main():
    global opt, stats
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--token", default=os.environ.get("HRANA_TOKEN", "smugglr-hrana-token"))
    ap.add_argument("--versions", default="v2,v3")
    ap.add_argument("--no-unhex", action="store_true")
    ap.add_argument("--no-atan2", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    opt = ap.parse_args()
    opt.versions = [v for v in opt.versions.split(",") if v]
    opt.dir = os.path.abspath(opt.dir)
    os.makedirs(opt.dir, exist_ok=True)
    opt.sqlite = os.path.join(opt.dir, "db.sqlite")
    stats = fresh_stats()
    srv = ThreadingHTTPServer((opt.host, opt.port), Handler)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(SystemExit(0)))
    url = "http://%s:%d" % (opt.host, srv.server_address[1])
    q = lambda s: "'" + str(s).replace("'", "'\\''") + "'"
    env = "".join("%s=%s\n" % (k, q(v)) for k, v in [
        ("HRANA_URL", url), ("HRANA_TOKEN", opt.token), ("HRANA_SQLITE", opt.sqlite),
        ("HRANA_PID", os.getpid())])
    with open(os.path.join(opt.dir, "env.tmp"), "w") as f:
        f.write(env)
    os.rename(os.path.join(opt.dir, "env.tmp"), os.path.join(opt.dir, "env"))
    print(url, flush=True)
    try:
        srv.serve_forever()
    except (SystemExit, KeyboardInterrupt):
        pass


if __name__ == "__main__":
    main()
