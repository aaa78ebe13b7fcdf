/**
 * The process spawner's program (Perl 5, core modules only; run with
 * `perl -e`, so there is no file to find at run time). Why Perl and not a
 * second Node process: a spawner must fork cheaply, and a Perl process of a
 * few MB forks and execs in about half the time a Node process of 50 MB
 * does (`spawner.ts` has the figures); and a forked child can move itself
 * into the job's cgroup before it execs the step, which Node's `spawn`
 * cannot do.
 *
 * Protocol (`spawner.ts` is the other side):
 * - requests on stdin: `<byte length>\n<payload>`; the payload is NUL
 *   separated: id, cwd, cgroup directory ("" for none), "1" when the child
 *   gets a stdin connection, file, argument count, the arguments, then
 *   `KEY=value` for each environment variable. The payload `bye` says the
 *   runner ends normally.
 * - replies on stdout, one line each: `s <id> <pid>` (the program runs:
 *   the child is in its own session and process group, in the cgroup),
 *   `f <id> <stage> <errno>` (it could not start; stage is cgroup,
 *   connect, stdin, chdir or exec), `x <id> <code> <signal number>` (it
 *   exited; code -1 when killed by a signal). `s` comes before `x`, and a
 *   request gets either `f` or `s` and `x`.
 * - the child's stdout and stderr (and stdin when asked) are connections
 *   to the runner's unix socket (argv[0]) that the child itself opens
 *   before exec, each starting with a 12-byte header: the id (10 digits),
 *   `o`, `e` or `i`, and `\n`. So output never passes through the spawner,
 *   and back-pressure is the kernel's: a runner that stops reading blocks
 *   the child.
 * - stdin closing without `bye` (the runner died): every process group the
 *   spawner started whose main process still runs gets SIGKILL, and the
 *   spawner exits (the runner's watchdog also kills them; this is the
 *   spawner's own `PR_SET_PDEATHSIG`).
 *
 * The spawner ignores SIGINT, SIGHUP and SIGPIPE (it runs in its own
 * session, so a Ctrl-C to the terminal does not reach it anyway); a child
 * resets them, and its signal mask, before exec.
 */
export const SPAWNER_PROGRAM = String.raw`
use strict;
use warnings;
use Socket qw(AF_UNIX SOCK_STREAM pack_sockaddr_un);
use POSIX qw(WNOHANG);
use Errno qw(EINTR ENOENT ENOTDIR EACCES ENOEXEC);

my $path = shift @ARGV;
my (%child, %status, %failed, $bye);
my ($in, $out) = ("", "");
$SIG{$_} = "IGNORE" for qw(INT HUP PIPE);
$SIG{CHLD} = sub {};

sub child {
  my ($w, $id, $cwd, $cg, $stdin, $file, $args, $env) = @_;
  my $fail = sub { syswrite($w, "$_[0] " . ($! + 0)); POSIX::_exit(127) };
  $SIG{$_} = "DEFAULT" for qw(INT HUP PIPE CHLD);
  POSIX::sigprocmask(POSIX::SIG_SETMASK(), POSIX::SigSet->new());
  POSIX::setsid();
  if ($cg ne "") {
    open(my $c, ">", "$cg/cgroup.procs") or $fail->("cgroup");
    syswrite($c, "0") or $fail->("cgroup");
    close($c) or $fail->("cgroup");
  }
  my $header = sprintf("%010d", $id);
  for my $s (["o", 1], ["e", 2], $stdin ? (["i", 0]) : ()) {
    socket(my $sock, AF_UNIX, SOCK_STREAM, 0) or $fail->("connect");
    connect($sock, pack_sockaddr_un($path)) or $fail->("connect");
    (syswrite($sock, "$header$s->[0]\n") // 0) == 12 or $fail->("connect");
    defined(POSIX::dup2(fileno($sock), $s->[1])) or $fail->("connect");
  }
  if (!$stdin) {
    open(my $null, "<", "/dev/null") or $fail->("stdin");
    defined(POSIX::dup2(fileno($null), 0)) or $fail->("stdin");
  }
  chdir($cwd) or $fail->("chdir");
  %ENV = map { split(/=/, $_, 2) } @$env;
  no warnings "exec";
  my $err = ENOENT;
  my @tries = $file =~ m{/} ? ($file) : map { ($_ eq "" ? "." : $_) . "/$file" } split(/:/, $ENV{PATH} // "/usr/local/bin:/usr/bin:/bin", -1);
  for my $try (@tries) {
    exec { $try } $file, @$args;
    my $e = $! + 0;
    if ($e == ENOEXEC) { exec { "/bin/sh" } "/bin/sh", $try, @$args; $e = $! + 0 }
    if ($e == EACCES) { $err = $e } elsif ($e != ENOENT && $e != ENOTDIR) { $err = $e; last }
  }
  $! = $err;
  $fail->("exec");
}

sub gone {
  kill("KILL", -$_) for $bye ? () : keys %child;
  exit(0);
}

sub request {
  my @f = split(/\0/, $_[0], -1);
  my ($id, $cwd, $cg, $stdin, $file, $argc) = splice(@f, 0, 6);
  my @args = splice(@f, 0, $argc);
  my ($r, $w);
  if (!pipe($r, $w)) { $out .= "f $id pipe " . ($! + 0) . "\n"; return }
  my $pid = fork();
  if (!defined $pid) { $out .= "f $id fork " . ($! + 0) . "\n"; close($r); close($w); return }
  if ($pid == 0) { close($r); child($w, $id, $cwd, $cg, $stdin, $file, \@args, \@f) }
  close($w);
  $status{fileno($r)} = [$r, $pid, $id];
  $child{$pid} = $id;
}

sub started {
  my ($fh, $pid, $id) = @{ delete $status{$_[0]} };
  my $n = sysread($fh, my $msg, 64);
  close($fh);
  if ($n) { $failed{$pid} = 1; $out .= "f $id $msg\n" } else { $out .= "s $id $pid\n" }
}

while (1) {
  my $bits = "";
  vec($bits, 0, 1) = 1;
  vec($bits, $_, 1) = 1 for keys %status;
  my $n = select(my $ready = $bits, undef, undef, (%child || %status) ? 0.02 : undef);
  if ($n > 0) {
    for my $fd (keys %status) { started($fd) if vec($ready, $fd, 1) }
    if (vec($ready, 0, 1)) {
      my $got = sysread(STDIN, $in, 1 << 16, length $in);
      gone() if defined $got && $got == 0;
      while ($in =~ /^(\d+)\n/) {
        my $start = length($1) + 1;
        last if length($in) < $start + $1;
        my $frame = substr($in, $start, $1);
        substr($in, 0, $start + $1) = "";
        if ($frame eq "bye") { $bye = 1 } else { request($frame) }
      }
    }
  }
  while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
    my $st = $?;
    my $id = delete $child{$pid};
    next unless defined $id;
    for my $fd (keys %status) { started($fd) if $status{$fd}[1] == $pid }
    next if delete $failed{$pid};
    $out .= ($st & 127) ? "x $id -1 " . ($st & 127) . "\n" : "x $id " . ($st >> 8) . " 0\n";
  }
  while ($out ne "") {
    my $done = syswrite(STDOUT, $out);
    gone() unless defined $done || $! == EINTR;
    substr($out, 0, $done // 0) = "";
  }
}
`;
