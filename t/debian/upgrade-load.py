#!/usr/bin/python3
"""t/debian/upgrade-load.py: reloads, upgrade and downgrade of the installed
package while a load generator runs.  Started by t/debian/upgrade-load.sh
inside the PID and mount namespace of a prepared chroot (apache2 installed,
listening on 127.0.0.1:PORT, package not installed yet); every command on
the "system" is `chroot ROOT ...`, the load comes from here over loopback.

Phases (each one a time window; every request is counted in the window it
started in):
  install    dpkg -i v1: the postinst switches event -> fastevent, restarts
  graceful   10 graceful restarts, 1.5 s apart: apache2ctl graceful and
             logrotate's postrotate command (invoke-rc.d apache2 reload) in
             turn; zero failed requests
  upgrade    dpkg -i v2 over v1: the postinst restarts Apache fully
  downgrade  dpkg -i v1 over v2: the same
  denied     dpkg -i v2 with policy-rc.d saying 101 (a container, an admin
             who forbids restarts): no restart; the postinst must say so and
             the server keeps serving on the old module, whole; zero failed
  restart    what the postinst asked for: invoke-rc.d apache2 restart

The load: FRESH threads send one request per connection (Connection:
close); KEEPALIVE threads send requests on one connection and open a new
one when the server closes it.  A request on a reused keep-alive connection
that the server closed before sending a byte is sent again on a new
connection, once, as HTTP clients do for idempotent requests (RFC 9112
9.3.1); that is counted as "resent", and the resent request's own outcome
is what counts.  A failed request is any other request without a complete
200 with the expected body: refused (nothing listening), reset or closed
early, timeout, other status or body.  Each has its start time, so it is
tied to a phase.

Prints "ok/not ok" lines, a table per phase, and "N passed, N failed".
"""

import argparse
import errno
import os
import re
import socket
import subprocess
import sys
import threading
import time

BODY = b"fastevent upgrade test\n"
PASS = 0
FAIL = 0


def check(desc, cond, detail=""):
    global PASS, FAIL
    if cond:
        PASS += 1
    else:
        FAIL += 1
    print("%s %d - %s%s" % ("ok" if cond else "not ok", PASS + FAIL, desc,
                            (": " + detail) if detail else ""), flush=True)
    return cond


def note(msg):
    for line in str(msg).splitlines() or [""]:
        print("# " + line, flush=True)


# ------------------------------------------------------------------ load
class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.reqs = []          # (start, kind, outcome)
        self.resent = []        # start times of resent requests
        self.detail = []        # (start, kind, outcome, where) of failures

    def add(self, start, kind, outcome):
        with self.lock:
            self.reqs.append((start, kind, outcome))


def read_response(f, client=None):
    """(status, body, server_closes) or raise EOFError if no byte came."""
    status = f.readline()
    if not status:
        raise EOFError("closed before the status line")
    if client is not None:
        client.stage = "in the response"
    length, close = None, False
    while True:
        line = f.readline()
        if not line:
            raise ConnectionError("closed in the header")
        if line in (b"\r\n", b"\n"):
            break
        k, _, v = line.decode("latin-1").partition(":")
        k = k.strip().lower()
        if k == "content-length":
            length = int(v)
        elif k == "connection" and "close" in v.lower():
            close = True
    body = f.read(length) if length is not None else f.read()
    if length is not None and len(body) != length:
        raise ConnectionError("closed in the body")
    code = int(status.split()[1])
    return code, body, close


def classify(exc):
    if isinstance(exc, socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "reset"
    if isinstance(exc, (EOFError, ConnectionError)):
        return "closed"
    if isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED:
        return "refused"
    return "error:%s" % type(exc).__name__


class Client(threading.Thread):
    def __init__(self, port, res, keepalive, deadline, stop):
        super().__init__(daemon=True)
        self.port, self.res, self.ka = port, res, keepalive
        self.deadline, self.stop = deadline, stop
        self.kind = "keepalive" if keepalive else "fresh"
        self.stage = ""
        self.resend = ""

    def connect(self):
        self.stage = "at connect" + self.resend
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s, s.makefile("rb")

    def send(self, s, f):
        req = (b"GET /fe-upgrade.txt HTTP/1.1\r\nHost: localhost\r\n" +
               (b"" if self.ka else b"Connection: close\r\n") + b"\r\n")
        self.stage = ("new connection, sending" if self.stage.startswith("at connect")
                      else "reused connection, sending") + self.resend
        s.sendall(req)
        self.stage = self.stage.replace("sending", "before any byte of the response")
        return read_response(f, self)

    def run(self):
        s = f = None
        while not self.stop.is_set() and time.time() < self.deadline:
            t0 = time.time()
            reused = s is not None
            self.resend = ""
            try:
                if s is None:
                    s, f = self.connect()
                try:
                    code, body, close = self.send(s, f)
                except (EOFError, ConnectionResetError, BrokenPipeError):
                    if not reused:
                        raise
                    # the server closed the idle keep-alive connection:
                    # send the request again on a new one, once
                    with self.res.lock:
                        self.res.resent.append(t0)
                    s.close()
                    self.resend = " (resent)"
                    s, f = self.connect()
                    code, body, close = self.send(s, f)
                ok = code == 200 and body == BODY
                self.res.add(t0, self.kind, "ok" if ok else "status %d" % code)
                if close or not self.ka:
                    s.close()
                    s = None
            except Exception as e:  # noqa: BLE001 -- every failure is counted
                self.res.add(t0, self.kind, classify(e))
                with self.res.lock:
                    self.res.detail.append((t0, self.kind, classify(e), self.stage))
                if s is not None:
                    s.close()
                s = None
                time.sleep(0.02)
                continue
            time.sleep(0.003)
        if s is not None:
            s.close()


# ---------------------------------------------------------------- system
class System:
    def __init__(self, root, port):
        self.root, self.port = root, port

    def run(self, *cmd, timeout=300):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8",
               "DEBIAN_FRONTEND": "noninteractive", "HOME": "/root"}
        try:
            p = subprocess.run(["chroot", self.root] + list(cmd), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=timeout)
            return p.returncode, p.stdout.decode("utf-8", "replace")
        except subprocess.TimeoutExpired as e:
            return 124, (e.stdout or b"").decode("utf-8", "replace")

    def policy(self, allow):
        path = os.path.join(self.root, "usr/sbin/policy-rc.d")
        with open(path, "w") as fh:
            fh.write("#!/bin/sh\n# t/debian/upgrade-load.py\nexit %d\n"
                     % (0 if allow else 101))
        os.chmod(path, 0o755)

    def parent(self):
        try:
            with open(os.path.join(self.root, "run/apache2/apache2.pid")) as fh:
                pid = int(fh.read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def apache_pids(self):
        pids = []
        proc = os.path.join(self.root, "proc")
        for d in os.listdir(proc):
            if not d.isdigit():
                continue
            try:
                with open(os.path.join(proc, d, "cmdline"), "rb") as fh:
                    if fh.read().split(b"\0")[0] == b"/usr/sbin/apache2":
                        pids.append(int(d))
            except OSError:
                pass
        return sorted(pids)

    def module_maps(self, pid):
        """the mod_mpm_fastevent.so mappings of pid: set of 'inode' or
        'inode (deleted)'"""
        out = set()
        try:
            with open(os.path.join(self.root, "proc", str(pid), "maps")) as fh:
                for line in fh:
                    if "mod_mpm_fastevent.so" in line:
                        parts = line.split()
                        out.add(parts[4] + (" (deleted)" if line.rstrip().endswith("(deleted)") else ""))
        except OSError:
            pass
        return out

    def module_inode(self):
        try:
            return str(os.stat(os.path.join(
                self.root, "usr/lib/apache2/modules/mod_mpm_fastevent.so")).st_ino)
        except OSError:
            return None

    def status(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            s.sendall(b"GET /server-status?auto HTTP/1.1\r\nHost: localhost\r\n"
                      b"Connection: close\r\n\r\n")
            f = s.makefile("rb")
            code, body, _ = read_response(f)
            s.close()
            if code != 200:
                return {}
            return dict(l.split(": ", 1) for l in body.decode().splitlines() if ": " in l)
        except Exception:  # noqa: BLE001
            return {}

    def version(self):
        rc, out = self.run("dpkg-query", "-W", "-f", "${Version}",
                           "libapache2-mod-mpm-fastevent")
        return out.strip() if rc == 0 else None


def whole_module(system, what):
    """every apache2 process maps one mod_mpm_fastevent.so: the file on disk
    (current=True) or a deleted one; returns (ok, detail)"""
    ino = system.module_inode()
    pids = system.apache_pids()
    maps = {p: system.module_maps(p) for p in pids}
    detail = "%s; on disk: inode %s; %s" % (what, ino, ", ".join(
        "%d: %s" % (p, "+".join(sorted(m)) or "-") for p, m in maps.items()))
    return pids, maps, ino, detail


# ------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, default=8941)
    ap.add_argument("--v1", required=True, help=".deb path inside the chroot")
    ap.add_argument("--v2", required=True)
    ap.add_argument("--fresh", type=int, default=3)
    ap.add_argument("--keepalive", type=int, default=3)
    ap.add_argument("--limit", type=float, default=240.0,
                    help="the load stops after this many seconds at most")
    o = ap.parse_args()
    sysm = System(o.root, o.port)
    v1ver = re.search(r"_([^_]+)_[^_]+\.deb$", o.v1).group(1)
    v2ver = re.search(r"_([^_]+)_[^_]+\.deb$", o.v2).group(1)

    # ---- event first, the way Debian leaves a fresh apache2
    sysm.policy(True)
    rc, out = sysm.run("invoke-rc.d", "apache2", "start", timeout=60)
    time.sleep(0.5)
    st = sysm.status()
    if not check("Apache started on event (invoke-rc.d apache2 start)",
                 st.get("ServerMPM") == "event", "ServerMPM=%s" % st.get("ServerMPM")):
        note(out)
        return

    phases = []     # (name, start, end)

    def phase(name, fn):
        t0 = time.time()
        r = fn()
        t1 = time.time()
        phases.append((name, t0, t1))
        return r

    # ---- install v1 (before the load: the MPM switch is not under test here)
    p0 = sysm.parent()
    rc, out = phase("install", lambda: sysm.run("dpkg", "-i", o.v1))
    check("dpkg -i %s (install)" % os.path.basename(o.v1), rc == 0)
    note(out.strip()[-1500:])
    time.sleep(1.0)
    st = sysm.status()
    check("after the install Apache runs fastevent, in a new parent process",
          st.get("ServerMPM") == "fastevent" and sysm.parent() not in (None, p0),
          "ServerMPM=%s parent %s -> %s" % (st.get("ServerMPM"), p0, sysm.parent()))

    # ---- load
    res = Results()
    stop = threading.Event()
    deadline = time.time() + o.limit
    clients = ([Client(o.port, res, False, deadline, stop) for _ in range(o.fresh)] +
               [Client(o.port, res, True, deadline, stop) for _ in range(o.keepalive)])
    for c in clients:
        c.start()
    time.sleep(2.0)
    phases.append(("warm-up", time.time() - 2.0, time.time()))

    # ---- graceful x10
    gen0 = int(sysm.status().get("ParentServerConfigGeneration", "-1"))
    p0 = sysm.parent()

    def gracefuls():
        outs = []
        for i in range(10):
            if i % 2 == 0:
                outs.append(sysm.run("apache2ctl", "graceful", timeout=60))
            else:   # /etc/logrotate.d/apache2, postrotate
                outs.append(sysm.run("invoke-rc.d", "apache2", "reload", timeout=60))
            time.sleep(1.5)
        return outs
    outs = phase("graceful", gracefuls)
    gen1 = int(sysm.status().get("ParentServerConfigGeneration", "-1"))
    check("10 graceful restarts (5 apache2ctl graceful, 5 invoke-rc.d apache2 "
          "reload as logrotate does) succeeded", all(rc == 0 for rc, _ in outs),
          " ".join(str(rc) for rc, _ in outs))
    check("mod_status: ParentServerConfigGeneration went up by 10, same parent",
          gen1 - gen0 == 10 and sysm.parent() == p0,
          "%d -> %d, parent %s -> %s" % (gen0, gen1, p0, sysm.parent()))

    # ---- upgrade, downgrade: full restarts by the postinst
    def swap(name, deb, want):
        p0 = sysm.parent()
        rc, out = phase(name, lambda: sysm.run("dpkg", "-i", deb))
        check("%s: dpkg -i %s" % (name, os.path.basename(deb)), rc == 0)
        for line in out.splitlines():
            if re.search(r"apache2|Restart|restart|mpm_fastevent|warning", line):
                note("  " + line)
        time.sleep(1.0)
        st = sysm.status()
        p1 = sysm.parent()
        pids, maps, ino, detail = whole_module(sysm, name)
        check("%s: version %s installed, Apache runs fastevent in a new parent "
              "process (full restart)" % (name, want),
              sysm.version() == want and st.get("ServerMPM") == "fastevent"
              and p1 not in (None, p0),
              "version %s, ServerMPM=%s, parent %s -> %s"
              % (sysm.version(), st.get("ServerMPM"), p0, p1))
        check("%s: every apache2 process maps the new module file, none a "
              "replaced one" % name,
              pids and all(m == {ino} for m in maps.values()), detail)
    swap("upgrade", o.v2, v2ver)
    time.sleep(1.0)
    swap("downgrade", o.v1, v1ver)
    time.sleep(1.0)

    # ---- restart refused: the postinst tells the admin
    sysm.policy(False)
    p0 = sysm.parent()
    rc, out = phase("denied", lambda: sysm.run("dpkg", "-i", o.v2))
    check("denied: dpkg -i %s with policy-rc.d 101" % os.path.basename(o.v2), rc == 0)
    told = re.search(r"still runs the previous mod_mpm_fastevent\.so.*"
                     r"Restart it fully", out)
    check("denied: the postinst tells the admin to restart fully (not graceful)",
          told is not None, (told.group(0)[:120] + "...") if told else out[-800:])
    time.sleep(1.0)
    pids, maps, ino, detail = whole_module(sysm, "denied")
    check("denied: the same parent serves, and every apache2 process maps the "
          "old module only (deleted file), none the new one",
          sysm.parent() == p0 and pids
          and all(len(m) == 1 and next(iter(m)).endswith("(deleted)")
                  for m in maps.values()), detail)
    sysm.policy(True)
    p0 = sysm.parent()
    rc, out = phase("restart", lambda: sysm.run("invoke-rc.d", "apache2", "restart",
                                                timeout=120))
    time.sleep(1.0)
    pids, maps, ino, detail = whole_module(sysm, "restart")
    check("restart: invoke-rc.d apache2 restart, as the postinst said: a new "
          "parent, every process on the new module file",
          rc == 0 and sysm.parent() not in (None, p0) and pids
          and all(m == {ino} for m in maps.values()), detail)
    time.sleep(2.0)
    phases.append(("after", time.time() - 2.0, time.time()))

    stop.set()
    for c in clients:
        c.join(15)
    check("the load clients stopped", not any(c.is_alive() for c in clients))

    # ---- accounting
    def window(t):
        for name, a, b in phases:
            if a <= t <= b:
                return name
        return "between"
    table = {}
    for t, kind, outcome in res.reqs:
        row = table.setdefault(window(t), {})
        row[outcome] = row.get(outcome, 0) + 1
    resent = {}
    for t in res.resent:
        w = window(t)
        resent[w] = resent.get(w, 0) + 1
    note("%-10s %8s %8s %8s  %s" % ("phase", "requests", "ok", "resent", "failed (by kind)"))
    order = ["warm-up", "graceful", "upgrade", "downgrade", "denied", "restart",
             "after", "between"]
    failed = {}
    for name in order:
        row = table.get(name, {})
        n = sum(row.values())
        bad = {k: v for k, v in row.items() if k != "ok"}
        failed[name] = bad
        dur = [b - a for p, a, b in phases if p == name]
        note("%-10s %8d %8d %8d  %s%s" % (
            name, n, row.get("ok", 0), resent.get(name, 0),
            ", ".join("%s %d" % kv for kv in sorted(bad.items())) or "0",
            ("  (%.1f s)" % dur[0]) if dur else ""))
    # the failures by client: fresh connections, keep-alive connections
    for name in order:
        if not failed.get(name):
            continue
        by = {}
        for t, kind, outcome in res.reqs:
            if outcome != "ok" and window(t) == name:
                k = (kind, outcome)
                by[k] = by.get(k, 0) + 1
        note("%-10s failed by client: %s" % (name, ", ".join(
            "%s %s %d" % (k[0], k[1], v) for k, v in sorted(by.items()))))
    # where in the exchange each failure happened
    for name in order:
        if not failed.get(name):
            continue
        by = {}
        for t, kind, outcome, where in res.detail:
            if window(t) == name:
                k = "%s %s %s" % (kind, outcome, where)
                by[k] = by.get(k, 0) + 1
        note("%-10s where: %s" % (name, "; ".join(
            "%s: %d" % kv for kv in sorted(by.items()))))
    total = len(res.reqs)
    check("the load ran: %d requests" % total, total > 1000)
    for name in ("warm-up", "graceful", "denied", "after", "between"):
        check("%s: zero failed requests" % name, not failed.get(name),
              ", ".join("%s %d" % kv for kv in sorted(failed.get(name, {}).items())) or "")
    # A full restart (stop, then start) has a gap in which no process
    # listens, and it ends the connections open at the stop: the failures
    # it may cause are refusals and connections closed or reset, nothing
    # else (no error status, no wrong body, no timeout).
    for name in ("upgrade", "downgrade", "restart"):
        bad = failed.get(name, {})
        odd = {k: v for k, v in bad.items() if k not in ("refused", "closed", "reset")}
        check("%s: every failed request is a refusal or a closed/reset "
              "connection of the stop/start (%s)" % (name, ", ".join(
                  "%s %d" % kv for kv in sorted(bad.items())) or "none"), not odd)
    # the gap: from the first to the last refusal of each restart
    for name, a, b in phases:
        if name in ("upgrade", "downgrade", "restart"):
            ts = [t for t, _, out in res.reqs if a <= t <= b and out == "refused"]
            if ts:
                note("%s: refusals from %.2f s to %.2f s after dpkg started (%.0f ms)"
                     % (name, min(ts) - a, max(ts) - a, 1000 * (max(ts) - min(ts))))
    sysm.run("invoke-rc.d", "apache2", "stop", timeout=60)


if __name__ == "__main__":
    try:
        main()
    finally:
        print("%d passed, %d failed" % (PASS, FAIL), flush=True)
    sys.exit(1 if FAIL else 0)
