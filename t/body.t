# Request bodies, echoed by mod_reflector (POST /echo, t/conf/extra.conf.in)
# on the plain port and on the TLS virtual host (fe_ssl, as in ssl.t):
# 0 B, 1 B, 64 KiB and 1 MiB with Content-Length, a chunked body (chunks
# of 1 byte to 192 KiB, a chunk extension, a trailer), and Expect:
# 100-continue (the client sends the body only once the interim 100 came).
# Each echo is compared with what was sent, length and SHA-256.  Then the
# same six one after the other on one keep-alive connection, and two
# POSTs pipelined in one write.
#
# The client reads while it sends: the echo streams back before the
# request is complete, and a client that only wrote would stall both
# sides once the socket buffers are full.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use Digest::SHA qw(sha256 sha256_hex);
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Select ();
use FETest;

my $TIMEOUT = 30;       # per request, 1 MiB over TLS included
my $PER_PROTO = 9;

plan tests => 2 * $PER_PROTO + 1, need need_module('reflector');

my $sslport = fe_var('fe_ssl_port');
my $have_tls = Apache::Test::have_module('ssl') && $sslport
    && -s fe_var('t_logs') . '/fe-ssl/server.crt'
    && eval { require IO::Socket::SSL; 1 };

# $n bytes of deterministic binary data (every byte value, CR LF and NUL
# included), different for each $seed
sub data {
    my($n, $seed) = @_;
    my $x = '';
    my $i = 0;
    $x .= sha256("$seed:" . $i++) while length $x < $n;
    return substr($x, 0, $n);
}

# ---- sending and reading at once

sub fe_connect_proto {
    my $tls = shift;
    return $tls ? fe_connect_ssl(port => $sslport, alpn => ['http/1.1'])
                : fe_connect();
}

# Read whatever $s has now into its buffer (non-blocking socket).
sub drain {
    my $s = shift;
    while (1) {
        my $n = sysread($s, my $chunk, 65536);
        last unless $n;         # undef: nothing now; 0: EOF
        ${*$s}{fe_buf} .= $chunk;
    }
}

# Send $data on $s, reading what comes back meanwhile into the buffer
# fe_read_response() reads first.  1 when all was sent; 0 and the reason
# in $FETest::ERR otherwise.
sub xfer {
    my($s, $data, $timeout) = @_;
    my $deadline = fe_now() + ($timeout || $TIMEOUT);
    my($off, $len) = (0, length $data);
    my $ok = 1;
    local $SIG{PIPE} = 'IGNORE';
    $s->blocking(0);
    while ($off < $len) {
        my $left = $deadline - fe_now();
        if ($left <= 0) {
            $FETest::ERR = "timeout after sending $off of $len bytes";
            $ok = 0;
            last;
        }
        drain($s);
        my $want = $len - $off > 16384 ? 16384 : $len - $off;
        my $n = syswrite($s, $data, $want, $off);
        if (defined $n) {
            $off += $n;
            next;
        }
        if ($! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR) {
            my $sel = IO::Select->new($s);
            IO::Select->select($sel, $sel, undef, $left < 0.2 ? $left : 0.2);
            next;
        }
        $FETest::ERR = "write failed after $off of $len bytes: $!";
        $ok = 0;
        last;
    }
    $s->blocking(1);
    return $ok;
}

sub head_text {
    my(%o) = @_;
    my @h = ('Content-Type' => 'application/octet-stream', @{ $o{headers} || [] });
    my $text = fe_request_text(method => 'POST', path => $o{path} || '/echo',
                               headers => \@h, close => $o{close});
    return $text;
}

# The cases: name => [request bytes before any wait, body bytes sent
# after the 100 (Expect only), expected echo]
my $chunk_sizes = [1, 2, 7, 100, 1000, 4096, 8192, 16384, 65535, 1, 12345, 196608];
sub chunked_case {
    my $seed = shift;
    my($wire, $body, $i) = ('', '', 0);
    for my $size (@$chunk_sizes) {
        my $piece = data($size, "$seed-$i");
        $wire .= sprintf('%x', $size) . ($i == 3 ? ';fe-ext=1' : '') . "\r\n$piece\r\n";
        $body .= $piece;
        $i++;
    }
    $wire .= "0\r\nX-FE-Trailer: done\r\n\r\n";
    return ($wire, $body);
}

sub cases {
    my $close = shift;
    my @out;
    for ([ '0 B', 0 ], [ '1 B', 1 ], [ '64 KiB', 65536 ], [ '1 MiB', 1048576 ]) {
        my($name, $n) = @$_;
        my $body = data($n, $name);
        push @out, { name => "$name (Content-Length)",
                     head => head_text(close => $close,
                                       headers => ['Content-Length' => $n]),
                     body => $body, echo => $body };
    }
    my($wire, $body) = chunked_case('chunked');
    push @out, { name => sprintf('%d B chunked (%d chunks, an extension, a trailer)',
                                 length $body, scalar @$chunk_sizes),
                 head => head_text(close => $close,
                                   headers => ['Transfer-Encoding' => 'chunked']),
                 body => $wire, echo => $body };
    my $exp = data(65536, 'expect');
    push @out, { name => '64 KiB with Expect: 100-continue', expect => 1,
                 head => head_text(close => $close,
                                   headers => ['Content-Length' => 65536,
                                               'Expect' => '100-continue']),
                 body => $exp, echo => $exp };
    return @out;
}

# One case on $s: the response, and for Expect the interim one first.
sub run_case {
    my($s, $c) = @_;
    my $interim;
    if ($c->{expect}) {
        fe_send($s, $c->{head}) or return { status => 0, error => "send: $!" };
        $interim = fe_read_response($s, timeout => 5);
        return { status => 0, error => 'no 100 Continue within 5 s ('
                     . ($interim->{error} // "status $interim->{status}") . ')',
                 interim => $interim }
            unless $interim->{status} == 100;
        xfer($s, $c->{body}) or return { status => 0, error => $FETest::ERR,
                                         interim => $interim };
    }
    else {
        xfer($s, $c->{head} . $c->{body})
            or return { status => 0, error => $FETest::ERR };
    }
    my $r = fe_read_response($s, timeout => $TIMEOUT);
    $r->{interim} = $interim;
    return $r;
}

sub echo_ok {
    my($r, $want, $name) = @_;
    my $got = $r->{body} // '';
    my $ok = $r->{status} == 200 && length($got) == length($want)
        && sha256_hex($got) eq sha256_hex($want);
    ok($ok, $name) or diag(sprintf('status %s%s; echoed %d of %d bytes, sha256 %s, sent %s',
                                   $r->{status}, $r->{error} ? " ($r->{error})" : '',
                                   length $got, length $want,
                                   substr(sha256_hex($got), 0, 16),
                                   substr(sha256_hex($want), 0, 16)));
    return $ok;
}

sub run_proto {
    my $tls = shift;
    my $p = $tls ? 'TLS' : 'plain';

    # each case on a fresh connection
    for my $c (cases(1)) {
        my $s = fe_connect_proto($tls) or do {
            ok(0, "$p: POST $c->{name} echoed byte for byte");
            diag("connect: " . ($FETest::ERR || $!));
            ok(0, "$p: ... the 100 Continue came before the body") if $c->{expect};
            next;
        };
        my $r = run_case($s, $c);
        close $s;
        if ($c->{expect}) {
            is($r->{interim} ? $r->{interim}{status} : 'none', 100,
               "$p: Expect: 100-continue: the server sent 100 Continue before the body");
        }
        echo_ok($r, $c->{echo}, "$p: POST $c->{name} echoed byte for byte");
    }

    # the six on one keep-alive connection
    {
        my $s = fe_connect_proto($tls);
        my($good, @bad) = (0);
        for my $c (cases(0)) {
            last unless $s;
            my $r = run_case($s, $c);
            my $got = $r->{body} // '';
            if ($r->{status} == 200 && $got eq $c->{echo}) { $good++ }
            else { push @bad, "$c->{name}: status $r->{status}"
                       . ($r->{error} ? " ($r->{error})" : '')
                       . ', ' . length($got) . ' bytes'; last }
        }
        close $s if $s;
        is($good, 6, "$p: the six one after the other on one keep-alive connection")
            or diag($s ? join('; ', @bad) : "connect: " . ($FETest::ERR || $!));
    }

    # two POSTs pipelined in one write
    {
        my $first = data(1024, 'pipelined-a');
        my($wire, $second) = chunked_case('pipelined-b');
        my $req = head_text(headers => ['Content-Length' => length $first]) . $first
                . head_text(close => 1, headers => ['Transfer-Encoding' => 'chunked']) . $wire;
        my $s = fe_connect_proto($tls);
        my($ok, $why) = (0, $s ? '' : 'connect failed');
        if ($s && xfer($s, $req)) {
            my $r1 = fe_read_response($s, timeout => $TIMEOUT);
            my $r2 = fe_read_response($s, timeout => $TIMEOUT);
            $ok = $r1->{status} == 200 && $r1->{body} eq $first
               && $r2->{status} == 200 && $r2->{body} eq $second;
            $why = sprintf('first: status %s, %d bytes; second: status %s, %d bytes',
                           $r1->{status}, length($r1->{body} // ''),
                           $r2->{status}, length($r2->{body} // ''));
        }
        elsif ($s) {
            $why = $FETest::ERR;
        }
        close $s if $s;
        ok($ok, "$p: two POSTs (1 KiB, then chunked) pipelined in one write, both echoed")
            or diag($why);
    }
}

run_proto(0);

SKIP: {
    skip 'no TLS virtual host (mod_ssl, fe_ssl_port, the test certificate, IO::Socket::SSL)',
        $PER_PROTO unless $have_tls;
    run_proto(1);
}

fe_log_clean_ok();
