# PHP through PHP-FPM and mod_proxy_fcgi (a thread-safe module holding a
# worker thread per request while the backend works): pages, request
# bodies (HTTP/1.1 and, when mod_http2 is loaded, h2), load with ab, and
# static requests staying fast while both FPM children are busy.
#
# This test starts its own PHP-FPM as the test user: one static pool of two
# children on the Unix socket t/logs/php-fpm.sock (extra.conf.in sends
# t/htdocs/fe/php/*.php there), and stops it at the end.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use Digest::MD5 qw(md5_hex);
use POSIX ();
use FETest;
use FEH2;

my $N_SLEEP  = 20;      # concurrent slow PHP requests ...
my $SLEEP_MS = 1000;    # ... each sleeping this long, for 2 FPM children
my $QUICK    = 1.0;     # seconds: static requests meanwhile

my $fpm = fe_which('php-fpm*');
my $ab  = fe_which('ab');

plan tests => 17,
    need need_module('proxy'), need_module('proxy_fcgi'),
         { 'php-fpm not installed (package php-fpm)' => sub { $fpm } },
         { 'ab not installed (package apache2-utils)' => sub { $ab } };

my $logs  = fe_var('t_logs');
my $sock  = "$logs/php-fpm.sock";
my $conf  = "$logs/php-fpm.conf";
my $pidf  = "$logs/php-fpm.pid";
my $url   = '/fe/php/fe.php';
my $port  = fe_port();
my $small = fe_slurp(fe_var('documentroot') . '/fe/1k.bin');

# ---- start PHP-FPM
my $fpm_pid;
sub stop_fpm {
    return unless $fpm_pid;
    kill 'TERM', $fpm_pid;
    my $t0 = fe_now();
    while (fe_now() - $t0 < 10) {
        my $r = waitpid($fpm_pid, POSIX::WNOHANG());
        if ($r == $fpm_pid || $r == -1) { $fpm_pid = undef; return 1 }
        Time::HiRes::sleep(0.05);
    }
    kill 'KILL', $fpm_pid;
    waitpid($fpm_pid, 0);
    $fpm_pid = undef;
    return 0;
}
END { stop_fpm() if $fpm_pid }

{
    # no user/group: running unprivileged, the pool runs as the test user
    open my $fh, '>', $conf or die "$conf: $!";
    print $fh <<"EOF";
; written by t/php.t
[global]
pid = $pidf
error_log = $logs/php-fpm.log
daemonize = no
process_control_timeout = 5

[fe]
listen = $sock
listen.backlog = 511
pm = static
pm.max_children = 2
request_terminate_timeout = 30
catch_workers_output = yes
EOF
    close $fh or die "$conf: $!";
    unlink $sock;
    $fpm_pid = fork;
    die "fork: $!" unless defined $fpm_pid;
    if (!$fpm_pid) {
        open STDIN,  '<',  '/dev/null';
        open STDOUT, '>>', "$logs/php-fpm.log";
        open STDERR, '>&', \*STDOUT;
        { no warnings 'exec'; exec $fpm, '--nodaemonize', '--fpm-config', $conf; }
        print "exec $fpm: $!\n";
        POSIX::_exit(127);
    }
    my $t0 = fe_now();
    Time::HiRes::sleep(0.1) until -S $sock || fe_now() - $t0 > 15
        || waitpid($fpm_pid, POSIX::WNOHANG()) == $fpm_pid;
    ok(-S $sock, "PHP-FPM ($fpm) listening on $sock")
        or diag("php-fpm.log:\n" . fe_slurp("$logs/php-fpm.log"));
}

# ---- a page
{
    my $r = fe_get($url);
    is($r->{status} . ' ' . $r->{body}, "200 FE-PHP-OK GET\n", "GET $url -> 200, the PHP page")
        or diag($r->{error} // '');
    is($r->{headers}{'x-fe-sapi'}, 'fpm-fcgi', '... produced by PHP-FPM');
}

# ---- request bodies
{
    my $body = join '', map { chr(32 + ($_ * 7) % 90) } 1 .. 100_000;
    my $r = fe_request(method => 'POST', path => $url, body => $body, timeout => 10,
                       headers => ['Content-Type' => 'application/octet-stream']);
    is($r->{status} . ' ' . $r->{body}, "200 FE-PHP-OK POST 100000 " . md5_hex($body) . "\n",
       'POST 100 kB to PHP: PHP saw the whole body')
        or diag($r->{error} // '');

    # two 1 MB bodies, one after the other on one keep-alive connection
    my $mb = join '', map { sprintf "%07d\n", $_ } 1 .. 125_000;
    my $s = fe_connect() or die "connect: $!";
    my $ok = 0;
    for my $i (1 .. 2) {
        fe_send($s, fe_request_text(method => 'POST', path => "$url?i=$i", body => $mb,
                                    headers => ['Content-Type' => 'application/octet-stream']));
        my $r = fe_read_response($s, timeout => 15);
        $ok++ if $r->{status} == 200
              && $r->{body} eq "FE-PHP-OK POST 1000000 " . md5_hex($mb) . "\n";
    }
    close $s;
    is($ok, 2, 'two 1 MB POSTs to PHP on one keep-alive connection');

    SKIP: {
        skip 'mod_http2 not loaded', 1 unless Apache::Test::have_module('http2');
        # 60000 bytes: within the server's initial h2 stream window
        my $h2body = substr($mb, 0, 60000);
        my $s = fe_connect() or die "connect: $!";
        my $h2 = FEH2->new($s, scheme => 'http', authority => fe_host() . ":$port");
        $h2->handshake;
        my $r = $h2->response($h2->request("$url?h2=1", method => 'POST', body => $h2body,
                              headers => ['content-type' => 'application/octet-stream']), 10);
        is($r->{status} . ' ' . $r->{body}, "200 FE-PHP-OK POST 60000 " . md5_hex($h2body) . "\n",
           'POST 60 kB over h2c to PHP: PHP saw the whole body')
            or diag($r->{error} // '');
        close $s;
    }
}

# ---- load: ab
sub ab {
    my(@args) = @_;
    my($rc, $txt) = fe_run(120, $ab, '-q', '-s', 30, @args);
    my %r = (rc => $rc, raw => $txt);
    $r{complete} = $1 if $txt =~ /^Complete requests:\s+(\d+)/m;
    $r{failed}   = $1 if $txt =~ /^Failed requests:\s+(\d+)/m;
    $r{non2xx}   = $txt =~ /^Non-2xx responses:\s+(\d+)/m ? $1 : 0;
    return \%r;
}
{
    my $r = ab('-c', 20, '-n', 2000, "http://127.0.0.1:$port$url");
    is(($r->{complete} // 'none') . '/' . ($r->{failed} // '?'), '2000/0',
       'ab -c 20 -n 2000 on PHP: 2000 complete, 0 failed')
        or diag("ab exit $r->{rc}:\n$r->{raw}");
    is($r->{non2xx}, 0, '... 0 non-2xx');

    $r = ab('-k', '-c', 20, '-n', 1000, "http://127.0.0.1:$port$url");
    ok(($r->{complete} // 0) == 1000 && ($r->{failed} // -1) == 0 && $r->{non2xx} == 0,
       'ab -k (keep-alive) -c 20 -n 1000 on PHP: all complete and 2xx')
        or diag("ab exit $r->{rc}:\n$r->{raw}");
}

# ---- both FPM children busy, requests queued behind them: static
# requests must still be served at once
{
    my $t0 = fe_now();
    my @slow;
    for my $i (1 .. $N_SLEEP) {
        my $s = fe_connect() or die "connect: $!";
        fe_send($s, fe_request_text(path => "$url?sleep=$SLEEP_MS&i=$i", close => 1));
        push @slow, $s;
    }
    Time::HiRes::sleep(0.3);
    my($ok, $slowest, $err) = (0, 0, undef);
    for my $i (1 .. 20) {
        my $t = fe_now();
        my $r = fe_get("/fe/1k.bin?while-php-busy=$i", timeout => 5);
        my $d = fe_now() - $t;
        $slowest = $d if $d > $slowest;
        if ($r->{status} == 200 && $r->{body} eq $small) { $ok++ }
        else { $err //= "request $i: " . ($r->{error} // "status $r->{status}") }
        Time::HiRes::sleep(0.05);
    }
    my $static_done = fe_now() - $t0;
    is($ok, 20, "20 static requests succeeded while $N_SLEEP PHP requests of $SLEEP_MS ms "
               . 'wait for the 2 FPM children') or diag($err);
    cmp_ok($slowest, '<', $QUICK, sprintf('... each within %.1f s (slowest %.3f s)', $QUICK, $slowest));

    # (the sockets stay open: the server holds these connections in its
    # lingering close until the client closes them)
    my($php_ok, $php_err) = (0, undef);
    for my $s (@slow) {
        my $r = fe_read_response($s, timeout => 30);
        if ($r->{status} == 200 && $r->{body} eq "FE-PHP-OK GET\n") { $php_ok++ }
        else { $php_err //= $r->{error} // "status $r->{status}" }
    }
    my $all = fe_now() - $t0;
    is($php_ok, $N_SLEEP, "the $N_SLEEP slow PHP requests all answered 200") or diag($php_err);
    my $serial = $N_SLEEP / 2 * $SLEEP_MS / 1000;
    cmp_ok($all, '>=', $serial * 0.8,
           sprintf('... over %.1f s, 2 at a time: FPM was saturated (the static '
                   . 'requests were done %.1f s in)', $all, $static_done));

    # new connections while those $N_SLEEP wind down (lingering close)
    my($fresh_ok, @fresh_err) = (0);
    for my $i (1 .. 30) {
        my $r = fe_get("/fe/1k.bin?after-php=$i", timeout => 5);
        if ($r->{status} == 200 && $r->{body} eq $small) { $fresh_ok++ }
        else { push @fresh_err, sprintf('request %d (%.3f s after the PHP responses): %s',
                                        $i, fe_now() - $t0 - $all,
                                        $r->{error} // "status $r->{status}") }
    }
    is($fresh_ok, 30, '30 new connections right after the slow PHP responses: all answered')
        or diag(join "\n", @fresh_err);
    close $_ for @slow;
}

# ---- PHP answers normally afterwards
{
    my $r = fe_get($url);
    is($r->{status} . ' ' . $r->{body}, "200 FE-PHP-OK GET\n", 'PHP page after the load -> 200')
        or diag($r->{error} // '');
}

ok(stop_fpm(), 'PHP-FPM stopped (SIGTERM)');
fe_log_clean_ok();
