"""The HTTP probe: the client that fetches a page through the VIP every few ms. It runs
inside the client namespace as a child of the harness (scripts/downtime --http-probe)
and prints one line per request, which measurement.parse_http_probe reads.

Standard library only; must not import the rest of the harness (it runs in its own
process and namespace)."""

import errno
import selectors
import signal
import socket
import struct
import sys
import time


def http_probe_main(host, port, period_ms, timeout_ms):
    """Start a GET every period_ms without waiting for the previous ones; print one line
    per probe: start time, end time, ok|fail, reason. Runs until SIGTERM/SIGINT."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    period, timeout = period_ms / 1000.0, timeout_ms / 1000.0
    request = b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n"
    sel = selectors.DefaultSelector()
    pending = {}
    out = sys.stdout
    linger = struct.pack("ii", 1, 0)  # close with RST: no TIME_WAIT pile-up in the client

    def finish(sock, ok, why):
        st = pending.pop(sock)
        try:
            sel.unregister(sock)
        except (KeyError, ValueError):
            pass
        sock.close()
        out.write(f"{st[0]:.6f} {time.time():.6f} {'ok' if ok else 'fail'} {why}\n")

    next_t = time.time()
    while not stop:
        now = time.time()
        if now >= next_t:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            err = s.connect_ex((host, port))
            if err in (0, errno.EINPROGRESS):
                pending[s] = [now, "connect", b""]
                sel.register(s, selectors.EVENT_WRITE)
            else:
                out.write(f"{now:.6f} {now:.6f} fail {errno.errorcode.get(err, err)}\n")
                s.close()
            next_t += period
            if next_t < now:  # fell behind (noisy host): do not burst
                next_t = now + period
        wait = max(0.0, min(next_t - time.time(), 0.002))
        for key, _ in sel.select(wait):
            s = key.fileobj
            st = pending.get(s)
            if st is None:
                continue
            if st[1] == "connect":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    finish(s, False, errno.errorcode.get(err, str(err)))
                    continue
                try:
                    s.send(request)
                except OSError as e:
                    finish(s, False, errno.errorcode.get(e.errno, str(e.errno)))
                    continue
                st[1] = "read"
                sel.modify(s, selectors.EVENT_READ)
            else:
                try:
                    data = s.recv(4096)
                except OSError as e:
                    finish(s, False, errno.errorcode.get(e.errno, str(e.errno)))
                    continue
                st[2] += data
                if b"\r\n" in st[2] or not data:
                    line = st[2].split(b"\r\n", 1)[0]
                    ok = line.startswith(b"HTTP/1.") and line[9:12] == b"200"
                    finish(s, ok, "200" if ok else (line[9:12].decode(errors="replace") or "eof"))
        now = time.time()
        for s, st in list(pending.items()):
            if now - st[0] > timeout:
                finish(s, False, "timeout")
    for s in list(pending):
        finish(s, False, "stopped")
    out.flush()
