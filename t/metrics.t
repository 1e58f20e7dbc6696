# The live MPM metrics: /server-status?auto carries FastEvent* lines whose
# values move with load, and the html page has the mpm_fastevent table.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use FETest;

if (fe_expected_mpm() ne 'fastevent') {
    plan skip_all => 'the FastEvent metrics are fastevent-only';
}
plan tests => 13;

my @keys = qw(FastEventAccepts FastEventAcceptsPerSec FastEventQueueDepth
              FastEventHandoffP50us FastEventHandoffP99us
              FastEventTimeoutsKeepAlive FastEventProcesses
              FastEventHoldHits FastEventHoldMisses
              FastEventHoldPreemptions FastEventIdleTrims
              FastEventIdleTrimmedKiB FastEventProxyWaiting
              FastEventProxyWaits);
my $before = fe_status_auto();
my @present = grep { defined $before->{$_} && $before->{$_} =~ /^\d+$/ }
              @keys;
is(scalar @present, scalar @keys, 'every FastEvent line is there, numeric')
    or diag('missing: ' . join(' ', grep { !defined $before->{$_} } @keys));

# load for ~3 s in a child process (bounded: 1500 requests, 5 s timeouts)
# while we sample the per-second rate
my $pid = fork();
die "fork: $!" unless defined $pid;
if ($pid == 0) {
    my $end = fe_now() + 3;
    my $bad = 0;
    for (1 .. 1500) {
        last if fe_now() > $end;
        my $res = fe_get('/index.html');
        $bad++ unless $res->{status} && $res->{status} == 200;
    }
    exit($bad ? 1 : 0);
}
my $rate = 0;
for (1 .. 4) {
    select(undef, undef, undef, 0.6);
    my $st = fe_status_auto();
    $rate = $st->{FastEventAcceptsPerSec}
        if ($st->{FastEventAcceptsPerSec} // 0) > $rate;
}
waitpid($pid, 0);
is($? >> 8, 0, 'every request under load was served');

my $after = fe_status_auto();
cmp_ok($after->{FastEventAccepts} - $before->{FastEventAccepts}, '>=', 100,
       'FastEventAccepts counted the connections');
cmp_ok($rate, '>', 0, 'FastEventAcceptsPerSec moved with load')
    or diag("max rate seen: $rate");
cmp_ok($after->{FastEventHandoffP99us}, '>', 0,
       'the hand-off latency histogram has samples');
like(fe_status_html(), qr/<h2>mpm_fastevent<\/h2>.*<b>total<\/b>/s,
     'html page has the mpm_fastevent table with totals');

# keep-alive holds: sequential requests on one connection, each sent
# right after the previous response, are mostly served by the worker that
# waits on the connection (the server has idle workers to spare here)
{
    my $b = fe_status_auto();
    my $s = fe_connect() or die "connect: $!";
    my $ok = 0;
    for my $i (1 .. 40) {
        fe_send($s, fe_request_text(path => "/index.html?hold=$i")) or last;
        my $r = fe_read_response($s, timeout => 5);
        $ok++ if ($r->{status} // 0) == 200;
    }
    close $s;
    my $a = fe_status_auto();
    is($ok, 40, '40 keep-alive requests answered');
    my $hits = ($a->{FastEventHoldHits} // 0) - ($b->{FastEventHoldHits} // 0);
    cmp_ok($hits, '>=', 20, 'most of them came while a worker held the connection')
        or diag("FastEventHoldHits +$hits, misses +"
                . (($a->{FastEventHoldMisses} // 0) - ($b->{FastEventHoldMisses} // 0)));
}

# idle keep-alive connections give back the free pages of their memory
# after a second (on the fe_idle virtual host, KeepAliveTimeout 10), and
# serve their next request normally afterwards.  The parent may start or
# retire a process meanwhile (MinSpareThreads/MaxSpareThreads); a retired
# one closes its idle connections, so those are left out (but at least
# half must remain).
{
    my $settle = fe_now() + 15;
    while (fe_now() < $settle) {
        my $st = fe_status_auto();
        last if ($st->{Stopping} // 0) == 0 && ($st->{Processes} // 99) <= 2;
        select(undef, undef, undef, 0.25);
    }
    my $n = 20;
    my $port = fe_var('fe_idle_port') or die 'no fe_idle virtual host';
    my $b = fe_status_auto();
    my @socks;
    for my $i (1 .. $n) {
        my $s = fe_connect(port => $port) or last;
        fe_send($s, fe_request_text(path => "/index.html?idle=$i")) or last;
        my $r = fe_read_response($s, timeout => 5);
        push @socks, $s if ($r->{status} // 0) == 200;
    }
    # open: not closed by the server (a closed socket reads EOF at once)
    my $open = sub { scalar grep { !fe_readable($_, 0) } @socks };
    my ($trims, $kib, $left) = (0, 0, 0);
    my $end = fe_now() + 6;
    while (fe_now() < $end) {
        select(undef, undef, undef, 0.2);
        my $a = fe_status_auto();
        $trims = ($a->{FastEventIdleTrims} // 0) - ($b->{FastEventIdleTrims} // 0);
        $kib = ($a->{FastEventIdleTrimmedKiB} // 0)
               - ($b->{FastEventIdleTrimmedKiB} // 0);
        $left = $open->();
        last if $trims >= $n || ($trims >= $left && fe_now() > $end - 4);
    }
    my @alive = grep { !fe_readable($_, 0) } @socks;
    my $ok = 0;
    for my $s (@alive) {
        fe_send($s, fe_request_text(path => '/index.html?again=1')) or next;
        my $r = fe_read_response($s, timeout => 5);
        $ok++ if ($r->{status} // 0) == 200;
    }
    close $_ for @socks;
    cmp_ok(scalar @alive, '>=', $n / 2,
           "at least half of $n idle connections stayed open")
        or diag(scalar(@socks) . ' answered, ' . scalar(@alive) . ' open');
    cmp_ok($trims, '>=', scalar @alive,
           'every open one was trimmed after a second idle')
        or diag("FastEventIdleTrims +$trims, " . scalar(@alive) . ' open');
    cmp_ok($kib, '>=', 4 * $trims, 'and gave back at least a page each')
        or diag("FastEventIdleTrimmedKiB +$kib");
    is($ok, scalar @alive, 'every trimmed connection served its next request');
}

fe_log_clean_ok();
