# MaxConnectionsPerChild (50 in t/conf/extra.conf.in): children are recycled
# while clients keep connecting, and no request fails because of it.
# t/run-apache-test.sh runs it against its own server (phase B).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use POSIX ();
use FETest;

# MaxConnectionsPerChild 50 is only set when the server was started with
# -defines FE_MAXCONNS (t/run-apache-test.sh's phase B).
if ((Apache::Test::vars('defines') // '') !~ /\bFE_MAXCONNS\b/) {
    plan skip_all => 'needs a server started with -defines FE_MAXCONNS '
                   . '(t/run-apache-test.sh runs this test that way)';
}
plan tests => 9;

my $SEQ      = 300;     # sequential fresh connections
my $WORKERS  = 10;      # parallel clients ...
my $PER      = 30;      # ... making this many fresh connections each
my $DEADLINE = 90;      # seconds for everything

my $t0 = fe_now();
my $ppid = fe_server_pid();
ok($ppid && kill(0, $ppid), 'server parent pid known (t/logs/httpd.pid)')
    or BAIL_OUT('no server pid');
my @initial = fe_child_pids($ppid);
ok(@initial >= 1, 'children before: ' . join(' ', @initial));

my %seen = map { $_ => 1 } @initial;
my $poll = sub { $seen{$_} = 1 for fe_child_pids($ppid) };

# ---- 300 sequential requests, one connection each
my($ok, $err) = (0, undef);
for my $i (1 .. $SEQ) {
    last if fe_now() - $t0 > $DEADLINE / 2;
    my $r = fe_get("/fe/1k.bin?seq=$i", timeout => 10);
    if ($r->{status} == 200 && length($r->{body}) == 1024) { $ok++ }
    else { $err //= "request $i: " . ($r->{error} // "status $r->{status}");
           last if $i - $ok >= 5 }
    $poll->() unless $i % 10;
}
is($ok, $SEQ, "$SEQ sequential fresh-connection requests all succeeded") or diag($err);

# ---- 10 parallel workers
my @kids;
for my $w (1 .. $WORKERS) {
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        close $rd;
        my($good, $bad, $first) = (0, 0, '');
        my $end = fe_now() + $DEADLINE / 2;
        for my $i (1 .. $PER) {
            if (fe_now() > $end) { $bad += $PER - $i + 1; $first ||= 'deadline'; last }
            my $r = fe_get("/fe/1k.bin?w=$w&i=$i", timeout => 10);
            if ($r->{status} == 200 && length($r->{body}) == 1024) { $good++ }
            else { $bad++; $first ||= "worker $w request $i: " . ($r->{error} // "status $r->{status}");
                   if ($bad >= 5) { $bad += $PER - $i; last } }
        }
        $first =~ s/\s+/ /g;
        print $wr "$good $bad $first\n";
        close $wr;
        POSIX::_exit(0);
    }
    close $wr;
    push @kids, [$pid, $rd];
}
# poll the child pids while the workers run
while (grep { !waitpid($_->[0], POSIX::WNOHANG()) } grep { !$_->[2] } @kids) {
    $poll->();
    last if fe_now() - $t0 > $DEADLINE;
    Time::HiRes::sleep(0.1);
}
my($good, $bad, @errs) = (0, 0);
for my $k (@kids) {
    my $rd = $k->[1];
    my $line = <$rd> // "0 $PER worker $k->[0] reported nothing";
    chomp $line;
    my($g, $b, $e) = split / /, $line, 3;
    $good += $g; $bad += $b;
    push @errs, $e if $e;
    waitpid($k->[0], 0);
}
is($good, $WORKERS * $PER, "$WORKERS parallel workers: all " . $WORKERS * $PER . ' requests succeeded');
is($bad, 0, '... none failed') or diag(join "\n", @errs[0 .. ($#errs < 4 ? $#errs : 4)]);

# recycled children are replaced within the parent's maintenance interval
my $until = fe_now() + 5;
my @new;
while (fe_now() < $until) {
    $poll->();
    @new = grep { my $p = $_; !grep { $_ == $p } @initial } sort { $a <=> $b } keys %seen;
    last if @new && !grep { kill 0, $_ } @initial;
    Time::HiRes::sleep(0.2);
}
ok(scalar @new, 'new children appeared: ' . join(' ', @new[0 .. ($#new < 9 ? $#new : 9)]));
my @gone = grep { !kill 0, $_ } @initial;
ok(scalar @gone, 'initial children were recycled: ' . join(' ', @gone))
    or diag('still alive: ' . join(' ', grep { kill 0, $_ } @initial));

# the server is healthy afterwards
my $r = fe_get('/fe/1k.bin');
is($r->{status}, 200, 'server answers after the recycling') or diag($r->{error});

fe_log_clean_ok();
