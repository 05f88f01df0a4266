#!/usr/bin/env python3
"""Writes the analyzer's own test HARs from a running fixture site.

    cargo run -p spool-fixtures --example fixture_site -- 18731 &
    python3 analyzer/tests/data/make_hars.py http://127.0.0.1:18731 analyzer/tests/data

It walks each flow of fixtures/flows/*.truth.json with plain HTTP (the same requests the
pages' scripts make, in the same order), and records them as Chrome's DevTools would:
document/script/stylesheet/image/font/fetch/websocket `_resourceType`, `_initiator`,
browser headers, cookies, and the noise a real page has (an analytics beacon, a favicon).
`<flow>.l2.har` has response bodies of documents and fetches only (capture level 2);
`<flow>.l3.har` has every body, binary ones base64 (capture level 3). These stand in for
the Chromium captures under fixtures/har/flows/ until those exist.
"""
import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.parse

import requests

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
SIGNING_SECRET = "spool-fixture-signing-key"


class Recorder:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.entries = []
        self.jar = {}
        self.http = requests.Session()
        self.page = None

    def iso(self, t):
        return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    def fetch(self, method, url, rtype, headers=None, body=None, mime=None, initiator="script",
              cookies=True, fake=None, ws_messages=None):
        if not url.startswith("http") and not url.startswith("ws"):
            url = self.base + url
        parsed = urllib.parse.urlsplit(url)
        host = parsed.netloc
        h = [("Host", host), ("Connection", "keep-alive"),
             ("sec-ch-ua", '"Chromium";v="131", "Not_A Brand";v="24"'),
             ("sec-ch-ua-mobile", "?0"), ("sec-ch-ua-platform", '"Linux"'), ("User-Agent", UA)]
        for k, v in (headers or {}).items():
            h.append((k, v))
        if rtype == "document":
            h.append(("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"))
            h.append(("Upgrade-Insecure-Requests", "1"))
        elif not any(k.lower() == "accept" for k, _ in h):
            h.append(("Accept", "*/*"))
        if self.page:
            h.append(("Referer", self.page))
        if method != "GET":
            h.append(("Origin", self.base))
        h.append(("Accept-Encoding", "gzip, deflate, br, zstd"))
        h.append(("Accept-Language", "en-US,en;q=0.9"))
        sent_cookies = []
        if cookies and self.jar and parsed.hostname == "127.0.0.1":
            sent_cookies = sorted(self.jar.items())
            h.append(("Cookie", "; ".join("%s=%s" % kv for kv in sent_cookies)))
        started = time.time()
        if fake is None:
            send = {k: v for k, v in h if k.lower() not in ("host", "connection", "cookie", "accept-encoding")}
            cookie_header = [v for k, v in h if k == "Cookie"]
            if cookie_header:
                send["Cookie"] = cookie_header[0]
            try:
                r = self.http.request(method, url, headers=send, data=body, allow_redirects=False, timeout=10)
                status, reason = r.status_code, r.reason
                rheaders = list(r.raw.headers.items())
                content = r.content
            except requests.ConnectionError:
                status, reason, rheaders, content = 0, "", [], b""
        else:
            status, reason, rheaders, content = fake
        elapsed = (time.time() - started) * 1000.0
        self.http.cookies.clear()
        set_cookies = []
        for k, v in rheaders:
            if k.lower() == "set-cookie":
                first = v.split(";", 1)[0]
                name, _, value = first.partition("=")
                set_cookies.append({"name": name.strip(), "value": value.strip(), "path": "/", "httpOnly": "HttpOnly" in v})
                self.jar[name.strip()] = value.strip()
        rmime = next((v for k, v in rheaders if k.lower() == "content-type"), "")
        entry = {
            "startedDateTime": self.iso(started),
            "time": round(elapsed, 3),
            "request": {
                "method": method,
                "url": url,
                "httpVersion": "HTTP/1.1",
                "headers": [{"name": k, "value": v} for k, v in h],
                "queryString": [{"name": k, "value": v} for k, v in urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)],
                "cookies": [{"name": k, "value": v, "path": "/", "expires": None, "httpOnly": False, "secure": False} for k, v in sent_cookies],
                "headersSize": -1,
                "bodySize": len(body) if body else 0,
            },
            "response": {
                "status": status,
                "statusText": reason,
                "httpVersion": "HTTP/1.1" if status else "",
                "headers": [{"name": k, "value": v} for k, v in rheaders],
                "cookies": set_cookies,
                "content": {"size": len(content), "mimeType": rmime.split(";")[0] if rmime else "x-unknown"},
                "redirectURL": next((v for k, v in rheaders if k.lower() == "location"), ""),
                "headersSize": -1,
                "bodySize": len(content) if status else -1,
                "_transferSize": len(content) + 200,
                "_error": None if status else "net::ERR_CONNECTION_REFUSED",
            },
            "cache": {},
            "timings": {"blocked": 0.5, "dns": -1, "ssl": -1, "connect": -1, "send": 0.1,
                        "wait": max(elapsed - 1.0, 0.1), "receive": 0.4},
            "serverIPAddress": "127.0.0.1",
            "_initiator": {"type": initiator} if initiator != "script" else
                          {"type": "script", "stack": {"callFrames": [{"functionName": "call", "url": self.page or url, "lineNumber": 10, "columnNumber": 4}]}},
            "_priority": "High",
            "_resourceType": rtype,
            "_bodyBinary": content,
            "pageref": "page_1",
        }
        if body is not None:
            entry["request"]["postData"] = {"mimeType": mime or "text/plain", "text": body.decode() if isinstance(body, bytes) else body}
            if mime and "x-www-form-urlencoded" in mime:
                entry["request"]["postData"]["params"] = [
                    {"name": k, "value": v} for k, v in urllib.parse.parse_qsl(entry["request"]["postData"]["text"], keep_blank_values=True)]
        if ws_messages is not None:
            entry["_webSocketMessages"] = ws_messages
        self.entries.append(entry)
        if rtype == "document" and initiator != "script":
            self.page = url
        time.sleep(0.005)
        return status, dict((k.lower(), v) for k, v in rheaders), content

    def har(self, level):
        out = []
        for orig in self.entries:
            raw = orig["_bodyBinary"]
            e = json.loads(json.dumps({k: v for k, v in orig.items() if k != "_bodyBinary"}))
            rt = e["_resourceType"]
            wants = level >= 3 or rt in ("document", "xhr", "fetch")
            if raw and wants and e["response"]["status"]:
                try:
                    e["response"]["content"]["text"] = raw.decode("utf-8")
                except UnicodeDecodeError:
                    e["response"]["content"]["text"] = base64.b64encode(raw).decode()
                    e["response"]["content"]["encoding"] = "base64"
            out.append(e)
        return {"log": {"version": "1.2", "creator": {"name": "spool-analyzer test HAR maker", "version": "1"},
                        "pages": [{"startedDateTime": out[0]["startedDateTime"] if out else "", "id": "page_1",
                                   "title": "fixture", "pageTimings": {}}],
                        "entries": out}}


def beacon(rec):
    rec.fetch("POST", "https://www.google-analytics.com/g/collect?v=2&tid=G-SPOOL&cid=555.777", "ping",
              body=b"", mime="text/plain", fake=(204, "No Content", [("content-type", "text/plain")], b""))


def shop(rec):
    _, _, html = rec.fetch("GET", "/shop/?auto=1", "document", initiator="other")
    csrf = html.decode().split('name="csrf" value="')[1].split('"')[0]
    rec.fetch("GET", "/shop/shop.css", "stylesheet", initiator="parser")
    rec.fetch("GET", "/shop/shop.js", "script", initiator="parser")
    rec.fetch("GET", "/shop/logo.png", "image", initiator="parser")
    beacon(rec)
    j = {"Accept": "application/json", "Content-Type": "application/json"}
    _, _, body = rec.fetch("POST", "/api/login", "fetch", headers=j, mime="application/json",
                           body=json.dumps({"username": "alice", "password": "wonderland", "csrf": csrf}, separators=(",", ":")).encode())
    token = json.loads(body)["token"]
    auth = {"Accept": "application/json", "Authorization": "Bearer " + token}
    _, _, body = rec.fetch("GET", "/api/items", "fetch", headers=auth)
    first = json.loads(body)["items"][0]
    _, _, body = rec.fetch("GET", "/api/items/%d" % first["id"], "fetch", headers=auth)
    offer = json.loads(body)["offer"]
    rec.fetch("POST", "/api/orders", "fetch", headers=dict(auth, **{"Content-Type": "application/json"}), mime="application/json",
              body=json.dumps({"itemId": first["id"], "offer": offer, "quantity": 1, "csrf": csrf}, separators=(",", ":")).encode())


def signed(rec):
    _, _, html = rec.fetch("GET", "/signed/", "document", initiator="other")
    key_id = html.decode().split('name="signing-key-id" content="')[1].split('"')[0]
    rec.fetch("GET", "/signed/signed.js", "script", initiator="parser")

    def headers(method, path):
        ts = str(int(time.time() * 1000))
        sig = hmac.new((SIGNING_SECRET + ":" + key_id).encode(), (ts + "\n" + method + "\n" + path).encode(), hashlib.sha256).hexdigest()
        return {"Accept": "application/json", "X-Key-Id": key_id, "X-Timestamp": ts, "X-Signature": sig}

    _, _, body = rec.fetch("GET", "/api/signed/profile", "fetch", headers=headers("GET", "/api/signed/profile"))
    profile = json.loads(body)["profileId"]
    h = headers("POST", "/api/signed/report")
    h["Content-Type"] = "application/json"
    rec.fetch("POST", "/api/signed/report", "fetch", headers=h, mime="application/json",
              body=json.dumps({"profileId": profile, "note": "weekly"}, separators=(",", ":")).encode())


def captcha(rec):
    rec.fetch("GET", "/captcha/?auto=1", "document", initiator="other")
    rec.fetch("GET", "/captcha/captcha.css", "stylesheet", initiator="parser")
    rec.fetch("GET", "/captcha/captcha.js", "script", initiator="parser")
    rec.fetch("GET", "/captcha/recaptcha/api.js", "script", initiator="parser")
    _, _, body = rec.fetch("GET", "/captcha/recaptcha/token", "fetch", headers={"Accept": "application/json"})
    token = json.loads(body)["token"]
    form = urllib.parse.urlencode({"message": "hello from spool", "g-recaptcha-response": token})
    rec.fetch("POST", "/api/captcha/submit", "fetch", headers={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
              mime="application/x-www-form-urlencoded;charset=UTF-8", body=form.encode())


def static(rec):
    rec.fetch("GET", "/static/", "document", initiator="other")
    for path, rt in [("/static/site.css", "stylesheet"), ("/static/site.js", "script"), ("/static/pixel.png", "image"),
                     ("/static/shape.svg", "image"), ("/static/font.woff2", "font"), ("/static/favicon.ico", "other")]:
        rec.fetch("GET", path, rt, initiator="parser")


def noisy(rec):
    rec.fetch("GET", "/noisy/", "document", initiator="other")
    rec.fetch("GET", "/noisy/noisy.js", "script", initiator="parser")
    t = time.time()
    msgs = [{"type": "send", "time": t, "opcode": 1, "data": "ping-1"},
            {"type": "receive", "time": t + 0.001, "opcode": 1, "data": "ping-1"},
            {"type": "send", "time": t + 0.002, "opcode": 1, "data": "ping-2"},
            {"type": "receive", "time": t + 0.003, "opcode": 1, "data": "ping-2"}]
    ws = rec.base.replace("http://", "ws://") + "/ws/echo"
    rec.fetch("GET", ws, "websocket", fake=(101, "Switching Protocols", [("upgrade", "websocket"), ("connection", "Upgrade")], b""),
              ws_messages=msgs)
    for p in ["/noisy/r1", "/noisy/r2", "/noisy/r3", "/noisy/missing"]:
        rec.fetch("GET", p, "fetch")
    rec.fetch("GET", "http://127.0.0.1:9/closed", "fetch")
    local = rec.base.replace("127.0.0.1", "localhost")
    rec.fetch("GET", local + "/noisy/frame", "document", initiator="parser")
    rec.fetch("GET", local + "/api/noisy/frame-data", "fetch", cookies=False)


def main():
    base, out = sys.argv[1], sys.argv[2]
    for name, fn in [("shop", shop), ("signed", signed), ("captcha", captcha), ("static", static), ("noisy", noisy)]:
        rec = Recorder(base)
        fn(rec)
        for level in (2, 3):
            with open(os.path.join(out, "%s.l%d.har" % (name, level)), "w") as f:
                json.dump(rec.har(level), f, indent=1)
                f.write("\n")
        print(name, len(rec.entries), "entries")


if __name__ == "__main__":
    main()
