# Timeout: a client that sends part of a request and stalls is disconnected
# after Timeout (3 s in t/conf/extra.conf.in), with a 408 once its request
# line came in full, while
# other clients are served normally in the meantime.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use FETest;

plan tests => 14;

my $TIMEOUT = 3;        # Timeout in t/conf/extra.conf.in
my $host = fe_host() . ':' . fe_port();

my %stall = (
    'partial request line'     => "GET /fe/1k.bin HT",
    'partial header block'     => "GET /fe/1k.bin HTTP/1.1\r\nHost: $host\r\nX-Stalled: yes\r\n",
    'partial request body'     => "POST /echo HTTP/1.1\r\nHost: $host\r\nContent-Type: text/plain\r\n"
                                . "Content-Length: 1000\r\n\r\n" . ('z' x 100),
);
# and a few more stalled heads, so several are pending at once
$stall{"stalled head #$_"} = "GET / HTTP/1.1\r\nHost: $host\r\n" for 1 .. 3;

my $t0 = fe_now();
my %sock;
for my $name (sort keys %stall) {
    my $s = fe_connect() or die "connect: $!";
    fe_send($s, $stall{$name}) or die "send: $!";
    $sock{$name} = $s;
}
is(scalar keys %sock, 6, '6 connections stalled mid-request');

# meanwhile, others are served promptly
my($ok, $slowest, $err) = (0, 0, undef);
for my $i (1 .. 10) {
    my $t = fe_now();
    my $r = fe_get("/fe/1k.bin?during=$i", timeout => 5);
    my $d = fe_now() - $t;
    $slowest = $d if $d > $slowest;
    if ($r->{status} == 200 && length $r->{body} == 1024) { $ok++ }
    else { $err //= $r->{error} // "status $r->{status}"; last }
    Time::HiRes::sleep(0.1);
}
is($ok, 10, '10 requests from other clients succeed while 6 are stalled') or diag($err);
cmp_ok($slowest, '<', 2.0, sprintf('... each within 2 s (slowest %.3f s)', $slowest));

# the stalled ones are closed after ~Timeout
my($heads, $answered) = (0, 0);
for my $name (sort keys %stall) {
    my $s = $sock{$name};
    my $budget = $t0 + $TIMEOUT + 2 - fe_now();
    $budget = 0.1 if $budget < 0.1;
    my($how, undef, $data) = fe_wait_eof($s, $budget);
    my $after = fe_now() - $t0;
    my $closed = ($how eq 'eof' || $how eq 'reset');
    # a stalled head may get a 408 before the close; a stalled body reaches
    # the handler (mod_reflector streams what it got), so any response is
    # fine there, as long as the connection is closed
    my $resp_ok = $data eq '' || $data =~ m{^HTTP/1\.[01] (?:408|400)\b}
               || ($name =~ /body/ && $data =~ m{^HTTP/1\.[01] \d{3}\b});
    # a head whose request line came in full is answered with a 408 (the
    # core's: as when mod_reqtimeout or Timeout ends a head under event);
    # part of a request line is closed without an answer, as under event
    if ($name !~ /body|request line/) {
        $heads++;
        $answered++ if $data =~ m{^HTTP/1\.1 408 }
                    && $data =~ m{\r\nConnection: close\r\n}i;
    }
    $resp_ok = 0 if $name =~ /request line/ && $data ne '';
    ok($closed && $resp_ok && $after >= $TIMEOUT - 0.5,
       sprintf('%s: closed after %.2f s (%s%s)', $name, $after, $how,
               $data eq '' ? '' : ', ' . (split /\r\n/, $data)[0]))
        or diag("how=$how after=$after data=" . substr($data, 0, 80));
    close $s;
}

# fastevent holds unfinished heads in its listener; at the deadline the
# core answers them as under event
is($answered, $heads, "every stalled head with a whole request line got a 408 and Connection: close ($answered of $heads)");

# after all that, the server still answers
my $r = fe_get('/fe/1k.bin');
is($r->{status}, 200, 'server still answers after the timeouts') or diag($r->{error});

# the idle case: a connection whose request completed but where the client
# then sends half of a second request on the same (keep-alive) connection
{
    my $s = fe_connect() or die "connect: $!";
    fe_send($s, fe_request_text(path => '/fe/1k.bin'));
    my $r1 = fe_read_response($s, timeout => 5);
    is($r1->{status}, 200, 'keep-alive request -> 200') or diag($r1->{error});
    my $t = fe_now();
    fe_send($s, "GET /fe/1k.bin HTTP/1.1\r\nHost: $host\r\n");
    my($how, undef, $data) = fe_wait_eof($s, $TIMEOUT + 2);
    my $after = fe_now() - $t;
    ok(($how eq 'eof' || $how eq 'reset') && $after >= $TIMEOUT - 0.5
           && ($data eq '' || $data =~ m{^HTTP/1\.[01] (?:408|400)\b}),
       sprintf('half a second request on a keep-alive connection: closed after %.2f s (%s)',
               $after, $how))
        or diag("how=$how after=$after data=" . substr($data, 0, 80));
    close $s;
}

fe_log_clean_ok();
