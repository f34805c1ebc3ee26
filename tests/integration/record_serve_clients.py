#!/usr/bin/env python3
"""Local clients of `quotetape record --serve`, for tests/integration/record_serve.sh
(standard library only: a small websocket client and MessagePack decoder).

usage: record_serve_clients.py PORT KEY SECRET READY_FILE SENT_FILE N CLIENT...
  CLIENT = json:SYM[,SYM..] | msgpack:SYM[,SYM..] ('*' = every symbol)

Each client connects to ws://127.0.0.1:PORT/v2/iex (msgpack ones with
Content-Type: application/msgpack, as Alpaca's SDKs), authenticates,
subscribes to its quotes and, once all are subscribed, READY_FILE is
written. Then each reads until it has every quote of its symbols in
SENT_FILE (N lines, the upstream's raw quotes), and checks: JSON clients
receive the raw quote text byte for byte, in order; MessagePack clients
the same fields with the timestamp extension holding the same nanoseconds.
"""
import base64
import json
import os
import socket
import struct
import sys
import threading
import time
from datetime import datetime, timezone


class WS:
    def __init__(self, port, msgpack, path="/v2/iex", timeout=30):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        ct = "Content-Type: application/msgpack\r\n" if msgpack else ""
        self.s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        f"Upgrade: websocket\r\nConnection: Upgrade\r\n{ct}"
                        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n")[0], head[:60]

    def _recv(self):
        c = self.s.recv(1 << 16)
        if not c:
            raise OSError("server closed")
        return c

    def _read(self, n):
        while len(self.buf) < n:
            self.buf += self._recv()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_text(self, text):
        data, mask = text.encode(), os.urandom(4)
        n = len(data)
        hdr = struct.pack("!BB", 0x81, 0x80 | n) if n < 126 else struct.pack("!BBH", 0x81, 0xFE, n)
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        """One message: (binary?, payload bytes)."""
        msg, binary = b"", None
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            op = b0 & 0x0F
            if op == 8:
                raise OSError("server closed")
            if op in (9, 10):
                continue
            if binary is None:
                binary = op == 2
            msg += payload
            if b0 & 0x80:
                return binary, msg


def unpack(b, i=0):
    """Decodes one MessagePack value at b[i:]; returns (value, next index).
    The timestamp extension (-1) becomes {"$ns": epoch nanoseconds}."""
    t = b[i]
    i += 1
    if t <= 0x7F:
        return t, i
    if t >= 0xE0:
        return t - 0x100, i
    if 0x80 <= t <= 0x8F or t in (0xDE, 0xDF):
        n = t & 0x0F if t <= 0x8F else struct.unpack_from("!H" if t == 0xDE else "!I", b, i)[0]
        i += 0 if t <= 0x8F else (2 if t == 0xDE else 4)
        d = {}
        for _ in range(n):
            k, i = unpack(b, i)
            d[k], i = unpack(b, i)
        return d, i
    if 0x90 <= t <= 0x9F or t in (0xDC, 0xDD):
        n = t & 0x0F if t <= 0x9F else struct.unpack_from("!H" if t == 0xDC else "!I", b, i)[0]
        i += 0 if t <= 0x9F else (2 if t == 0xDC else 4)
        a = []
        for _ in range(n):
            v, i = unpack(b, i)
            a.append(v)
        return a, i
    if 0xA0 <= t <= 0xBF or t in (0xD9, 0xDA, 0xDB):
        if t <= 0xBF:
            n = t & 0x1F
        else:
            w = {0xD9: 1, 0xDA: 2, 0xDB: 4}[t]
            n = int.from_bytes(b[i:i + w], "big")
            i += w
        return b[i:i + n].decode(), i + n
    if t == 0xC0:
        return None, i
    if t in (0xC2, 0xC3):
        return t == 0xC3, i
    if t == 0xCA:
        return struct.unpack_from("!f", b, i)[0], i + 4
    if t == 0xCB:
        return struct.unpack_from("!d", b, i)[0], i + 8
    if 0xCC <= t <= 0xD3:
        fmt = {0xCC: "!B", 0xCD: "!H", 0xCE: "!I", 0xCF: "!Q",
               0xD0: "!b", 0xD1: "!h", 0xD2: "!i", 0xD3: "!q"}[t]
        return struct.unpack_from(fmt, b, i)[0], i + struct.calcsize(fmt)
    if t in (0xD6, 0xD7, 0xD8, 0xC7):
        if t == 0xC7:
            n = b[i]
            i += 1
        else:
            n = {0xD6: 4, 0xD7: 8, 0xD8: 16}[t]
        typ = struct.unpack_from("!b", b, i)[0]
        data = b[i + 1:i + 1 + n]
        i += 1 + n
        assert typ == -1, f"extension type {typ}"
        if n == 4:
            sec, ns = struct.unpack("!I", data)[0], 0
        elif n == 8:
            v = struct.unpack("!Q", data)[0]
            sec, ns = v & 0x3FFFFFFFF, v >> 34
        else:
            ns, sec = struct.unpack("!Iq", data)
        return {"$ns": sec * 10**9 + ns}, i
    raise ValueError(f"msgpack type 0x{t:02x}")


def rfc_ns(s):
    base, _, frac = s.rstrip("Z").partition(".")
    sec = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return int(sec) * 10**9 + int(frac.ljust(9, "0") or 0)


def main():
    port, key, secret, ready_file, sent_file, n = sys.argv[1:7]
    specs = [a.split(":", 1) for a in sys.argv[7:]]
    n = int(n)
    errors = []
    subscribed = threading.Barrier(len(specs) + 1, timeout=30)
    wanted = threading.Event()  # set once every client's expected list is known
    results = {i: {"codec": c, "syms": None if s == "*" else set(s.split(",")), "want": []}
               for i, (c, s) in enumerate(specs)}

    def run(idx, codec, syms):
        try:
            ws = WS(int(port), codec == "msgpack")
            replies = []
            for action in (None, {"action": "auth", "key": key, "secret": secret},
                           {"action": "subscribe", "quotes": syms.split(",")}):
                if action:
                    ws.send_text(json.dumps(action))
                binary, m = ws.recv()
                replies.append(unpack(m)[0] if binary else json.loads(m))
            assert replies[0] == [{"T": "success", "msg": "connected"}], replies[0]
            assert replies[1] == [{"T": "success", "msg": "authenticated"}], replies[1]
            assert replies[2][0]["T"] == "subscription", replies[2]
            subscribed.wait()
            if not wanted.wait(40):
                raise RuntimeError("no expected stream")
            want = results[idx]["want"]
            got, count = [], 0
            while count < len(want):
                binary, m = ws.recv()
                assert binary == (codec == "msgpack"), "a frame of the other codec"
                if binary:
                    batch = unpack(m)[0]
                    got.extend(batch)
                else:
                    txt = m.decode()
                    assert txt[0] == "[" and txt[-1] == "]", txt[:40]
                    batch = json.loads(txt)
                    got.append(txt[1:-1])  # the raw quotes of one frame, ','-joined
                count += len(batch)
            results[idx]["got"], results[idx]["count"] = got, count
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"client {idx} ({codec} {syms}): {e!r}")
            subscribed.abort()

    threads = [threading.Thread(target=run, args=(i, c, s), daemon=True)
               for i, (c, s) in enumerate(specs)]
    for t in threads:
        t.start()
    try:
        subscribed.wait()
    except threading.BrokenBarrierError:
        print("\n".join(errors) or "a client did not subscribe", file=sys.stderr)
        return 1
    with open(ready_file, "w") as f:
        f.write("ready\n")
    # the upstream starts now: wait until it has sent the whole stream
    end = time.time() + 30
    sent = []
    while time.time() < end:
        sent = open(sent_file).read().splitlines()
        if len(sent) >= n:
            break
        time.sleep(0.05)
    if len(sent) != n:
        print(f"the upstream sent {len(sent)} quotes, expected {n}", file=sys.stderr)
        return 1
    for r in results.values():
        r["want"][:] = [s for s in sent if r["syms"] is None or json.loads(s)["S"] in r["syms"]]
    wanted.set()
    for t in threads:
        t.join(30)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    rc = 0
    for idx, r in sorted(results.items()):
        got, want = r.get("got"), r["want"]
        label = f"client {idx} ({r['codec']}, {','.join(sorted(r['syms'] or ['*']))})"
        if got is None:
            print(f"FAIL: {label}: timed out", file=sys.stderr)
            rc = 1
            continue
        if r["codec"] == "json":
            same = r["count"] == len(want) and ",".join(got) == ",".join(want)
        else:
            same = len(got) == len(want)
            for g, w in zip(got, map(json.loads, want)):
                for k in ("T", "S", "bx", "bp", "bs", "ax", "ap", "as", "c", "z"):
                    same = same and g.get(k) == w[k]
                same = same and g.get("t") == {"$ns": rfc_ns(w["t"])}
        if not same or not want:
            print(f"FAIL: {label}: the stream differs from what the upstream sent",
                  file=sys.stderr)
            rc = 1
        else:
            print(f"ok - {label}: {len(want)} quotes equal to what was sent, in order")
    return rc


if __name__ == "__main__":
    sys.exit(main())
