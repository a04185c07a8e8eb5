#!/usr/bin/env python3
"""A filedock webhook receiver that turns events into phone notifications through ntfy or Gotify.

Run it where filedock can reach it, and point a hook at it (docs/hooks.md):

    FILEDOCK_SECRET=s3cret NOTIFY_URL=https://ntfy.sh/my-filedock python3 notify.py --port 8099

    [[volumes.hooks]]
    on = ["created", "deleted"]
    url = "http://127.0.0.1:8099/"
    secret = "s3cret"

Each POST is checked against its X-Filedock-Signature (HMAC-SHA256 of the body with the shared secret) and
refused with 401 when it does not match. A repeat of an event already forwarded (filedock delivers at least
once) is answered 200 and dropped, by its X-Filedock-Event id. Anything else becomes one line, "alice added
/photos/a.jpg (2.1 MB, over web)", POSTed to NOTIFY_URL: as the body with a Title header for ntfy, or, when
NOTIFY_URL is a Gotify /message URL (with ?token=...), as Gotify's JSON. A notification service that cannot
be reached is answered 502, so filedock tries again later.
"""
import argparse
import hashlib
import hmac
import json
import os
import urllib.request
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ.get("FILEDOCK_SECRET", "").encode()
NOTIFY_URL = os.environ.get("NOTIFY_URL", "https://ntfy.sh/filedock")
VERBS = {"created": "added", "modified": "changed", "moved": "moved", "deleted": "deleted"}
SEEN = OrderedDict()       # the last event ids forwarded, oldest first
REMEMBER = 1000


def signed(body, header):
    """Whether header is the sha256=<hex> HMAC of body under SECRET."""
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header or "")


def size_text(size):
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000


def describe(event):
    """One line saying what happened."""
    def where(path):
        return event["volume"].rstrip("/") + "/" + path
    text = f"{event['user'] or 'someone'} {VERBS.get(event['kind'], event['kind'])} {where(event['path'])}"
    if event.get("to"):
        text += f" to {where(event['to'])}"
    details = ([size_text(event["size"])] if event.get("size") is not None else []) + [f"over {event['protocol']}"]
    return f"{text} ({', '.join(details)})"


def forward(line):
    if "/message" in NOTIFY_URL:   # Gotify
        request = urllib.request.Request(NOTIFY_URL, data=json.dumps({"title": "filedock", "message": line}).encode(),
                                         headers={"Content-Type": "application/json"})
    else:                          # ntfy
        request = urllib.request.Request(NOTIFY_URL, data=line.encode(), headers={"Title": "filedock"})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not signed(body, self.headers.get("X-Filedock-Signature")):
            return self.answer(401, "bad signature")
        event_id = self.headers.get("X-Filedock-Event")
        if event_id in SEEN:
            return self.answer(200, "seen already")
        try:
            forward(describe(json.loads(body)))
        except OSError as exc:
            return self.answer(502, f"could not notify: {exc}")
        SEEN[event_id] = True
        while len(SEEN) > REMEMBER:
            SEEN.popitem(last=False)
        self.answer(200, "notified")

    def answer(self, status, text):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text.encode())


def main():
    parser = argparse.ArgumentParser(description="Forward filedock webhooks to ntfy or Gotify.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    HTTPServer((args.host, args.port), Receiver).serve_forever()   # one request at a time: SEEN needs no lock


if __name__ == "__main__":
    main()
