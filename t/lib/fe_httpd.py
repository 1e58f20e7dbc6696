"""Process handling shared by the Python test drivers (t/restarts,
t/hostile, t/haproxy; t/soak through t/hostile): start httpd and wait
until it answers, read the PidFile, list the children, signal the parent
and wait for it to go.  Only processes the driver started are touched, by
the pid in their PidFile.
"""
import os
import subprocess
import time

HTTPD = os.environ.get("FE_TEST_HTTPD", "/usr/sbin/apache2")
MODDIR = "/usr/lib/apache2/modules"


def start(conf, ready, what, env=None, limit=15):
    """`apache2 -f conf -k start`, then poll ready() until it is true."""
    subprocess.run([HTTPD, "-f", conf, "-k", "start"], check=True, env=env)
    deadline = time.time() + limit
    while time.time() < deadline:
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError("%s did not answer" % what)


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
