# Basic request handling: GET, HEAD, POST (echo and static), 404, 405.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use FETest;

plan tests => 21;

my $docroot = fe_var('documentroot');
my $big = do { local $/; open my $fh, '<', "$docroot/fe/1m.bin" or die $!; binmode $fh; <$fh> };
my $small = do { local $/; open my $fh, '<', "$docroot/fe/1k.bin" or die $!; binmode $fh; <$fh> };

# GET /
my $r = fe_get('/');
is($r->{status}, 200, 'GET / -> 200') or diag($r->{error});
like($r->{body}, qr/welcome/i, 'GET / returns index.html');
like($r->{headers}{'content-type'} // '', qr{^text/html}, 'index.html is text/html');

# GET of the generated files, byte for byte
$r = fe_get('/fe/1k.bin');
is($r->{status}, 200, 'GET /fe/1k.bin -> 200') or diag($r->{error});
ok($r->{body} eq $small, '1 KiB body identical to the file');
$r = fe_get('/fe/1m.bin', timeout => 20);
is($r->{status}, 200, 'GET /fe/1m.bin -> 200') or diag($r->{error});
is(length $r->{body}, 1048576, '1 MiB body length');
ok($r->{body} eq $big, '1 MiB body identical to the file');

# HEAD: headers, no body.  Send a GET right after it on the same
# connection: if the server had sent a body, the second response would be
# garbage.
my $s = fe_connect() or die "connect: $!";
fe_send($s, fe_request_text(method => 'HEAD', path => '/fe/1k.bin')
          . fe_request_text(method => 'GET',  path => '/fe/1k.bin', close => 1));
$r = fe_read_response($s, head => 1);
is($r->{status}, 200, 'HEAD -> 200') or diag($r->{error});
is($r->{headers}{'content-length'}, 1024, 'HEAD announces Content-Length 1024');
my $r2 = fe_read_response($s);
is($r2->{status}, 200, 'GET after HEAD on the same connection -> 200')
    or diag($r2->{error} // '', ' partial: ', $r2->{partial} // '');
ok(($r2->{body} // '') eq $small, 'HEAD sent no body (next response intact)');
close $s;

# POST with a body: mod_reflector echoes it back
my $payload = join '', map { chr(32 + $_ % 90) } 1 .. 5000;
$r = fe_request(method => 'POST', path => '/echo', body => $payload,
                headers => ['Content-Type' => 'text/plain']);
is($r->{status}, 200, 'POST /echo -> 200') or diag($r->{error});
ok($r->{body} eq $payload, 'POST body echoed back (5000 bytes)');

# POST of a larger body (64 KiB), more than one socket read on the server
my $large = join "", map { sprintf "%07d\n", $_ } 1 .. 8192;
$r = fe_request(method => 'POST', path => '/echo', body => $large, timeout => 20,
                headers => ['Content-Type' => 'application/octet-stream']);
is($r->{status}, 200, 'POST /echo with 64 KiB -> 200') or diag($r->{error});
ok(($r->{body} // '') eq $large, '64 KiB echoed back intact');

# POST to a static file: httpd's default handler serves the file
$r = fe_request(method => 'POST', path => '/fe/1k.bin', body => 'a=b',
                headers => ['Content-Type' => 'application/x-www-form-urlencoded']);
is($r->{status}, 200, 'POST to a static file -> 200 (default handler)') or diag($r->{error});

# PUT to a static file is not allowed
$r = fe_request(method => 'PUT', path => '/fe/1k.bin', body => 'nope');
is($r->{status}, 405, 'PUT to a static file -> 405') or diag($r->{error});

# 404
$r = fe_get('/no/such/file.html');
is($r->{status}, 404, 'GET of a missing file -> 404') or diag($r->{error});

# HTTP/1.0 without Host
$s = fe_connect() or die "connect: $!";
fe_send($s, "GET /fe/1k.bin HTTP/1.0\r\n\r\n");
$r = fe_read_response($s);
is($r->{status}, 200, 'HTTP/1.0 GET -> 200') or diag($r->{error});
close $s;

fe_log_clean_ok();
