# Slow readers: clients with a small receive window fetch the 1 MiB file,
# pause, and (but for reader 1) read it slowly.  They must get every byte,
# and other clients must be served quickly meanwhile.  Reader 1 pauses, then
# reads fast and reuses its keep-alive connection: the response had to wait
# for the client (write completion) and must then go back to keep-alive.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use IO::Select;
use FETest;

my $N_SLOW   = 4;
my $CHUNK    = 16 * 1024;   # read at most this much ...
my $INTERVAL = 0.02;        # ... every 20 ms
my $PAUSE    = 1.0;         # before the first read (below Timeout = 3 s)
my $LIMIT    = 15;          # seconds, for the whole slow read
my $QUICK    = 2.0;         # seconds: "served quickly" (2 cores, busy CI)

plan tests => 12 + $N_SLOW;

my $docroot = fe_var('documentroot');
my $big = do { local $/; open my $fh, '<', "$docroot/fe/1m.bin" or die $!; binmode $fh; <$fh> };
my $small = do { local $/; open my $fh, '<', "$docroot/fe/1k.bin" or die $!; binmode $fh; <$fh> };

my @slow;
for my $i (1 .. $N_SLOW) {
    my $s = fe_connect(rcvbuf => 8192) or die "connect: $!";
    # reader 1 keeps its connection alive for a follow-up request
    fe_send($s, fe_request_text(path => "/fe/1m.bin?slow=$i", close => ($i != 1)));
    push @slow, { sock => $s, buf => '', done => 0, i => $i };
}
is(scalar @slow, $N_SLOW, "$N_SLOW slow readers sent their requests");

my $t0 = fe_now();
my(@normal_times, $normal_ok, $normal_err, $normal_failed);
$normal_ok = $normal_failed = 0;

# Phase 1: the slow readers do not read at all for $PAUSE seconds; make the
# other requests now, while the server has the big responses pending.
while (fe_now() - $t0 < $PAUSE || @normal_times < 10) {
    last if @normal_times >= 10 || $normal_failed >= 2;
    my $t = fe_now();
    my $r = fe_get('/fe/1k.bin', timeout => 5);
    push @normal_times, fe_now() - $t;
    if ($r->{status} == 200 && $r->{body} eq $small) { $normal_ok++ }
    else { $normal_err //= $r->{error} // "status $r->{status}"; $normal_failed++ }
}
my $left = $PAUSE - (fe_now() - $t0);
Time::HiRes::sleep($left) if $left > 0;

my $deadline = $t0 + $LIMIT;
my $want = sub { my $x = shift; my $e = index($x->{buf}, "\r\n\r\n");
                 return $e >= 0 && length($x->{buf}) >= $e + 4 + length $big };

# Reader 1 only paused: it now reads at full speed and, as soon as it has
# the whole body, sends another request on the same (keep-alive)
# connection.  (Readers that trickle for longer than KeepAliveTimeout after
# the server has handed its last byte to the kernel may legitimately find
# their connection closed, so only this one is reused.)
{
    my $x = $slow[0];
    my $sel = IO::Select->new($x->{sock});
    while (!$x->{done} && fe_now() < $deadline) {
        next unless $sel->can_read(0.5);
        my $n = sysread($x->{sock}, my $chunk, 65536);
        if (!$n) { $x->{done} = 1; $x->{eof} = 1; last }
        $x->{buf} .= $chunk;
        $x->{done} = 1 if $want->($x);
    }
    if ($x->{done} && !$x->{eof}) {
        my $s = $x->{sock};
        ${*$s}{fe_buf} = '';
        fe_send($s, fe_request_text(path => '/fe/1k.bin', close => 1));
        $x->{next} = fe_read_response($s, timeout => 5);
    }
}

# Phase 2: the others read slowly; interleave 10 more normal requests.
while (grep { !$_->{done} } @slow) {
    last if fe_now() > $deadline;
    for my $x (grep { !$_->{done} } @slow) {
        my $sel = IO::Select->new($x->{sock});
        next unless $sel->can_read(0);
        my $n = sysread($x->{sock}, my $chunk, $CHUNK);
        if (!$n) { $x->{done} = 1; $x->{eof} = 1; next }
        $x->{buf} .= $chunk;
        $x->{done} = 1 if $want->($x);
    }
    if (@normal_times < 20 && $normal_failed < 2) {
        my $t = fe_now();
        my $r = fe_get('/fe/1k.bin', timeout => 5);
        push @normal_times, fe_now() - $t;
        if ($r->{status} == 200 && $r->{body} eq $small) { $normal_ok++ }
        else { $normal_err //= $r->{error} // "status $r->{status}"; $normal_failed++ }
    }
    Time::HiRes::sleep($INTERVAL);
}
my $elapsed = fe_now() - $t0;

for my $x (@slow) {
    my $e = index($x->{buf}, "\r\n\r\n");
    my $head = $e >= 0 ? substr($x->{buf}, 0, $e) : '';
    my $body = $e >= 0 ? substr($x->{buf}, $e + 4) : '';
    ok($head =~ m{^HTTP/1\.1 200\b} && $body eq $big,
       "slow reader $x->{i}: got the 1 MiB body intact")
        or diag("slow reader $x->{i}: head '" . (split /\r\n/, $head)[0] . "', " .
                length($body) . " body bytes, " . ($x->{eof} ? 'EOF' : 'no EOF') .
                sprintf(', after %.1f s', $elapsed));
}
cmp_ok($elapsed, '<', $LIMIT, sprintf('slow reads finished in %.1f s', $elapsed));
cmp_ok($elapsed, '>=', $PAUSE, '... and really were slow');

is($normal_ok, 20, '20 other requests succeeded during the slow reads') or diag($normal_err);
my($slowest) = sort { $b <=> $a } @normal_times;
cmp_ok($slowest // 99, '<', $QUICK,
       sprintf('... each within %.0f s (slowest %.3f s)', $QUICK, $slowest // 99));

# the keep-alive slow reader's connection served another request
{
    my $r = $slow[0]{next} || { status => 0, error => 'not sent (body incomplete)' };
    is($r->{status}, 200, 'slow reader 1: next request on the same connection -> 200')
        or diag($r->{error});
    ok(($r->{body} // '') eq $small, '... with the right body');
}

# the connection: close ones were closed after the body
for my $x (@slow[1 .. $#slow]) {
    my($how) = fe_wait_eof($x->{sock}, 3);
    $x->{closed} = $how;
}
is(join(',', map { $_->{closed} } @slow[1 .. $#slow]),
   join(',', ('eof') x ($N_SLOW - 1)), 'the other slow readers were closed after their body');
close $_->{sock} for @slow;

# A client that sends small requests one after another but never reads:
# small responses are written at once only while the socket's send buffer
# has room for them (fe_writenow.c); once the buffers are full the rest
# must wait in write completion, with no worker blocked writing.
{
    my $s = fe_connect(rcvbuf => 4096) or die "connect: $!";
    my $sent = 0;
    for my $i (1 .. 200) {
        fe_send($s, fe_request_text(path => "/fe/1k.bin?noread=$i")) or last;
        $sent++;
        select(undef, undef, undef, 0.005);
    }
    select(undef, undef, undef, 0.5);
    my $st = fe_status_auto();
    is($sent, 200, 'a client that never reads sent 200 small requests');
    cmp_ok($st->{ConnsAsyncWriting} // 0, '>=', 1,
           '... its responses wait in write completion')
        or diag("ConnsAsyncWriting $st->{ConnsAsyncWriting}");
    cmp_ok($st->{BusyWorkers} // 99, '<=', 1,
           '... and no worker is blocked writing to it')
        or diag("BusyWorkers $st->{BusyWorkers}");
    close $s;
}

fe_log_clean_ok();
