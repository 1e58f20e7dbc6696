# Timed callbacks and suspended connections: mod_dialup (ModemStandard V.92,
# 7000 bytes a second, t/conf/extra.conf.in) sends a 25000-byte file one
# pulse a second from ap_mpm_register_timed_callback(), the connection
# SUSPENDED in between (no worker thread held), and resumed by the MPM when
# the response is complete.  Several downloads run at once; the files must
# arrive intact and really paced, other requests must be served quickly
# meanwhile, and the keep-alive download's connection must serve another
# request afterwards, then be closed after KeepAliveTimeout like any idle
# connection.
#
# The stock event MPM (2.4.71) fails this test when validating the harness
# with FE_TEST_MPM_SO: its timed callbacks run only when its listener
# wakes up for some other reason, so a lone download stops after the first
# pulse (curl gets 7000 of 25000 bytes) and these stall at 21000.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use IO::Select;
use FETest;

my $N_DL       = 4;
my $SIZE       = 25000;     # t/htdocs/fe/dialup/25k.bin
my $RATE       = 7000;      # bytes a second (V.92)
my $LIMIT      = 15;        # seconds for all the downloads
my $QUICK      = 1.0;       # seconds: "served quickly"
my $KA_TIMEOUT = 2;         # KeepAliveTimeout in t/conf/extra.conf.in

plan tests => 14, need need_module('dialup');

my $docroot = fe_var('documentroot');
my $file  = fe_slurp("$docroot/fe/dialup/25k.bin");
my $small = fe_slurp("$docroot/fe/1k.bin");
die "t/htdocs/fe/dialup/25k.bin: expected $SIZE bytes" unless length $file == $SIZE;

# Is the raw response in $x->{buf} complete?  (Content-Length, chunked, or
# -- for the Connection: close ones -- EOF.)
sub complete {
    my $x = shift;
    return 1 if $x->{eof};
    my $e = index($x->{buf}, "\r\n\r\n");
    return 0 if $e < 0;
    my $head = substr($x->{buf}, 0, $e);
    if ($head =~ /^Content-Length:\s*(\d+)/mi) {
        return length($x->{buf}) >= $e + 4 + $1;
    }
    if ($head =~ /^Transfer-Encoding:\s*chunked/mi) {
        return $x->{buf} =~ /\r\n0\r\n(?:[^\r\n]+\r\n)*\r\n\z/;
    }
    return 0;
}

# ---- start the downloads; #1 keeps its connection alive
my @dl;
my $t0 = fe_now();
for my $i (1 .. $N_DL) {
    my $s = fe_connect() or die "connect: $!";
    fe_send($s, fe_request_text(path => "/fe/dialup/25k.bin?dl=$i", close => ($i != 1)));
    push @dl, { i => $i, sock => $s, buf => '', done => 0 };
}

# ---- read them as they come; meanwhile, other requests; and mod_status
my(@normal, $normal_ok, $normal_err, $busy_sample, $next_normal);
$normal_ok = 0;
$next_normal = $t0 + 0.2;
while (grep { !$_->{done} } @dl) {
    my $now = fe_now();
    last if $now - $t0 > $LIMIT;
    for my $x (grep { !$_->{done} } @dl) {
        next unless IO::Select->new($x->{sock})->can_read(0);
        my $n = sysread($x->{sock}, my $chunk, 65536);
        if (!$n) { $x->{eof} = 1 }
        else {
            $x->{first} //= fe_now() - $t0;
            $x->{buf} .= $chunk;
        }
        $x->{at_1s} = length $x->{buf} if fe_now() - $t0 < 1.0;
        if (complete($x)) { $x->{done} = 1; $x->{secs} = fe_now() - $t0 }
    }
    if ($now >= $next_normal && @normal < 12) {
        my $t = fe_now();
        my $r = fe_get("/fe/1k.bin?during-dialup=" . scalar @normal, timeout => 5);
        push @normal, fe_now() - $t;
        if ($r->{status} == 200 && $r->{body} eq $small) { $normal_ok++ }
        else { $normal_err //= $r->{error} // "status $r->{status}" }
        $next_normal = fe_now() + 0.2;
    }
    if (!defined $busy_sample && $now - $t0 > 1.5) {
        # between two pulses, the suspended downloads hold no worker
        my $st = fe_status_auto();
        $busy_sample = $st->{BusyWorkers};
    }
    Time::HiRes::sleep(0.01);
}

# ---- the downloads
my $head_len = sub { my $x = shift; my $e = index($x->{buf}, "\r\n\r\n"); $e < 0 ? 0 : $e + 4 };
for my $x (@dl) {
    my $s = $x->{sock};
    ${*$s}{fe_buf} = $x->{buf};
    my $r = $x->{done} ? fe_read_response($s, timeout => 2)
                       : { status => 0, error => sprintf('incomplete after %d s: %d bytes',
                                                         $LIMIT, length $x->{buf}) };
    $x->{resp} = $r;
    ok($r->{status} == 200 && $r->{body} eq $file,
       "dialup download $x->{i}: the $SIZE-byte file arrived intact" . ($x->{i} == 1 ? ' (keep-alive)' : ''))
        or diag($r->{error} // ("status $r->{status}, " . length($r->{body}) . " body bytes"));
}
my @secs = sort { $a <=> $b } map { $_->{secs} // 99 } @dl;
my $paced = ($SIZE / $RATE) - 1.5;      # 3.6 s of pulses, less the first
cmp_ok($secs[0], '>=', $paced,
       sprintf('the downloads took %.1f to %.1f s: paced by the timer (>= %.1f s)',
               $secs[0], $secs[-1], $paced));
cmp_ok($secs[-1], '<', 10, '... and all finished within 10 s');
{
    my $x = $dl[0];
    my $got = ($x->{at_1s} // 0) - $head_len->($x);
    ok(defined $x->{first} && $x->{first} < 1.0 && $got > 0 && $got < 0.6 * $SIZE,
       sprintf('download 1: first bytes after %.2f s, %d body bytes within the first second '
               . '(one pulse, not the whole file)', $x->{first} // -1, $got));
}

# ---- the other requests
is($normal_ok, scalar @normal, scalar(@normal) . ' other requests during the downloads succeeded')
    or diag($normal_err);
my($slowest) = sort { $b <=> $a } @normal;
cmp_ok($slowest // 99, '<', $QUICK, sprintf('... each within %.1f s (slowest %.3f s)', $QUICK, $slowest // 99));

# mod_status: no worker held by the suspended downloads (the status request
# itself is one; a pulse may be running)
cmp_ok($busy_sample // 99, '<', $N_DL,
       "between pulses the $N_DL suspended downloads hold no worker (BusyWorkers "
       . ($busy_sample // 'n/a') . ')');

# ---- download 1's connection went back to keep-alive: another request,
# then closed after KeepAliveTimeout
{
    my $s = $dl[0]{sock};
    my $r = { status => 0, error => 'download 1 incomplete' };
    if ($dl[0]{done} && !$dl[0]{eof}) {
        ${*$s}{fe_buf} = '';
        Time::HiRes::sleep(0.3);
        fe_send($s, fe_request_text(path => '/fe/1k.bin?after-dialup=1'));
        $r = fe_read_response($s, timeout => 5);
    }
    ok($r->{status} == 200 && $r->{body} eq $small,
       'download 1: the next request on the same connection -> 200 (resumed to keep-alive)')
        or diag($r->{error} // "status $r->{status}");
    my($how, $secs) = fe_wait_eof($s, $KA_TIMEOUT + 4);
    ok($how eq 'eof' && $secs >= $KA_TIMEOUT - 0.5 && $secs <= $KA_TIMEOUT + 3,
       sprintf('... then closed after KeepAliveTimeout (%s after %.2f s)', $how, $secs));
}

# ---- the Connection: close downloads were closed after their body
{
    my @how = map { (fe_wait_eof($_->{sock}, 3))[0] } @dl[1 .. $#dl];
    is(join(',', @how), join(',', ('eof') x ($N_DL - 1)),
       'the Connection: close downloads were closed after their body');
}
close $_->{sock} for @dl;

fe_log_clean_ok();
