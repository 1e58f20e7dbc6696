#!/bin/sh
# check-lognos.sh: check the FE log tags of mpm_fastevent against the
# registry docs/log-tags.md.
#
#   scripts/check-lognos.sh [TREE]      TREE defaults to the script's ../
#
# Scans every *.c and *.h of the module (the top directory of TREE and its
# source folders: process/ connection/ fdqueue/ scoreboard/ policy/) for
# the forms of tag the code uses:
#
#   FELOGNO(10134)                  the tag macro (mpm_fastevent.h); its own
#                                   "#define FELOGNO(n)" is skipped, any
#                                   other argument that is not five digits
#                                   is reported
#   "FE%05d: ..." , 10050           a format string printing the tag: the
#                                   five-digit integer literals among the
#                                   call's arguments are its tags (a ternary
#                                   between two literals is two tags, each
#                                   used once); a call with no literal (the
#                                   fe_diag printer in mod_mpm_fastevent.c,
#                                   whose tag is a variable) has none
#   TAG_X = 10001 (enum or #define) named tag constants (fe_config.c): every
#                                   use of the name other than its
#                                   definition is one call site
#   diag(b, lvl, 10011, ...)        a literal tag passed straight to a diag
#                                   callback (a callee named *diag, or
#                                   report)
#
# Comments and string contents are ignored, except that FE%05d is looked
# for inside strings.  Fails (exit 1, one line per problem) when:
#   - a tag in the code is not in the registry, or only as "retired";
#   - a tag is used at more than one call site;
#   - a FELOGNO() argument is not five digits;
#   - the registry lists a tag twice, or is not sorted by tag.
# Registered tags that the code no longer uses are noted on stderr (mark
# them "retired"; that is not a failure).
# On success prints "check-lognos: N tags, all registered" (N distinct tags).
# CHECK_LOGNOS_VERBOSE=1 lists every tag with its call sites first.
# Exit status: 0 clean, 1 problems, 2 usage or unreadable files.

set -eu
tree=${1:-$(dirname "$0")/..}
if [ ! -d "$tree" ]; then
    echo "usage: $0 [TREE]" >&2
    exit 2
fi
exec perl -e '
use strict;
use warnings;

my $tree = shift;
$| = 1;
my $reg_rel = "docs/log-tags.md";
my $reg = "$tree/$reg_rel";
my @problems;

my @files;
for my $dir (".", qw(process connection fdqueue scoreboard policy)) {
    opendir(my $dh, "$tree/$dir") or do {
        next if $dir ne ".";
        print STDERR "check-lognos: $tree: $!\n"; exit 2 };
    push @files, map { $dir eq "." ? $_ : "$dir/$_" }
                 grep { /\.[ch]\z/ && -f "$tree/$dir/$_" } readdir $dh;
    closedir $dh;
}
@files = sort @files;

# Blank comments (everywhere) and string/char contents (in $bare) with
# spaces, keeping newlines and offsets, so positions map to line numbers.
sub blank { (my $s = shift) =~ s/[^\n]/ /g; return $s }
sub split_code {
    my $text = shift;
    my ($code, $bare) = ("", "");
    while ($text =~ m{\G(?:
            (/\*.*?\*/)                          # 1 block comment
          | (//[^\n]*)                           # 2 line comment
          | ("(?:\\.|[^"\\\n])*"|\x27(?:\\.|[^\x27\\\n])*\x27)  # 3 literal
          | ([^/"\x27]+|.)                       # 4 other
        )}gsx) {
        if (defined $1 || defined $2) {
            my $b = blank(defined $1 ? $1 : $2);
            $code .= $b; $bare .= $b;
        }
        elsif (defined $3) {
            my $lit = $3;
            $code .= $lit;
            $bare .= substr($lit, 0, 1) . blank(substr($lit, 1, -1))
                     . substr($lit, -1);
        }
        else {
            $code .= $4; $bare .= $4;
        }
    }
    return ($code, $bare);
}

sub line_of { my ($s, $pos) = @_; return 1 + (substr($s, 0, $pos) =~ tr/\n//) }

# [open, close) offsets of the parenthesised argument list enclosing $pos.
sub enclosing_args {
    my ($bare, $pos) = @_;
    my $depth = 0;
    my $i;
    for ($i = $pos; $i >= 0; $i--) {
        my $ch = substr($bare, $i, 1);
        if ($ch eq ")") { $depth++ }
        elsif ($ch eq "(") { last if $depth-- == 0 }
        elsif ($ch eq ";" || $ch eq "{" || $ch eq "}") { return }
    }
    return if $i < 0;
    return ($i, matching_paren($bare, $i));
}

sub matching_paren {
    my ($bare, $open) = @_;
    my $depth = 0;
    for (my $j = $open; $j < length $bare; $j++) {
        my $ch = substr($bare, $j, 1);
        $depth++ if $ch eq "(";
        if ($ch eq ")" && --$depth == 0) { return $j }
    }
    return length $bare;
}

sub literals {
    my ($bare, $from, $to) = @_;
    my $span = substr($bare, $from, $to - $from);
    my @tags;
    while ($span =~ /(?<![\w.])(\d{5})(?![\w.])/g) {
        push @tags, [$1, $from + $-[1]];
    }
    return @tags;
}

my (%sites, %src);
for my $f (@files) {
    open(my $fh, "<", "$tree/$f") or do { print STDERR "check-lognos: $f: $!\n"; exit 2 };
    local $/;
    my $text = <$fh>;
    close $fh;
    @{$src{$f}}{qw(code bare)} = split_code($text);
}

sub add_site {
    my ($tag, $f, $pos, $how) = @_;
    push @{$sites{$tag}}, sprintf("%s:%d (%s)", $f,
                                  line_of($src{$f}{bare}, $pos), $how);
}

# Named tag constants: those defined in a header apply to every file.
my (%consts, %const_def);
for my $f (@files) {
    my $code = $src{$f}{code};
    my $scope = $f =~ /\.h\z/ ? "*" : $f;
    for my $re (qr/\b((?:FE_)?TAG_\w+)\s*=\s*(\d{5})\b/,
                qr/^[ \t]*#[ \t]*define[ \t]+((?:FE_)?TAG_\w+)[ \t]+\(?(\d{5})\)?/m) {
        while ($code =~ /$re/g) {
            $consts{$scope}{$1} = $2;
            $const_def{"$f:$-[1]"} = 1;
        }
    }
}

for my $f (@files) {
    my ($code, $bare) = @{$src{$f}}{qw(code bare)};

    while ($bare =~ /\bFELOGNO\s*\(([^()]*)\)/g) {
        my ($arg, $pos) = ($1, $-[0]);
        (my $a = $arg) =~ s/^\s+|\s+\z//g;
        my $line = line_of($code, $pos);
        my ($ltext) = (split /\n/, $code)[$line - 1];
        next if $ltext =~ /^\s*#\s*define\s+FELOGNO\s*\(/;
        if ($a =~ /^\d{5}\z/) {
            add_site($a, $f, $pos, "FELOGNO");
        }
        else {
            push @problems, "$f:$line: FELOGNO($arg): a tag is five digits";
        }
    }

    while ($code =~ /"FE%05d/g) {
        my $pos = $-[0];
        my ($open, $close) = enclosing_args($bare, $pos);
        next unless defined $open;
        add_site($_->[0], $f, $_->[1], "FE%05d literal")
            for literals($bare, $open, $close);
    }

    for my $scope ($f, "*") {
        for my $name (sort keys %{$consts{$scope} || {}}) {
            while ($bare =~ /\b\Q$name\E\b/g) {
                next if $const_def{"$f:$-[0]"};
                add_site($consts{$scope}{$name}, $f, $-[0], $name);
            }
        }
    }

    while ($bare =~ /\b(\w+)\s*(?=\()/g) {
        my ($callee, $at) = ($1, $+[0]);
        next unless $callee =~ /(?:^|_)diag\z/i || $callee eq "report";
        my $close = matching_paren($bare, $at);
        add_site($_->[0], $f, $_->[1], "literal to $callee()")
            for literals($bare, $at, $close);
    }
}

# The registry: rows whose first cell is exactly FE + five digits.
my (%reg, %retired, @order);
open(my $rh, "<", $reg) or do { print STDERR "check-lognos: $reg: $!\n"; exit 2 };
while (my $l = <$rh>) {
    next unless $l =~ /^\|\s*FE(\d{5})\s*\|(.*)/;
    my ($tag, $rest) = ($1, $2);
    push @{$reg{$tag}}, $.;
    $retired{$tag} = 1 if $rest =~ /\bretired\b/i;
    push @order, [$tag, $.];
}
close $rh;

if ($ENV{CHECK_LOGNOS_VERBOSE}) {
    print "FE$_: @{$sites{$_}}\n" for sort keys %sites;
}
for my $tag (sort keys %reg) {
    my @l = @{$reg{$tag}};
    push @problems, "$reg_rel lists FE$tag " . @l . " times (lines @l)"
        if @l > 1;
}
for my $i (1 .. $#order) {
    my ($prev, $cur) = ($order[$i - 1], $order[$i]);
    push @problems, "$reg_rel: FE$cur->[0] (line $cur->[1]) comes after "
        . "FE$prev->[0]: keep the table sorted by tag"
        if $cur->[0] < $prev->[0];
}
for my $tag (sort keys %sites) {
    my @s = @{$sites{$tag}};
    if (!$reg{$tag}) {
        push @problems, "FE$tag is not in $reg_rel (used at $s[0])";
    }
    elsif ($retired{$tag}) {
        push @problems, "FE$tag is marked retired in $reg_rel but used at "
            . "$s[0]: take a new number";
    }
    if (@s > 1) {
        push @problems, "FE$tag is used at " . @s . " call sites: "
            . join(", ", @s) . "; give each its own tag";
    }
}
for my $tag (sort keys %reg) {
    next if $sites{$tag} || $retired{$tag};
    print STDERR "check-lognos: note: FE$tag is registered but not used "
        . "in the code (mark its row retired if the call site is gone)\n";
}

if (@problems) {
    print "check-lognos: $_\n" for @problems;
    printf "check-lognos: %d problem%s\n", scalar @problems,
        @problems == 1 ? "" : "s";
    exit 1;
}
printf "check-lognos: %d tags, all registered\n", scalar keys %sites;
exit 0;
' "$tree"
