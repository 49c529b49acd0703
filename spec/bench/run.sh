#!/bin/bash
# `make bench`: one run, one table. The same figures for a plain directory,
# the mirror (scripts/mirror.lua) with passthrough and the mirror with
# -o nopassthrough, each as a value and as a ratio to the plain directory.
#
#   sh spec/bench/run.sh                 # from the repository root, as root
#   BENCH_QUICK=1 sh spec/bench/run.sh   # small sizes: a smoke test in < 1 min
#
# Environment: BENCH_QUICK=1 (small sizes), BENCH_TIMEOUT=S (the mirror's
# entry/attr cache timeout, default 86400 like libfuse's passthrough_hp),
# BENCH_DIR=/dev/shm (where the work directory goes; default /var/tmp),
# BENCH_KEEP=1 (keep the work directory), BENCH_SCRIPT=scripts/x.lua (bench
# another script that takes -o root=DIR in place of scripts/mirror.lua).
# Needs: root (drop_caches, passthrough), fio, luajit, fusermount3, tar.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
export LC_ALL=C

repo=$(pwd)
bench=$repo/spec/bench
moonfs=${MOONFS_BINARY:-$repo/moonfs}
script=${BENCH_SCRIPT:-scripts/mirror.lua} # another mirror-like script to compare

die() { echo "bench: $*" >&2; exit 1; }
[ -x "$moonfs" ] || die "no $moonfs; run make first"
[ "$(id -u)" -eq 0 ] || die "needs root (drop_caches, FUSE passthrough)"
for t in fio luajit fusermount3 tar timeout; do
	command -v $t >/dev/null || die "needs $t (make deps)"
done

# ---------------------------------------------------------------- sizes
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	quick=1
	fio_size=64M fio_mib=64
	nfiles=1000 ninodes=10000
	tar_files=1200 cat_files=500
	write_rt=10 read_rt=2 rand_rt=2 readdir_s=0.3
else
	quick=0
	fio_size=1G fio_mib=1024
	nfiles=10000 ninodes=100000
	tar_files=12000 cat_files=5000
	write_rt=20 read_rt=5 rand_rt=10 readdir_s=1
fi
cache_timeout=${BENCH_TIMEOUT:-86400}
cmd_timeout=300 # no single measured command may take longer (a hung mount)
mount_wait=10   # seconds to wait for a mount to appear

# ---------------------------------------------------------------- state
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/moonfs-bench.XXXXXX") || die "mktemp failed"
mounts="" # mount points we mounted
pids=""   # host pids we started
failed=0
host_pid="" host_mnt="" host_log=""
rows_mirror="pt npt"

cleanup() {
	trap - EXIT INT TERM
	local m p
	for m in $mounts; do
		if is_mounted "$m"; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
		fi
	done
	for p in $pids; do
		if kill -0 "$p" 2>/dev/null; then
			sleep 1
			kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null
		fi
		wait "$p" 2>/dev/null
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

is_mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
note() { printf '  %s\n' "$*" >&2; }

# mirror_start NAME [OPTS]: mounts scripts/mirror.lua over $work/NAME/back
# on $work/NAME/mnt in the background; sets host_pid, host_mnt, host_log.
mirror_start() {
	local name=$1 extra=${2:-} i=0
	mkdir -p "$work/$name/back" "$work/$name/mnt"
	host_mnt=$work/$name/mnt host_log=$work/$name/host.log
	local opts="root=$work/$name/back,timeout=$cache_timeout,stats"
	[ -n "$extra" ] && opts="$opts,$extra"
	"$moonfs" "$repo/$script" "$host_mnt" -o "$opts" -f 2>"$host_log" &
	host_pid=$!
	pids="$pids $host_pid" mounts="$mounts $host_mnt"
	until is_mounted "$host_mnt"; do
		i=$((i + 1))
		if ! kill -0 "$host_pid" 2>/dev/null || [ $i -gt $((mount_wait * 20)) ]; then
			echo "bench: the mirror ($name) did not mount; its log:" >&2
			sed 's/^/  /' "$host_log" >&2
			failed=1
			return 1
		fi
		sleep 0.05
	done
}

# mirror_stop: unmounts, waits for the host, requires exit status 0.
mirror_stop() {
	local rc i=0
	if is_mounted "$host_mnt"; then
		until fusermount3 -u "$host_mnt" 2>/dev/null; do
			i=$((i + 1))
			if [ $i -gt 20 ]; then
				echo "bench: $host_mnt busy; lazy unmount" >&2
				fusermount3 -uz "$host_mnt"
				break
			fi
			sleep 0.25
		done
	fi
	i=0
	while kill -0 "$host_pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$host_pid" 2>/dev/null; then
		echo "bench: host $host_pid still running after unmount; SIGTERM" >&2
		kill -TERM "$host_pid"
		failed=1
	fi
	wait "$host_pid"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "bench: the host exited with status $rc; its log:" >&2
		tail -n 20 "$host_log" | sed 's/^/  /' >&2
		failed=1
	fi
	if grep -qiE 'traceback|error' "$host_log"; then
		echo "bench: the host logged errors:" >&2
		grep -iE 'traceback|error' "$host_log" | head -n 5 | sed 's/^/  /' >&2
	fi
	# The counters the host logs at unmount (-o stats), in short. Reads
	# the table form ("stats read  123  0").
	host_counts=$(awk '
		/ stats opens/ { sub(/.* stats /, ""); opens = $0; next }
		/ stats [a-z_]+ +[0-9]+/ { sub(/.* stats /, ""); n[$1] = $2; total += $2; next }
		END { printf "%d requests reached the host, read=%d write=%d; %s", total, n["read"], n["write"], opens }' "$host_log")
	return $rc
}

# ---------------------------------------------------------------- results
declare -A val # val[row.figure] = number, or "-" when it failed
rows="plain pt npt"
declare -A row_name=([plain]="plain directory" [pt]="mirror, passthrough" [npt]="mirror, nopassthrough")

put() { val[$1.$2]=$3; }

# timed ROW FIGURE CMD...: runs CMD under the command timeout and records
# its wall time in seconds.
timed() {
	local row=$1 fig=$2 t0 t1
	shift 2
	t0=$(now_ns)
	if timeout -k 5 $cmd_timeout "$@" >/dev/null; then
		t1=$(now_ns)
		put "$row" "$fig" "$(secs "$t0" "$t1")"
	else
		echo "bench: $row $fig failed: $*" >&2
		put "$row" "$fig" -
		failed=1
	fi
}

# fio_bw ROW FIGURE FIELD ARGS...: fio's bandwidth (terse field 7 = read,
# 48 = write, KiB/s) in MB/s.
fio_bw() {
	local row=$1 fig=$2 field=$3 out
	shift 3
	if out=$(timeout -k 5 $cmd_timeout fio --output-format=terse --terse-version=3 \
		--ioengine=psync --invalidate=0 --fadvise_hint=0 "$@" 2>&1) &&
		[ "$(printf '%s\n' "$out" | awk -F';' 'END { print $5 }')" = 0 ]; then
		put "$row" "$fig" "$(printf '%s\n' "$out" | awk -F';' -v f="$field" 'END { printf "%.0f", $f * 1024 / 1e6 }')"
	else
		echo "bench: $row fio $fig failed:" >&2
		printf '%s\n' "$out" | tail -n 5 | sed 's/^/  /' >&2
		put "$row" "$fig" -
		failed=1
	fi
}

# meta ROW FIGURE OP DIR N: one metadata loop (spec/bench/meta.lua).
meta() {
	local row=$1 fig=$2 out
	if out=$(timeout -k 5 $cmd_timeout luajit "$bench/meta.lua" "$3" "$4" "$5" "$readdir_s"); then
		put "$row" "$fig" "$out"
	else
		echo "bench: $row $fig failed" >&2
		put "$row" "$fig" -
		failed=1
	fi
}

# ---------------------------------------------------------------- the tarball
# About 12,000 real files from what Debian installs: all of /usr/include,
# then /usr/lib in sorted order, regular files and symlinks under 1 MiB,
# not the Google Cloud SDK; the first $tar_files of that list.
build_tarball() {
	local list=$work/tar.list
	{
		find /usr/include \( -type f -o -type l \) -size -1024k | sort
		find /usr/lib -path /usr/lib/google-cloud-sdk -prune -o \
			\( -type f -o -type l \) -size -1024k -print | sort
	} | head -n "$tar_files" | sed 's|^/||' >"$list"
	tar -C / --no-recursion -cf "$work/tree.tar" -T "$list" 2>"$work/tar.err" ||
		die "could not build the tarball: $(head -n 3 "$work/tar.err")"
	grep '\.h$' "$list" | head -n "$cat_files" | tr '\n' '\0' >"$work/headers.list0"
	tar_count=$(wc -l <"$list")
	tar_mib=$(du -m "$work/tree.tar" | cut -f1)
	hdr_count=$(tr -cd '\0' <"$work/headers.list0" | wc -c)
}

# ---------------------------------------------------------------- one row
run_row() {
	local row=$1 dir=$2 f=$2/fio.dat
	note "${row_name[$row]}: fio"
	fio_bw "$row" seqwrite 48 --name=seqwrite --filename="$f" --rw=write --bs=1M \
		--size=$fio_size --end_fsync=1 --runtime=$write_rt
	cat "$f" >/dev/null 2>&1 # warm the cache the way this row's reads see it
	fio_bw "$row" seqread 7 --name=seqread --filename="$f" --rw=read --bs=1M \
		--size=$fio_size --time_based --runtime=$read_rt
	cat "$f" >/dev/null 2>&1
	fio_bw "$row" randread 7 --name=randread --filename="$f" --rw=randread --bs=4k \
		--size=$fio_size --time_based --runtime=$rand_rt
	rm -f "$f"

	note "${row_name[$row]}: metadata, $nfiles files"
	local m=$dir/meta
	mkdir "$m"
	# Creates start with cold caches too. On ext4 without a journal (this
	# machine's root) the inode allocator skips every inode freed in the
	# last minutes whose inode-table block is still cached, so with warm
	# caches "create" depends on how much the previous steps (or anyone
	# else) deleted: 2,000 to 40,000/s in the plain directory.
	drop_caches
	meta "$row" create create "$m" $nfiles
	drop_caches
	meta "$row" stat stat "$m" $nfiles
	meta "$row" open open "$m" $nfiles
	meta "$row" readdir readdir "$m" $nfiles
	meta "$row" unlink unlink "$m" $nfiles
	rmdir "$m" 2>/dev/null || rm -rf "$m"

	note "${row_name[$row]}: real workload, $tar_count files"
	local t=$dir/tree
	mkdir "$t"
	drop_caches # see the creates above
	cat "$work/tree.tar" >/dev/null
	timed "$row" untar tar -xf "$work/tree.tar" -C "$t"
	drop_caches
	timed "$row" find find "$t"
	drop_caches
	timed "$row" du du -s "$t"
	drop_caches
	timed "$row" cat sh -c 'cd "$1" && xargs -0 cat <"$2"' sh "$t" "$work/headers.list0"
	drop_caches
	timed "$row" rm rm -rf "$t"
	sync
}

# ---------------------------------------------------------------- the run
echo "moonfs bench$([ $quick = 1 ] && echo " (BENCH_QUICK: small sizes)")  $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: kernel $(uname -r), $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine skews every figure)"
echo "work dir: $work on $(df -P "$work" | awk 'NR == 2 { print $1 }') ($(awk -v d="$(stat -c %m "$work")" '$2 == d { print $3 }' /proc/mounts | tail -n 1))"
echo "mirror: $script -o timeout=$cache_timeout (entry/attr cache, s), negative_timeout host default (0)"
echo "limits: each fio job <= ${write_rt}s write / ${read_rt}s seq read / ${rand_rt}s rand read (time_based), each command <= ${cmd_timeout}s"
start_all=$(now_ns)

note "building the tarball"
build_tarball
echo "tarball: $tar_count files from /usr/include + /usr/lib (sorted, < 1 MiB each), $tar_mib MiB; cat reads $hdr_count .h files"
echo

mkdir "$work/plain"
run_row plain "$work/plain"

if [ ! -f "$repo/$script" ]; then
	echo "bench: no $script; the mirror rows are left empty" >&2
	failed=1
	rows_mirror=""
fi

declare -A counts
if [ -n "$rows_mirror" ] && mirror_start pt; then
	run_row pt "$host_mnt"
	mirror_stop
	counts[pt]=$host_counts
fi
if [ -n "$rows_mirror" ] && mirror_start npt nopassthrough; then
	run_row npt "$host_mnt"
	mirror_stop
	counts[npt]=$host_counts
fi

# Host memory: a fresh mirror, $ninodes files created and stat'ed in one
# directory, so that the kernel holds that many inodes of the host.
rss_line="host memory: not measured"
note "host memory: $ninodes inodes"
if [ -n "$rows_mirror" ] && mirror_start mem; then
	rss0=$(awk '/VmRSS/ { print $2 }' /proc/$host_pid/status)
	mkdir "$host_mnt/d"
	drop_caches
	t0=$(now_ns)
	if timeout -k 5 $cmd_timeout luajit "$bench/meta.lua" create "$host_mnt/d" $ninodes >/dev/null &&
		timeout -k 5 $cmd_timeout luajit "$bench/meta.lua" stat "$host_mnt/d" $ninodes >/dev/null; then
		t1=$(now_ns)
		rss=$(awk '/VmRSS/ { print $2 }' /proc/$host_pid/status)
		kill -USR1 "$host_pid"
		sleep 0.3
		nodes=$(grep -oE 'nodes=[0-9]+|inodes known: [0-9]+' "$host_log" | tail -n 1)
		rss_line=$(awk -v r="$rss" -v r0="$rss0" -v n=$ninodes -v s="$(secs "$t0" "$t1")" -v nodes="${nodes:-nodes=?}" \
			'BEGIN { printf "host memory: VmRSS %.1f MiB with %d inodes known to the kernel (%.1f MiB at mount, %.0f bytes/inode; host counters: %s; create+stat took %ss)", r / 1024, n, r0 / 1024, (r - r0) * 1024 / n, nodes, s }')
	else
		echo "bench: creating $ninodes files through the mirror failed" >&2
		failed=1
	fi
	mirror_stop
fi

# ---------------------------------------------------------------- the table
# cell ROW FIG KIND: "value  ratio"; KIND up = higher is better (ratio =
# value / plain), down = seconds (ratio = time / plain).
cell() {
	local v=${val[$1.$2]:--} p=${val[plain.$2]:--}
	awk -v v="$v" -v p="$p" -v k="$3" 'BEGIN {
		if (v == "-") { printf "%19s", "-"; exit }
		if (k == "down") s = sprintf("%.2f", v); else s = sprintf("%.0f", v)
		if (p == "-" || p + 0 == 0) r = "   -"; else r = sprintf("%.2fx", v / p)
		printf "%12s %6s", s, r }'
}
section() { # TITLE KIND FIG:HEADER... ; then TARGETS line
	local title=$1 kind=$2 fig
	shift 2
	printf '\n%s\n%-24s' "$title" ""
	for fig in "$@"; do printf '%19s' "${fig#*:}"; done
	printf '\n'
	for row in $rows; do
		printf '%-24s' "${row_name[$row]}"
		for fig in "$@"; do printf '%s' "$(cell "$row" "${fig%%:*}" "$kind")"; done
		printf '\n'
	done
}
targets() { printf '%-24s' "target (issue 3)"; for t in "$@"; do printf '%19s' "$t"; done; printf '\n'; }

printf '%119s\n' '' | tr ' ' '='

section "I/O, MB/s (ratio = value / plain; higher is better); file $fio_mib MiB" up \
	"seqwrite:write 1M +fsync" "seqread:read 1M warm" "randread:randread 4k warm"
targets ">= 0.97x" ">= 0.97x" ">= 0.97x"
section "Metadata, ops/s on $nfiles files (readdir: entries/s; ratio = value / plain; higher is better)" up \
	"create:create" "stat:stat cold" "open:open+close" "readdir:readdir" "unlink:unlink"
targets "" ">= 53000" ">= 32000" ">= 1100000" ">= 24000"
section "Real workload, seconds, $tar_count files (ratio = time / plain; LOWER is better)" down \
	"untar:untar" "find:find cold" "du:du -s cold" "cat:cat $hdr_count .h cold" "rm:rm -rf cold"
targets "<= 4.5x" "<= 5x" "<= 2x" "<= 1.6x" "<= 2.6x"
echo
for row in pt npt; do
	[ -n "${counts[$row]:-}" ] && printf '%-24s%s\n' "${row_name[$row]}:" "${counts[$row]}"
done
echo "$rss_line"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "total bench time: $(secs "$start_all" "$(now_ns)")s$([ $failed = 1 ] && echo "; SOME MEASUREMENTS FAILED (see above)")"
exit $failed
