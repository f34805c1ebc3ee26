#!/usr/bin/env python3
"""Clients of `quotetape replay --serve`, for tests/integration/replay_serve.sh
(standard library only; the websocket client and MessagePack decoder are
record_serve_clients.py's).

usage: replay_serve_clients.py PORT CLIENT...
  CLIENT = CODEC|PATH|WANT[|MODE]
    CODEC  json | msgpack
    PATH   the URL path and query, e.g. /v2/iex?from=seq:100&speed=max
    WANT   a file of the quotes expected, one raw JSON object a line (the
           tape's "msg" values as `quotetape export` writes them); "-" for none
    MODE   all (default): read until every quote of WANT came, compare
           first=K: read the first K quotes only, compare, report how long they took
           slow=SECS: subscribe, stop reading for SECS, then read on: passes when
               error 407 arrives, or the server closes the connection before
               the whole stream (the 407 frame was still behind the stalled
               socket when the server gave up on it); prints which
           error=TEXT: expect an error frame whose msg contains TEXT, then close

Every client authenticates and subscribes to all quotes ("*"); they all
connect and subscribe before any reads its stream. JSON clients must get
WANT's text byte for byte, in order; MessagePack clients the same fields,
with "t" as the timestamp extension holding the quote's nanoseconds.
Prints one "ok - ..." line per client; exit status 1 on any failure.
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record_serve_clients import WS, rfc_ns, unpack  # noqa: E402


class Client(WS):
    def __init__(self, port, msgpack, path):
        super().__init__(port, msgpack, path, timeout=60)

    def frame(self, msgpack):
        binary, m = self.recv()
        assert binary == msgpack, "a frame of the other codec"
        return unpack(m)[0] if binary else json.loads(m), m


def same_mp(got, want):
    """A MessagePack quote against the raw JSON one."""
    w = json.loads(want)
    for k in ("T", "S", "bx", "bp", "bs", "ax", "ap", "as", "c", "z"):
        if got.get(k) != w[k]:
            return False
    return got.get("t") == {"$ns": rfc_ns(w["t"])}


def main():
    port = int(sys.argv[1])
    specs = []
    for a in sys.argv[2:]:
        codec, path, rest = a.split("|", 2)
        want, _, mode = rest.partition("|")
        specs.append((codec, path, want, mode or "all"))
    out, errors = {}, []
    subscribed = threading.Barrier(sum(not s[3].startswith("error=") for s in specs) or 1,
                                   timeout=60)

    def run(idx, codec, path, want_file, mode):
        mp = codec == "msgpack"
        label = f"client {idx} ({codec} {path} {mode})"
        try:
            want = [] if want_file == "-" else open(want_file).read().splitlines()
            ws = Client(port, mp, path)
            first, _ = ws.frame(mp)
            assert first == [{"T": "success", "msg": "connected"}], first
            if mode.startswith("error="):
                text = mode[6:]
                seen = []
                e = None
                for action in ({"action": "auth", "key": "k", "secret": "s"},
                               {"action": "subscribe", "quotes": ["*"]}):
                    try:
                        ws.send_text(json.dumps(action))
                    except OSError:
                        pass  # refused at once: the error is already on its way
                try:
                    while True:
                        msg, _ = ws.frame(mp)
                        seen.extend(msg)
                        errs = [m for m in msg if m.get("T") == "error"]
                        if errs:
                            e = errs[0]
                            assert e["code"] == 400 and text in e["msg"], e
                            break
                    ws.frame(mp)  # must be the close
                    raise AssertionError("not closed after the error")
                except OSError:
                    pass
                assert e is not None, f"closed without an error (saw {seen})"
                assert not [m for m in seen if m.get("T") == "q"], "quotes before the error"
                out[idx] = f"ok - {label}: error 400 '{e['msg']}', then closed"
                return
            ws.send_text(json.dumps({"action": "auth", "key": "k", "secret": "s"}))
            msg, _ = ws.frame(mp)
            assert msg == [{"T": "success", "msg": "authenticated"}], msg
            ws.send_text(json.dumps({"action": "subscribe", "quotes": ["*"]}))
            msg, _ = ws.frame(mp)
            assert msg[0]["T"] == "subscription", msg
            subscribed.wait()
            if mode.startswith("slow="):
                time.sleep(float(mode[5:]))
                n = 0
                try:
                    while True:
                        msg, _ = ws.frame(mp)
                        errs = [m for m in msg if m.get("T") == "error"]
                        n += len(msg) - len(errs)
                        if errs:
                            assert errs[0]["code"] == 407, errs
                            break
                except OSError:
                    assert n < len(want), f"got the whole stream ({n}) despite not reading"
                    out[idx] = (f"ok - {label}: dropped after {n} of {len(want)} quotes "
                                f"(closed before its 407 frame could be read)")
                    return
                assert n < len(want), f"got the whole stream ({n}) despite not reading"
                out[idx] = f"ok - {label}: 407 after {n} of {len(want)} quotes"
                return
            limit = len(want)
            if mode.startswith("first="):
                limit = min(limit, int(mode[6:]))
            t0 = time.monotonic()
            got, count, bad = [], 0, None
            while count < limit:
                msg, raw = ws.frame(mp)
                if mp:
                    for g in msg:
                        if count < limit and bad is None and not same_mp(g, want[count]):
                            bad = count
                        count += 1
                else:
                    txt = raw.decode()
                    assert txt[0] == "[" and txt[-1] == "]", txt[:40]
                    got.append(txt[1:-1])
                    count += len(msg)
            took = time.monotonic() - t0
            if not mp:
                joined = ",".join(got)
                expect = ",".join(want[:limit])
                if count > limit:  # the last frame went past the first K
                    joined = joined[:len(expect)]
                if joined != expect:
                    bad = "text"
            if bad is not None:
                raise AssertionError(f"stream differs from the tape at {bad}")
            speed = dict(kv.split("=", 1) for kv in path.partition("?")[2].split("&")
                         if "=" in kv).get("speed", "max")
            if speed != "max" and limit > 1:
                # pacing by the tape's receive times; event times are within ms of them
                span = (rfc_ns(json.loads(want[limit - 1])["t"]) -
                        rfc_ns(json.loads(want[0])["t"])) / 1e9 / float(speed)
                if not span * 0.8 - 0.1 <= took <= span * 1.5 + 2:
                    raise AssertionError(f"{limit} quotes took {took:.2f}s, paced at {speed}x "
                                         f"they should take {span:.2f}s")
            out[idx] = (f"ok - {label}: {limit} quotes equal to the tape, in order "
                        f"({took:.2f}s)")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"{label}: {e!r}")
            subscribed.abort()

    threads = [threading.Thread(target=run, args=(i, *s), daemon=True)
               for i, s in enumerate(specs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    for idx in sorted(out):
        print(out[idx])
    if errors or len(out) != len(specs):
        print("\n".join(errors) or "a client timed out", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
