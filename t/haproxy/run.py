#!/usr/bin/env python3
"""Two mpm_fastevent nodes behind HAProxy, with the configuration of
docs/scaling.md.

The Apache and HAProxy configurations are read from docs/scaling.md: the
fenced blocks after "<!-- t/haproxy: apache -->", "<!-- t/haproxy:
haproxy.cfg -->" and, for the X-Forwarded-For variant, "apache-xff" and
"haproxy-xff".  So the documented configuration is the tested one.  Only
what cannot run unprivileged on one host is rewritten (addresses, ports,
paths; user/group/chroot/daemon dropped, log to stdout), and every rewrite
must match exactly once: a change to the document that this driver does
not know about fails the run instead of being silently ignored.

Everything runs on loopback:

    client 127.0.0.1 (or 127.0.0.2) -> HAProxy 127.0.0.1:BASE
    HAProxy, from 127.0.0.3, PROXY v2 -> node1 127.0.0.1:BASE+1
                                      -> node2 127.0.0.1:BASE+2
    HAProxy stats page and Prometheus exporter on 127.0.0.1:BASE+3
    node3 (stock event MPM, must fail the check) on 127.0.0.1:BASE+4

HAProxy's source address (127.0.0.3) differs from the clients', so an
access log line with the client's address proves that the node took it
from the PROXY header (or X-Forwarded-For).

Checks, with the PROXY protocol: the documented sizing rule, configtests,
both nodes UP (admin socket, stats page, Prometheus) and the stock-event
node DOWN, requests spread over both nodes, the client address in the
nodes' logs, health checks from HAProxy's address and not in the access
log, no connection reuse across clients, the PROXY header mandatory,
/server-status restricted, graceful restarts of node1 under load with 0
failures and 0 refused connections, drain/ready through the admin socket,
node1 stopped under load (DOWN, 0 failures, node2 takes the traffic) and
started again (UP, traffic back).  With X-Forwarded-For: client addresses,
a spoofed header, reuse across clients, graceful restarts under load.

Needs /usr/sbin/haproxy (prints "SKIP: haproxy not installed" and exits 0
without it) and .libs/mod_mpm_fastevent.so.  Runs as root (Apache as
www-data) or as an ordinary user.  Bounded: about 30 s, at most 85 s.
Starts its processes itself, stops them by PID.  Closes with
"haproxy: N passed, N failed"; exit status 1 on failure, when the
temporary directory (configurations, logs) is kept and its path printed.

Usage: t/haproxy/run.py [--module PATH] [--name mpm_fastevent_module]
                        [--port BASE] [--keep]
"""
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TREE = os.path.dirname(os.path.dirname(HERE))
DOC = os.path.join(TREE, "docs", "scaling.md")
sys.path.insert(0, os.path.join(TREE, "t", "lib"))
import fe_test  # noqa: E402  (t/lib)
from fe_test import MODDIR, check, note  # noqa: E402
HAPROXY = "/usr/sbin/haproxy"
DEADLINE = 85                   # seconds, the whole run
CLIENT = "127.0.0.1"            # the usual client address
CLIENT2 = "127.0.0.2"           # a second client address
HAPROXY_SRC = "127.0.0.3"       # HAProxy's source address towards the nodes
fe_test.timed_notes()           # notes carry the seconds since the start


class Timeout(Exception):
    pass


# ------------------------------------------------------------ the document

def doc_block(text, tag):
    """The fenced block that follows '<!-- t/haproxy: TAG -->'."""
    m = re.search(r"<!-- t/haproxy: %s -->\s*\n```[^\n]*\n(.*?)\n```"
                  % re.escape(tag), text, re.S)
    if not m:
        raise RuntimeError("docs/scaling.md: no block tagged %r" % tag)
    return m.group(1) + "\n"


def rewrite(text, rules, what):
    """Apply (regex, replacement) rules; each must match exactly once."""
    for pat, rep in rules:
        new, n = re.subn(pat, rep, text, flags=re.M)
        if n != 1:
            raise RuntimeError("docs/scaling.md (%s): %r matched %d times, "
                               "expected once" % (what, pat, n))
        text = new
    return text


def directive(text, name):
    m = re.search(r"^\s*%s\s+(\S+)" % name, text, re.M)
    if not m:
        raise RuntimeError("docs/scaling.md: no %s" % name)
    return m.group(1)


# ------------------------------------------------------------------ HTTP

def via_proxy(port, path="/index.html", src=CLIENT, timeout=5.0,
              headers=None):
    """GET on a fresh connection; returns (status, body) or (-1, error)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                   source_address=(src, 0))
    h = {"Connection": "close"}
    h.update(headers or {})
    try:
        c.request("GET", path, headers=h)
        r = c.getresponse()
        return r.status, r.read()
    except (OSError, http.client.HTTPException) as e:
        return -1, repr(e).encode()
    finally:
        c.close()


def proxy_v1(src, sport, dst, dport):
    return ("PROXY TCP4 %s %s %d %d\r\n" % (src, dst, sport, dport)).encode()


def direct(port, path="/index.html", proxy=True, src=CLIENT, claim=None,
           timeout=5.0):
    """GET straight to a node, with a PROXY v1 header (like curl
    --haproxy-protocol) or without one.  claim: the client address the
    header states (default: the real source address).  Returns
    (status, body) as fe_test.get() does: status -4 = closed (or reset)
    without a response."""
    def header(s):
        me = s.getsockname()
        return proxy_v1(claim or me[0], me[1], "127.0.0.1", port)
    return fe_test.get(port, path, timeout=timeout, src=src,
                       preamble=header if proxy else None)


class Load(threading.Thread):
    """Sequential GETs through HAProxy until stopped, on fresh connections
    or on one keep-alive connection.  Records (time, node or error)."""

    def __init__(self, port, keepalive, src=CLIENT):
        super().__init__(daemon=True)
        self.port, self.keepalive, self.src = port, keepalive, src
        self.log = []
        self.stop_flag = False

    def run(self):
        conn = None
        end = time.time() + 60                    # hard bound
        while not self.stop_flag and time.time() < end:
            t = time.time()
            if self.keepalive:
                if conn is None:
                    conn = http.client.HTTPConnection(
                        "127.0.0.1", self.port, timeout=10,
                        source_address=(self.src, 0))
                try:
                    conn.request("GET", "/index.html")
                    r = conn.getresponse()
                    st, body = r.status, r.read()
                except (OSError, http.client.HTTPException) as e:
                    st, body = -1, repr(e).encode()
                    conn.close()
                    conn = None
            else:
                st, body = via_proxy(self.port, timeout=10, src=self.src)
            if st == 200 and body.strip() in (b"node1", b"node2"):
                self.log.append((t, body.strip().decode()))
            else:
                self.log.append((t, "ERR %s %s" % (st, body[:80])))
            time.sleep(0.005)
        if conn is not None:
            conn.close()

    def failures(self, since=0.0):
        return [r for t, r in self.log if t >= since and r.startswith("ERR")]

    def served(self, node, since=0.0, until=1e18):
        return sum(1 for t, r in self.log if since <= t < until and r == node)


def run_load(port, seconds, action=None):
    """A fresh-connection and a keep-alive client for `seconds`, calling
    action() (if any) 0.5 s in.  Returns the two clients."""
    clients = [Load(port, False), Load(port, True)]
    for c in clients:
        c.start()
    t0 = time.time()
    time.sleep(0.5)
    if action:
        action()
    time.sleep(max(0.0, seconds - (time.time() - t0)))
    for c in clients:
        c.stop_flag = True
    for c in clients:
        c.join(15)
    return clients


def summary(clients, since=0.0):
    fails = [f for c in clients for f in c.failures(since)]
    n = sum(1 for c in clients for t, _ in c.log if t >= since)
    return n, fails


# ------------------------------------------------------------- processes

# What follows the common head of a node's httpd.conf.
NODE_BODY = """DirectoryIndex index.html
# the block from docs/scaling.md
Include %s/haproxy-node.conf
# test only: HAProxy's health checks in a log of their own
CustomLog %s/logs/check.log fe_proxied env=fe_check
"""


class Node(fe_test.Server):
    """One apache2 with mpm_fastevent (or mpm: (name, .so)) and the
    documented node config, in top/name; its / says its name."""

    mods = ("authz_core", "authz_host", "mime", "dir", "status", "remoteip",
            "setenvif")

    def __init__(self, opts, top, name, port, node_conf, proxy, mpm=None):
        self.proxy = proxy              # the node wants a PROXY header
        where = os.path.join(top, name)
        super().__init__(mpm or (opts.name, opts.module), port,
                         NODE_BODY % (where, where),
                         docs={"index.html": name + "\n"}, where=where,
                         name=name, env=dict(os.environ, APACHE_LOG_DIR=(
                             os.path.join(where, "logs"))))
        with open(os.path.join(self.dir, "haproxy-node.conf"), "w") as f:
            f.write(node_conf)

    def answers(self):
        st, body = direct(self.port, proxy=self.proxy, timeout=1)
        return st == 200 and body.strip() == self.name.encode()


class HAProxy:
    def __init__(self, top, cfg_text):
        self.dir = top
        self.cfg = os.path.join(top, "haproxy.cfg")
        self.sock = os.path.join(top, "admin.sock")
        self.logfile = os.path.join(top, "haproxy.log")
        with open(self.cfg, "w") as f:
            f.write(cfg_text)
        self.proc = None

    def configtest(self):
        p = subprocess.run([HAPROXY, "-c", "-f", self.cfg],
                           capture_output=True, text=True)
        return p.returncode == 0, (p.stdout + p.stderr).strip()

    def start(self):
        # -db: stay in the foreground (no daemon, no master); we keep the pid
        self.log_fh = open(self.logfile, "ab")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.cfg],
                                     stdout=self.log_fh,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("haproxy exited with %d: %s" % (
                    self.proc.returncode, self.read()[-2000:]))
            if os.path.exists(self.sock):
                try:
                    self.cmd("show info")
                    return
                except OSError:
                    pass
            time.sleep(0.1)
        raise RuntimeError("haproxy's stats socket did not come up")

    def cmd(self, line):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        try:
            s.connect(self.sock)
            s.sendall(line.encode() + b"\n")
            return fe_test.recv_all(s).decode(errors="replace")
        finally:
            s.close()

    def states(self, backend="be_apache"):
        """{server: status} from 'show stat': UP, DOWN, DRAIN, MAINT, or
        in transition: 'UP 1/2' (going down, or no check done yet at
        start-up), 'DOWN 1/2' (going up)."""
        return {k: v[0] for k, v in
                parse_csv_states(self.cmd("show stat"), backend).items()}

    def wait_state(self, server, want, limit, backend="be_apache"):
        """Wait until the server's status is exactly `want`; for UP, also
        until its last health check passed (check_status L7OK)."""
        deadline = time.time() + limit
        st = None
        while time.time() < deadline:
            st, chk = parse_csv_states(self.cmd("show stat"),
                                       backend).get(server, (None, None))
            if st == want and (want != "UP" or chk == "L7OK"):
                return True, "%s (%s)" % (st, chk)
            time.sleep(0.1)
        return False, st

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()                       # hard stop: at once
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log_fh.close()

    def read(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def parse_csv_states(text, backend):
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        return {}
    head = lines[0][2:].split(",")
    out = {}
    for line in lines[1:]:
        row = dict(zip(head, line.split(",")))
        if row.get("pxname") == backend and \
                row.get("svname") not in ("FRONTEND", "BACKEND"):
            out[row["svname"]] = (row.get("status", ""),
                                  row.get("check_status", ""))
    return out


# ------------------------------------------------------------------ ports

def port_free(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_ports(base, n=5):
    want = [base + i for i in range(n)]
    if all(port_free(p) for p in want):
        return want
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    note("ports %d-%d are busy, using %s" % (base, base + n - 1, ports))
    return ports


def addr_usable(addr):
    s = socket.socket()
    try:
        s.bind((addr, 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


# -------------------------------------------------------------- the test

def log_lines(node, name="access.log"):
    """Access log lines: (client %a, peer %{c}a, request, status, %k)."""
    out = []
    for line in node.read_log(name).splitlines():
        m = re.match(r'(\S+) (\S+) \S+ \S+ \[[^]]*\] "([^"]*)" (\d+) '
                     r'\S+ \d+ (\d+) ', line)
        if m:
            out.append(m.groups())
    return out


def retry_lines(text):
    """HAProxy httplog lines whose retries field is not 0 ('+' =
    redispatched)."""
    return re.findall(r" [-\w]{4} \d+/\d+/\d+/\d+/\+?[1-9]\d* ", text)


class DirectLoad(threading.Thread):
    """Sequential GETs straight to a node (PROXY v1 header) until stopped:
    does the node ever refuse or drop a connection?"""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.ok = 0
        self.bad = []
        self.stop_flag = False

    def run(self):
        end = time.time() + 60
        while not self.stop_flag and time.time() < end:
            st, body = direct(self.port, timeout=10)
            if st == 200:
                self.ok += 1
            else:
                self.bad.append("%s %s" % (st, body[:60]))
            time.sleep(0.005)


def configs(top, ports, variant):
    """(node config, haproxy.cfg) for 'proxy' (the main configuration of
    docs/scaling.md) or 'xff' (its X-Forwarded-For variant)."""
    text = open(DOC).read()
    node_block = doc_block(text, "apache")
    ha_block = doc_block(text, "haproxy.cfg")
    fe, p1, p2, pstats, p3 = ports
    if variant == "xff":
        node_block = rewrite(node_block, [
            (r"^RemoteIPProxyProtocol On\n",
             doc_block(text, "apache-xff").replace("\\", "\\\\")),
            (r"^(RemoteIPInternalProxy .*)\b10\.0\.0\.5\b",
             r"\g<1>%s" % HAPROXY_SRC),
        ], "apache-xff")
        ha_block = rewrite(ha_block, [
            (r"^backend be_apache\n(?:[ \t]+\S.*\n)*",
             doc_block(text, "haproxy-xff").replace("\\", "\\\\")),
        ], "haproxy-xff")
    node_conf = rewrite(node_block, [
        (r"^(\s*Require ip .*)\b10\.0\.0\.5\b", r"\g<1>%s" % HAPROXY_SRC),
    ], "apache")
    ha_cfg = rewrite(ha_block, [
        (r"^\s*chroot .*\n", ""),
        (r"^\s*user .*\n", ""),
        (r"^\s*group .*\n", ""),
        (r"^\s*daemon\s*\n", ""),
        (r"^(\s*)log /dev/log (\S+)$", r"\1log stdout format raw \2"),
        (r"^(\s*stats socket )\S+", r"\g<1>%s/admin.sock" % top),
        (r"^(\s*bind ):80$", r"\g<1>127.0.0.1:%d" % fe),
        (r"^(\s*bind )127\.0\.0\.1:8404$", r"\g<1>127.0.0.1:%d" % pstats),
        (r"^(\s*server node1 )\S+$", r"\g<1>127.0.0.1:%d" % p1),
        (r"^(\s*server node2 )\S+$", r"\g<1>127.0.0.1:%d" % p2),
        # test only: HAProxy's own address differs from the clients'
        (r"^(backend be_apache\n)", r"\1    source %s\n" % HAPROXY_SRC),
    ], "haproxy.cfg")
    # test only: the same backend and checks for node3, a node running the
    # stock event MPM, which the health check must keep out
    be = re.search(r"^backend be_apache\n(?:[ \t]+\S.*\n)*", ha_cfg,
                   re.M).group(0)
    be = rewrite(be, [
        (r"^backend be_apache$", "backend be_event"),
        (r"^(\s*server )node1 \S+$", r"\g<1>node3 127.0.0.1:%d" % p3),
        (r"^\s*server node2 .*\n", ""),
    ], "be_event")
    ha_cfg = ha_cfg.rstrip("\n") + "\n\n" + be
    return node_conf, ha_cfg


def bring_up(opts, top, ports, variant):
    node_conf, ha_cfg = configs(top, ports, variant)
    os.makedirs(top)
    if os.geteuid() == 0:
        os.chmod(top, 0o755)            # www-data reads the docroots
    fe, p1, p2, pstats, p3 = ports
    n1 = Node(opts, top, "node1", p1, node_conf, variant == "proxy")
    n2 = Node(opts, top, "node2", p2, node_conf, variant == "proxy")
    n3 = Node(opts, top, "node3", p3, node_conf, variant == "proxy",
              ("mpm_event_module", os.path.join(MODDIR, "mod_mpm_event.so")))
    ha = HAProxy(top, ha_cfg)
    cleanup_list.extend([ha, n1, n2, n3])
    started_list.extend([ha, n1, n2, n3])
    ok, out = n1.configtest()
    check("[%s] apache2 -t accepts the documented node config" % variant,
          ok, out[-300:])
    ok, out = ha.configtest()
    check("[%s] haproxy -c accepts the documented config" % variant,
          ok, out[-300:])
    for n in (n1, n2, n3):
        n.start()
    ha.start()
    note("%s: node1 pid %s, node2 pid %s, haproxy pid %d"
         % (variant, n1.pid(), n2.pid(), ha.proc.pid))
    up = [ha.wait_state(s, "UP", 10) for s in ("node1", "node2")]
    check("[%s] health checks (GET /server-status?auto, expect "
          "'ServerMPM: fastevent') pass: both UP on the stats socket"
          % variant, all(u[0] for u in up), str(ha.states()))
    st, body = direct(p3, "/server-status?auto", proxy=n3.proxy)
    ok, s3 = ha.wait_state("node3", "DOWN", 10, "be_event")
    chk = parse_csv_states(ha.cmd("show stat"), "be_event").get("node3")
    check("[%s] the same check keeps out a node running stock event "
          "(it answers 'ServerMPM: event'): DOWN, L7RSP" % variant,
          st == 200 and b"ServerMPM: event" in body and ok and
          chk == ("DOWN", "L7RSP"), "%s, %s" % (st, chk))
    tear_down(n3)
    return n1, n2, ha


def tear_down(*procs):
    for p in procs:
        p.stop()
        cleanup_list.remove(p)


def spread(fe, n, src=CLIENT, path="/index.html"):
    got = {}
    for _ in range(n):
        st, body = via_proxy(fe, path, src=src)
        k = body.strip().decode() if st == 200 else "ERR %s" % st
        got[k] = got.get(k, 0) + 1
    return got


def spread_ok(got, n, least):
    return got.get("node1", 0) >= least and got.get("node2", 0) >= least \
        and got.get("node1", 0) + got.get("node2", 0) == n


def sizing_rule():
    text = open(DOC).read()
    node_block = doc_block(text, "apache")
    ha_block = doc_block(text, "haproxy.cfg")
    mrw = int(directive(node_block, "MaxRequestWorkers"))
    arwf = float(directive(node_block, "AsyncRequestWorkerFactor"))
    m = re.search(r"^\s*default-server .*\bmaxconn (\d+)", ha_block, re.M)
    p = re.search(r"^\s*default-server .*\bpool-max-conn (\d+)", ha_block,
                  re.M)
    maxconn, poolmax = int(m.group(1)), int(p.group(1))
    check("documented sizing: HAProxy maxconn <= MaxRequestWorkers and "
          "maxconn + pool-max-conn <= MaxRequestWorkers x (factor + 1)",
          maxconn <= mrw and maxconn + poolmax <= mrw * (arwf + 1),
          "maxconn %d, pool-max-conn %d, MaxRequestWorkers %d, factor %g"
          % (maxconn, poolmax, mrw, arwf))


def scenario_proxy(opts, top, ports):
    fe, p1, p2, pstats, p3 = ports
    n1, n2, ha = bring_up(opts, os.path.join(top, "proxy"), ports, "proxy")
    nodes = [n1, n2]

    st, body = via_proxy(pstats, "/;csv")
    page = parse_csv_states(body.decode(errors="replace"), "be_apache") \
        if st == 200 else {}
    check("the stats page says both UP, last check L7OK",
          page.get("node1") == ("UP", "L7OK") and
          page.get("node2") == ("UP", "L7OK"), "%s %s" % (st, page))
    st, body = via_proxy(pstats, "/metrics")
    prom = body.decode(errors="replace")
    check("the Prometheus exporter says both UP",
          all(re.search(r'^haproxy_server_status\{proxy="be_apache",server='
                        r'"%s",state="UP"\} 1$' % s, prom, re.M)
              for s in ("node1", "node2")), "status %s" % st)

    # --- spread
    got = spread(fe, 40)
    check("40 requests through HAProxy: all 200, spread over both nodes",
          spread_ok(got, 40, 10), str(got))
    c = http.client.HTTPConnection("127.0.0.1", fe, timeout=5)
    ka = {}
    try:
        for _ in range(20):
            c.request("GET", "/index.html?keep-alive")
            r = c.getresponse()
            b = r.read().strip().decode()
            k = b if r.status == 200 else "ERR %s" % r.status
            ka[k] = ka.get(k, 0) + 1
    except (OSError, http.client.HTTPException) as e:
        ka["error"] = repr(e)
    finally:
        c.close()
    check("20 keep-alive requests on one client connection: all 200, both "
          "nodes", spread_ok(ka, 20, 1), str(ka))

    # --- the client address seen by the nodes
    st, body = via_proxy(fe, "/index.html?from-second-client", src=CLIENT2)
    time.sleep(0.3)
    lines = log_lines(n1) + log_lines(n2)
    mine = [l for l in lines if l[2].startswith("GET /index.html")
            and "second" not in l[2] and l[1] == HAPROXY_SRC]
    check("access logs: requests through HAProxy logged with %%a = %s "
          "(the client; HAProxy connects from %s, %%{c}a)"
          % (CLIENT, HAPROXY_SRC),
          len(mine) == 60 and all(l[0] == CLIENT for l in mine),
          "%d lines, %%a %s" % (len(mine), sorted(set(l[0] for l in mine))))
    second = [l for l in lines if "from-second-client" in l[2]]
    check("access logs: a client on %s is logged as %s" % (CLIENT2, CLIENT2),
          st == 200 and len(second) == 1 and second[0][0] == CLIENT2,
          str(second))
    fresh = [l for l in mine if "keep-alive" not in l[2]]
    kal = [l for l in mine if "keep-alive" in l[2]]
    check("PROXY protocol: no client connection shares a server connection "
          "with another (%k = 0 on every fresh-connection request)",
          fresh and all(l[4] == "0" for l in fresh),
          "%d of %d reused; keep-alive client: %d of %d" % (
              sum(1 for l in fresh if l[4] != "0"), len(fresh),
              sum(1 for l in kal if l[4] != "0"), len(kal)))
    checks_logged = [l for l in lines if "/server-status" in l[2]]
    check("access logs: health checks are not logged (env=!fe_check)",
          not checks_logged, "%d lines" % len(checks_logged))
    hc = log_lines(n1, "check.log") + log_lines(n2, "check.log")
    check("health checks (PROXY v2 LOCAL header) are seen from HAProxy's "
          "own address %s, status 200" % HAPROXY_SRC,
          hc and all(l[0] == HAPROXY_SRC and l[1] == HAPROXY_SRC and
                     l[3] == "200" for l in hc),
          "%d checks, %s" % (len(hc), sorted(set((l[0], l[1], l[3])
                                                 for l in hc))))

    # --- PROXY header mandatory on the nodes
    before = len(n1.read_log("access.log").splitlines())
    st, body = direct(p1, proxy=False)
    time.sleep(0.2)
    after = len(n1.read_log("access.log").splitlines())
    check("direct request to a node without a PROXY header: connection "
          "closed without a response, no access log line",
          st == -4 and after == before, "%s %r, access log lines %d -> %d"
          % (st, body[:60], before, after))
    st, body = direct(p1, "/index.html", proxy=True)
    check("direct request with a PROXY v1 header (curl --haproxy-protocol) "
          "is served", st == 200 and body.strip() == b"node1", str(st))

    # --- /server-status restricted, the FastEvent lines
    st, body = direct(p1, "/server-status?auto", src=CLIENT)
    status = body.decode(errors="replace")
    check("/server-status?auto on the node for 127.0.0.1 (PROXY v1): 200, "
          "ServerMPM: fastevent and the FastEvent load lines",
          st == 200 and "ServerMPM: fastevent" in status and all(
              re.search(r"^%s: \d+$" % k, status, re.M) for k in
              ("FastEventQueueDepth", "FastEventHandoffP99us",
               "FastEventProcessesNotAccepting")), "status %s" % st)
    vals = dict(re.findall(r"^(\w+): (\d+)$", status, re.M))
    note("node1: " + ", ".join(
        "%s %s" % (k, vals.get(k, "?"))
        for k in ("FastEventProcesses", "FastEventQueueDepth",
                  "FastEventHandoffP99us", "FastEventProcessesNotAccepting",
                  "ConnsAsyncKeepAlive")))
    st, _ = direct(p1, "/server-status?auto", src=CLIENT2)
    check("/server-status on the node for %s (not in Require ip): 403"
          % CLIENT2, st == 403, str(st))
    st, _ = via_proxy(fe, "/server-status?auto")
    check("/server-status through HAProxy: 403 (http-request deny)",
          st == 403, str(st))

    # --- graceful restarts of node1 under load
    pid1 = n1.pid()
    g0 = n1.read_log("error_log").count("FE10110")
    marks = []

    def graceful():
        for _ in range(3):
            marks.append(time.time())
            os.kill(pid1, signal.SIGUSR1)
            time.sleep(1.2)
    mark = len(ha.read())
    dl = DirectLoad(p1)
    dl.start()
    clients = run_load(fe, 5.0, graceful)
    dl.stop_flag = True
    dl.join(15)
    n, fails = summary(clients)
    check("3 graceful restarts of node1 under sequential load (fresh and "
          "keep-alive clients): 0 failed requests",
          n > 100 and not fails, "%d requests, %d failed %s"
          % (n, len(fails), fails[:3]))
    note("HAProxy log lines with retries during the graceful restarts: %d"
         % len(retry_lines(ha.read()[mark:])))
    check("node1's listener stayed open: a direct client (PROXY v1) during "
          "the 3 graceful restarts had 0 refused or failed connections",
          dl.ok > 50 and not dl.bad, "ok %d, failed %d %s"
          % (dl.ok, len(dl.bad), dl.bad[:3]))
    g1 = n1.read_log("error_log").count("FE10110")
    after_last = sum(c.served("node1", marks[-1] + 0.5) for c in clients) \
        if marks else 0
    check("node1 restarted gracefully 3 times (same parent, FE10110) and "
          "served after the last one",
          n1.pid() == pid1 and g1 - g0 == 3 and after_last > 0,
          "FE10110 x%d, %d requests served after" % (g1 - g0, after_last))
    st = ha.states()
    check("node1 stayed UP through the graceful restarts",
          st.get("node1", "").startswith("UP"), str(st))

    # --- drain through the stats socket
    ha.cmd("set server be_apache/node1 state drain")
    ok, s1 = ha.wait_state("node1", "DRAIN", 3)
    drained = spread(fe, 20)
    check("'set server be_apache/node1 state drain': node1 DRAIN, all new "
          "requests go to node2",
          ok and drained == {"node2": 20}, "%s, %s" % (s1, drained))
    ha.cmd("set server be_apache/node1 state ready")
    ok, s1 = ha.wait_state("node1", "UP", 3)
    back = spread(fe, 10)
    check("'state ready': node1 UP and served again",
          ok and spread_ok(back, 10, 1), "%s %s" % (s1, back))

    # --- node1 stopped under load
    down_at = []
    mark = len(ha.read())

    def stop_node1():
        down_at.append(time.time())
        n1.stop(signal.SIGTERM)
        ok, s = ha.wait_state("node1", "DOWN", 10)
        down_at.append(time.time() if ok else None)
        note("node1 stopped; HAProxy says %s after %.1f s"
             % (s, time.time() - down_at[0]))
        time.sleep(1.0)
    clients = run_load(fe, 0.1, stop_node1)
    n, fails = summary(clients)
    check("node1 stopped (SIGTERM) under sequential load: 0 failed requests "
          "(retries + redispatch)", n > 50 and not fails,
          "%d requests, %d failed %s" % (n, len(fails), fails[:3]))
    marked = len(down_at) == 2 and down_at[1] is not None
    check("HAProxy marked node1 DOWN", marked,
          "after %.1f s" % (down_at[1] - down_at[0]) if marked else "")
    if marked:
        late1 = sum(c.served("node1", down_at[1]) for c in clients)
        late2 = sum(c.served("node2", down_at[1]) for c in clients)
        check("after DOWN all the traffic goes to node2",
              late1 == 0 and late2 > 10, "node1 %d, node2 %d"
              % (late1, late2))
    note("HAProxy log lines with retries/redispatches while node1 went "
         "down: %d" % len(retry_lines(ha.read()[mark:])))

    # --- node1 back
    t0 = time.time()
    n1.start()
    ok, s1 = ha.wait_state("node1", "UP", 10)
    check("node1 started again: HAProxy marks it UP", ok,
          "%s after %.1f s" % (s1, time.time() - t0))
    back = spread(fe, 20)
    check("traffic is spread over both nodes again", spread_ok(back, 20, 5),
          str(back))

    logs_clean("proxy", ha, nodes)
    tear_down(ha, n1, n2)


def scenario_xff(opts, top, ports):
    fe, p1, p2, pstats, p3 = ports
    n1, n2, ha = bring_up(opts, os.path.join(top, "xff"), ports, "xff")
    nodes = [n1, n2]
    got = spread(fe, 40, src=CLIENT2)
    check("[xff] 40 requests through HAProxy: all 200, both nodes",
          spread_ok(got, 40, 10), str(got))
    st, _ = via_proxy(fe, "/index.html?spoofed", src=CLIENT2,
                      headers={"X-Forwarded-For": "10.9.9.9"})
    time.sleep(0.3)
    lines = log_lines(n1) + log_lines(n2)
    mine = [l for l in lines if l[2].startswith("GET /index.html ")
            and l[1] == HAPROXY_SRC]
    check("[xff] access logs: %%a = %s, the client (from X-Forwarded-For)"
          % CLIENT2, len(mine) == 40 and all(l[0] == CLIENT2 for l in mine),
          "%d lines, %%a %s" % (len(mine), sorted(set(l[0] for l in mine))))
    spoofed = [l for l in lines if "spoofed" in l[2]]
    check("[xff] a client's own X-Forwarded-For: 10.9.9.9 is not believed",
          st == 200 and len(spoofed) == 1 and spoofed[0][0] == CLIENT2,
          str(spoofed))
    reused = sum(1 for l in mine if l[4] != "0")
    check("[xff] http-reuse always: most fresh client connections are "
          "served over reused server connections (%k > 0)",
          reused >= len(mine) // 2, "%d of %d" % (reused, len(mine)))
    st, body = direct(p1, "/index.html", proxy=False)
    check("[xff] a direct request without any header is served",
          st == 200 and body.strip() == b"node1", str(st))
    st, _ = via_proxy(fe, "/server-status?auto")
    check("[xff] /server-status through HAProxy: 403", st == 403, str(st))
    pid1 = n1.pid()

    def graceful():
        for _ in range(2):
            os.kill(pid1, signal.SIGUSR1)
            time.sleep(1.2)
    mark = len(ha.read())
    clients = run_load(fe, 3.5, graceful)
    n, fails = summary(clients)
    check("[xff] 2 graceful restarts of node1 under sequential load with "
          "http-reuse always: 0 failed requests",
          n > 100 and not fails, "%d requests, %d failed %s"
          % (n, len(fails), fails[:3]))
    note("xff: HAProxy log lines with retries during the graceful restarts: "
         "%d" % len(retry_lines(ha.read()[mark:])))
    logs_clean("xff", ha, nodes)
    tear_down(ha, n1, n2)


def logs_clean(variant, ha, nodes):
    bad = [l for l in ha.read().splitlines()
           if "[ALERT]" in l and "'be_event'" not in l]
    check("[%s] no ALERT in HAProxy's output" % variant, not bad,
          "; ".join(bad[:3]))
    for n in nodes:
        n.check_error_log("[%s] %s" % (variant, n.name))


def scenario(opts, top):
    sizing_rule()
    ports = pick_ports(opts.port)
    note("HAProxy 127.0.0.1:%d, node1 :%d, node2 :%d, stats :%d, "
         "node3 (stock event) :%d" % tuple(ports))
    scenario_proxy(opts, top, ports)
    scenario_xff(opts, top, ports)


cleanup_list = []      # processes still to stop
started_list = []      # every process, for the logs after a failure


def main():
    ap = fe_test.arg_parser(int(os.environ.get("FE_HAPROXY_PORT", "8581")))
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp directory (configs, logs)")
    opts = fe_test.parse(ap)

    if not os.access(HAPROXY, os.X_OK):
        print("SKIP: haproxy not installed")
        return 0
    # What the run needs: when it is missing, one failed check, and done.
    if not os.path.exists(opts.module):
        check("the module is built", False, "%s is missing: build it with "
              "make -f Makefile.apxs" % opts.module)
        return fe_test.summary("haproxy")
    for a in (CLIENT2, HAPROXY_SRC):
        if not addr_usable(a):
            check("%s can be bound" % a, False,
                  "the test needs 127.0.0.0/8 on lo")
            return fe_test.summary("haproxy")

    top = tempfile.mkdtemp(prefix="fe-haproxy-")
    if os.geteuid() == 0:
        os.chmod(top, 0o755)            # www-data reads the docroots

    def on_alarm(signum, frame):
        raise Timeout("the run took more than %d s" % DEADLINE)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(DEADLINE)
    try:
        scenario(opts, top)
    except Exception as e:              # a broken scenario is a failure
        check("the scenario ran to its end", False, repr(e))
    finally:
        signal.alarm(0)
        for p in cleanup_list:
            try:
                if isinstance(p, Node):
                    p.stop_if_running(limit=15)
                else:
                    p.stop()
            except Exception as e:
                print("# warning: cleanup: %r" % e)
    failed = fe_test.failed()
    if failed:
        for p in started_list:
            if isinstance(p, HAProxy):
                print("# --- end of HAProxy's log (%s)" % p.dir)
                for l in p.read().splitlines()[-15:]:
                    print("#   " + l)
            else:
                print("# --- end of %s's error_log (%s)" % (p.name, p.dir))
                for l in p.read_log("error_log").splitlines()[-10:]:
                    print("#   " + l)
    if opts.keep or failed:
        print("# logs and configs kept in %s" % top)
    else:
        shutil.rmtree(top, ignore_errors=True)
    note("done")
    return fe_test.summary("haproxy")


if __name__ == "__main__":
    sys.exit(main())
