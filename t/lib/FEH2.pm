package FEH2;
# A minimal HTTP/2 client for mpm_fastevent's tests: just enough framing to
# hold ONE h2 connection open, send requests on it at chosen moments, read
# the responses, and watch the connection idle and be closed.  curl and
# h2load cannot leave a connection idle for a chosen time and then reuse it
# (or watch it being closed), which is what the MPM's async keep-alive state
# is about.
#
#   my $s  = fe_connect();                      # or fe_connect_ssl(alpn => ['h2'])
#   my $h2 = FEH2->new($s, scheme => 'http', authority => '127.0.0.1:8529');
#   $h2->handshake;
#   my $id = $h2->request('/fe/1k.bin');
#   my $r  = $h2->response($id, 5);   # { status, body, error }
#   my($how, $secs) = $h2->wait_close(5);   # 'eof', 'reset', 'timeout'
#   $h2->{goaway}                     # [last stream id, error code] once received
#
# No HPACK decoder: the :status of a response is recognised when the server
# sends it as an indexed static-table entry (200 204 206 304 400 404 500,
# which is how nghttp2, inside mod_http2, sends them); otherwise status is
# 'other'.  The client advertises large flow-control windows, so it never
# has to send WINDOW_UPDATE while reading.
use strict;
use warnings;

use IO::Select ();
use Time::HiRes ();
use Errno qw(EINTR EAGAIN EWOULDBLOCK ECONNRESET);

use constant {
    T_DATA => 0, T_HEADERS => 1, T_PRIORITY => 2, T_RST_STREAM => 3,
    T_SETTINGS => 4, T_PUSH_PROMISE => 5, T_PING => 6, T_GOAWAY => 7,
    T_WINDOW_UPDATE => 8, T_CONTINUATION => 9,
    F_END_STREAM => 0x1, F_ACK => 0x1, F_END_HEADERS => 0x4,
    F_PADDED => 0x8, F_PRIORITY => 0x20,
};

my $PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
my %STATIC_STATUS = (8 => 200, 9 => 204, 10 => 206, 11 => 304,
                     12 => 400, 13 => 404, 14 => 500);
my $WINDOW = 1 << 30;

sub now { Time::HiRes::time() }

sub new {
    my($class, $sock, %o) = @_;
    return bless {
        s => $sock, buf => '', next_id => 1, streams => {},
        goaway => undef, eof => 0, error => undef,
        scheme => $o{scheme} || 'http',
        authority => $o{authority} || '127.0.0.1',
        frames_in => 0,
    }, $class;
}

sub frame {
    my($type, $flags, $sid, $payload) = @_;
    $payload = '' unless defined $payload;
    my $len = length $payload;
    return pack('CnCCN', $len >> 16, $len & 0xffff, $type, $flags,
                $sid & 0x7fffffff) . $payload;
}

sub _send {
    my($self, $data) = @_;
    my $s = $self->{s};
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($s, $data, length($data) - $off, $off);
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN;
            $self->{error} = "send: $!";
            return 0;
        }
        $off += $n;
    }
    return 1;
}

# Client preface, our SETTINGS (no push, 1 GiB stream windows) and a
# 1 GiB connection window.
sub handshake {
    my $self = shift;
    my $settings = pack('nN', 2, 0) . pack('nN', 4, $WINDOW);
    return $self->_send($PREFACE
                        . frame(T_SETTINGS, 0, 0, $settings)
                        . frame(T_WINDOW_UPDATE, 0, 0, pack('N', $WINDOW)));
}

# HPACK integer with an N-bit prefix, the high bits given in $first.
sub _int {
    my($v, $bits, $first) = @_;
    my $max = (1 << $bits) - 1;
    return chr($first | $v) if $v < $max;
    my $o = chr($first | $max);
    $v -= $max;
    while ($v >= 128) { $o .= chr(($v % 128) + 128); $v = int($v / 128) }
    return $o . chr($v);
}
sub _str { my $x = shift; _int(length $x, 7, 0) . $x }
# literal header field without indexing, indexed name / new name
sub _lit_idx { my($idx, $val) = @_; _int($idx, 4, 0) . _str($val) }
sub _lit_new { my($name, $val) = @_; "\x00" . _str($name) . _str($val) }

# request(PATH, method => 'GET', headers => [name => value, ...],
#         body => BYTES (< 64 KiB: the server's initial window))
# Sends one request on a new stream; returns its stream id.
sub request {
    my($self, $path, %o) = @_;
    my $method = $o{method} || 'GET';
    my $id = $self->{next_id};
    $self->{next_id} += 2;
    my $block = $method eq 'GET'  ? "\x82"
              : $method eq 'POST' ? "\x83"
              : _lit_idx(2, $method);
    $block .= $self->{scheme} eq 'https' ? "\x87" : "\x86";
    $block .= $path eq '/' ? "\x84" : _lit_idx(4, $path);
    $block .= _lit_idx(1, $self->{authority});
    my @h = @{ $o{headers} || [] };
    push @h, 'content-length' => length $o{body} if defined $o{body};
    while (my($k, $v) = splice @h, 0, 2) {
        $block .= _lit_new(lc $k, $v);
    }
    my $body = $o{body};
    my $frames = frame(T_HEADERS,
                       F_END_HEADERS | (defined $body && length $body ? 0 : F_END_STREAM),
                       $id, $block);
    if (defined $body && length $body) {
        my $off = 0;
        while ($off < length $body) {
            my $chunk = substr($body, $off, 16384);
            $off += length $chunk;
            $frames .= frame(T_DATA, $off >= length($body) ? F_END_STREAM : 0,
                             $id, $chunk);
        }
    }
    $self->{streams}{$id} = { status => undef, body => '', done => 0,
                              t_sent => now() };
    $self->_send($frames) or return;
    return $id;
}

# Read whatever arrives within $secs (at least one read attempt) and
# process the complete frames.  Returns 0 on EOF/error, 1 otherwise.
sub _pump {
    my($self, $secs) = @_;
    my $s = $self->{s};
    return 0 if $self->{eof};
    my $ready = ($s->can('pending') && $s->pending)
             || IO::Select->new($s)->can_read($secs > 0 ? $secs : 0);
    return 1 unless $ready;
    my $n = sysread($s, my $chunk, 65536);
    if (!defined $n) {
        return 1 if $! == EINTR || $! == EAGAIN || $! == EWOULDBLOCK;
        $self->{eof} = $! == ECONNRESET ? 'reset' : "error: $!";
        return 0;
    }
    if ($n == 0) { $self->{eof} = 'eof'; return 0 }
    $self->{buf} .= $chunk;
    $self->_frames;
    return 1;
}

sub _frames {
    my $self = shift;
    while (length $self->{buf} >= 9) {
        my($hi, $lo, $type, $flags, $sid) = unpack('CnCCN', $self->{buf});
        my $len = ($hi << 16) | $lo;
        last if length $self->{buf} < 9 + $len;
        substr($self->{buf}, 0, 9, '');
        my $p = substr($self->{buf}, 0, $len, '');
        $sid &= 0x7fffffff;
        $self->{frames_in}++;

        if ($type == T_SETTINGS) {
            $self->{settings_seen} = 1 unless $flags & F_ACK;
            $self->_send(frame(T_SETTINGS, F_ACK, 0, '')) unless $flags & F_ACK;
        }
        elsif ($type == T_PING) {
            $self->_send(frame(T_PING, F_ACK, 0, $p)) unless $flags & F_ACK;
        }
        elsif ($type == T_GOAWAY) {
            my($last, $code) = unpack('NN', $p);
            $self->{goaway} = [ $last & 0x7fffffff, $code ];
        }
        elsif ($type == T_HEADERS || $type == T_CONTINUATION) {
            my $st = $self->{streams}{$sid} or next;
            if ($type == T_HEADERS) {
                my $pad = 0;
                if ($flags & F_PADDED) { $pad = ord $p; substr($p, 0, 1, '') }
                substr($p, 0, 5, '') if $flags & F_PRIORITY;
                substr($p, -$pad) = '' if $pad;
                # the first HEADERS of a stream carries :status first
                if (!defined $st->{status}) {
                    my $b = ord $p;
                    $st->{status} = ($b & 0x80) && $STATIC_STATUS{$b & 0x7f}
                                  ? $STATIC_STATUS{$b & 0x7f} : 'other';
                    $st->{t_head} = now();
                }
            }
            if ($flags & F_END_STREAM) { $st->{done} = 1; $st->{t_done} = now() }
        }
        elsif ($type == T_DATA) {
            my $st = $self->{streams}{$sid} or next;
            my $pad = 0;
            if ($flags & F_PADDED) { $pad = ord $p; substr($p, 0, 1, '') }
            substr($p, -$pad) = '' if $pad;
            $st->{body} .= $p;
            if ($flags & F_END_STREAM) { $st->{done} = 1; $st->{t_done} = now() }
        }
        elsif ($type == T_RST_STREAM) {
            my $st = $self->{streams}{$sid} or next;
            $st->{reset} = unpack('N', $p);
            $st->{done} = 1;
        }
        # PRIORITY, WINDOW_UPDATE, PUSH_PROMISE (disabled), unknown: ignored
    }
}

# response(ID, SECONDS): wait for stream ID to end.  Returns
# { status => 200|...|'other'|0, body, error (when status is 0), t_done }.
sub response {
    my($self, $id, $secs) = @_;
    my $deadline = now() + ($secs || 10);
    my $st = $self->{streams}{$id}
        or return { status => 0, body => '', error => "no stream $id" };
    while (!$st->{done}) {
        my $left = $deadline - now();
        last if $left <= 0;
        $self->_pump($left) or last;
    }
    return { %$st, status => 0,
             error => $self->{eof} ? "connection closed ($self->{eof})"
                                     . ($self->{goaway} ? ", GOAWAY seen" : '')
                                   : 'timeout' }
        unless $st->{done};
    return { %$st, status => 0, error => "stream reset (error $st->{reset})" }
        if defined $st->{reset};
    return { %$st, status => $st->{status} // 0 };
}

# Wait (reading and answering frames) until the server closes the
# connection.  Returns (how, seconds): how is 'eof', 'reset', 'error: ...'
# or 'timeout'.
sub wait_close {
    my($self, $secs) = @_;
    my $t0 = now();
    while (!$self->{eof}) {
        my $left = $t0 + $secs - now();
        return ('timeout', now() - $t0) if $left <= 0;
        $self->_pump($left);
    }
    return ($self->{eof}, now() - $t0);
}

1;
