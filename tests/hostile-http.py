#!/usr/bin/env python3
"""tests/hostile-http.py - an S3 endpoint that lies, for tests/t/s3-hostile.sh.

    python3 tests/hostile-http.py PORTFILE

Listens on a free loopback port, writes it to PORTFILE, and answers every
path-style request (s3://BUCKET/KEY at http://127.0.0.1:PORT/BUCKET/KEY) by
the bucket's name.  Signatures are not checked.  Listings (GET /BUCKET):

  garbage     200 with a body that is not XML
  html        200 with an HTML page
  loop        truncated pages whose continuation token is always "same"
  cycle       truncated pages with tokens A, B, then A again
  notoken     IsTruncated true and no NextContinuationToken
  badtrunc    IsTruncated "maybe"
  nul         a key holding &#0;
  badentity   a key holding &bogus;
  nosize      an object without <Size>
  keys        keys with &#10; (newline), &#9; (tab), a backslash, &#x1F600;
              and &#233;, not URL-encoded whatever was asked
  urlkeys     EncodingType url, keys "a%0Ab+c%2B" and "caf%C3%A9"
  pct-nul     EncodingType url, a key holding %00

Objects (GET /BUCKET/KEY):

  ok          200 "hello, hostile\\n"
  trickle     200, Content-Length 100, then one byte a second
  stall       the request is read, then nothing ever comes back
  short       200, Content-Length 1000, 10 bytes, then the connection closes

HEAD /BUCKET/KEY: ok answers Content-Length 15, nolength no Content-Length.
PUT /BUCKET/KEY: stall reads nothing and never answers; others take the body.

Uses the Python standard library only.
"""
import http.server
import os
import socketserver
import sys
import time
import urllib.parse

XML = '<?xml version="1.0" encoding="UTF-8"?>\n'


def page(contents, truncated="false", token=None, encoding=None):
    body = XML + '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    body += "<Name>b</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys>"
    body += "<IsTruncated>%s</IsTruncated>" % truncated
    if encoding:
        body += "<EncodingType>%s</EncodingType>" % encoding
    if token is not None:
        body += "<NextContinuationToken>%s</NextContinuationToken>" % token
    for key in contents:
        body += ("<Contents><Key>%s</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified>"
                 '<ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag><Size>0</Size>'
                 "<StorageClass>STANDARD</StorageClass></Contents>" % key)
    return body + "</ListBucketResult>"


def listing(bucket, query):
    token = query.get("continuation-token", [None])[0]
    if bucket == "garbage":
        return "this is not XML at all\n"
    if bucket == "html":
        return "<html><body><h1>Welcome to nginx!</h1></body></html>\n"
    if bucket == "loop":
        return page(["k%s" % (token or "0")], "true", "same")
    if bucket == "cycle":
        nxt = {None: "A", "A": "B", "B": "A"}[token]
        return page(["k%s" % (token or "0")], "true", nxt)
    if bucket == "notoken":
        return page(["k1"], "true")
    if bucket == "badtrunc":
        return page(["k1"], "maybe")
    if bucket == "nul":
        return page(["ok", "a&#0;b"])
    if bucket == "badentity":
        return page(["a&bogus;b"])
    if bucket == "nosize":
        return page(["k1"]).replace("<Size>0</Size>", "")
    if bucket == "keys":
        return page(["line1&#10;line2", "tab&#9;x", "back\\slash", "smile&#x1F600;",
                     "caf&#233;", "amp&amp;lt&lt;"])
    if bucket == "urlkeys":
        return page(["a%0Ab+c%2B", "caf%C3%A9"], encoding="url")
    if bucket == "pct-nul":
        return page(["a%00b"], encoding="url")
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("hostile-http: %s\n" % (fmt % args))

    def send(self, status, body, length=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.lstrip("/").split("/", 1)
        bucket, key = parts[0], parts[1] if len(parts) > 1 else ""
        try:
            if not key:
                body = listing(bucket, urllib.parse.parse_qs(url.query))
                if body is None:
                    self.send(404, "<Error><Code>NoSuchBucket</Code></Error>")
                else:
                    self.send(200, body)
            else:
                self.object(bucket)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def do_PUT(self):
        bucket = urllib.parse.urlsplit(self.path).path.lstrip("/").split("/", 1)[0]
        if bucket == "stall":
            time.sleep(3600)
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("ETag", '"d41d8cd98f00b204e9800998ecf8427e"')
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def do_HEAD(self):
        bucket = urllib.parse.urlsplit(self.path).path.lstrip("/").split("/", 1)[0]
        self.send_response(200 if bucket in ("ok", "nolength") else 404)
        self.send_header("ETag", '"d41d8cd98f00b204e9800998ecf8427e"')
        if bucket != "nolength":
            self.send_header("Content-Length", "15")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def object(self, bucket):
        if bucket == "ok":
            self.send(200, "hello, hostile\n")
        elif bucket == "short":
            self.send(200, "0123456789", length=1000)
        elif bucket == "trickle":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(1)
        elif bucket == "stall":
            time.sleep(3600)
        else:
            self.send(404, "<Error><Code>NoSuchKey</Code></Error>")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    server = Server(("127.0.0.1", 0), Handler)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
