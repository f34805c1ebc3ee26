#!/usr/bin/env python3
"""Drives headless Chromium over the DevTools protocol (standard library only)
for tests/integration/view_web.sh.

usage: view_web_cdp.py URL STEPS_FILE

Starts chromium on URL with --remote-debugging-port=0, then runs the steps in
STEPS_FILE, one per line:
  wait  JS_EXPR              until the expression is truthy (15 s at most)
  eval  JS_EXPR              evaluate once (for actions)
  run   SHELL_COMMAND        run a command (e.g. produce windows with kcat)
  waiteq FILE JS_EXPR       until the expression's value equals FILE's text
  save  FILE JS_EXPR         write the expression's string value to FILE
Prints "ok - STEP" per step; exits 1 with the failing step and the page state.
"""
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request


class WebSocket:
    """A minimal RFC 6455 client: text frames out (masked), frames in."""

    def __init__(self, url):
        assert url.startswith("ws://")
        hostport, path = url[5:].split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=20)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n")
        self.s.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.s.recv(4096)
            if not chunk:
                raise OSError("devtools closed during the handshake")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise OSError(f"devtools refused the upgrade: {head[:80]!r}")

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise OSError("devtools closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            hdr = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.s.sendall(hdr + mask + body)

    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            if b1 & 0x80:
                self._read(4)  # servers do not mask; tolerate it anyway
            payload = self._read(n)
            op = b0 & 0x0F
            if op == 8:
                raise OSError("devtools closed the socket")
            if op in (9, 10):
                continue
            msg += payload
            if b0 & 0x80:
                return msg.decode()


class Page:
    def __init__(self, ws_url):
        self.ws = WebSocket(ws_url)
        self.id = 0

    def call(self, method, **params):
        self.id += 1
        self.ws.send(json.dumps({"id": self.id, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m["result"]

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails'].get('exception', {}).get('description') or r['exceptionDetails'].get('text')}")
        return r["result"].get("value")


STATE = """JSON.stringify({symbols: Array.from(document.querySelectorAll('#symbol option'))
  .map(o => o.value), selected: document.getElementById('symbol').value,
  chart: Object.assign({}, document.getElementById('chart').dataset),
  status: (document.getElementById('status') || {}).textContent})"""


def main():
    url, steps_file = sys.argv[1], sys.argv[2]
    udd = tempfile.mkdtemp(prefix="qt-chromium.")
    log = open(os.path.join(udd, "chromium.log"), "w")
    proc = subprocess.Popen(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
         f"--user-data-dir={udd}", url],
        stdout=log, stderr=log, start_new_session=True)
    page = None
    rc = 1
    try:
        port_file = os.path.join(udd, "DevToolsActivePort")
        deadline = time.time() + 20
        while not (os.path.exists(port_file) and open(port_file).read().count("\n") >= 1):
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(open(port_file).read().split()[0])
        target = None
        while target is None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            target = next((t for t in pages if t.get("url", "").startswith(url)), None)
            if target is None:
                if time.time() > deadline:
                    raise RuntimeError(f"no page for {url}: {pages}")
                time.sleep(0.1)
        page = Page(target["webSocketDebuggerUrl"])
        for line in open(steps_file):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kind, arg = line.split(None, 1)
            if kind == "wait":
                end = time.time() + 15
                while not page.eval(arg):
                    if time.time() > end:
                        raise RuntimeError(f"timed out: {arg}")
                    time.sleep(0.05)
            elif kind == "waiteq":
                path, expr = arg.split(None, 1)
                want = open(path).read()
                end = time.time() + 15
                while page.eval(expr) != want:
                    if time.time() > end:
                        raise RuntimeError(f"timed out: {expr} is not the text of {path}")
                    time.sleep(0.05)
            elif kind == "eval":
                page.eval(arg)
            elif kind == "run":
                subprocess.run(arg, shell=True, check=True)
            elif kind == "save":
                path, expr = arg.split(None, 1)
                with open(path, "w") as f:
                    f.write(page.eval(expr))
            else:
                raise RuntimeError(f"unknown step {kind}")
            print(f"ok - {kind} {arg[:100]}", flush=True)
        rc = 0
    except Exception as e:  # report what the page looked like
        print(f"FAIL: {e}", file=sys.stderr)
        if page is not None:
            try:
                print(f"page state: {page.eval(STATE)}", file=sys.stderr)
            except Exception as e2:
                print(f"(no page state: {e2})", file=sys.stderr)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        shutil.rmtree(udd, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
