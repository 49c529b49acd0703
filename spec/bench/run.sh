#!/bin/bash
# `make bench`: the record of issue 11. One run prints the machine, how
# every row was mounted, and tables with the same row names: metadata with
# 1 and with 4 clients, file data, a real tree, host memory. Every figure is
# the median of several rounds, with the spread, and the ratio to the plain
# directory; the mirror is also compared with a C reference, libfuse's
# passthrough_ll example, compiled from Debian's libfuse3-dev for this run.
#
#   make bench                          # as root, from the repository root
#   BENCH_QUICK=1 make bench            # small sizes, 1 round: a smoke test
#   MOONFS_BINARY=/path/moonfs make bench   # bench that host (and its lua/)
#
# Environment:
#   BENCH_ROWS="plain pt ..."  rows to run, in order (see spec/bench/rows.sh;
#                              default: every row this host and kernel allow)
#   BENCH_ROUNDS=N             rounds per figure (default 3; quick 1)
#   BENCH_TREE_ROUNDS=N        rounds of the tree workload (default: as above)
#   BENCH_MAX_LOAD=L           refuse to start when the 1-minute load average
#                              is above L, or to go on when other processes
#                              keep more than L CPUs busy (1.5; check_load)
#   BENCH_MAX_OTHERS=C         before a row, wait while other processes keep
#                              more than C CPUs busy (default 0.15); a row
#                              during which they did is measured again while
#                              BENCH_RETRIES last (default 1 per run, quick
#                              0), else marked * in the tables
#   BENCH_LOAD_WAIT=S          wait at most S seconds before a row (60; quick
#                              runs do not wait)
#   BENCH_FORCE=1              measure anyway (the record says so)
#   BENCH_TIMEOUT=S            entry/attr cache timeout of every FUSE row
#                              (default 86400, the mirror's own default)
#   BENCH_DIR=DIR              where the work directory goes (/var/tmp)
#   BENCH_TAR=FILE             the cached tree tarball
#                              (default /var/tmp/moonfs-bench-tree.tar)
#   BENCH_VS_C="ROW..."        the rows compared with the C reference, the
#                              first that ran (default "cpus uring pt")
#   BENCH_RAW=FILE             also keep every round's value in FILE (even
#                              when the run stops early)
#   BENCH_KEEP=1               keep the work directory
# Exit status: 0 all measured; 1 some measurement or host failed; 2 cannot
# run (not root, missing tools); 3 the machine was busy (before a row, or
# during one even when measured again).
# Needs: root (drop_caches, passthrough, enable_uring), fio, luajit,
# fusermount3, tar, gcc, pkg-config and libfuse3-dev.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
export LC_ALL=C

bench=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$bench/../.." && pwd)
moonfs=$(readlink -f "${MOONFS_BINARY:-$repo/moonfs}")
# The scripts come from the host's own tree when it has them (a host built
# in another worktree finds its lua/ beside itself; its scripts/ match it).
scripts=$(dirname "$moonfs")/scripts
[ -f "$scripts/mirror.lua" ] || scripts=$repo/scripts

die() { echo "bench: $*" >&2; exit 2; }
[ -x "$moonfs" ] || die "no host at $moonfs; run make first (or set MOONFS_BINARY)"
[ "$(id -u)" -eq 0 ] || die "needs root (drop_caches, FUSE passthrough)"
for t in fio luajit fusermount3 tar timeout gcc pkg-config; do
	command -v $t >/dev/null || die "needs $t (make deps)"
done

# ---------------------------------------------------------------- settings
quick=${BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then
	rounds=${BENCH_ROUNDS:-1}
	fio_size=64M fio_mib=64
	read_rt=0.5 dwrite_rt=0.5   # seconds per time-based fio job
	nfiles=1000 nfiles4=500     # metadata files: 1 client; each of 4 clients
	readdir_s=0.2               # readdir repeats for at least this long
	ninodes=10000               # memory probe
	tree_quick=1500             # tree: the first N entries of the list
	load_sample=1               # seconds to watch the others before a row
else
	rounds=${BENCH_ROUNDS:-3}
	fio_size=1G fio_mib=1024
	read_rt=3 dwrite_rt=3
	nfiles=10000 nfiles4=4000
	readdir_s=1
	ninodes=30000 # 100,000 give the same bytes per inode, in 10 s more per row
	tree_quick=0
	load_sample=3
fi
tree_rounds=${BENCH_TREE_ROUNDS:-$rounds}
max_load=${BENCH_MAX_LOAD:-1.5}
max_others=${BENCH_MAX_OTHERS:-0.15}
load_wait=${BENCH_LOAD_WAIT:-$([ "$quick" = 1 ] && echo 0 || echo 60)}
retries=${BENCH_RETRIES:-$([ "$quick" = 1 ] && echo 0 || echo 1)}
force=${BENCH_FORCE:-0}
timeout=${BENCH_TIMEOUT:-86400}
tar_cache=${BENCH_TAR:-/var/tmp/moonfs-bench-tree.tar}
ncpu=$(nproc)
tck=$(getconf CLK_TCK)
# Descriptors a host may open: raised where root may (CAP_SYS_RESOURCE).
nofile=$( (ulimit -n 1048576 2>/dev/null; ulimit -Hn) )
cmd_timeout=600 # no single measured command may take longer (a hung mount)
mount_wait=10   # seconds for a mount to appear
start_margin=0.25 # seconds between starting 4 clients and their start signal
nclients=4

# ---------------------------------------------------------------- state
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/moonfs-bench.XXXXXX") || die "mktemp failed"
results=$work/results    # "V row fig value..." lines for report.awk
notes=$work/notes        # footnotes, printed under the tables
: >"$results"
: >"$notes"
mounts=""   # mount points we mounted (all of them, for cleanup)
hosts=""    # host pids we started and have not yet reaped
children="" # measured commands running now
failed=0 forced=0
ll="" ll_error=""
teardown_now=""

is_mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }
alive() { kill -0 "$1" 2>/dev/null; }
note() { # ROW TEXT: a footnote about ROW (dropped if the row is measured again)
	local k=$1
	shift
	printf '%s %s: %s\n' "$k" "$(row_label "$k")" "$*" >>"$notes"
}
exec 9>&2 # progress and warnings, even from a trap inside a redirection
say() { printf 'bench: %s\n' "$*" >&9; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
record() { echo "V $*" >>"$results"; } # ROW FIG VALUE
fail_fig() { # ROW FIG WHY (the first failure of a figure is noted)
	grep -qx "F $1 $2" "$results" || note "$1" "$2: $3"
	echo "F $1 $2" >>"$results"
	[ "$1" = "$ref_row" ] || failed=1 # the reference's limits are not ours
}

# unmount MNT: politely, then lazily.
unmount() {
	local m=$1 i=0
	is_mounted "$m" || return 0
	until fusermount3 -u "$m" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -ge 20 ]; then
			say "$m still busy after 5 s: lazy unmount"
			fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
			return 1
		fi
		sleep 0.25
	done
}

# reap PID: waits up to 10 s for it to exit, then TERM, then KILL; returns
# its exit status (or 128+signal).
reap() {
	local p=$1 i=0 rc
	reap_signalled=0
	while alive "$p" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if alive "$p"; then
		reap_signalled=1
		say "pid $p still running 10 s after its unmount: SIGTERM"
		kill -TERM "$p" 2>/dev/null
		i=0
		while alive "$p" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		alive "$p" && kill -KILL "$p" 2>/dev/null
	fi
	wait "$p" 2>/dev/null
	rc=$?
	hosts=$(printf '%s\n' $hosts | grep -vx "$p" | tr '\n' ' ')
	return $rc
}

cleanup() {
	local rc=$? m p
	trap - EXIT INT TERM HUP
	for p in $children; do alive "$p" && kill -TERM "$p" 2>/dev/null; done
	for m in $mounts; do unmount "$m"; done
	for p in $hosts; do reap "$p"; done
	for p in $children; do wait "$p" 2>/dev/null; done
	[ -n "$teardown_now" ] && $teardown_now
	[ -n "${BENCH_RAW:-}" ] && cp "$results" "$BENCH_RAW"
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		say "work directory kept: $work"
	elif grep -qF " $work/" /proc/self/mountinfo; then
		say "something is still mounted under $work; not removing it"
	else
		rm -rf "$work"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT TERM HUP

# run CMD...: runs CMD in the background under the command timeout and waits
# for it, so that a signal to this script is handled at once.
run() {
	local p rc
	timeout -k 5 $cmd_timeout "$@" &
	p=$!
	children="$children $p"
	wait $p
	rc=$?
	children=${children% $p}
	return $rc
}

# ---------------------------------------------------------------- rows
declare -A row_lab row_cmd row_needs row_setup row_teardown
all_rows=""
def_row() {
	all_rows="$all_rows $1"
	row_lab[$1]=$2 row_cmd[$1]=$3 row_needs[$1]=${4:-} row_setup[$1]=${5:-} row_teardown[$1]=${6:-}
}
row_label() { echo "${row_lab[$1]:-$1}"; }
. "$bench/rows.sh"
devfuse=""
host_help | grep -q 'noio_uring' && devfuse=",noio_uring"

# The mount command of ROW as text, with the paths left symbolic.
show_cmd() {
	local mnt=MNT back=BACK moonfs=moonfs scripts=scripts ll=passthrough_ll
	eval "set -- ${row_cmd[$1]}"
	echo "$*"
}

# passthrough_ll, from the examples Debian ships (gzipped or not), built
# here and never kept: the C reference row.
build_ll() {
	local ex=/usr/share/doc/libfuse3-dev/examples f d=$work/ll
	mkdir -p "$d"
	for f in passthrough_ll.c passthrough_helpers.h; do
		if [ -f "$ex/$f" ]; then
			cp "$ex/$f" "$d/"
		elif [ -f "$ex/$f.gz" ]; then
			gunzip -c "$ex/$f.gz" >"$d/$f"
		else
			ll_error="no $ex/$f (apt-get install libfuse3-dev)"
			return 1
		fi
	done
	# What libfuse's own build defines on Linux with glibc.
	if ! gcc -O2 -D_GNU_SOURCE -DHAVE_FALLOCATE -DHAVE_COPY_FILE_RANGE \
		-o "$d/passthrough_ll" "$d/passthrough_ll.c" \
		$(pkg-config --cflags --libs fuse3) 2>"$d/cc.log"; then
		ll_error="gcc failed: $(head -n 1 "$d/cc.log")"
		return 1
	fi
	ll=$d/passthrough_ll
}

# host_start ROW DIR: mounts ROW on DIR/mnt over DIR/back; sets host_pid,
# host_mnt, host_log. On failure sets start_error and returns 1.
host_start() {
	local key=$1 dir=$2 i=0 mnt back cmd
	mnt=$dir/mnt back=$dir/back
	mkdir -p "$mnt" "$back"
	host_mnt=$mnt host_log=$dir/host.log
	cmd=${row_cmd[$key]}
	# Hosts that keep a descriptor per inode (passthrough_ll) get as many
	# as this machine allows.
	(
		ulimit -n $nofile 2>/dev/null
		eval "exec $cmd"
	) </dev/null >"$host_log" 2>&1 &
	host_pid=$!
	hosts="$hosts $host_pid" mounts="$mounts $mnt"
	until is_mounted "$mnt"; do
		i=$((i + 1))
		if ! alive "$host_pid" || [ $i -gt $((mount_wait * 20)) ]; then
			alive "$host_pid" && kill -TERM "$host_pid"
			reap "$host_pid"
			start_error="did not mount: $(grep -v '^$' "$host_log" | tail -n 1)"
			return 1
		fi
		sleep 0.05
	done
}

# host_stop ROW: unmounts, reaps the host, checks its exit status and log.
host_stop() {
	local key=$1 rc
	unmount "$host_mnt"
	reap "$host_pid"
	rc=$?
	if [ $reap_signalled = 1 ]; then
		note "$key" "the host was still running 10 s after its unmount: stopped with SIGTERM"
		failed=1
	fi
	if [ $rc -ne 0 ]; then
		note "$key" "the host exited with status $rc: $(tail -n 1 "$host_log")"
		failed=1
	fi
	if grep -qiE 'traceback|error' "$host_log"; then
		note "$key" "the host logged: $(grep -iE 'traceback|error' "$host_log" | head -n 1)"
	fi
	return $rc
}

vm() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; } # PID VmRSS -> kB

# ---------------------------------------------------------------- load
# The CPU time (clock ticks) every other process has used so far: all but
# this shell and kernel threads (the backing filesystem's writeback and
# discards after a row are this bench's own), children counted once their
# parents have waited for them. This bench's own children are reaped by
# this shell, so between two readings the difference is what the others did.
others_cpu() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v self=$$ -v me=$BASHPID '
		{ pid = $1; s = $0; sub(/^.*\) /, "", s); split(s, f, " ")
		  if (pid == self || pid == me || f[2] == me || pid == 2 || f[2] == 2) next
		  t += f[12] + f[13] + f[14] + f[15] }
		END { printf "%d\n", t }'
}
# others_busy SECONDS: how many CPUs the others keep busy, sampled while
# this bench sleeps.
others_busy() {
	local c0 c1
	c0=$(others_cpu)
	sleep "$1"
	c1=$(others_cpu)
	awk -v c=$((c1 - c0)) -v k="$tck" -v s="$1" 'BEGIN { printf "%.2f", c / k / s }'
}

# Before the first row: the 1-minute load average, at most BENCH_MAX_LOAD.
# Before the others that average counts this bench's last minute, so the
# bench looks at the others instead: if they keep more than
# BENCH_MAX_OTHERS CPUs busy it waits for them (BENCH_LOAD_WAIT), and gives
# up if they still keep more than BENCH_MAX_LOAD busy.
load_start="" load_rows=""
check_load() { # WHEN ("at the start" or "before ROW")
	local busy how waited=0 limit=$max_load
	while :; do
		if [ "$1" = "at the start" ]; then
			busy=$(cut -d' ' -f1 /proc/loadavg) how="the 1-minute load average"
			break
		fi
		busy=$(others_busy $load_sample) how="other processes' CPU use"
		awk -v l="$busy" -v m="$max_others" 'BEGIN { exit !(l > m) }' || break
		[ $waited -lt "$load_wait" ] && [ "$force" != 1 ] || break
		[ $waited = 0 ] && say "busy: $how is $busy CPUs (> $max_others) $1; waiting up to ${load_wait} s"
		sleep 7
		waited=$((waited + 7 + load_sample))
	done
	if [ "$1" = "at the start" ]; then
		load_start=$busy
	else
		load_rows="$load_rows${load_rows:+, }${1#before } $busy$([ $waited -gt 0 ] && echo " (after waiting ${waited} s)")"
	fi
	awk -v l="$busy" -v m="$limit" 'BEGIN { exit !(l > m) }' || return 0
	if [ "$force" = 1 ]; then
		say "WARNING: $how is $busy (> $limit) $1; BENCH_FORCE=1: measuring anyway"
		forced=1
		return 0
	fi
	say "the machine is busy: $how is $busy (> BENCH_MAX_LOAD=$limit) $1."
	say "figures taken now would mislead; wait, or BENCH_FORCE=1 to measure anyway."
	ps -eo pid,pcpu,stat,comm --sort=-pcpu | head -n 6 | sed 's/^/  /' >&2
	exit 3
}

# ---------------------------------------------------------------- measures
# fio_bw ROW FIG FIELD ARGS...: fio's bandwidth (terse field 7 = read,
# 48 = write, KiB/s) in MB/s.
fio_bw() {
	local row=$1 fig=$2 field=$3 out=$work/fio.out
	shift 3
	if run fio --output-format=terse --terse-version=3 \
		--ioengine=psync --invalidate=0 --fadvise_hint=0 "$@" >"$out" 2>&1 &&
		[ "$(awk -F';' 'END { print $5 }' "$out")" = 0 ]; then
		record "$row" "$fig" "$(awk -F';' -v f="$field" 'END { printf "%.1f", $f * 1024 / 1e6 }' "$out")"
	else
		local e
		e=$(awk -F';' 'END { print $5 }' "$out")
		case $e in
		'' | *[!0-9]*) fail_fig "$row" "$fig" "fio: $(grep -v '^$' "$out" | tail -n 1 | cut -c1-100)" ;;
		*) fail_fig "$row" "$fig" "fio: error $e ($(perl -e '$! = shift; print "$!"' "$e"))" ;;
		esac
	fi
}

# timed ROW FIG CMD...: the wall time of CMD, seconds.
timed() {
	local row=$1 fig=$2 t0 t1
	shift 2
	t0=$(now_ns)
	if run "$@" >/dev/null 2>"$work/cmd.err"; then
		t1=$(now_ns)
		record "$row" "$fig" "$(secs "$t0" "$t1")"
	else
		fail_fig "$row" "$fig" "$* failed: $(tail -n 1 "$work/cmd.err")"
	fi
}

# clients ROW FIG OP N DIR...: one meta.lua process per DIR, all started at
# the same moment; records their total rate (all operations over the time
# from the first start to the last end).
clients() {
	local row=$1 fig=$2 op=$3 n=$4 at d i=0 ps="" p bad=0
	shift 4
	if [ $# = 1 ]; then # one client: no need to wait for a start signal
		if run luajit "$bench/meta.lua" "$op" "$1" "$n" --seconds=$readdir_s \
			>"$work/meta.out" 2>"$work/meta.err"; then
			record "$row" "$fig" "$(cat "$work/meta.out")"
		else
			fail_fig "$row" "$fig" "$(tail -n 1 "$work/meta.err")"
		fi
		return
	fi
	at=$(date +%s.%N | awk -v m=$start_margin '{ printf "%.3f", $1 + m }')
	for d in "$@"; do
		i=$((i + 1))
		timeout -k 5 $cmd_timeout luajit "$bench/meta.lua" "$op" "$d" "$n" --at="$at" \
			--seconds=$readdir_s >"$work/client.$i" 2>"$work/client.$i.err" &
		ps="$ps $!"
	done
	children="$children $ps"
	for p in $ps; do wait "$p" || bad=1; done
	children=${children%"$ps"}
	if [ $bad = 1 ]; then
		fail_fig "$row" "$fig" "$(cat "$work"/client.*.err | head -n 1)"
		return
	fi
	local rate skew
	read -r rate skew < <(cat "$work"/client.[0-9] | awk '
		{ n += $1; if (NR == 1 || $2 < s) s = $2; if ($2 > s2) s2 = $2; if ($3 > e) e = $3 }
		END { printf "%.0f %.3f %.3f\n", n / (e - s), s2 - s, (s2 - s) / (e - s) }')
	record "$row" "$fig" "$rate"
	# A client that missed the start signal (slow to start) skews the
	# figure: say so when the starts spread over 50 ms and a tenth of the
	# run (4 clients on fewer CPUs always start a few ms apart).
	set -- $skew
	awk -v s="$1" -v k="$2" 'BEGIN { exit !(s > 0.05 && k > 0.1) }' &&
		note "$row" "$fig: the clients started $1 s apart, $(awk -v k="$2" 'BEGIN { printf "%.0f", k * 100 }')% of the run (start margin $start_margin s)"
	rm -f "$work"/client.*
}

# meta_round ROW DIR: create, cold stat, open+close, readdir, unlink with
# one client, then with four (each in its own directory).
meta_round() {
	local row=$1 dir=$2 i ds=""
	mkdir "$dir/m1" || { fail_fig "$row" meta "mkdir $dir/m1 failed"; return; }
	# Creates start with cold caches too. On ext4 without a journal (this
	# machine's root) the inode allocator skips every inode freed in the
	# last minutes whose inode-table block is still cached, so with warm
	# caches "create" depends on how much the previous steps (or anyone
	# else) deleted: 2,000 to 40,000/s in the plain directory.
	drop_caches
	clients "$row" create.1 create $nfiles "$dir/m1"
	drop_caches
	clients "$row" stat.1 stat $nfiles "$dir/m1"
	clients "$row" open.1 open $nfiles "$dir/m1"
	clients "$row" readdir.1 readdir $nfiles "$dir/m1"
	clients "$row" unlink.1 unlink $nfiles "$dir/m1"
	rm -rf "$dir/m1"

	for i in $(seq $nclients); do mkdir "$dir/c$i" && ds="$ds $dir/c$i"; done
	drop_caches
	clients "$row" create.4 create $nfiles4 $ds
	drop_caches
	clients "$row" stat.4 stat $nfiles4 $ds
	clients "$row" open.4 open $nfiles4 $ds
	clients "$row" readdir.4 readdir $nfiles4 $ds
	clients "$row" unlink.4 unlink $nfiles4 $ds
	rm -rf $ds
}

# fio_round ROW DIR [PID]: 1 MiB sequential write (+fsync) and warm reads,
# 4 KiB warm random reads, 4 KiB O_DIRECT random writes. With PID, the
# host's resident memory while it holds the file.
fio_round() {
	local row=$1 dir=$2 pid=${3:-} f=$2/fio.dat
	rm -f "$f"
	fio_bw "$row" seqwrite 48 --name=seqwrite --filename="$f" --rw=write --bs=1M \
		--size=$fio_size --end_fsync=1
	[ -n "$pid" ] && record "$row" rss_file "$(vm "$pid" VmRSS)"
	cat "$f" >/dev/null 2>&1 # warm the cache the way this row's reads see it
	fio_bw "$row" seqread 7 --name=seqread --filename="$f" --rw=read --bs=1M \
		--size=$fio_size --time_based --runtime=$read_rt
	fio_bw "$row" randread 7 --name=randread --filename="$f" --rw=randread --bs=4k \
		--size=$fio_size --time_based --runtime=$read_rt
	fio_bw "$row" dwrite 48 --name=dwrite --filename="$f" --rw=randwrite --bs=4k \
		--direct=1 --size=$fio_size --time_based --runtime=$dwrite_rt
	rm -f "$f"
}

# tree_round ROW DIR: untar+sync, then find, du, cat and rm -rf, each on a
# cold cache.
tree_round() {
	local row=$1 dir=$2 t=$2/tree
	mkdir "$t" || { fail_fig "$row" untar "mkdir $t failed"; return; }
	drop_caches
	cat "$tree_tar" >/dev/null
	timed "$row" untar sh -c 'tar -xf "$1" -C "$2" && sync' sh "$tree_tar" "$t"
	drop_caches
	timed "$row" find find "$t"
	drop_caches
	timed "$row" du du -s "$t"
	drop_caches
	timed "$row" cat sh -c 'cd "$1" && xargs -0 cat <"$2"' sh "$t" "$tree_files"
	drop_caches
	timed "$row" rm rm -rf "$t"
	sync
}

# memory_probe ROW DIR: a fresh mount; $ninodes files created and stat'ed
# in one directory, so that the kernel holds that many of the host's
# inodes; records the resident memory they cost, bytes per inode. Hosts
# that hold a descriptor per inode (fd_rows) get as many as they can open.
memory_probe() {
	local row=$1 dir=$2 rss0 rss1 n=$ninodes
	case " $fd_rows " in *" $row "*)
		if [ $((nofile - 1000)) -lt $n ]; then
			n=$((nofile - 1000))
			note "$row" "one descriptor per inode, at most $nofile here (RLIMIT_NOFILE): memory probe with $n inodes"
		fi ;;
	esac
	[ $quick = 1 ] || say "  memory probe: $n inodes"
	if ! host_start "$row" "$dir"; then
		fail_fig "$row" inode "$start_error"
		return
	fi
	rss0=$(vm "$host_pid" VmRSS)
	mkdir "$host_mnt/d"
	drop_caches
	if run luajit "$bench/meta.lua" create "$host_mnt/d" $n >/dev/null 2>"$work/meta.err" &&
		run luajit "$bench/meta.lua" stat "$host_mnt/d" $n >/dev/null 2>>"$work/meta.err"; then
		rss1=$(vm "$host_pid" VmRSS)
		record "$row" inode "$(awk -v a="$rss0" -v b="$rss1" -v n=$n 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')"
	else
		fail_fig "$row" inode "$(tail -n 1 "$work/meta.err")"
	fi
	host_stop "$row"
	rm -rf "$dir"
}

# host_counts ROW: the moonfs host's counters (-o stats) as a footnote.
host_counts() {
	local counts
	counts=$(awk '
		/ stats opens:/ { sub(/.* stats opens: /, ""); opens = $0; next }
		/ stats [a-z_]+ +[0-9]+/ { sub(/.* stats /, ""); n[$1] = $2; total += $2; next }
		END { if (total) printf "%d requests reached the host (lookup %d, getattr %d, getxattr %d, read %d, write %d); opens: %s\n",
			total, n["lookup"], n["getattr"], n["getxattr"], n["read"], n["write"], opens }' "$host_log")
	[ -n "$counts" ] && note "$1" "$counts"
}

# run_row ROW: every round of every figure on one mount.
run_row() {
	local key=$1 dir=$work/$1 why r pid=""
	echo "R $key $(row_label "$key")" >>"$results"
	say "$(row_label "$key") (at $(secs "$start_all" "$(now_ns)") s)"
	if [ -n "${row_needs[$key]}" ] && ! why=$(${row_needs[$key]}); then
		echo "E $key $why" >>"$results"
		return
	fi
	if [ -n "${row_setup[$key]}" ]; then
		${row_setup[$key]}
		teardown_now=${row_teardown[$key]}
	fi
	mkdir -p "$dir"
	if [ "${row_cmd[$key]}" = - ]; then
		mkdir "$dir/back"
		host_mnt=$dir/back
	else
		memory_probe "$key" "$dir/probe"
		if ! host_start "$key" "$dir"; then
			echo "E $key $start_error" >>"$results"
			failed=1
			[ -n "$teardown_now" ] && $teardown_now
			teardown_now=""
			return
		fi
		pid=$host_pid
		mount_opts[$key]=$(awk -v m="$host_mnt" '$5 == m { for (i = 7; $i != "-"; i++); print $(i + 1), $6 "," $(i + 3) }' /proc/self/mountinfo)
	fi
	for r in $(seq $rounds); do
		say "  round $r/$rounds: data"
		fio_round "$key" "$host_mnt" $pid
		say "  round $r/$rounds: metadata"
		meta_round "$key" "$host_mnt"
		if [ $r -le $tree_rounds ]; then
			say "  round $r/$rounds: tree"
			tree_round "$key" "$host_mnt"
		fi
	done
	if [ -n "$pid" ]; then
		record "$key" hwm "$(vm "$pid" VmHWM)"
		host_stop "$key"
		host_counts "$key"
	fi
	if [ -n "$teardown_now" ]; then
		$teardown_now
		teardown_now=""
	fi
	rm -rf "$dir"
}

# ---------------------------------------------------------------- the tree
# Made once and kept in $tar_cache: /usr/include and the Python and Perl
# libraries (compiled __pycache__ left out: it changes as Python runs),
# directories, symlinks and files under 1 MiB, about 13,000 files. Quick
# runs take the first $tree_quick entries of the same list.
tree_tar="" tree_files=""
make_tree() {
	local list=$work/tree.list
	if [ $tree_quick = 0 ] && [ -s "$tar_cache" ]; then
		tree_tar=$tar_cache
	else
		find /usr/include /usr/lib/python3* /usr/share/perl* /usr/lib/x86_64-linux-gnu/perl* \
			-name __pycache__ -prune -o \( -type d -o -type l -o -type f -size -1024k \) -print 2>/dev/null |
			sort | sed 's|^/||' >"$list"
		if [ $tree_quick != 0 ]; then
			head -n $tree_quick "$list" >"$list.q" && mv "$list.q" "$list"
			tree_tar=$work/tree.tar
		else
			tree_tar=$tar_cache
		fi
		tar -C / --no-recursion -cf "$tree_tar.tmp$$" -T "$list" 2>"$work/tar.err" ||
			die "could not make the tarball: $(head -n 1 "$work/tar.err")"
		mv "$tree_tar.tmp$$" "$tree_tar"
	fi
	# The regular files, for cat: from the tarball itself.
	tree_files=$work/tree.files
	tar --quoting-style=literal -tvf "$tree_tar" | awk -v list="$tree_files.nl" '
		{ t = substr($1, 1, 1); n = $0; for (i = 0; i < 5; i++) sub(/^[^ ]+ +/, "", n)
		  if (t == "-") { files++; print n > list } else if (t == "d") dirs++; else links++ }
		END { print files + 0, dirs + 0, links + 0 }' >"$work/tree.counts"
	tr '\n' '\0' <"$tree_files.nl" >"$tree_files"
	read -r tree_nf tree_nd tree_nl <"$work/tree.counts"
	tree_mib=$(du -m "$tree_tar" | cut -f1)
}

# ---------------------------------------------------------------- the run
check_load "at the start"
start_all=$(now_ns)
started=$(date -u '+%Y-%m-%d %H:%M UTC')

rows=${BENCH_ROWS:-}
skipped=""
if [ -z "$rows" ]; then
	for k in $default_rows; do
		if [ -n "${row_needs[$k]}" ] && [ "${row_needs[$k]}" != needs_ll ] && ! why=$(${row_needs[$k]}); then
			skipped="$skipped$(row_label "$k") ($why); "
		else
			rows="$rows $k"
		fi
	done
fi
for k in $rows; do
	[ -n "${row_lab[$k]:-}" ] || die "unknown row $k in BENCH_ROWS (rows: $all_rows)"
done
for k in $rows; do
	case ${row_cmd[$k]} in *'$ll'*) build_ll; break ;; esac
done
say "making the tree"
make_tree

declare -A mount_opts
echo "S $fio_mib" >>"$results"
first=1 busy_rows="" others_log=""
for k in $rows; do
	while :; do
		[ $first = 1 ] || check_load "before $(row_label "$k")"
		first=0
		c0=$(others_cpu) t0=$(now_ns)
		run_row "$k"
		c1=$(others_cpu) t1=$(now_ns)
		# How many CPUs the others kept busy, on average, during the row.
		o=$(awk -v c=$((c1 - c0)) -v k=$tck -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", c / k / ((b - a) / 1e9) }')
		awk -v o="$o" -v m="$max_others" 'BEGIN { exit !(o > m) }' || break
		if [ $retries -gt 0 ] && [ "$force" != 1 ]; then
			retries=$((retries - 1))
			say "other processes kept $o CPUs busy during $(row_label "$k") (> BENCH_MAX_OTHERS=$max_others): measuring it again"
			others_log="$others_log${others_log:+, }$(row_label "$k") $o (measured again)"
			grep -v "^[RVFE] $k " "$results" >"$results.new"
			mv "$results.new" "$results"
			grep -v "^$k " "$notes" >"$notes.new"
			mv "$notes.new" "$notes"
			continue
		fi
		say "WARNING: other processes kept $o CPUs busy during $(row_label "$k"): its figures may mislead"
		busy_rows="$busy_rows${busy_rows:+, }$(row_label "$k")"
		echo "B $k" >>"$results"
		break
	done
	others_log="$others_log${others_log:+, }$(row_label "$k") $o"
done
end_all=$(now_ns)

# ---------------------------------------------------------------- the record
{
	echo "moonfs bench$([ "$quick" = 1 ] && echo " (BENCH_QUICK: small sizes, not a record)")  $started"
	echo "machine: kernel $(uname -r), $ncpu CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM; FUSE io_uring: $(cat /sys/module/fuse/parameters/enable_uring 2>/dev/null || echo absent)"
	echo "host: $moonfs ($("$moonfs" --version 2>&1 | head -n 1); commit $(git -C "$(dirname "$moonfs")" describe --always --dirty 2>/dev/null || echo ?)); scripts: $scripts"
	echo "work dir: $(df -P "$work" | awk 'NR == 2 { print $1 }') ($(awk -v d="$(stat -c %m "$work")" '$2 == d { print $3 " " $4 }' /proc/mounts | tail -n 1 | cut -c1-60))"
	echo "rows (FUSE rows: entry/attr timeout $timeout s; BACK is an empty directory beside MNT):"
	for k in $rows; do
		if [ "${row_cmd[$k]}" = - ]; then
			printf '  %-15s %s\n' "$(row_label "$k")" "a directory on the work dir's filesystem"
		else
			printf '  %-15s %s\n' "$(row_label "$k")" "$(show_cmd "$k")"
			[ -n "${mount_opts[$k]:-}" ] && printf '  %-15s   mounted: %s\n' "" "${mount_opts[$k]}"
		fi
	done
	case " $rows " in *" $ref_row "*)
		[ -n "$ll" ] && printf '  %-15s   %s\n' "" "libfuse $(pkg-config --modversion fuse3) example, gcc -O2; multithreaded (max 10 threads), cache=auto, no xattr, an fd per inode (at most $nofile)" ;;
	esac
	[ -n "$skipped" ] && echo "not run: ${skipped%; }"
	echo "sizes: fio file $fio_mib MiB (psync, --invalidate=0 --fadvise_hint=0), time-based jobs ${read_rt} s; metadata $nfiles files (1 client), $nfiles4 per client (4 clients); tree: $tree_nf files, $tree_nd dirs, $tree_nl symlinks, $tree_mib MiB ($tree_tar)"
	echo "rounds: $rounds ($tree_rounds of the tree); each figure is the median, ± half the range (max-min) in % of it"
	echo "load: 1-minute average at start $load_start (max $max_load); CPUs other processes kept busy before each row (${load_sample} s): ${load_rows:--}"
	echo "  and during each row (max $max_others): $others_log"
	[ $forced = 1 ] && echo "BENCH_FORCE: MEASURED ON A BUSY MACHINE"
	[ -n "$busy_rows" ] && echo "WARNING: OTHER PROCESSES WERE BUSY DURING: $busy_rows (marked *: their figures may mislead)"
	awk -v vs="${BENCH_VS_C:-$vs_c_rows}" -v cref="$ref_row" -v quick="$quick" -f "$bench/report.awk" "$results"
	if [ -s "$notes" ]; then
		echo
		cut -d' ' -f2- "$notes"
	fi
	echo "total bench time: $(awk -v s="$(secs "$start_all" "$end_all")" 'BEGIN { printf "%d min %d s", s / 60, s % 60 }')$([ $failed = 1 ] && echo "; SOME MEASUREMENTS FAILED (see above)")"
}
[ -n "$busy_rows" ] && [ "$force" != 1 ] && exit 3
exit $failed
