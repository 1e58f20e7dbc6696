# The server runs our MPM, and mod_status sees an async MPM.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use FETest;

plan tests => 9;

my $want = fe_expected_mpm();    # "fastevent" (or the FE_TEST_MPM_MODULE override)

my $auto = fe_status_auto();
ok(%$auto, '/server-status?auto answers')
    or diag('got: ' . (fe_get('/server-status?auto')->{error} || 'non-200'));
is($auto->{ServerMPM}, $want, "ServerMPM: $want");

for my $k (qw(ConnsAsyncKeepAlive ConnsAsyncWriting ConnsAsyncClosing)) {
    like($auto->{$k} // '', qr/^\d+$/, "?auto has a numeric $k line");
}

my $html = fe_status_html();
like($html, qr/Server MPM:\s*$want\b/i, "html page names the $want MPM");
like($html, qr/Async connections/, 'html page has the "Async connections" table');
like($html, qr/keep-alive.*closing/is, 'async table has keep-alive/closing columns');

fe_log_clean_ok();
