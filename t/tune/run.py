#!/usr/bin/env python3
"""fastevent-tune --from-event against fake Debian configuration trees.

Each scenario writes a tree like Debian's /etc/apache2 under a temporary
directory (apache2.conf with Debian's IncludeOptional lines, mods-available
and mods-enabled links, conf-enabled, sites-enabled), runs
`scripts/fastevent-tune --from-event --etc DIR` and checks the printed
<IfModule mpm_fastevent_module> block.  Every block printed is then fed to
`apache2 -t` with the module of this tree (.libs/mod_mpm_fastevent.so,
built by `make -f Makefile.apxs`) to prove that fastevent accepts it, and
where the tool predicts a clamp, that fastevent's own warning says the same.
Needs no server, no network and no root.  Prints one line per check and
closes with "tune: N passed, N failed".

Usage: t/tune/run.py [--module PATH] [--only SCENARIO] [--keep]
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TREE = os.path.dirname(os.path.dirname(HERE))
TUNE = os.path.join(TREE, "scripts", "fastevent-tune")
HTTPD = os.environ.get("FE_TEST_HTTPD", "/usr/sbin/apache2")

results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print("%s - %s%s" % ("ok" if ok else "not ok", name,
                          (": " + str(detail)) if detail and not ok
                          else ""), flush=True)
    return ok


# Debian 12's apache2.conf, shortened: its Include lines, in its order,
# and the kinds of directive around them.
APACHE2_CONF = """\
# This is the main Apache server configuration file.
#ServerRoot "/etc/apache2"
#Mutex file:${APACHE_LOCK_DIR} default
DefaultRuntimeDir ${APACHE_RUN_DIR}
PidFile ${APACHE_PID_FILE}
Timeout 300
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
User ${APACHE_RUN_USER}
Group ${APACHE_RUN_GROUP}
HostnameLookups Off
ErrorLog ${APACHE_LOG_DIR}/error.log
LogLevel warn

# Include module configuration:
IncludeOptional mods-enabled/*.load
IncludeOptional mods-enabled/*.conf

# Include list of ports to listen on
Include ports.conf

<Directory />
\tOptions FollowSymLinks
\tAllowOverride None
\tRequire all denied
</Directory>

AccessFileName .htaccess
<FilesMatch "^\\.ht">
\tRequire all denied
</FilesMatch>

LogFormat "%v:%p %h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\"" vhost_combined

# Include generic snippets of statements
IncludeOptional conf-enabled/*.conf

# Include the virtual host configurations:
IncludeOptional sites-enabled/*.conf
"""

# Debian 12's mods-available/mpm_event.conf as the package ships it (no
# <IfModule>: the file is only included with mpm_event.load).
STOCK_EVENT_CONF = """\
# event MPM
# StartServers: initial number of server processes to start
# MinSpareThreads: minimum number of worker threads which are kept spare
# MaxSpareThreads: maximum number of worker threads which are kept spare
# ThreadsPerChild: constant number of worker threads in each server process
# MaxRequestWorkers: maximum number of worker threads
# MaxConnectionsPerChild: maximum number of requests a server process serves
StartServers            2
MinSpareThreads         25
MaxSpareThreads         75
ThreadLimit             64
ThreadsPerChild         25
MaxRequestWorkers       150
MaxConnectionsPerChild  0
"""
STOCK_VALUES = {"StartServers": "2", "MinSpareThreads": "25",
                "MaxSpareThreads": "75", "ThreadLimit": "64",
                "ThreadsPerChild": "25", "MaxRequestWorkers": "150",
                "MaxConnectionsPerChild": "0"}

# The same values in the older layout, inside <IfModule mpm_event_module>.
OLD_EVENT_CONF = """\
# event MPM
<IfModule mpm_event_module>
\tStartServers\t\t\t 2
\tMinSpareThreads\t\t 25
\tMaxSpareThreads\t\t 75
\tThreadLimit\t\t\t 64
\tThreadsPerChild\t\t 25
\tMaxRequestWorkers\t  150
\tMaxConnectionsPerChild   0
</IfModule>
"""

STATUS_CONF = """\
<IfModule mod_status.c>
\t<Location /server-status>
\t\tSetHandler server-status
\t\tRequire local
\t</Location>
\tExtendedStatus On
</IfModule>
"""

PORTS_CONF = """\
Listen 80
<IfModule ssl_module>
\tListen 443
</IfModule>
"""

SITE_CONF = """\
<VirtualHost *:80>
\tServerAdmin webmaster@localhost
\tDocumentRoot /var/www/html
\tErrorLog ${APACHE_LOG_DIR}/error.log
</VirtualHost>
"""


class Tree:
    """A Debian-like /etc/apache2 below DIR/etc (--etc DIR/etc)."""

    def __init__(self, top, name, event=STOCK_EVENT_CONF, enabled=True,
                 fastevent_conf=False, apache2_conf=APACHE2_CONF):
        self.top = os.path.join(top, name)
        self.etc = os.path.join(self.top, "etc")
        self.root = os.path.join(self.etc, "apache2")
        for d in ("mods-available", "mods-enabled", "conf-available",
                  "conf-enabled", "sites-available", "sites-enabled"):
            os.makedirs(os.path.join(self.root, d))
        self.write("apache2.conf", apache2_conf)
        self.write("ports.conf", PORTS_CONF)
        self.write("mods-available/status.load", "LoadModule status_module "
                   "/usr/lib/apache2/modules/mod_status.so\n")
        self.write("mods-available/status.conf", STATUS_CONF)
        self.enable("mods", "status.load")
        self.enable("mods", "status.conf")
        self.write("mods-available/mpm_event.load", "# Conflicts: "
                   "mpm_worker mpm_prefork\nLoadModule mpm_event_module "
                   "/usr/lib/apache2/modules/mod_mpm_event.so\n")
        if event is not None:
            self.write("mods-available/mpm_event.conf", event)
        if enabled:
            self.enable("mods", "mpm_event.load")
            if event is not None:
                self.enable("mods", "mpm_event.conf")
        self.write("mods-available/mpm_worker.conf", "StartServers 7\n"
                   "MaxRequestWorkers 777\n")
        self.write("conf-available/charset.conf", "#AddDefaultCharset "
                   "UTF-8\n")
        self.enable("conf", "charset.conf")
        self.write("sites-available/000-default.conf", SITE_CONF)
        self.enable("sites", "000-default.conf")
        if fastevent_conf:
            shutil.copy(os.path.join(TREE, "apache2", "mpm_fastevent.conf"),
                        os.path.join(self.root, "mods-available"))

    def path(self, rel):
        return os.path.join(self.root, rel)

    def write(self, rel, text):
        with open(self.path(rel), "w") as f:
            f.write(text)

    def enable(self, kind, name):
        """a2enmod / a2enconf / a2ensite: a relative link, as Debian's."""
        os.symlink("../%s-available/%s" % (kind, name),
                   self.path("%s-enabled/%s" % (kind, name)))

    def insert_after(self, rel, anchor, text):
        with open(self.path(rel)) as f:
            s = f.read()
        assert anchor in s, anchor
        self.write(rel, s.replace(anchor, anchor + text, 1))

    def run(self, *extra, etc=True):
        args = ["perl", TUNE, "--from-event"]
        if etc:
            args += ["--etc", self.etc]
        args += list(extra)
        p = subprocess.run(args, capture_output=True, text=True, timeout=30)
        return Result(p.returncode, p.stdout, p.stderr)


class Result:
    """The output of one run, and its block taken apart."""

    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err
        self.values = {}        # directive -> value text
        self.notes = {}         # directive -> its comments, one paragraph each
        self.tail = []          # comment paragraphs after the last directive
        self.block = False
        paras, inside = [], False
        for line in out.splitlines():
            if line.startswith("<IfModule mpm_fastevent_module>"):
                inside, self.block = True, True
                continue
            if line.startswith("</IfModule>"):
                inside = False
                continue
            if not inside:
                continue
            if line.startswith("    #   "):
                paras[-1] += " " + line[8:].strip()
            elif line.startswith("    # "):
                paras.append(line[6:].strip())
            else:
                words = line.split()
                self.values[words[0]] = " ".join(words[1:])
                self.notes[words[0]] = paras
                paras = []
        self.tail = paras
        # Header comment paragraphs (before the block).
        self.header = []
        lines = out.splitlines()
        end = lines.index("<IfModule mpm_fastevent_module>") \
            if self.block else len(lines)
        for line in lines[:end]:
            if line.startswith("#   ") and self.header:
                self.header[-1] += " " + line[4:].strip()
            elif line.startswith("# "):
                self.header.append(line[2:].strip())

    def detail(self):
        return "rc %d\nstdout:\n%s\nstderr:\n%s" % (self.rc, self.out,
                                                     self.err)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def configtest(opts, top, name, block):
    """apache2 -t on the printed output: (rc, output)."""
    d = os.path.join(top, "configtest-" + name)
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "httpd.conf")
    with open(conf, "w") as f:
        f.write("ServerRoot %s\n" % d)
        f.write("LoadModule mpm_fastevent_module %s\n" % opts.module)
        f.write("Listen 127.0.0.1:%d\n" % free_port())
        f.write("ServerName localhost\n")
        f.write("ErrorLog %s/error_log\n" % d)
        f.write("PidFile %s/httpd.pid\n" % d)
        f.write(block)
    p = subprocess.run([HTTPD, "-t", "-f", conf], capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def accepted(opts, top, name, res, warnings=()):
    """The printed output passes fastevent's configtest; each tag in
    warnings is printed by it, with the text the tool quoted."""
    if not os.path.exists(opts.module):
        return check(name + ": configtest", False, "no module at %s (make "
                     "-f Makefile.apxs)" % opts.module)
    rc, out = configtest(opts, top, name, res.out)
    ok = check(name + ": fastevent's configtest says Syntax OK",
               rc == 0 and "Syntax OK" in out, out)
    seen = set(re.findall(r"FE(100\d\d)", out))
    want = set(t[2:] for t in warnings)
    ok &= check(name + ": configtest clamp warnings as predicted (%s)"
                % (", ".join(sorted(warnings)) or "none"),
                seen == want, "configtest printed %s\n%s" % (sorted(seen),
                                                             out))
    for tag in warnings:
        quoted = [p.split("): ", 1)[1] for ps in res.notes.values()
                  for p in ps if "warning %s " % tag in p]
        quoted += [p.split("): ", 1)[1] for p in res.tail
                   if "warning %s " % tag in p]
        line = [x for x in out.splitlines() if tag in x]
        ok &= check(name + ": the comment on %s says what fastevent's "
                    "warning says" % tag,
                    len(quoted) == 1 and line and quoted[0] in line[0],
                    "comment %r, configtest %r" % (quoted, line))
    return ok


def values_are(name, res, want):
    got = {k: v for k, v in res.values.items()}
    return check(name, got == want, "got %s, want %s\n%s"
                 % (got, want, res.detail()))


def source_is(name, res, directive, where):
    notes = res.notes.get(directive, [])
    return check(name, notes and re.match(re.escape("From " + where)
                                          + r"(?!\d)", notes[0]),
                 "comments on %s: %s" % (directive, notes))


def line_of(text, needle):
    """The number of the first line, not a comment, that holds needle."""
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line and not line.lstrip().startswith("#"):
            return i
    raise KeyError(needle)


# ------------------------------------------------------------ scenarios

def scenario_stock(opts, top):
    t = Tree(top, "stock")
    r = t.run()
    check("stock: exit 0, nothing on stderr", r.rc == 0 and r.err == "",
          r.detail())
    values_are("stock: Debian's mpm_event.conf, value for value", r,
               STOCK_VALUES)
    for d in STOCK_VALUES:
        source_is("stock: %s names mods-enabled/mpm_event.conf line %d"
                  % (d, line_of(STOCK_EVENT_CONF, d)), r, d,
                  "mods-enabled/mpm_event.conf line %d"
                  % line_of(STOCK_EVENT_CONF, d))
    unset = [p for p in r.tail if p.startswith("Not set for event")]
    check("stock: ServerLimit and AsyncRequestWorkerFactor named as "
          "defaults (16, 2)", len(unset) == 1
          and "ServerLimit 16" in unset[0]
          and "AsyncRequestWorkerFactor 2" in unset[0], r.tail)
    check("stock: no clamp predicted",
          "clamps" not in r.out, r.detail())
    check("stock: the header says a full stop/start is needed for "
          "ServerLimit/ThreadLimit", any("full stop/start" in p
                                         and "ServerLimit or ThreadLimit"
                                         in p for p in r.header),
          r.header)
    check("stock: without mpm_fastevent.conf, says to install it",
          any("no %s/mods-available/mpm_fastevent.conf" % t.root in p
              for p in r.header), r.header)
    accepted(opts, top, "stock", r)


def scenario_stock_fastevent_conf(opts, top):
    t = Tree(top, "stockfe", fastevent_conf=True)
    r = t.run()
    values_are("mpm_fastevent.conf present: same values", r, STOCK_VALUES)
    paste = [p for p in r.header if p.startswith("Paste the block into")]
    check("mpm_fastevent.conf present: paste into that file",
          len(paste) == 1 and "%s/mods-available/mpm_fastevent.conf" % t.root
          in paste[0], r.header)
    check("mpm_fastevent.conf present: it already holds the stock values",
          paste and "already holds these values" in paste[0], r.header)
    t.insert_after("apache2.conf", "IncludeOptional mods-enabled/*.conf\n",
                   "<IfModule mpm_event_module>\n  MaxRequestWorkers 200\n"
                   "</IfModule>\n")
    r = t.run()
    paste = [p for p in r.header if p.startswith("Paste the block into")]
    check("mpm_fastevent.conf with other values: not said to hold them",
          paste and "already holds" not in paste[0], r.header)


def scenario_old_layout(opts, top):
    t = Tree(top, "old", event=OLD_EVENT_CONF)
    r = t.run()
    check("<IfModule mpm_event_module> in mpm_event.conf: exit 0",
          r.rc == 0, r.detail())
    values_are("<IfModule mpm_event_module> in mpm_event.conf: same values",
               r, STOCK_VALUES)
    accepted(opts, top, "old", r)


def scenario_override(opts, top):
    t = Tree(top, "override")
    t.insert_after("apache2.conf", "LogLevel warn\n",
                   "<IfModule mpm_event_module>\n    MinSpareThreads 50\n"
                   "    ServerLimit 30\n</IfModule>\n")
    t.insert_after("apache2.conf", "IncludeOptional conf-enabled/*.conf\n",
                   "<IfModule mpm_event_module>\n"
                   "    MaxRequestWorkers 300\n"
                   "    ServerLimit 24\n"
                   "</IfModule>\n"
                   "<IfModule mpm_worker_module>\n"
                   "    MaxRequestWorkers 999\n"
                   "</IfModule>\n"
                   "<IfModule !mpm_event_module>\n"
                   "    ThreadsPerChild 99\n"
                   "</IfModule>\n")
    conf = open(t.path("apache2.conf")).read()
    r = t.run()
    want = dict(STOCK_VALUES, MaxRequestWorkers="300", ServerLimit="24")
    values_are("override: apache2.conf after the Include wins; a block "
               "before it loses; worker and !event blocks ignored", r, want)
    source_is("override: MaxRequestWorkers names apache2.conf", r,
              "MaxRequestWorkers", "apache2.conf line %d"
              % line_of(conf, "MaxRequestWorkers 300"))
    source_is("override: ServerLimit names the later block", r,
              "ServerLimit", "apache2.conf line %d"
              % line_of(conf, "ServerLimit 24"))
    accepted(opts, top, "override", r)


def scenario_comments(opts, top):
    t = Tree(top, "comments")
    t.write("conf-available/sizing.conf",
            "<IfModule mpm_event_module>\n"
            "#MaxRequestWorkers 999\n"
            "    # ServerLimit 99\n"
            "  #\tThreadsPerChild 50\n"
            "    # a comment that ends in a backslash goes on \\\n"
            "    MaxSpareThreads 999\n"
            "    StartServers 4\n"
            "</IfModule>\n")
    t.enable("conf", "sizing.conf")
    r = t.run()
    want = dict(STOCK_VALUES, StartServers="4")
    values_are("comments: commented-out lines ignored (and, as in httpd, "
               "the line a comment's backslash joins)", r, want)
    accepted(opts, top, "comments", r)


def scenario_continuation(opts, top):
    t = Tree(top, "continuation")
    t.write("conf-available/sizing.conf",
            "<IfModule mpm_event_module>\n"
            "    MaxRequestWorkers \\\n"
            "        200\n"
            "    ThreadsPerChild\\\n"
            " 20\n"
            "    MinSpareThreads 20\\\n"
            "0\n"
            "</IfModule>\n")
    t.enable("conf", "sizing.conf")
    r = t.run()
    want = dict(STOCK_VALUES, MaxRequestWorkers="200", ThreadsPerChild="20",
                MinSpareThreads="200")
    values_are("continuation: lines ending in a backslash are joined", r,
               want)
    source_is("continuation: the value is named by its first line", r,
              "MaxRequestWorkers", "conf-enabled/sizing.conf line 2")
    check("continuation: MaxSpareThreads 75 below MinSpareThreads 200 + 20 "
          "is said to be raised to 220 without a warning",
          any("MaxSpareThreads 220 without a warning" in p
              for p in r.notes.get("MaxSpareThreads", [])),
          r.notes.get("MaxSpareThreads"))
    accepted(opts, top, "continuation", r)


def scenario_old_names(opts, top):
    t = Tree(top, "oldnames")
    t.write("conf-available/sizing.conf",
            "<IfModule mpm_event_module>\n"
            "    MaxClients 250\n"
            "    MaxRequestsPerChild 1000\n"
            "</IfModule>\n")
    t.enable("conf", "sizing.conf")
    r = t.run()
    want = dict(STOCK_VALUES, MaxRequestWorkers="250",
                MaxConnectionsPerChild="1000")
    values_are("old names: MaxClients -> MaxRequestWorkers, "
               "MaxRequestsPerChild -> MaxConnectionsPerChild", r, want)
    check("old names: the comment says it was MaxClients",
          any("as MaxClients" in p for p in r.notes.get("MaxRequestWorkers",
                                                        [])),
          r.notes.get("MaxRequestWorkers"))
    check("old names: MaxClients is not printed", "MaxClients" not in
          r.values, r.values)
    accepted(opts, top, "oldnames", r)


def scenario_clamp(opts, top):
    t = Tree(top, "clamp")
    t.insert_after("apache2.conf", "IncludeOptional sites-enabled/*.conf\n",
                   "<IfModule mpm_event_module>\n"
                   "    MaxRequestWorkers 160\n"
                   "</IfModule>\n")
    r = t.run()
    values_are("clamp: the value is kept as event had it", r,
               dict(STOCK_VALUES, MaxRequestWorkers="160"))
    notes = r.notes.get("MaxRequestWorkers", [])
    check("clamp: MaxRequestWorkers 160 gets the FE10010 comment "
          "(not a multiple of ThreadsPerChild 25: 150 used)",
          any("FE10010" in p and "not a multiple of ThreadsPerChild 25" in p
              and "using MaxRequestWorkers 150" in p for p in notes), notes)
    accepted(opts, top, "clamp", r, ["FE10010"])

    t = Tree(top, "clamp-serverlimit")
    t.insert_after("apache2.conf", "IncludeOptional sites-enabled/*.conf\n",
                   "<IfModule mpm_event_module>\n"
                   "    MaxRequestWorkers 1000\n"
                   "    StartServers 50\n"
                   "</IfModule>\n")
    r = t.run()
    notes = r.notes.get("MaxRequestWorkers", [])
    check("clamp: MaxRequestWorkers 1000 over the default ServerLimit 16 "
          "gets FE10011 and 'raise ServerLimit to 40'",
          any("FE10011" in p and "raise ServerLimit to 40" in p
              for p in notes), notes)
    check("clamp: StartServers 50 above 16 processes gets FE10013",
          any("FE10013" in p for p in r.notes.get("StartServers", [])),
          r.notes.get("StartServers"))
    accepted(opts, top, "clamp-serverlimit", r, ["FE10011", "FE10013"])

    t = Tree(top, "clamp-more")
    t.write("conf-available/sizing.conf",
            "<IfModule mpm_event_module>\n"
            "    ThreadsPerChild 100\n"
            "    MaxRequestWorkers 640\n"
            "    MinSpareThreads 0\n"
            "    AsyncRequestWorkerFactor 0.5\n"
            "    ServerLimit 20001\n"
            "</IfModule>\n")
    t.enable("conf", "sizing.conf")
    r = t.run()
    check("clamp: ThreadsPerChild above ThreadLimit, MinSpareThreads 0, "
          "factor 0.5 and ServerLimit 20001 each get their tag",
          [any("FE%d" % tag in p for p in r.notes.get(d, []))
           for d, tag in (("ThreadsPerChild", 10007),
                          ("MinSpareThreads", 10014),
                          ("AsyncRequestWorkerFactor", 10015),
                          ("ServerLimit", 10001))] == [True] * 4,
          r.detail())
    accepted(opts, top, "clamp-more", r,
             ["FE10001", "FE10007", "FE10014", "FE10015"])


def scenario_no_event(opts, top):
    t = Tree(top, "noevent", event=None, enabled=False)
    t.write("conf-available/sizing.conf",
            "<IfModule mpm_prefork_module>\n    MaxRequestWorkers 50\n"
            "</IfModule>\n")
    t.enable("conf", "sizing.conf")
    r = t.run()
    check("no event block: exit status 1", r.rc == 1, r.detail())
    check("no event block: a message, not a block", not r.block
          and "no sizing of the event MPM found" in r.err, r.detail())
    check("no event block: the message names the files read",
          t.path("apache2.conf") in r.err
          and t.path("conf-enabled/sizing.conf") in r.err, r.err)
    check("no event block: no Perl error", " at %s line " % TUNE
          not in r.err, r.err)
    p = subprocess.run(["perl", TUNE, "--from-event", "--conf",
                        os.path.join(top, "nowhere", "apache2.conf")],
                       capture_output=True, text=True, timeout=30)
    check("no configuration at all: exit 1 with a warning naming the file",
          p.returncode == 1 and "cannot read %s"
          % os.path.join(top, "nowhere", "apache2.conf") in p.stderr,
          "rc %d %s" % (p.returncode, p.stderr))


def scenario_unreadable(opts, top):
    t = Tree(top, "unreadable")
    os.symlink("../conf-available/gone.conf",
               t.path("conf-enabled/gone.conf"))
    t.write("conf-available/sizing.conf",
            "<IfModule mpm_event_module>\n    MaxRequestWorkers 200\n"
            "</IfModule>\n")
    t.enable("conf", "sizing.conf")
    secret = None
    if os.geteuid() != 0:               # root reads mode 000 files anyway
        secret = t.path("conf-available/secret.conf")
        t.write("conf-available/secret.conf", "ServerLimit 99\n")
        t.enable("conf", "secret.conf")
        os.chmod(secret, 0)
    r = t.run()
    check("unreadable include: still exit 0", r.rc == 0, r.detail())
    check("unreadable include: a warning on stderr names it",
          "warning: cannot read %s" % t.path("conf-enabled/gone.conf")
          in r.err, r.err)
    if secret:
        check("unreadable include (mode 000): named too",
              "cannot read %s" % t.path("conf-enabled/secret.conf") in r.err,
              r.err)
    values_are("unreadable include: the rest is read", r,
               dict(STOCK_VALUES, MaxRequestWorkers="200"))
    if secret:
        os.chmod(secret, 0o644)


def scenario_disabled(opts, top):
    ev = STOCK_EVENT_CONF.replace("MaxRequestWorkers       150",
                                  "MaxRequestWorkers       175")
    t = Tree(top, "disabled", event=ev, enabled=False)
    r = t.run()
    check("disabled mpm_event: exit 0", r.rc == 0, r.detail())
    values_are("disabled mpm_event: read from mods-available", r,
               dict(STOCK_VALUES, MaxRequestWorkers="175"))
    source_is("disabled mpm_event: named as mods-available, not enabled", r,
              "MaxRequestWorkers", "mods-available/mpm_event.conf line %d"
              % line_of(ev, "MaxRequestWorkers"))
    check("disabled mpm_event: the comment says it is not enabled",
          "not enabled" in r.notes["MaxRequestWorkers"][0],
          r.notes["MaxRequestWorkers"])
    t.insert_after("apache2.conf", "IncludeOptional sites-enabled/*.conf\n",
                   "<IfModule mpm_event_module>\n"
                   "    MaxRequestWorkers 225\n</IfModule>\n")
    r = t.run()
    values_are("disabled mpm_event: a block of apache2.conf still wins", r,
               dict(STOCK_VALUES, MaxRequestWorkers="225"))
    accepted(opts, top, "disabled", r)


def scenario_syntax(opts, top):
    """Quotes, case, event.c, mod_mpm_event.c, ServerRoot, absolute
    Includes, directories, junk event's atoi() ignored, a real factor."""
    conf = APACHE2_CONF.replace('#ServerRoot "/etc/apache2"',
                                'ServerRoot "/etc/apache2"')
    conf += "Include /etc/apache2/extra\n"
    t = Tree(top, "syntax", apache2_conf=conf)
    os.makedirs(t.path("extra/deeper"))
    t.write("extra/a.conf",
            "<ifmodule mpm_event_module>\n"
            '    maxrequestworkers "225"\n'
            "    THREADSPERCHILD '25'\n"
            "</ifmodule>\n")
    t.write("extra/deeper/b.conf",
            "<IfModule event.c>\n"
            "    AsyncRequestWorkerFactor 1.3\n"
            "    StartServers 3x\n"
            "    ListenBacklog 1023\n"
            "</IfModule>\n"
            "<IfModule mod_mpm_event.c>\n"
            "    ServerLimit 64\n"
            "</IfModule>\n")
    r = t.run()
    check("syntax: exit 0, nothing on stderr", r.rc == 0 and r.err == "",
          r.detail())
    want = dict(STOCK_VALUES, MaxRequestWorkers="225", StartServers="3",
                AsyncRequestWorkerFactor="1.3", ListenBacklog="1023")
    values_are("syntax: quotes, any case, <IfModule event.c>, ServerRoot "
               "and an absolute directory Include under --etc", r, want)
    check("syntax: 'StartServers 3x' is written 3, and says why",
          any("atoi" in p and "'3x'" in p for p in r.notes["StartServers"]),
          r.notes.get("StartServers"))
    check("syntax: factor 1.3 kept, with event's 1.25 named",
          any("1.25" in p for p in r.notes["AsyncRequestWorkerFactor"]),
          r.notes.get("AsyncRequestWorkerFactor"))
    check("syntax: <IfModule mod_mpm_event.c> (which httpd never enters) "
          "is not carried over, and a note says so",
          "ServerLimit" not in r.values
          and any("mod_mpm_event.c" in p and "ServerLimit 64" in p
                  for p in r.header), r.header)
    accepted(opts, top, "syntax", r)

    # --conf without --etc: ServerRoot is the file's directory.
    t = Tree(top, "conf")
    p = subprocess.run(["perl", TUNE, "--from-event", "--conf",
                        t.path("apache2.conf")], capture_output=True,
                       text=True, timeout=30)
    r = Result(p.returncode, p.stdout, p.stderr)
    values_are("--conf FILE: Includes relative to its directory", r,
               STOCK_VALUES)


def scenario_options(opts, top):
    p = subprocess.run(["perl", TUNE, "--from-event", "--cores", "4"],
                       capture_output=True, text=True, timeout=30)
    check("--from-event with a sizing option: exit 2 and a clear message",
          p.returncode == 2 and "--from-event" in p.stderr
          and "--cores" in p.stderr and p.stdout == "",
          "rc %d %r" % (p.returncode, p.stderr))
    p = subprocess.run(["perl", TUNE, "--etc", top, "--no-status"],
                       capture_output=True, text=True, timeout=30)
    check("--etc without --from-event: exit 2", p.returncode == 2
          and "--etc only goes with --from-event" in p.stderr,
          "rc %d %r" % (p.returncode, p.stderr))
    p = subprocess.run(["perl", TUNE, "--help"], capture_output=True,
                       text=True, timeout=30)
    check("--help describes --from-event, --conf and --etc",
          p.returncode == 0 and all(x in p.stdout for x in
                                    ("--from-event", "--conf FILE",
                                     "--etc DIR")), p.stdout)
    check("--help no longer subtracts K workers",
          "K, which are spare" not in p.stdout
          and "keep-alive connection" not in p.stdout, p.stdout)


SCENARIOS = [
    ("stock", scenario_stock),
    ("stock_fastevent_conf", scenario_stock_fastevent_conf),
    ("old_layout", scenario_old_layout),
    ("override", scenario_override),
    ("comments", scenario_comments),
    ("continuation", scenario_continuation),
    ("old_names", scenario_old_names),
    ("clamp", scenario_clamp),
    ("no_event", scenario_no_event),
    ("unreadable", scenario_unreadable),
    ("disabled", scenario_disabled),
    ("syntax", scenario_syntax),
    ("options", scenario_options),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module",
                    default=os.path.join(TREE, ".libs",
                                         "mod_mpm_fastevent.so"))
    ap.add_argument("--only")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary trees (their path is printed)")
    opts = ap.parse_args()
    top = tempfile.mkdtemp(prefix="fe-tune-")
    try:
        for name, fn in SCENARIOS:
            if opts.only and name != opts.only:
                continue
            print("# %s" % name, flush=True)
            try:
                fn(opts, top)
            except Exception as e:      # a broken scenario is a failure
                check(name + " ran", False, repr(e))
    finally:
        if opts.keep:
            print("# trees kept in %s" % top)
        else:
            shutil.rmtree(top, ignore_errors=True)
    passed = sum(results)
    print("tune: %d passed, %d failed" % (passed, len(results) - passed))
    return 0 if results and passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
