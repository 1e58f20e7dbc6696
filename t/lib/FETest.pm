package FETest;
# Shared helpers for mpm_fastevent's Apache::Test suite.
#
#   use Apache::Test qw(-withtestmore);
#   use FETest;               # records the error_log offset NOW
#   ...
#   fe_log_clean_ok();        # one test: nothing bad logged since then
#
# Raw-socket HTTP helpers talk to 127.0.0.1 on Apache::Test's port, so the
# tests see exactly what the MPM does (no LWP connection caching).
use strict;
use warnings;

use Exporter ();
use Apache::Test ();
use Test::More ();
use IO::Socket::INET ();
use IO::Select ();
use Socket qw(SOL_SOCKET SO_RCVBUF IPPROTO_TCP TCP_NODELAY
              inet_aton pack_sockaddr_in);
use Errno qw(EINTR EAGAIN EWOULDBLOCK ECONNRESET EINPROGRESS);
use Time::HiRes ();

our @EXPORT = qw(
    fe_host fe_port fe_var fe_expected_mpm
    fe_connect fe_connect_ssl fe_send fe_request_text fe_read_response
    fe_wait_eof fe_readable
    fe_get fe_request fe_status_auto fe_status_html
    fe_server_pid fe_child_pids fe_error_log fe_log_since_start
    fe_log_clean_ok fe_now fe_which fe_run fe_slurp
);

my $LOG_START;          # error_log size when the .t started

sub import {
    my $class = shift;
    fe_mark_log() unless defined $LOG_START;
    local $Exporter::ExportLevel = 1;
    Exporter::import($class, @_);
}

sub fe_now { Time::HiRes::time() }

sub fe_var  { Apache::Test::vars(@_) }
sub fe_host { '127.0.0.1' }
sub fe_port { Apache::Test::vars('port') }

# The MPM name mod_status should report ("ServerMPM: ..."): fastevent, or the
# override's name when FE_TEST_MPM_MODULE=mpm_event_module is validating the
# harness against the stock event MPM.
sub fe_expected_mpm {
    my $mod = $ENV{FE_TEST_MPM_MODULE} || 'mpm_fastevent_module';
    return $mod =~ /^mpm_(\w+)_module$/ ? $1 : $mod;
}

# ------------------------------------------------------------------ error log

sub fe_error_log { Apache::Test::vars('t_logs') . '/error_log' }

sub fe_mark_log {
    my $f = fe_error_log();
    $LOG_START = -e $f ? -s _ : 0;
}

# Text appended to t/logs/error_log since this .t started.
sub fe_log_since_start {
    my $f = fe_error_log();
    open my $fh, '<', $f or return '';
    my $size = -s $fh;
    my $from = (defined $LOG_START && $LOG_START <= $size) ? $LOG_START : 0;
    seek $fh, $from, 0;
    local $/;
    my $text = <$fh>;
    close $fh;
    return defined $text ? $text : '';
}

my @BAD_LOG = (
    qr/\[[\w.\-]*:(?:emerg|alert|crit)\]/,      # level crit or worse
    qr/\bAH0005[012]\b/,                        # child died on a signal/fatal
    qr/exit signal/,
    qr/caught SIG(?:SEGV|BUS|ABRT|FPE|ILL)/,
    qr/Segmentation fault/,
    qr/AddressSanitizer|LeakSanitizer|ThreadSanitizer|UndefinedBehaviorSanitizer/,
    qr/runtime error:/,
);

# One test: the error_log written since this .t started has no line at level
# crit/alert/emerg, no "child exited on a signal" (AH00051/AH00052) and no
# sanitizer report.  Prints the offending lines on failure.
sub fe_log_clean_ok {
    my $name = shift || 'error_log clean (no crit/alert/emerg, no crashed child, no sanitizer report)';
    # the parent notices a dead child within its ~1 s maintenance interval
    Time::HiRes::sleep(1.2);
    my @bad;
    for my $line (split /\n/, fe_log_since_start()) {
        push @bad, $line if grep { $line =~ $_ } @BAD_LOG;
    }
    my $ok = Test::More::ok(!@bad, $name);
    if (@bad) {
        my @show = @bad > 30 ? (@bad[0 .. 29], '... (' . (@bad - 30) . ' more)') : @bad;
        Test::More::diag("error_log: $_") for @show;
    }
    return $ok;
}

# ------------------------------------------------------------------ tools

# Full path of an executable (searched in $PATH, /usr/sbin, /usr/bin), or
# undef.  fe_which('php-fpm*') takes the last match of a glob (the newest
# php-fpmX.Y).
sub fe_which {
    my $name = shift;
    my @dirs = ((split /:/, $ENV{PATH} // ''), '/usr/local/sbin', '/usr/local/bin',
                '/usr/sbin', '/usr/bin', '/sbin', '/bin');
    for my $d (grep { length } @dirs) {
        my @hits = $name =~ /[*?]/ ? sort(glob "$d/$name") : ("$d/$name");
        @hits = grep { -f $_ && -x _ } @hits;
        return $hits[-1] if @hits;
    }
    return;
}

# fe_run(SECONDS, CMD, ARGS...): run a command (no shell) with stderr merged
# into stdout, killed after SECONDS (timeout(1)).  Returns (exit status,
# output); the status is 124 on timeout, -1 when it could not be started.
sub fe_run {
    my($secs, @cmd) = @_;
    my $pid = open(my $fh, '-|');
    return (-1, "fork: $!") unless defined $pid;
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        open STDIN, '<', '/dev/null';
        { no warnings 'exec'; exec 'timeout', '--kill-after=5', $secs, @cmd; }
        print "exec timeout @cmd: $!\n";
        require POSIX;
        POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh>;
    close $fh;
    return ($? == -1 ? -1 : $? >> 8, defined $out ? $out : '');
}

# Contents of a file ('' when missing), binary.
sub fe_slurp {
    my $f = shift;
    open my $fh, '<', $f or return '';
    binmode $fh;
    local $/;
    my $data = <$fh>;
    close $fh;
    return defined $data ? $data : '';
}

# ------------------------------------------------------------------ sockets

# fe_connect(rcvbuf => BYTES, timeout => SECONDS, port => PORT)
sub fe_connect {
    my %o = @_;
    my $timeout = $o{timeout} || 5;
    my $port = $o{port} || fe_port();
    my $s;
    if ($o{rcvbuf}) {
        # SO_RCVBUF must be set before connect() to limit the TCP window
        $s = IO::Socket::INET->new(Proto => 'tcp') or return;
        setsockopt($s, SOL_SOCKET, SO_RCVBUF, pack('i', $o{rcvbuf}))
            or die "SO_RCVBUF: $!";
        my $addr = pack_sockaddr_in($port, inet_aton(fe_host()));
        $s->connect($addr) or return;
    }
    else {
        $s = IO::Socket::INET->new(PeerAddr => fe_host(),
                                   PeerPort => $port,
                                   Proto    => 'tcp',
                                   Timeout  => $timeout) or return;
    }
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    binmode $s;
    $s->autoflush(1);
    ${*$s}{fe_buf} = '';
    return $s;
}

# fe_connect_ssl(port => PORT, alpn => ['h2', 'http/1.1'], timeout => SECONDS)
# A TLS connection to 127.0.0.1 (certificate not verified: the test server's
# is self-signed).  Returns undef on failure, the reason in $FETest::ERR.
sub fe_connect_ssl {
    my %o = @_;
    require IO::Socket::SSL;
    my $s = IO::Socket::SSL->new(
        PeerHost => fe_host(),
        PeerPort => $o{port},
        Proto    => 'tcp',
        Timeout  => $o{timeout} || 5,
        SSL_verify_mode => IO::Socket::SSL::SSL_VERIFY_NONE(),
        SSL_hostname    => 'localhost',
        ($o{alpn} ? (SSL_alpn_protocols => $o{alpn}) : ()),
    );
    unless ($s) {
        no warnings 'once';
        $FETest::ERR = "TLS connect: " . ($IO::Socket::SSL::SSL_ERROR || $!);
        return;
    }
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    $s->autoflush(1);
    ${*$s}{fe_buf} = '';
    return $s;
}

# Wait up to $secs for $s to be readable.  A TLS socket may hold decrypted
# bytes that select() cannot see: those count as readable.
sub fe_readable {
    my($s, $secs) = @_;
    return 1 if $s->can('pending') && $s->pending;
    return IO::Select->new($s)->can_read($secs) ? 1 : 0;
}

sub fe_send {
    my($s, $data) = @_;
    my $off = 0;
    local $SIG{PIPE} = 'IGNORE';
    while ($off < length $data) {
        my $n = syswrite($s, $data, length($data) - $off, $off);
        if (!defined $n) {
            next if $! == EINTR;
            return 0;
        }
        $off += $n;
    }
    return 1;
}

# fe_request_text(method => 'GET', path => '/', proto => 'HTTP/1.1',
#                 headers => [Name => value, ...], body => '...',
#                 close => 1 (adds "Connection: close"))
sub fe_request_text {
    my %o = @_;
    my $method = $o{method} || 'GET';
    my $path   = defined $o{path} ? $o{path} : '/';
    my $proto  = $o{proto} || 'HTTP/1.1';
    my @h = @{ $o{headers} || [] };
    my $text = "$method $path $proto\r\n";
    $text .= 'Host: ' . fe_host() . ':' . fe_port() . "\r\n"
        unless grep { lc eq 'host' } @h[grep { !($_ % 2) } 0 .. $#h];
    $text .= "Connection: close\r\n" if $o{close};
    while (my($k, $v) = splice @h, 0, 2) {
        $text .= "$k: $v\r\n";
    }
    if (defined $o{body}) {
        $text .= 'Content-Length: ' . length($o{body}) . "\r\n";
    }
    $text .= "\r\n";
    $text .= $o{body} if defined $o{body};
    return $text;
}

# Fill the socket's private buffer until it holds $want bytes (or, with
# $want undef, until EOF).  Returns 1 when satisfied, 0 on EOF, undef on
# timeout/error (reason in $FETest::ERR).
our $ERR = '';
sub _fill {
    my($s, $deadline, $want_cb) = @_;
    while (1) {
        return 1 if $want_cb->(${*$s}{fe_buf});
        my $left = $deadline - fe_now();
        if ($left <= 0) { $ERR = 'timeout'; return undef }
        next unless fe_readable($s, $left);
        my $n = sysread($s, my $chunk, 65536);
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN || $! == EWOULDBLOCK;
            $ERR = "read error: $!";
            return undef;
        }
        if ($n == 0) { $ERR = 'eof'; return 0 }
        ${*$s}{fe_buf} .= $chunk;
    }
}

# Read one HTTP response from $s.  Options: timeout (s, default 10),
# head => 1 (response to HEAD: no body).  Returns a hashref
#   { status, reason, proto, headers => {lc name => value}, body, raw_head }
# or { status => 0, error => '...' } on timeout / premature EOF.
sub fe_read_response {
    my($s, %o) = @_;
    my $deadline = fe_now() + ($o{timeout} || 10);
    ${*$s}{fe_buf} = '' unless defined ${*$s}{fe_buf};

    my $got = _fill($s, $deadline, sub { index($_[0], "\r\n\r\n") >= 0 });
    unless ($got) {
        my $partial = ${*$s}{fe_buf};
        return { status => 0, error => "no response head ($ERR)",
                 partial => $partial };
    }
    my $end = index(${*$s}{fe_buf}, "\r\n\r\n");
    my $head = substr(${*$s}{fe_buf}, 0, $end + 4, '');
    my($statusline, @lines) = split /\r\n/, $head;
    my($proto, $status, $reason) =
        $statusline =~ m{^(HTTP/\d\.\d)\s+(\d{3})\s*(.*)$}
        or return { status => 0, error => "bad status line '$statusline'" };
    my %h;
    for (@lines) {
        my($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $k = lc $k;
        $h{$k} = exists $h{$k} ? "$h{$k}, $v" : $v;
    }
    my $r = { status => $status, reason => $reason, proto => $proto,
              headers => \%h, body => '', raw_head => $head };

    return $r if $o{head} || $status =~ /^(?:1\d\d|204|304)$/;

    if (($h{'transfer-encoding'} || '') =~ /chunked/i) {
        my $body = '';
        while (1) {
            _fill($s, $deadline, sub { index($_[0], "\r\n") >= 0 })
                or return { %$r, status => 0, error => "chunk size ($ERR)" };
            my $i = index(${*$s}{fe_buf}, "\r\n");
            my $line = substr(${*$s}{fe_buf}, 0, $i + 2, '');
            my($len) = $line =~ /^([0-9a-fA-F]+)/;
            $len = hex($len || 0);
            if ($len == 0) {
                # trailers, up to the empty line
                _fill($s, $deadline, sub { $_[0] =~ /^(?:[^\r\n]*\r\n)*?\r\n/ })
                    or return { %$r, status => 0, error => "trailer ($ERR)" };
                ${*$s}{fe_buf} =~ s/^(?:[^\r\n]+\r\n)*\r\n//;
                last;
            }
            _fill($s, $deadline, sub { length($_[0]) >= $len + 2 })
                or return { %$r, status => 0, error => "chunk body ($ERR)" };
            $body .= substr(${*$s}{fe_buf}, 0, $len + 2, '');
            substr($body, -2) = '';
        }
        $r->{body} = $body;
    }
    elsif (defined $h{'content-length'}) {
        my $len = $h{'content-length'};
        _fill($s, $deadline, sub { length($_[0]) >= $len })
            or return { %$r, status => 0,
                        error => "body: got " . length(${*$s}{fe_buf}) .
                                 " of $len bytes ($ERR)" };
        $r->{body} = substr(${*$s}{fe_buf}, 0, $len, '');
    }
    else {
        my $ok = _fill($s, $deadline, sub { 0 });   # until EOF
        return { %$r, status => 0, error => "body until close ($ERR)" }
            unless defined $ok;
        $r->{body} = ${*$s}{fe_buf};
        ${*$s}{fe_buf} = '';
    }
    return $r;
}

# Wait until the peer closes $s.  Returns (how, seconds) where how is
# 'eof', 'reset', 'timeout', or 'data' (bytes arrived instead; they are
# appended to the socket's buffer and returned as the third value).
sub fe_wait_eof {
    my($s, $timeout) = @_;
    my $t0 = fe_now();
    my $data = '';
    while (1) {
        my $left = $t0 + $timeout - fe_now();
        return ('timeout', fe_now() - $t0, $data) if $left <= 0;
        next unless fe_readable($s, $left);
        my $n = sysread($s, my $chunk, 65536);
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN;
            return ($! == ECONNRESET ? 'reset' : "error: $!",
                    fe_now() - $t0, $data);
        }
        return ('eof', fe_now() - $t0, $data) if $n == 0;
        $data .= $chunk;
        ${*$s}{fe_buf} .= $chunk;
        # keep reading: a 408 response is followed by the close
        return ('data', fe_now() - $t0, $data) if length $data > 65536;
    }
}

# One request on a fresh connection with "Connection: close".
# fe_request(method => ..., path => ..., body => ..., headers => [...],
#            timeout => ...)
sub fe_request {
    my %o = @_;
    my $s = fe_connect(timeout => $o{timeout})
        or return { status => 0, error => "connect: $!" };
    fe_send($s, fe_request_text(%o, close => 1))
        or return { status => 0, error => "send: $!" };
    my $r = fe_read_response($s, timeout => $o{timeout},
                             head => (($o{method} || '') eq 'HEAD'));
    close $s;
    return $r;
}

sub fe_get { my($path, %o) = @_; fe_request(%o, method => 'GET', path => $path) }

# /server-status?auto as a hashref (key => value); {} on failure.
sub fe_status_auto {
    my $r = fe_get('/server-status?auto');
    return {} unless $r->{status} == 200;
    my %st;
    for (split /\r?\n/, $r->{body}) {
        $st{$1} = $2 if /^([^:]+):\s*(.*?)\s*$/;
    }
    return \%st;
}

sub fe_status_html {
    my $r = fe_get('/server-status');
    return $r->{status} == 200 ? $r->{body} : '';
}

# ------------------------------------------------------------------ processes

sub fe_server_pid {
    my $f = Apache::Test::vars('t_pid_file')
        || Apache::Test::vars('t_logs') . '/httpd.pid';
    open my $fh, '<', $f or return;
    my $pid = <$fh>;
    close $fh;
    return unless defined $pid && $pid =~ /(\d+)/;
    return $1;
}

# PIDs of the server's children (processes whose parent is the httpd.pid
# process), read from /proc.
sub fe_child_pids {
    my $ppid = shift || fe_server_pid() or return;
    my @kids;
    opendir my $d, '/proc' or return;
    for my $pid (grep { /^\d+$/ } readdir $d) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $stat = <$fh>;
        close $fh;
        next unless defined $stat;
        # pid (comm) state ppid ...
        my($pp) = $stat =~ /\)\s+\S+\s+(\d+)/ or next;
        push @kids, $pid + 0 if $pp == $ppid;
    }
    closedir $d;
    return sort { $a <=> $b } @kids;
}

1;
