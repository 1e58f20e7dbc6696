"""What the Python test drivers share (t/restarts, t/hostile, t/haproxy,
t/soak): the tally of checks and its closing line, a server with a
generated configuration (started, signalled and stopped by the pid in its
PidFile, its error log scanned for crashes), plain HTTP and HTTPS requests
on loopback, a throw-away TLS certificate, and the backends a reverse
proxy talks to (a small Python HTTP server, PHP-FPM).  Only processes the
driver started are touched.

A check prints "ok - NAME" or "not ok - NAME", with ": DETAIL" after it
when there is a detail; a note prints "# ..."; summary(LABEL) prints the
closing line "LABEL: N passed, N failed", which CI reads, and returns the
exit status.
"""
import argparse
import glob
import http.server
import multiprocessing
import os
import pwd
import re
import resource
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time

HTTPD = os.environ.get("FE_TEST_HTTPD", "/usr/sbin/apache2")
MODDIR = "/usr/lib/apache2/modules"
HOST = "127.0.0.1"
TREE = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Error-log lines that mean a crash or worse: crit/alert/emerg, a child
# killed by SIGSEGV, a sanitizer report.
CRASH_RE = re.compile(r"\[(\w+:)?(crit|alert|emerg)\]|exit signal Segm|"
                      r"AddressSanitizer|runtime error:")

# mod_status on /server-status, for the drivers' generated configurations.
STATUS_CONF = """ExtendedStatus On
<Location /server-status>
  SetHandler server-status
</Location>
"""

# ------------------------------------------------------------- the tally

results = []        # [(name, passed)] in the order the checks were made
_clock = None       # when notes carry the time since the start: the start


def check(name, ok, detail=""):
    """Record one check and print it; returns whether it passed."""
    ok = bool(ok)
    results.append((name, ok))
    print("%s - %s%s" % ("ok" if ok else "not ok", name,
                          (": " + detail) if detail else ""), flush=True)
    return ok


def note(msg):
    """A comment line in the output ("# msg"), with the seconds since
    timed_notes() was called when it was."""
    if _clock is None:
        print("# " + msg, flush=True)
    else:
        print("# [%5.1f s] %s" % (time.time() - _clock, msg), flush=True)


def timed_notes():
    """From now on every note carries the seconds since this call."""
    global _clock
    _clock = time.time()


def failed():
    """How many checks failed so far."""
    return sum(1 for _, ok in results if not ok)


def summary(label):
    """Print the closing line "LABEL: N passed, N failed" and return the
    exit status: 0 when every check passed, 1 otherwise."""
    bad = failed()
    print("%s: %d passed, %d failed" % (label, len(results) - bad, bad),
          flush=True)
    return 0 if bad == 0 else 1


# ------------------------------------------------------------- options

def arg_parser(port, event=False):
    """The options every driver takes: --module, --name, --port (default
    port) and, with event, --event (the stock event MPM instead, for
    comparison).  parse() reads them."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--module",
                    default=os.path.join(TREE, ".libs",
                                         "mod_mpm_fastevent.so"))
    ap.add_argument("--name", default="mpm_fastevent_module")
    ap.add_argument("--port", type=int, default=port)
    if event:
        ap.add_argument("--event", action="store_true",
                        help="stock event MPM, for comparison")
    return ap


def parse(ap):
    """ap.parse_args(), with --event turned into --module and --name."""
    opts = ap.parse_args()
    if getattr(opts, "event", False):
        opts.module = os.path.join(MODDIR, "mod_mpm_event.so")
        opts.name = "mpm_event_module"
    return opts


def raise_open_files(want=65536):
    """Raise the soft limit of open files towards want (as far as the hard
    limit allows); returns (soft, hard) afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        want = min(hard, want)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard


# ------------------------------------------------------------- processes

def wait_for(ready, limit, every=0.1):
    """Poll ready() until it is true (True) or limit seconds have passed
    (False)."""
    deadline = time.time() + limit
    while time.time() < deadline:
        if ready():
            return True
        time.sleep(every)
    return False


def read_pid(pidfile):
    try:
        with open(pidfile) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def children(pid):
    if pid is None:
        return []
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)],
                         capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def signal_and_wait(pid, sig, limit):
    """Send sig to pid and wait until it is gone: seconds taken, or None
    when it is still there after limit seconds (0.0 if it was not)."""
    if pid is None:
        return 0.0
    t0 = time.time()
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return 0.0
    while time.time() - t0 < limit:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return time.time() - t0
        time.sleep(0.05)
    return None


def fd_count(pid):
    """Open descriptors of pid (0 when it is gone or not readable)."""
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except (OSError, TypeError):
        return 0


def fd_excess(base, now):
    """Descriptors above the baseline, both (parent, [children]) as
    Server.fds() gives them: each process against the baseline of its kind
    (children started later have the same base)."""
    p0, c0 = base
    p1, c1 = now
    cbase = max(c0) if c0 else 0
    return max(0, p1 - p0) + sum(max(0, c - cbase) for c in c1)


class Server:
    """One apache2 with a generated configuration, on HOST:port.

    Its directory (where, or a new temporary one named after prefix) holds
    htdocs/ (docs: {relative path: str or bytes}), logs/ and httpd.conf:
    ServerRoot, the MPM (mpm: (module name, .so path)) and the stock
    modules (mods), Listen, ServerName, PidFile, ErrorLog, LogLevel,
    DocumentRoot, User and Group www-data when run as root, then the
    driver's body.  A driver configures it through these arguments and the
    class attributes below, in a small subclass.
    """

    mods = ("authz_core", "mime", "dir", "status")
    prefix = "fe-test-"     # of the temporary directory
    log_level = "info"
    stop_limit = 15         # seconds stop() waits by default
    kill_late = False       # stop(): SIGKILL a parent still there after it

    def __init__(self, mpm, port, body, docs=None, mods=None, where=None,
                 prefix=None, name="server", env=None, keep=False):
        self.port, self.name, self.env, self.keep = port, name, env, keep
        if mods is not None:
            self.mods = tuple(mods)
        if where is None:
            where = tempfile.mkdtemp(prefix=prefix or self.prefix)
        self.dir = where
        htdocs = os.path.join(self.dir, "htdocs")
        os.makedirs(htdocs)
        os.makedirs(os.path.join(self.dir, "logs"))
        for path, data in (docs or {"index.html": "hello\n"}).items():
            full = os.path.join(htdocs, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb" if isinstance(data, bytes) else "w") as f:
                f.write(data)
        user = ""
        if os.geteuid() == 0:
            user = "User www-data\nGroup www-data\n"
            os.chmod(self.dir, 0o755)       # www-data reads the docroot
        self.conf = os.path.join(self.dir, "httpd.conf")
        with open(self.conf, "w") as f:
            f.write("ServerRoot %s\n" % self.dir)
            f.write("LoadModule %s %s\n" % mpm)
            for m in self.mods:
                f.write("LoadModule %s_module %s/mod_%s.so\n" % (m, MODDIR, m))
            f.write("""TypesConfig /etc/mime.types
Listen %s:%d
ServerName localhost
PidFile %s/logs/httpd.pid
ErrorLog %s/logs/error_log
LogLevel %s
DocumentRoot %s/htdocs
%s%s""" % (HOST, port, self.dir, self.dir, self.log_level, self.dir, user,
           body))

    def argv(self, *args):
        """The httpd command line for this configuration."""
        return [HTTPD, "-f", self.conf] + list(args)

    def configtest(self):
        """`apache2 -t`: (passed, its output)."""
        p = subprocess.run(self.argv("-t"), env=self.env,
                           capture_output=True, text=True)
        return p.returncode == 0, (p.stdout + p.stderr).strip()

    def answers(self):
        """Does the server serve / (index.html) right now?"""
        return get(self.port, "/index.html", timeout=1)[0] == 200

    def start(self, limit=15):
        """`apache2 -k start`, then wait until it answers (RuntimeError
        when it does not within limit seconds)."""
        subprocess.run(self.argv("-k", "start"), check=True, env=self.env)
        if not wait_for(self.answers, limit):
            raise RuntimeError("%s on port %d did not answer"
                               % (self.name, self.port))

    def pid(self):
        """The parent's pid, from the PidFile (None when there is none)."""
        return read_pid(os.path.join(self.dir, "logs", "httpd.pid"))

    def children(self):
        return children(self.pid())

    def send(self, sig):
        """Signal the parent (graceful restart, ...)."""
        pid = self.pid()
        if pid is None:
            raise RuntimeError("%s: no pid in the PidFile" % self.name)
        os.kill(pid, sig)

    def stop(self, sig=signal.SIGTERM, limit=None):
        """Signal the parent and wait until it is gone (stop_limit seconds
        unless limit is given): seconds taken, or None when it is still
        there.  With kill_late the parent and the children it had are then
        killed (SIGKILL), each by its pid."""
        pid = self.pid()
        kids = self.children() if self.kill_late else []
        took = signal_and_wait(pid, sig,
                               self.stop_limit if limit is None else limit)
        if took is None and self.kill_late:
            for p in [pid] + kids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return took

    def stop_if_running(self, limit=15):
        """At the end of a scenario or of the run, whatever happened: stop
        the server if it is still running, with a note if it does not."""
        pid = self.pid()
        if pid is not None and self.stop(limit=limit) is None:
            note("warning: %s (pid %d) did not stop" % (self.name, pid))

    def cleanup(self):
        """Remove the directory (config, logs) unless keep was asked."""
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def fds(self):
        """(parent fd count, [child fd counts])."""
        pid = self.pid()
        return (fd_count(pid) if pid else 0,
                [c for c in (fd_count(k) for k in self.children()) if c])

    def rss_kb(self):
        """The parent's resident set (kB; 0 when it cannot be read)."""
        try:
            with open("/proc/%d/status" % self.pid()) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (OSError, TypeError):
            pass
        return 0

    def status(self, timeout=3):
        """/server-status?auto as {field: value}; {} when it fails."""
        code, body = get(self.port, "/server-status?auto", timeout=timeout)
        out = {}
        if code != 200:
            return out
        for line in body.decode(errors="replace").splitlines():
            k, _, v = line.partition(":")
            out[k.strip()] = v.strip()
        return out

    def read_log(self, name="error_log"):
        """The text of logs/NAME ("" when there is none)."""
        try:
            with open(os.path.join(self.dir, "logs", name),
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_lines(self):
        """The error log's lines."""
        return self.read_log().splitlines()

    def check_error_log(self, what):
        """Check: no crash lines (CRASH_RE) in the error log; the check's
        name starts with "WHAT: " when what is not empty."""
        bad = [l for l in self.log_lines() if CRASH_RE.search(l)]
        return check("%sno crash lines in the error log"
                     % ("%s: " % what if what else ""), not bad,
                     " | ".join(l[-200:] for l in bad[:3]))


# ------------------------------------------------------------------ HTTP

def recv_all(s):
    """Everything the peer sends on socket s until it closes."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def get(port, path="/index.html", timeout=5.0, src=None, preamble=None,
        tls=False, decode=False):
    """One HTTP/1.1 GET of path on a fresh connection to HOST:port, from
    address src when given, after the bytes preamble(socket) returns when
    given (a PROXY header), over TLS when tls (tls_client_context());
    returns (status, body), the body as sent (everything after the head)
    or, with decode, as parse_response() frames it (chunked decoded).
    Instead of a status: 0 no status line, -1 timed out, -2 another error
    (a failed TLS handshake too), -3 the connect failed, -4 closed or
    reset without a response."""
    try:
        s = socket.create_connection(
            (HOST, port), timeout=timeout,
            source_address=(src, 0) if src else None)
    except socket.timeout:
        return (-1, b"connect timeout")
    except OSError as e:
        return (-3, str(e).encode())
    try:
        if preamble is not None:
            s.sendall(preamble(s))
        if tls:
            s = tls_client_context().wrap_socket(s,
                                                 server_hostname="localhost")
        s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n"
                   "Connection: close\r\n\r\n" % path).encode())
        data = recv_all(s)
    except socket.timeout:
        return (-1, b"timeout")
    except ConnectionResetError:
        return (-4, b"reset")
    except OSError as e:
        return (-2, str(e).encode())
    finally:
        s.close()
    if not data:
        return (-4, b"closed without a response")
    if decode:
        p = parse_response(data, eof=True)
        return (p[0], p[2]) if p else (0, data)
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d+)", head)
    return (int(m.group(1)) if m else 0, body)


def build_test_module(name, outdir):
    """Compile the test-only module t/c-modules/<name>.c into outdir;
    returns the .so's path."""
    src = os.path.join(TREE, "t", "c-modules", name + ".c")
    out = os.path.join(outdir, name + ".so")
    inc = subprocess.run(["apxs", "-q", "INCLUDEDIR"], capture_output=True,
                         text=True).stdout.strip()
    apr = subprocess.run(["apr-1-config", "--cflags", "--cppflags",
                          "--includes"], capture_output=True,
                         text=True).stdout.split()
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-I" + inc] + apr +
                   ["-o", out, src], check=True)
    return out


def parse_response(buf, eof=False):
    """The HTTP/1.x response at the start of buf (bytes): (status,
    {lower-case header name: value}, body, rest) once it is complete, None
    before.  The body is framed by Transfer-Encoding: chunked, else by
    Content-Length, else it runs until the server closes (complete only
    with eof=True, the whole of buf).  Interim 1xx responses are skipped;
    a head that is not HTTP gives status 0."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return (0, {}, b"", buf) if eof and buf else None
        lines = buf[:end].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
        status = int(m.group(1)) if m else 0
        heads = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            heads[k] = (heads[k] + ", " if k in heads else "") + v.strip()
        rest = buf[end + 4:]
        if 100 <= status < 200:
            buf = rest
            continue
        break
    if "chunked" in heads.get("transfer-encoding", "").lower():
        body, pos = b"", 0
        while True:
            eol = rest.find(b"\r\n", pos)
            if eol < 0:
                return None
            try:
                size = int(rest[pos:eol].split(b";")[0].strip(), 16)
            except ValueError:
                return (0, heads, body, rest[pos:])
            pos = eol + 2
            if size == 0:
                if rest[pos:pos + 2] == b"\r\n":
                    return status, heads, body, rest[pos + 2:]
                tend = rest.find(b"\r\n\r\n", pos)
                if tend < 0:
                    return None
                return status, heads, body, rest[tend + 4:]
            if len(rest) < pos + size + 2:
                return None
            body += rest[pos:pos + size]
            pos += size + 2
    if "content-length" in heads:
        n = int(heads["content-length"].split(",")[0])
        if len(rest) < n:
            return None
        return status, heads, rest[:n], rest[n:]
    return (status, heads, rest, b"") if eof else None


# ------------------------------------------------------------------- TLS

def make_cert(where):
    """A throw-away self-signed certificate for localhost and 127.0.0.1 (EC
    P-256, valid two days), made with the openssl CLI in the directory
    where, like ssl.t's in t/run-apache-test.sh: (certificate, key)."""
    crt = os.path.join(where, "server.crt")
    key = os.path.join(where, "server.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "2",
                    "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-addext", "basicConstraints=critical,CA:FALSE"],
                   check=True, capture_output=True, timeout=30)
    return crt, key


def tls_client_context():
    """A client context for the test servers' self-signed certificates:
    nothing verified (check_hostname off, CERT_NONE), and a close without
    close_notify read as an ordinary EOF."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.options |= getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    return ctx


def tls_conf(port, crt, key):
    """Configuration text for Server's body: an https listener on
    HOST:port and a mod_ssl virtual host on it (mod_ssl and
    mod_socache_shmcb must be loaded) with the certificate and key given,
    inheriting the main server's document root and locations.  A session
    cache in logs/ (mod_ssl warns without one); a client that does not
    offer a session makes a full handshake all the same."""
    return """Listen %s:%d https
SSLSessionCache shmcb:ssl_scache(512000)
<VirtualHost %s:%d>
    SSLEngine on
    SSLCertificateFile %s
    SSLCertificateKeyFile %s
</VirtualHost>
""" % (HOST, port, HOST, port, crt, key)


# -------------------------------------------------------------- backends

def accepts(port, timeout=0.5):
    """Does something accept TCP connections on HOST:port?"""
    try:
        socket.create_connection((HOST, port), timeout=timeout).close()
        return True
    except OSError:
        return False


class _BackendHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120               # set per connection by _backend_main

    def log_message(self, *args):
        pass

    def _answer(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._answer(b"backend\n")

    def do_POST(self):
        n = 0
        if "chunked" in (self.headers.get("Transfer-Encoding") or ""):
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                n += len(self.rfile.read(size))
                self.rfile.readline()
        else:
            want = int(self.headers.get("Content-Length") or 0)
            while n < want:
                chunk = self.rfile.read(min(65536, want - n))
                if not chunk:
                    return
                n += len(chunk)
        self._answer(b"backend POST %d\n" % n)


class _BackendServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


def _backend_main(port, timeout):
    threading.stack_size(256 * 1024)
    _BackendHandler.timeout = timeout
    _BackendServer((HOST, port), _BackendHandler).serve_forever()


class HttpBackend:
    """A small HTTP/1.1 server on HOST:port, in a process of its own, for a
    reverse proxy to talk to: GET answers "backend\n"; POST reads the
    whole body (Content-Length or chunked) and answers "backend POST N\n".
    A thread per connection; a connection silent for timeout seconds is
    dropped.  start() waits until it accepts connections; stop() ends the
    process by its pid."""

    def __init__(self, port, timeout=120, name="python backend"):
        self.port, self.timeout, self.name = port, timeout, name
        self.proc = None

    def start(self, limit=10):
        ctx = multiprocessing.get_context("fork")
        self.proc = ctx.Process(target=_backend_main,
                                args=(self.port, self.timeout), daemon=True)
        self.proc.start()
        if not wait_for(lambda: accepts(self.port) or
                        not self.proc.is_alive(), limit) \
                or not self.proc.is_alive():
            self.stop()
            raise RuntimeError("%s on port %d did not start"
                               % (self.name, self.port))

    def stop(self, limit=5):
        if self.proc is None:
            return
        self.proc.terminate()               # SIGTERM to its pid
        self.proc.join(limit)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(limit)
        self.proc = None

    def cleanup(self):
        pass


def php_fpm_binary():
    """Debian's PHP-FPM (the newest /usr/sbin/php-fpmX.Y, package
    php-fpm), or None."""
    hits = [h for h in sorted(glob.glob("/usr/sbin/php-fpm*"))
            if os.access(h, os.X_OK)]
    return hits[-1] if hits else None


class PhpFpm:
    """PHP-FPM in the foreground (php_fpm_binary()), one static pool of
    `children` workers listening on HOST:port, with its configuration and
    log in a directory of its own.  It runs as the driver's user, or as
    www-data when the driver is root (PHP-FPM refuses a pool running as
    root; the Server's document root is world-readable then).  start()
    waits until the pool accepts connections; stop() sends SIGTERM to the
    master's pid (which stops its workers) and SIGKILLs the master and
    the workers it had, each by its pid, when it is late.  Requests
    running longer than terminate_after seconds are ended by PHP-FPM."""

    def __init__(self, port, children=5, terminate_after=60, keep=False,
                 name="php-fpm"):
        self.port, self.children, self.keep, self.name = \
            port, children, keep, name
        self.terminate_after = terminate_after
        self.binary = php_fpm_binary()
        self.dir = tempfile.mkdtemp(prefix="fe-fpm-")
        self.conf = os.path.join(self.dir, "php-fpm.conf")
        self.proc = None

    def start(self, limit=15):
        if self.binary is None:
            raise RuntimeError("php-fpm not found (package php-fpm)")
        with open(self.conf, "w") as f:
            f.write("""; generated by t/lib/fe_test.py
[global]
error_log = %s/php-fpm.log
daemonize = no
process_control_timeout = 5

[fe]
listen = %s:%d
listen.backlog = 4096
listen.allowed_clients = %s
pm = static
pm.max_children = %d
request_terminate_timeout = %d
catch_workers_output = yes
""" % (self.dir, HOST, self.port, HOST, self.children,
               self.terminate_after))
        kw = {}
        if os.geteuid() == 0:
            pw = pwd.getpwnam("www-data")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        with open(os.path.join(self.dir, "php-fpm.out"), "wb") as out:
            self.proc = subprocess.Popen(
                [self.binary, "--nodaemonize", "--fpm-config", self.conf],
                stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, cwd=self.dir, **kw)
        if not wait_for(lambda: accepts(self.port) or
                        self.proc.poll() is not None, limit) \
                or self.proc.poll() is not None:
            log = self.log_text()
            self.stop()
            raise RuntimeError("%s on port %d did not start: %s" % (
                self.name, self.port, log.strip()[-400:]))

    def log_text(self):
        """Its error log and output (what PHP-FPM itself wrote)."""
        text = ""
        for name in ("php-fpm.log", "php-fpm.out"):
            try:
                with open(os.path.join(self.dir, name),
                          errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def stop(self, limit=10):
        """SIGTERM, then SIGKILL when late: seconds taken, or None when it
        had to be killed."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return 0.0
        kids = children(self.proc.pid)
        t0 = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(limit)
            took = time.time() - t0
        except subprocess.TimeoutExpired:
            took = None
            for p in [self.proc.pid] + kids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(5)
        self.proc = None
        return took

    def cleanup(self):
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
