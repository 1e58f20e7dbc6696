#!/usr/bin/env python3
"""Bounded soak test for mpm_fastevent.

One server (apache2 -f <generated config>, 127.0.0.1 only, mod_http2 with
"Protocols h2c http/1.1", MaxConnectionsPerChild 500) under mixed load for
--seconds (default 120):

  - wrk, HTTP/1.1 keep-alive, 16 connections, /index.html
  - h2load, h2c (prior knowledge), 8 connections x 8 streams, /16k.bin,
    in rounds of 3 s (h2load does not reconnect: the GOAWAY of a graceful
    restart ends its clients, and the streams it had queued beyond the
    GOAWAY count as "errored"; graceful restarts and MaxConnectionsPerChild
    recycling both send GOAWAY, so up to 2 % failed streams are allowed and
    the numbers are printed)
  - wrk, "Connection: close" (a new connection per request), 8 connections
  - a graceful restart (SIGUSR1) every ~5 s

It samples, every second, /server-status?auto, the descriptors of the
server processes (sum of /proc/<pid>/fd) and the parent's RSS.  At the end
(load stopped, restarts stopped, KeepAliveTimeout + Timeout to drain):

  - zero 5xx and zero socket errors reported by the load tools (the check
    text carries the numbers either way);
  - parent RSS flat: the RSS at the end is within +10 % of the RSS after a
    10 s warm-up;
  - descriptors flat: the parent's count at the end equals the one after
    warm-up (+2), and the total over all processes, compared with the idle
    baseline process by process (a child against the first children's
    count), is within +5;
  - scoreboard: Processes never above ServerLimit, never more accepting
    (non-stopping) processes than MaxRequestWorkers / ThreadsPerChild;
    after the drain, Stopping 0, no "G" rows, BusyWorkers <= 2 and
    ConnsTotal <= 2;
  - graceful restarts took effect (new generations) and children were
    recycled (MaxConnectionsPerChild);
  - no crash lines in the error log (crit/alert/emerg, "exit signal
    Segm", AddressSanitizer); the count of error-log lines by tag is
    printed.

Closes with "soak: N passed, N failed", exits non-zero on a failure.

Usage: t/soak/run.py [--seconds N] [--module PATH --name NAME | --event]
                     [--port N] [--keep]
"""
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
TREE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TREE, "t", "lib"))
import fe_test  # noqa: E402  (t/lib)
from fe_test import check, note  # noqa: E402
# The server is t/hostile's (its configuration, sized below).
_spec = importlib.util.spec_from_file_location(
    "fe_hostile", os.path.join(TREE, "t", "hostile", "run.py"))
H = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(H)

SERVER_LIMIT = 16
TPC = 25
MAX_WORKERS = 200
SIZING = """StartServers 2
ServerLimit %d
ThreadsPerChild %d
MaxRequestWorkers %d
AsyncRequestWorkerFactor 2
MaxConnectionsPerChild 500""" % (SERVER_LIMIT, TPC, MAX_WORKERS)
WARMUP = 10
RESTART_EVERY = 5.0
H2_CONNS, H2_STREAMS, H2_ROUND = 8, 8, 3
H2_LOST_PCT = 2.0

def parse_wrk(text):
    out = {"requests": 0, "non2xx": 0, "connect": 0, "read": 0,
           "write": 0, "timeout": 0, "ok": False}
    m = re.search(r"(\d+) requests in", text)
    if m:
        out["requests"] = int(m.group(1))
        out["ok"] = True
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", text)
    if m:
        (out["connect"], out["read"], out["write"],
         out["timeout"]) = map(int, m.groups())
    return out


def parse_h2load(text):
    out = {"requests": 0, "succeeded": 0, "failed": 0, "errored": 0,
           "timeout": 0, "5xx": 0, "4xx": 0, "ok": False}
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, "
                  r"(\d+) succeeded, (\d+) failed, (\d+) errored, "
                  r"(\d+) timeout", text)
    if m:
        v = list(map(int, m.groups()))
        out.update(requests=v[0], succeeded=v[3], failed=v[4],
                   errored=v[5], timeout=v[6], ok=True)
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, "
                  r"(\d+) 5xx", text)
    if m:
        out["4xx"] = int(m.group(3))
        out["5xx"] = int(m.group(4))
    return out


def scoreboard_letters(st):
    sb = st.get("Scoreboard", "")
    return dict((c, sb.count(c)) for c in set(sb))


def main():
    ap = fe_test.arg_parser(8595, event=True)
    ap.add_argument("--seconds", type=int, default=120)
    ap.add_argument("--keep", action="store_true")
    opts = fe_test.parse(ap)
    secs = max(opts.seconds, WARMUP + 10)

    fe_test.raise_open_files()
    note("%s (%s), %d s" % (opts.name, opts.module, secs))

    srv = H.Server(opts, sizing=SIZING, mods=("http2",), prefix="fe-soak-",
                   extra="Protocols h2c http/1.1\n")
    with open(os.path.join(srv.dir, "htdocs", "16k.bin"), "wb") as f:
        f.write(os.urandom(16384))
    procs = []
    try:
        srv.start()
        time.sleep(2)
        base = srv.fds()
        base_lines = len(srv.log_lines())
        st0 = srv.status()
        note("idle baseline: %d fds (parent %d, children %s), parent RSS "
             "%d kB, Processes %s" % (base[0] + sum(base[1]), base[0],
                                      base[1], srv.rss_kb(),
                                      st0.get("Processes")))
        url = "http://%s:%d" % (fe_test.HOST, srv.port)
        logs = {}

        def spawn(name, argv):
            f = open(os.path.join(srv.dir, "%s.out" % name), "w+")
            logs[name] = f
            p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT)
            procs.append((name, p))

        spawn("wrk-keepalive", ["wrk", "-t1", "-c16", "-d%ds" % secs,
                                "--timeout", "5s", url + "/index.html"])
        spawn("wrk-close", ["wrk", "-t1", "-c8", "-d%ds" % secs,
                            "--timeout", "5s", "-H", "Connection: close",
                            url + "/index.html"])
        # h2load does not reconnect: a graceful restart (GOAWAY) ends its
        # clients, so it runs in short rounds, relaunched until the end
        h2runs = []             # [(start, Popen, file)]

        def h2_round(left):
            f = open(os.path.join(srv.dir, "h2load-%d.out" % len(h2runs)),
                     "w+")
            p = subprocess.Popen(["h2load", "-c%d" % H2_CONNS,
                                  "-m%d" % H2_STREAMS, "-D",
                                  str(int(min(H2_ROUND, left))), "-T", "5",
                                  url + "/16k.bin"],
                                 stdout=f, stderr=subprocess.STDOUT)
            h2runs.append((time.time(), p, f))
            procs.append(("h2load", p))

        t0 = time.time()
        next_restart = t0 + RESTART_EVERY
        restarts = 0
        samples = []            # (t, fds, parent rss, status)
        kids_seen = set()
        gens = set()
        warm = None
        while time.time() < t0 + secs:
            now = time.time()
            if now >= next_restart and now < t0 + secs - 2:
                srv.send(signal.SIGUSR1)
                restarts += 1
                next_restart += RESTART_EVERY
            if (not h2runs or h2runs[-1][1].poll() is not None) and \
                    t0 + secs - now >= 2:
                h2_round(t0 + secs - now)
            f = srv.fds()
            st = srv.status(timeout=3)
            rss = srv.rss_kb()
            kids_seen.update(srv.children())
            if st.get("ParentServerMPMGeneration"):
                gens.add(st["ParentServerMPMGeneration"])
            samples.append((now - t0, f, rss, st))
            if warm is None and now - t0 >= WARMUP:
                warm = (f, rss)
                note("after %d s warm-up: %d fds (parent %d), parent RSS "
                     "%d kB" % (WARMUP, f[0] + sum(f[1]), f[0], rss))
            time.sleep(max(0.0, 1.0 - (time.time() - now)))

        # the load tools stop by themselves (-d / -D); bounded wait
        outs = {}
        h2 = parse_h2load("")
        h2["rounds"] = 0
        for _, p, f in h2runs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                note("h2load (pid %d) did not stop: killed" % p.pid)
                p.kill()
                p.wait(5)
            f.seek(0)
            text = f.read()
            f.close()
            r = parse_h2load(text)
            if not r["ok"]:
                note("h2load round output: %s" % text[-400:])
            h2["rounds"] += 1
            for k in r:
                if k != "ok":
                    h2[k] += r[k]
            h2["ok"] = h2["ok"] or r["ok"]
        for name, p in procs:
            if name == "h2load":
                continue
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                note("%s (pid %d) did not stop: killed" % (name, p.pid))
                p.kill()
                p.wait(5)
            logs[name].seek(0)
            outs[name] = logs[name].read()
            logs[name].close()

        # drain: no load, no restarts
        drain_until = time.time() + H.KA_TIMEOUT + H.TIMEOUT
        settled = None
        st, f = {}, srv.fds()
        while time.time() < drain_until:
            st = srv.status()
            f = srv.fds()
            if st and st.get("Stopping", "1") == "0" and \
                    "G" not in st.get("Scoreboard", "G") and \
                    int(st.get("BusyWorkers", 99)) <= 2 and \
                    int(st.get("ConnsTotal", 99)) <= 2 and \
                    fe_test.fd_excess(base, f) <= 5 and f[0] <= warm[0][0] + 2:
                settled = time.time()
                break
            time.sleep(0.5)
        # the last sample of the drain (querying again could count the
        # status requests' own connections, still closing)
        end_f, end_rss, end_st = f, srv.rss_kb(), st

        # ---- load tools
        wk = parse_wrk(outs["wrk-keepalive"])
        wc = parse_wrk(outs["wrk-close"])
        for name, w in (("wrk keep-alive", wk), ("wrk Connection: close",
                                                 wc)):
            errs = w["connect"] + w["read"] + w["write"] + w["timeout"]
            check("%s: ran, zero non-2xx and zero socket errors" % name,
                  w["ok"] and w["requests"] > 0 and w["non2xx"] == 0
                  and errs == 0,
                  "%d requests, non-2xx %d, socket errors connect %d read "
                  "%d write %d timeout %d" % (
                      w["requests"], w["non2xx"], w["connect"], w["read"],
                      w["write"], w["timeout"]))
        lost = h2["failed"]
        check("h2load h2c: ran, zero 5xx, zero timeouts; failed streams "
              "(refused after a GOAWAY) <= %g%%" % H2_LOST_PCT,
              h2["ok"] and h2["succeeded"] > 0 and h2["5xx"] == 0
              and h2["timeout"] == 0
              and lost <= h2["requests"] * H2_LOST_PCT / 100.0,
              "%d rounds, %d requests, %d succeeded, failed %d, errored %d,"
              " timeout %d, 4xx %d, 5xx %d" % (
                  h2["rounds"], h2["requests"], h2["succeeded"],
                  h2["failed"], h2["errored"], h2["timeout"], h2["4xx"],
                  h2["5xx"]))
        for name in outs:
            if not parse_wrk(outs[name])["ok"]:
                note("%s output: %s" % (name, outs[name][-600:]))

        # ---- restarts and recycling took effect
        check("graceful restarts took effect", restarts >= secs // 6
              and len(gens) >= 2,
              "%d SIGUSR1 sent, %d generations seen" % (restarts, len(gens)))
        check("children replaced (graceful restarts, "
              "MaxConnectionsPerChild)", len(kids_seen) > 2 * (1 + restarts),
              "%d distinct child pids over %d restarts" % (
                  len(kids_seen), restarts))

        # ---- RSS and fds flat
        check("parent RSS flat (end within +10% of after warm-up)",
              warm and end_rss <= warm[1] * 1.10,
              "after warm-up %d kB, end %d kB (%+.1f%%)" % (
                  warm[1], end_rss, 100.0 * (end_rss - warm[1])
                  / max(warm[1], 1)))
        exc = fe_test.fd_excess(base, end_f)
        check("server fds flat (parent: end vs after warm-up +2; all "
              "processes vs idle baseline, excess <= 5)",
              end_f[0] <= warm[0][0] + 2 and exc <= 5,
              "parent %d after warm-up, %d at end; total idle %d (%d "
              "procs), end %d (%d procs), excess %d%s" % (
                  warm[0][0], end_f[0], base[0] + sum(base[1]),
                  1 + len(base[1]), end_f[0] + sum(end_f[1]),
                  1 + len(end_f[1]), exc,
                  "" if settled else ", children %s" % end_f[1]))
        peak_procs = max((int(s[3].get("Processes", 0)) for s in samples
                          if s[3]), default=0)
        peak_stopping = max((int(s[3].get("Stopping", 0)) for s in samples
                             if s[3]), default=0)
        peak_active = max((int(s[3].get("Processes", 0))
                           - int(s[3].get("Stopping", 0))
                           for s in samples if s[3]), default=0)
        missing = sum(1 for s in samples if not s[3])
        check("scoreboard: Processes <= ServerLimit, accepting processes <= "
              "MaxRequestWorkers/ThreadsPerChild",
              peak_procs <= SERVER_LIMIT
              and peak_active <= MAX_WORKERS // TPC,
              "peak Processes %d (limit %d), peak Stopping %d, peak active "
              "%d (limit %d), status unavailable in %d of %d samples" % (
                  peak_procs, SERVER_LIMIT, peak_stopping, peak_active,
                  MAX_WORKERS // TPC, missing, len(samples)))
        letters = scoreboard_letters(end_st)
        check("scoreboard idle after the drain: Stopping 0, no G rows, "
              "BusyWorkers <= 2, ConnsTotal <= 2",
              end_st and end_st.get("Stopping") == "0"
              and not letters.get("G") and
              int(end_st.get("BusyWorkers", 99)) <= 2 and
              int(end_st.get("ConnsTotal", 99)) <= 2,
              "Processes %s Stopping %s BusyWorkers %s ConnsTotal %s "
              "letters %s%s" % (
                  end_st.get("Processes"), end_st.get("Stopping"),
                  end_st.get("BusyWorkers"), end_st.get("ConnsTotal"),
                  letters, ", settled %.1f s after the load" % (
                      settled - (drain_until - H.KA_TIMEOUT - H.TIMEOUT))
                  if settled else ""))

        # ---- error log
        srv.check_error_log("")
        tags = {}
        for l in srv.log_lines()[base_lines:]:
            m = re.search(r"\] ((AH|FE)\d+)", l)
            k = m.group(1) if m else l[-60:]
            tags[k] = tags.get(k, 0) + 1
        note("error-log lines during the soak by tag: %s" % (
            sorted(tags.items(), key=lambda kv: -kv[1])[:12]))
        note("load: wrk keep-alive %d req, wrk close %d req, h2load %d req;"
             " %d restarts" % (wk["requests"], wc["requests"],
                               h2["requests"], restarts))
    except Exception as e:
        import traceback
        traceback.print_exc()
        check("soak ran", False, repr(e))
    finally:
        for name, p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        if srv.stop() is None:
            check("server stopped on SIGTERM", False, "killed after 15 s")
        srv.cleanup()
    return fe_test.summary("soak")


if __name__ == "__main__":
    sys.exit(main())
