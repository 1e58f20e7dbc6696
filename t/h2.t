# HTTP/2 in clear text (mod_http2, "Protocols h2c http/1.1"): prior
# knowledge and Upgrade: h2c, many streams on one connection, request
# bodies, a large response, and one h2 connection left idle (back in the
# MPM's keep-alive state) then reused, then closed after KeepAliveTimeout.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use FETest;
use FEH2;

my $KA_TIMEOUT = 2;     # KeepAliveTimeout in t/conf/extra.conf.in

my($curl, $h2load, $nghttp) = (fe_which('curl'), fe_which('h2load'), fe_which('nghttp'));

plan tests => 24,
    need need_module('http2'),
         { 'curl not installed' => sub { $curl } },
         { 'h2load/nghttp not installed (package nghttp2-client)' => sub { $h2load && $nghttp } };

my $port = fe_port();
my $base = 'http://' . fe_host() . ":$port";
my $docroot = fe_var('documentroot');
my $logs = fe_var('t_logs');
my $small = fe_slurp("$docroot/fe/1k.bin");
my $big   = fe_slurp("$docroot/fe/1m.bin");
my $out   = "$logs/h2-body.$$";

# h2load's summary: { total, succeeded, failed, errored, 2xx, proto, raw }
sub h2load {
    my(@args) = @_;
    my($rc, $txt) = fe_run(60, $h2load, @args);
    my %r = (rc => $rc, raw => $txt);
    if ($txt =~ /requests:\s+(\d+) total,\s+(\d+) started,\s+(\d+) done,\s+(\d+) succeeded,\s+(\d+) failed,\s+(\d+) errored/) {
        @r{qw(total started done succeeded failed errored)} = ($1, $2, $3, $4, $5, $6);
    }
    $r{'2xx'} = $1 if $txt =~ /status codes:\s+(\d+) 2xx/;
    $r{proto} = $1 if $txt =~ /Application protocol:\s*(\S+)/;
    return \%r;
}
sub h2load_diag { my $r = shift; diag("h2load exit $r->{rc}:\n$r->{raw}") }

# curl ARGS... -> (exit status, -w output); the body goes to $out
sub curl {
    my(@args) = @_;
    unlink $out;
    return fe_run(30, $curl, '-s', '-S', '-o', $out, @args);
}

# ---- h2c with prior knowledge: h2load, 4 connections x 10 streams
{
    my $r = h2load('-n', 200, '-c', 4, '-m', 10, "$base/fe/1k.bin");
    ok(($r->{succeeded} // -1) == 200 && $r->{failed} == 0 && $r->{errored} == 0,
       'h2load prior knowledge: 200 of 200 requests succeeded') or h2load_diag($r);
    is($r->{'2xx'}, 200, '... all 2xx');
    is($r->{proto}, 'h2c', '... over h2c');
}

# ---- curl --http2-prior-knowledge
{
    my($rc, $w) = curl('--http2-prior-knowledge', '-w', '%{response_code} %{http_version}',
                       "$base/fe/1k.bin");
    is("$rc $w", '0 200 2', 'curl --http2-prior-knowledge: 200 over HTTP/2');
    ok(fe_slurp($out) eq $small, '... 1 KiB body intact');
}

# ---- Upgrade: h2c (curl --http2 on an http:// URL)
{
    my($rc, $w) = curl('--http2', '-w', '%{response_code} %{http_version}',
                       "$base/fe/1k.bin?upgrade=1");
    is("$rc $w", '0 200 2', 'curl --http2 (Upgrade: h2c): 200, answered over HTTP/2');
    ok(fe_slurp($out) eq $small, '... 1 KiB body intact');
}

# ---- many concurrent streams on one connection
{
    my $r = h2load('-n', 1000, '-c', 1, '-m', 100, "$base/fe/1k.bin");
    ok(($r->{succeeded} // -1) == 1000 && $r->{failed} == 0 && $r->{errored} == 0,
       '1 connection x 100 concurrent streams: 1000 of 1000 succeeded') or h2load_diag($r);
    is($r->{'2xx'}, 1000, '... all 2xx');
}

# ---- request bodies and a large response over h2
{
    # POST 200 kB (more than the 64 KiB initial stream window) to a static
    # file: the default handler answers with the file.  nghttp, not curl
    # 7.88, which fails uploads beyond the window ("Stream error in the
    # HTTP/2 framing layer") with any MPM; not mod_reflector, which answers
    # an empty body over h2 with any MPM.
    my $payload = join '', map { sprintf "%07d\n", $_ } 1 .. 25000;
    my $in = "$logs/h2-post.$$";
    open my $fh, '>', $in or die "$in: $!";
    binmode $fh;
    print $fh $payload;
    close $fh;
    my($rc, $txt) = fe_run(30, $nghttp, '-n', '-s', '-d', $in, "$base/fe/1k.bin?post=1");
    unlink $in;
    my($code, $size) = $txt =~ m{\s(\d{3})\s+(\S+)\s+/fe/1k\.bin\?post=1\s*$}m;
    is(($code // 0) . ' ' . ($size // '-'), '200 1K',
       'nghttp: POST 200 kB over h2 to a static file -> 200 with the 1 KiB file')
        or diag("nghttp exit $rc:\n$txt");

    # a rate-limited client: the 1 MiB response waits for it (flow control
    # and the socket's send buffer), so the connection spends time waiting
    # to write
    my $t0 = fe_now();
    ($rc, my $w) = curl('--http2-prior-knowledge', '--limit-rate', '1M',
                     '-w', '%{response_code}', "$base/fe/1m.bin");
    my $secs = fe_now() - $t0;
    is("$rc $w", '0 200', sprintf('1 MiB over h2 to a client reading 1 MB/s -> 200 (%.1f s)', $secs));
    ok(fe_slurp($out) eq $big, '... 1 MiB body intact');
}

# ---- h2load: one client, one request a second on its single connection
# (curl 7.88 cannot reuse an h2 connection: "Error in the HTTP2 framing
# layer" with any MPM)
{
    my $t0 = fe_now();
    my $r = h2load('--rps', 1, '-n', 3, '-c', 1, "$base/fe/1k.bin?rps=1");
    my $secs = fe_now() - $t0;
    ok(($r->{succeeded} // -1) == 3 && $r->{failed} == 0 && $r->{errored} == 0
       && ($r->{'2xx'} // -1) == 3,
       'h2load --rps 1: 3 requests a second apart on one connection all succeeded')
        or h2load_diag($r);
    cmp_ok($secs, '>=', 1.8, sprintf('... the connection idled in between (%.2f s in all)', $secs));
}

# ---- one h2 connection held by hand: request, idle 1.2 s (less than
# KeepAliveTimeout), request again on it, idle until the server closes it.
{
    my $s = fe_connect() or die "connect: $!";
    my $h2 = FEH2->new($s, scheme => 'http', authority => fe_host() . ":$port");
    $h2->handshake;
    my $r = $h2->response($h2->request('/fe/1k.bin?raw=1'), 5);
    ok($r->{status} == 200 && $r->{body} eq $small, 'raw h2c: first request -> 200, body intact')
        or diag("status $r->{status} " . ($r->{error} // ''));

    # several streams at once on it
    my @ids = map { $h2->request("/fe/1k.bin?stream=$_") } 1 .. 10;
    my $good = grep { my $x = $h2->response($_, 5); $x->{status} == 200 && $x->{body} eq $small } @ids;
    is($good, 10, 'raw h2c: 10 concurrent streams -> 10 x 200');

    # while it idles, mod_status counts it among the connections, in the
    # async keep-alive state (sampled for up to 0.9 s: the state is entered
    # a moment after the last stream ends)
    my $t_idle = fe_now();
    my($seen, $st) = (0, {});
    while (fe_now() - $t_idle < 0.9) {
        Time::HiRes::sleep(0.1);
        $st = fe_status_auto();
        if (($st->{ConnsTotal} // 0) >= 1 && ($st->{ConnsAsyncKeepAlive} // 0) >= 1) {
            $seen = 1;
            last;
        }
    }
    SKIP: {
        # stock event refreshes these per-child counters only when that
        # child's listener wakes up, so they stay stale while all is idle
        skip 'mod_status connection counters are lazily refreshed by the stock event MPM', 1
            unless fe_expected_mpm() eq 'fastevent';
        ok($seen, 'mod_status counts the idle h2 connection: ConnsTotal >= 1, ConnsAsyncKeepAlive >= 1')
            or diag("last sample: ConnsTotal " . ($st->{ConnsTotal} // '?')
                    . ", ConnsAsyncKeepAlive " . ($st->{ConnsAsyncKeepAlive} // '?'));
    }
    my $left = 1.2 - (fe_now() - $t_idle);      # 1.2 s idle in all
    Time::HiRes::sleep($left) if $left > 0;

    $r = $h2->response($h2->request('/fe/1k.bin?after-idle=1'), 5);
    ok($r->{status} == 200 && $r->{body} eq $small,
       'raw h2c: request after 1.2 s idle on the same connection -> 200')
        or diag("status $r->{status} " . ($r->{error} // ''));
    ok(!$h2->{goaway}, '... and no GOAWAY before it');

    my($how, $secs) = $h2->wait_close($KA_TIMEOUT + 4);
    is($how, 'eof', "idle h2 connection closed by the server (KeepAliveTimeout $KA_TIMEOUT)");
    ok($secs >= $KA_TIMEOUT - 0.5 && $secs <= $KA_TIMEOUT + 3,
       sprintf('... after %.2f s', $secs));
    ok($h2->{goaway}, '... with a GOAWAY first')
        or diag("frames received: $h2->{frames_in}");
    close $s;
}

# ---- and HTTP/1.1 still works on the same port
{
    my $r = fe_get('/fe/1k.bin');
    ok($r->{status} == 200 && $r->{body} eq $small, 'HTTP/1.1 on the h2c port -> 200')
        or diag($r->{error});
}

unlink $out;
fe_log_clean_ok();
