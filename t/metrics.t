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
plan tests => 7;

my @keys = qw(FastEventAccepts FastEventAcceptsPerSec FastEventQueueDepth
              FastEventHandoffP50us FastEventHandoffP99us
              FastEventTimeoutsKeepAlive FastEventProcesses);
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

fe_log_clean_ok();
