#!/usr/bin/env python3
"""What an admin who swaps mpm_event for mpm_fastevent relies on (issue 20):
the log phrases their watchers grep, the 408 and access-log line a slow
client leaves behind under mod_reqtimeout's settings, a reverse proxy's
full capacity, listener buckets, a failing child_init, and what mod_status
shows.

Each scenario starts its own server (apache2 -f <generated config>) on
loopback, with small Python backends where it needs them (a slow HTTP
backend, a websocket echo), drives it with bounded clients, stops it by
the pid in its PidFile and checks what it promises.  With --event the same
checks run against stock mpm_event where the behaviour is shared, which
checks the test itself; the checks that only fastevent passes say so and
are skipped.  Prints one line per check and closes with "dropin: N passed,
N failed".

Usage: t/dropin/run.py [--event] [--only NAME[,NAME]] [--port N]
"""
import base64
import hashlib
import http.server
import os
import re
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
import fe_test  # noqa: E402  (t/lib)
from fe_test import HOST, TREE, check, note  # noqa: E402

OPTS = None
SERVERS = []


class Server(fe_test.Server):
    prefix = "fe-dropin-"
    stop_limit = 20
    kill_late = True
    log_level = os.environ.get("FE_DROPIN_LOGLEVEL", "info")


def fastevent():
    return OPTS.name == "mpm_fastevent_module"


def skip_unless_fastevent(what):
    """Note and return True when this check is fastevent behaviour only."""
    if fastevent():
        return False
    note("skipped under %s (fastevent behaviour): %s" % (OPTS.name, what))
    return True


def server(body, port_off=0, mods=None, docs=None):
    srv = Server((OPTS.name, OPTS.module), OPTS.port + port_off, body,
                 mods=mods, docs=docs,
                 keep=bool(os.environ.get("FE_DROPIN_KEEP")))
    SERVERS.append(srv)
    return srv


def sizing(**kw):
    """An <IfModule> block of the MPM under test with these directives."""
    lines = "".join("    %s %s\n" % (k, v) for k, v in kw.items())
    mod = OPTS.name
    return "<IfModule %s>\n%s</IfModule>\n" % (mod, lines)


def wait_log(srv, pattern, limit):
    """Wait until a line of the error log matches pattern (a regex):
    the line, or None after limit seconds."""
    rx = re.compile(pattern)
    deadline = time.time() + limit
    while True:
        for line in srv.log_lines():
            if rx.search(line):
                return line
        if time.time() >= deadline:
            return None
        time.sleep(0.2)


def phrase(srv, text, name, limit=8.0):
    """Check: the error log gets a line with event's phrase, verbatim."""
    line = wait_log(srv, re.escape(text), limit)
    return check(name, line is not None,
                 (line or "no such line")[-160:])


# ------------------------------------------------------------ backends

class SlowHandler(http.server.BaseHTTPRequestHandler):
    """GET /sleep/MS: answers 200 "ok" after MS milliseconds."""
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        m = re.search(r"/sleep/(\d+)", self.path)
        time.sleep(int(m.group(1)) / 1000.0 if m else 0)
        body = b"ok\n"
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, *args):
        pass


class Backend(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """A loopback backend, one thread per connection, stopped with
    shutdown()."""
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True


def backend_on(port, handler):
    b = Backend((HOST, port), handler)
    threading.Thread(target=b.serve_forever, daemon=True).start()
    return b


def slow_backend(port):
    return backend_on(port, SlowHandler)


class WsHandler(socketserver.BaseRequestHandler):
    """A websocket endpoint as far as a tunnel sees it: the upgrade
    handshake, then every byte echoed back."""

    def handle(self):
        s = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                return
            head += chunk
        key = re.search(rb"(?i)sec-websocket-key:\s*(\S+)", head)
        accept = base64.b64encode(hashlib.sha1(
            (key.group(1) if key else b"")
            + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        s.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket"
                  b"\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
                  + accept + b"\r\n\r\n")
        while True:
            try:
                data = s.recv(4096)
            except OSError:
                return
            if not data:
                return
            s.sendall(data)


def ws_backend(port):
    return backend_on(port, WsHandler)


# ------------------------------------------------------------ clients

def raw(port, data, wait, trickle=None):
    """Connect, send data (then trickle: (count, every, chunk)), and read
    until the server closes or wait seconds pass.  Returns (seconds until
    the close or the timeout, bytes received, "eof"/"timeout"/"reset")."""
    s = socket.create_connection((HOST, port), timeout=5)
    t0 = time.time()
    try:
        if data:
            s.sendall(data)
        for _ in range(trickle[0] if trickle else 0):
            time.sleep(trickle[1])
            s.sendall(trickle[2])
        s.settimeout(max(0.1, wait - (time.time() - t0)))
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return time.time() - t0, got, "eof"
            got += chunk
    except socket.timeout:
        return time.time() - t0, got, "timeout"
    except (ConnectionResetError, BrokenPipeError):
        return time.time() - t0, b"", "reset"
    finally:
        s.close()


def in_thread(fn, *args):
    """Run fn(*args) in a thread; returns (thread, box) where box[0] will
    hold its result."""
    box = []
    t = threading.Thread(target=lambda: box.append(fn(*args)), daemon=True)
    t.start()
    return t, box


def status_line(srv):
    """The worker and connection counts of /server-status?auto, for a
    failed check's detail."""
    try:
        st = srv.status()
    except OSError as e:
        return "status: %s" % e
    keys = ("BusyWorkers", "IdleWorkers", "ConnsTotal", "Scoreboard")
    return " ".join("%s=%s" % (k, st.get(k)) for k in keys)


def access_lines(srv):
    return srv.read_log("access_log").splitlines()


PROXY_MODS = ("authz_core", "mime", "dir", "status", "proxy", "proxy_http")


def proxy_conf(backend_port):
    return ("ProxyPass /proxy/ http://%s:%d/ retry=0 timeout=60\n"
            "ProxyTimeout 60\n" % (HOST, backend_port))


# ------------------------------------------------------------ scenarios

def proxy_line(bport):
    """Proxied requests that wait for a place (the reserve keeps workers
    for other requests) are served in the order they came: a request must
    not be overtaken by those that came after it.  One child, so one line:
    24 proxied requests of a 1 s backend, one every 50 ms, beside 10
    static requests a second, with 7 places (ThreadsPerChild 10, reserve
    25 %).  Each retrying on its own every 20 ms, as before, newcomers
    took freed places ahead of requests that had waited for seconds."""
    srv = server(sizing(StartServers=1, ServerLimit=1, ThreadsPerChild=10,
                        MaxRequestWorkers=10, MinSpareThreads=5,
                        MaxSpareThreads=10)
                 + proxy_conf(bport) + fe_test.STATUS_CONF,
                 port_off=1, mods=PROXY_MODS)
    srv.start()
    time.sleep(1)
    stop, static = [], []

    def static_prober():
        while not stop:
            static.append(fe_test.get(srv.port, "/index.html", timeout=5)[0])
            time.sleep(0.1)

    def timed_get(path):
        t0 = time.time()
        code = fe_test.get(srv.port, path, timeout=40)[0]
        return t0, time.time(), code

    prober = in_thread(static_prober)
    time.sleep(1)
    reqs = []
    for _ in range(24):
        reqs.append(in_thread(timed_get, "/proxy/sleep/1000"))
        time.sleep(0.05)
    time.sleep(1)
    waiting = srv.status().get("FastEventProxyWaiting")
    for t, _ in reqs:
        t.join(45)
    stop.append(1)
    prober[0].join(10)
    got = sorted(box[0] for _, box in reqs if box)
    ok = [r for r in got if r[2] == 200]
    # pairs where one came 0.2 s or more after another and was answered
    # 0.2 s or more before it
    overtakes = sum(1 for i, a in enumerate(ok) for b in ok[i + 1:]
                    if b[0] - a[0] >= 0.2 and b[1] < a[1] - 0.2)
    waits = [round(e - s - 1.0, 1) for s, e, _ in ok]
    check("proxy line: 24 proxied requests beside static ones all "
          "answered, first come first served (0 overtaken by 0.2 s)",
          len(ok) == 24 and overtakes == 0 and waiting not in (None, "0"),
          "%d of 24 answered, %d overtakes, waits %s s; "
          "FastEventProxyWaiting %s during; static %s"
          % (len(ok), overtakes, waits, waiting,
             sorted(set(static))))
    srv.stop()
    srv.check_error_log("proxy line")


def scenario_signals():
    """The four stop/restart phrases, each out of a real error log."""
    srv = server(sizing(StartServers=2, ServerLimit=4, ThreadsPerChild=5,
                        MaxRequestWorkers=20) + fe_test.STATUS_CONF)
    srv.start()
    srv.send(signal.SIGUSR1)
    phrase(srv, "SIGUSR1 received.  Doing graceful restart",
           "signals: graceful restart says event's phrase")
    fe_test.wait_for(srv.answers, 10)
    srv.send(signal.SIGHUP)
    phrase(srv, "SIGHUP received.  Attempting to restart",
           "signals: restart says event's phrase")
    fe_test.wait_for(srv.answers, 10)
    took = srv.stop(signal.SIGWINCH)
    check("signals: graceful stop ends the server", took is not None,
          "%.1f s" % (took or -1))
    phrase(srv, "caught SIGWINCH, shutting down gracefully",
           "signals: graceful stop says event's phrase", limit=1)
    srv.start()
    srv.stop(signal.SIGTERM)
    phrase(srv, "caught SIGTERM, shutting down",
           "signals: stop says event's phrase", limit=1)
    srv.check_error_log("signals")


def scenario_maxworkers():
    """All workers in slow requests: "server reached MaxRequestWorkers";
    then a stop whose children cannot finish: the SIGTERM and SIGKILL
    escalation lines."""
    backend = slow_backend(OPTS.port + 40)
    srv = server(sizing(StartServers=1, ServerLimit=1, ThreadsPerChild=2,
                        MaxRequestWorkers=2, MinSpareThreads=1,
                        MaxSpareThreads=2) + proxy_conf(OPTS.port + 40),
                 mods=PROXY_MODS)
    srv.start()
    slow = [in_thread(fe_test.get, srv.port, "/proxy/sleep/14000", 20)
            for _ in range(2)]
    phrase(srv, "server reached MaxRequestWorkers setting, consider raising "
           "the MaxRequestWorkers setting",
           "MaxRequestWorkers: every worker busy says event's phrase")
    t0 = time.time()
    took = srv.stop(signal.SIGTERM, limit=14)
    note("stop took %s s with two requests stuck in the backend"
         % ("%.1f" % took if took is not None else "more than 14"))
    log = srv.read_log()
    pids = set(re.findall(r"child process (\d+) still did not exit, "
                          r"sending a SIGTERM", log))
    check("stop escalation: \"child process N still did not exit, sending a "
          "SIGTERM\"", pids, ", ".join(sorted(pids)))
    check("stop escalation: \"child process N still did not exit, sending a "
          "SIGKILL\"", re.search(r"child process \d+ still did not exit, "
                                 r"sending a SIGKILL", log))
    # Both MPMs give up on the children 10 s in (SIGKILL at 9 s); event's
    # parent then takes up to 2 s more to go.
    check("stop escalation: the server is gone within 13 s",
          took is not None and took < 13, "%.1f s" % (time.time() - t0))
    for t, _ in slow:
        t.join(20)
    backend.shutdown()


def scenario_sb_full():
    """Both processes stop at MaxConnectionsPerChild while their slow
    requests run, in all the slots ServerLimit has: "scoreboard is full,
    not at MaxRequestWorkers"."""
    backend = slow_backend(OPTS.port + 41)
    srv = server(sizing(StartServers=2, ServerLimit=2, ThreadsPerChild=2,
                        MaxRequestWorkers=4, MinSpareThreads=2,
                        MaxSpareThreads=4, MaxConnectionsPerChild=2)
                 + proxy_conf(OPTS.port + 41), mods=PROXY_MODS)
    srv.start()
    time.sleep(0.5)
    slow = [in_thread(fe_test.get, srv.port, "/proxy/sleep/6000", 15)
            for _ in range(3)]
    phrase(srv, "scoreboard is full, not at MaxRequestWorkers",
           "scoreboard full: says event's phrase", limit=6)
    for t, _ in slow:
        t.join(15)
    srv.stop()
    backend.shutdown()


def scenario_busy():
    """Spawning fast to reach MinSpareThreads: "server seems busy"."""
    srv = server(sizing(StartServers=1, ServerLimit=40, ThreadsPerChild=1,
                        MaxRequestWorkers=40, MinSpareThreads=36,
                        MaxSpareThreads=40))
    srv.start()
    phrase(srv, "server seems busy, (you may need to increase StartServers, "
           "ThreadsPerChild or Min/MaxSpareThreads)",
           "spawning fast: says event's phrase", limit=12)
    srv.stop()
    srv.check_error_log("busy")


def build_module(src_name):
    """Compile a test-only module of t/c-modules; its path."""
    outdir = tempfile.mkdtemp(prefix="fe-dropin-mod-")
    os.chmod(outdir, 0o755)
    return fe_test.build_test_module(src_name, outdir)


def scenario_startup_failure():
    """Every child's child_init fails before any child ever ran: the
    parent exits with event's message instead of respawning for ever."""
    so = build_module("mod_fe_childinit")
    srv = server("LoadModule fe_childinit_module %s\n"
                 "FeTestChildInitExit 7\n" % so
                 + sizing(StartServers=2, ServerLimit=4, ThreadsPerChild=4,
                          MaxRequestWorkers=16))
    subprocess.run(srv.argv("-k", "start"), check=True)
    pid = None
    for _ in range(20):
        pid = srv.pid() or pid
        if pid:
            break
        time.sleep(0.1)
    gone = fe_test.wait_for(lambda: pid is not None and not os.path.exists(
        "/proc/%d" % pid), 20, every=0.2)
    log = srv.read_log()
    tries = log.count("child_init fails on purpose")
    check("startup failure: the parent exits by itself", gone,
          "pid %s, %d failed children" % (pid, tries))
    check("startup failure: says event's phrase",
          "A resource shortage or other unrecoverable failure was "
          "encountered before any child process initialized "
          "successfully... httpd is exiting!" in log)
    check("startup failure: no endless respawning", 0 < tries <= 40,
          "%d children started and failed" % tries)
    srv.stop_if_running()


REQTIMEOUT_DOC = ("LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b %D\" fe\n"
                  "CustomLog logs/access_log fe\n"
                  "ErrorDocument 408 \"fe-custom-408\"\n")
PARTIAL_HEAD = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n"


def deadline_checks(srv, what, t_lo, t_hi):
    """A stalled head gets the core's 408 at the header deadline, like
    event; part of a request line is closed without an answer; both are
    logged with status 408."""
    took, got, how = raw(srv.port, PARTIAL_HEAD, t_hi + 3)
    text = got.decode(errors="replace")
    check("%s: a stalled head gets a 408 in [%.1f, %.1f] s"
          % (what, t_lo, t_hi),
          text.startswith("HTTP/1.1 408 ") and t_lo <= took <= t_hi,
          "%.2f s, %s, %r" % (took, how, text[:40]))
    check("%s: ... through the core: ErrorDocument, Date, Server, "
          "Connection: close" % what,
          "fe-custom-408" in text and "\r\nDate: " in text
          and "\r\nServer: " in text
          and "\r\nConnection: close\r\n" in text, repr(text[:300]))
    line = [l for l in access_lines(srv) if '"GET /index.html HTTP/1.1" 408'
            in l]
    usec = int(line[-1].split()[-1]) if line else -1
    check("%s: ... logged with status 408 and %%D from the request line"
          % what, line and (t_lo - 0.3) * 1e6 <= usec <= (t_hi + 0.3) * 1e6,
          line[-1] if line else "no 408 line in the access log")
    took, got, how = raw(srv.port, b"GET /index.ht", t_hi + 3)
    check("%s: part of a request line is closed without an answer" % what,
          got == b"" and how in ("eof", "reset") and took <= t_hi + 0.5,
          "%.2f s, %s, %r" % (took, how, got[:40]))
    check("%s: ... and logged as \"-\" 408" % what,
          any('"-" 408 ' in l for l in access_lines(srv)))


def scenario_reqtimeout():
    """The header deadline follows RequestReadTimeout header= (Debian's
    default 20-40,MinRate=500 and a custom one), and Timeout without
    mod_reqtimeout."""
    mods = ("authz_core", "mime", "dir", "status", "reqtimeout")
    debian = server("RequestReadTimeout header=20-40,MinRate=500\n"
                    + REQTIMEOUT_DOC, port_off=1, mods=mods)
    # AcceptFilter none: a connection that sends nothing reaches the
    # server at once, instead of waiting in the kernel (TCP_DEFER_ACCEPT)
    custom = server("<IfModule reqtimeout_module>\n"
                    "    RequestReadTimeout header=2-4,MinRate=100 body=20\n"
                    "</IfModule>\nAcceptFilter http none\n"
                    + REQTIMEOUT_DOC, port_off=2, mods=mods)
    plain = server("Timeout 3\n" + REQTIMEOUT_DOC, port_off=3)
    for s in (debian, custom, plain):
        s.start()
    # Debian's default: a head stalled 20 s from the start (in parallel)
    slow = in_thread(raw, debian.port, PARTIAL_HEAD, 25)
    deadline_checks(custom, "header=2-4", 1.9, 2.6)
    took, got, how = raw(custom.port, b"", 6)
    check("header=2-4: a connection that sends nothing is closed at the "
          "deadline without an answer",
          got == b"" and how in ("eof", "reset") and 1.9 <= took <= 2.7,
          "%.2f s, %s" % (took, how))
    # 50 bytes every 0.5 s: 100 bytes a second, so MinRate=100 adds a
    # second a second, up to the 4 s maximum
    took, got, how = raw(custom.port, b"GET / HTTP/1.1\r\n", 8,
                         (10, 0.5, b"X-Trickle: " + b"t" * 37 + b"\r\n"))
    check("header=2-4,MinRate=100: a head trickled at 100 B/s lasts up to "
          "the 4 s maximum, then 408",
          got.startswith(b"HTTP/1.1 408 ") and 3.6 <= took <= 5.3,
          "%.2f s, %s, %r" % (took, how, got[:30]))
    deadline_checks(plain, "no mod_reqtimeout, Timeout 3", 2.9, 3.7)
    slow[0].join(30)
    took, got, how = slow[1][0] if slow[1] else (0, b"", "none")
    check("header=20-40,MinRate=500 (Debian's): a stalled head gets a 408 "
          "at 20 s", got.startswith(b"HTTP/1.1 408 ") and 19.8 <= took <= 21,
          "%.2f s, %s, %r" % (took, how, got[:30]))
    for s in (debian, custom, plain):
        s.stop()
        s.check_error_log("reqtimeout")


def keep_getting(port, path, seconds, counts, errors):
    """Keep-alive GETs of path for seconds; counts[0] += completed.  As
    HTTP clients do, a request that finds its reused connection closed
    (the server may close idle keep-alive connections) is sent again on a
    new one; counts[1] += such retries."""
    end = time.time() + seconds
    s = None
    while time.time() < end:
        try:
            fresh = s is None
            if fresh:
                s = socket.create_connection((HOST, port), timeout=30)
                f = s.makefile("rb")
            s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n"
                       % path).encode())
            status = f.readline()
            if not status and not fresh:
                s.close()
                s = None
                counts[1] += 1
                continue
            length = 0
            while True:
                line = f.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            f.read(length)
            if b" 200 " in status:
                counts[0] += 1
            else:
                errors.append(status.strip()[:40])
        except OSError as e:
            if s is not None and not fresh:
                s.close()
                s = None
                counts[1] += 1
                continue
            errors.append(str(e)[:40])
            s = None
    if s is not None:
        s.close()


def scenario_proxy():
    """A server that only proxies uses every worker, websocket tunnels up
    to MaxRequestWorkers stay open, and static files are served while the
    backend is saturated."""
    bport, wport = OPTS.port + 42, OPTS.port + 43
    backend = slow_backend(bport)
    wsb = ws_backend(wport)
    mods = PROXY_MODS + ("proxy_wstunnel",)
    srv = server(sizing(StartServers=2, ServerLimit=2, ThreadsPerChild=10,
                        MaxRequestWorkers=20, MinSpareThreads=5,
                        MaxSpareThreads=20)
                 + proxy_conf(bport)
                 + "ProxyPass /ws/ ws://%s:%d/\n" % (HOST, wport)
                 + fe_test.STATUS_CONF, mods=mods)
    srv.start()
    time.sleep(1)
    counts, errors, seconds = [0, 0], [], 8
    ts = [in_thread(keep_getting, srv.port, "/proxy/sleep/1000", seconds,
                    counts, errors) for _ in range(20)]
    for t, _ in ts:
        t.join(seconds + 35)
    ideal = 20 * seconds
    # Stock event reaches the ideal (one answer per client per second):
    # within 5 % of it is within 5 % of event.
    check("proxy only: 20 clients of a 1 s backend with MaxRequestWorkers "
          "20 get >= 95%% of %d answers in %d s" % (ideal, seconds),
          counts[0] >= 0.95 * ideal and not errors,
          "%d answers, %d errors %s, %d resent on a new connection"
          % (counts[0], len(errors), errors[:3], counts[1]))
    # websocket tunnels up to MaxRequestWorkers, once the requests the
    # clients above left in the backend are done
    fe_test.wait_for(lambda: int(srv.status().get("BusyWorkers", 99)) <= 1,
                     10)
    socks, bad, why = [], 0, []
    for i in range(20):
        try:
            s = socket.create_connection((HOST, srv.port), timeout=10)
            s.sendall(b"GET /ws/x HTTP/1.1\r\nHost: localhost\r\n"
                      b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      b"Sec-WebSocket-Version: 13\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    break
                head += chunk
            first = head.split(b"\r\n")[0]
            if b" 101 " not in first:
                bad += 1
                why.append("%d: %r" % (i, first[:40]))
            socks.append(s)
        except OSError as e:
            bad += 1
            why.append("%d: %s" % (i, e))
    during = status_line(srv)
    time.sleep(3)
    echoed = 0
    for i, s in enumerate(socks):
        try:
            s.sendall(b"ping %d" % i)
            echoed += s.recv(64) == b"ping %d" % i
        except OSError:
            pass
        s.close()
    what = ("websockets: 20 tunnels (MaxRequestWorkers) all open and echo "
            "after 3 s")
    detail = "%d refused %s, %d of %d echoed; %s" % (bad, why[:3], echoed,
                                                    len(socks), during)
    if fastevent():
        check(what, bad == 0 and echoed == 20, detail)
    else:
        # Stock event does not always get there: in 4 of 6 runs here the
        # 20th upgrade stayed unaccepted in the listen backlog (Recv-Q 1)
        # while one child held 9 tunnels, so its result is reported, not
        # held against the test.
        note("%s under %s (reported, not checked): %s"
             % (what, OPTS.name, detail))
    # static files while the backend is saturated: a site that serves
    # both (10 static requests a second) when 40 slow proxied requests
    # arrive at once, twice its 20 workers
    if not skip_unless_fastevent("static files beside a saturated backend"):
        times, stop = [], []

        def static_prober():
            while not stop:
                t0 = time.time()
                code = fe_test.get(srv.port, "/index.html", timeout=3)[0]
                times.append((t0, time.time() - t0, code))
                time.sleep(0.1)
        prober = in_thread(static_prober)
        time.sleep(1.5)
        t_hogs = time.time()
        hogs = [in_thread(fe_test.get, srv.port, "/proxy/sleep/6000", 40)
                for _ in range(40)]
        time.sleep(4)
        during = status_line(srv)
        stop.append(1)
        prober[0].join(5)
        sat = [(d, c) for t0, d, c in times if t0 >= t_hogs]
        ok = sum(1 for d, c in sat if c == 200)
        slowest = max((d for d, _ in sat), default=0.0)
        check("saturated backend: static requests meanwhile all answered "
              "within 1 s", sat and ok == len(sat) and slowest < 1.0,
              "%d of %d ok, slowest %.2f s; %s" % (ok, len(sat), slowest,
                                                  during))
        for t, _ in hogs:
            t.join(45)
        done = sum(1 for _, box in hogs if box and box[0][0] == 200)
        check("saturated backend: the 40 proxied requests all answered",
              done == 40, "%d of 40" % done)
    srv.stop()
    srv.check_error_log("proxy")
    if not skip_unless_fastevent("proxied requests wait in line"):
        proxy_line(bport)
    backend.shutdown()
    wsb.shutdown()


def scenario_buckets():
    """ListenCoresBucketsRatio with more buckets than processes may run:
    every connection is served, and the server says once what it did."""
    if (os.cpu_count() or 1) < 2:
        note("buckets: skipped, one CPU gives one bucket")
        return
    if skip_unless_fastevent("fewer buckets than asked for"):
        return
    srv = server("ListenCoresBucketsRatio 1\n"
                 + sizing(ServerLimit=1, StartServers=1, ThreadsPerChild=5,
                          MaxRequestWorkers=5, MinSpareThreads=1,
                          MaxSpareThreads=5))
    srv.start()
    codes = [fe_test.get(srv.port, "/index.html", timeout=2)[0]
             for _ in range(40)]
    check("buckets: ServerLimit 1 with 2 buckets asked: 40 of 40 new "
          "connections served", codes.count(200) == 40,
          "%d served, others %s" % (codes.count(200),
                                    sorted(set(codes) - {200})))
    lines = [l for l in srv.log_lines() if "ListenCoresBucketsRatio asks" in l]
    check("buckets: said once, with the reason", len(lines) == 1,
          (lines[0][-160:] if lines else "no line"))
    srv.stop()
    srv.check_error_log("buckets")
    srv2 = server("ListenCoresBucketsRatio 1\n"
                  + sizing(ServerLimit=4, StartServers=1, ThreadsPerChild=5,
                           MaxRequestWorkers=20, MinSpareThreads=1,
                           MaxSpareThreads=20), port_off=4)
    srv2.start()
    codes = [fe_test.get(srv2.port, "/index.html", timeout=2)[0]
             for _ in range(40)]
    check("buckets: StartServers 1 with 2 buckets: every bucket gets a "
          "process, 40 of 40 served", codes.count(200) == 40,
          "%d served" % codes.count(200))
    srv2.stop()


def busy_samples(srv, seconds):
    """BusyWorkers from ?auto every 100 ms for seconds."""
    out, end = [], time.time() + seconds
    while time.time() < end:
        st = srv.status(timeout=2)
        if "BusyWorkers" in st:
            out.append(int(st["BusyWorkers"]))
        time.sleep(0.1)
    return out


def scenario_status():
    """mod_status: workers between keep-alive requests are not busy; old
    processes draining after a graceful restart stay visible."""
    backend = slow_backend(OPTS.port + 44)
    srv = server(sizing(StartServers=2, ServerLimit=4, ThreadsPerChild=10,
                        MaxRequestWorkers=20, MinSpareThreads=5,
                        MaxSpareThreads=20)
                 + proxy_conf(OPTS.port + 44) + fe_test.STATUS_CONF,
                 mods=PROXY_MODS)
    srv.start()

    def pacer(stop):
        s = socket.create_connection((HOST, srv.port), timeout=5)
        f = s.makefile("rb")
        while not stop:
            s.sendall(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
            while f.readline() not in (b"\r\n", b""):
                pass
            f.read(6)
            time.sleep(0.02)
        s.close()

    stop = []
    pacers = [in_thread(pacer, stop) for _ in range(8)]
    samples = busy_samples(srv, 3)
    stop.append(1)
    for t, _ in pacers:
        t.join(5)
    samples.sort()
    median = samples[len(samples) // 2] if samples else -1
    check("status: 8 keep-alive clients pausing 20 ms between requests: "
          "BusyWorkers stays low (median <= 3)", 0 <= median <= 3,
          "median %d, max %d of %d samples" % (median, max(samples or [-1]),
                                               len(samples)))
    # a graceful restart while old processes still run slow requests
    old = srv.children()
    slow = [in_thread(fe_test.get, srv.port, "/proxy/sleep/5000", 15)
            for _ in range(4)]
    time.sleep(0.5)
    srv.send(signal.SIGUSR1)
    time.sleep(1.5)
    code, page = fe_test.get(srv.port, "/server-status", timeout=3)
    page = page.decode(errors="replace")
    shown = [p for p in old if str(p) in page]
    check("status: after a graceful restart the draining old processes are "
          "on the page with their pids", code == 200 and shown,
          "old %s, shown %s" % (old, shown))
    for t, _ in slow:
        t.join(15)
    srv.stop()
    srv.check_error_log("status")
    if skip_unless_fastevent("old and new processes sharing slots"):
        backend.shutdown()
        return
    full = server(sizing(StartServers=2, ServerLimit=2, ThreadsPerChild=5,
                         MaxRequestWorkers=10, MinSpareThreads=2,
                         MaxSpareThreads=10)
                  + proxy_conf(OPTS.port + 44) + fe_test.STATUS_CONF,
                  port_off=5, mods=PROXY_MODS)
    full.start()
    old = full.children()
    slow = [in_thread(fe_test.get, full.port, "/proxy/sleep/5000", 15)
            for _ in range(4)]
    time.sleep(0.5)
    full.send(signal.SIGUSR1)
    ok = fe_test.wait_for(lambda: full.status().get(
        "FastEventSharedSlotProcesses", "0") != "0", 5)
    code, page = fe_test.get(full.port, "/server-status", timeout=3)
    page = page.decode(errors="replace")
    check("status: slots shared by old and new processes: the page says so, "
          "with the old pids", ok and "Older-generation processes" in page
          and any(str(p) in page for p in old),
          "old %s" % old)
    for t, _ in slow:
        t.join(15)
    full.stop()
    full.check_error_log("status, shared slots")
    backend.shutdown()


SCENARIOS = [
    ("signals", scenario_signals),
    ("maxworkers", scenario_maxworkers),
    ("sb_full", scenario_sb_full),
    ("busy", scenario_busy),
    ("startup_failure", scenario_startup_failure),
    ("reqtimeout", scenario_reqtimeout),
    ("proxy", scenario_proxy),
    ("buckets", scenario_buckets),
    ("status", scenario_status),
]


def main():
    global OPTS
    ap = fe_test.arg_parser(8661, event=True)
    ap.add_argument("--only", default="",
                    help="comma-separated scenarios: "
                    + ",".join(n for n, _ in SCENARIOS))
    OPTS = fe_test.parse(ap)
    if not os.path.exists(OPTS.module):
        print("%s is missing: build it with make -f Makefile.apxs"
              % OPTS.module)
        return 2
    fe_test.raise_open_files()
    only = set(filter(None, OPTS.only.split(",")))
    fe_test.timed_notes()
    for name, fn in SCENARIOS:
        if only and name not in only:
            continue
        note("scenario %s (%s)" % (name, OPTS.name))
        try:
            fn()
        except Exception as e:          # a broken scenario fails, the run goes on
            check("%s: ran to the end" % name, False, repr(e)[:200])
        finally:
            for s in SERVERS:
                s.stop_if_running()
                s.cleanup()
            del SERVERS[:]
    return fe_test.summary("dropin")


if __name__ == "__main__":
    sys.exit(main())
