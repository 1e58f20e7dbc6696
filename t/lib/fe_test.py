"""What the Python test drivers share (t/restarts, t/hostile, t/haproxy,
t/soak): the tally of checks and its closing line, a server with a
generated configuration (started, signalled and stopped by the pid in its
PidFile, its error log scanned for crashes), and plain HTTP requests on
loopback.  Only processes the driver started are touched.

A check prints "ok - NAME" or "not ok - NAME", with ": DETAIL" after it
when there is a detail; a note prints "# ..."; summary(LABEL) prints the
closing line "LABEL: N passed, N failed", which CI reads, and returns the
exit status.
"""
import argparse
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
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


def get(port, path="/index.html", timeout=5.0, src=None, preamble=None):
    """One HTTP/1.1 GET of path on a fresh connection to HOST:port, from
    address src when given, after the bytes preamble(socket) returns when
    given (a PROXY header); returns (status, body).  Instead of a status:
    0 no status line, -1 timed out, -2 another error, -3 the connect
    failed, -4 closed or reset without a response."""
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
