# The rows of `make bench`, in one place; sourced by spec/bench/run.sh.
#
#   def_row KEY LABEL MOUNT [NEEDS [SETUP [TEARDOWN]]]
#
# KEY names the row in BENCH_ROWS; LABEL (at most 15 characters) heads it in
# the table. MOUNT is the command that mounts it, evaluated by bash with
# these variables set:
#   $mnt      the mount point (empty directory)
#   $back     an empty directory on the work directory's filesystem
#   $timeout  the entry/attr cache timeout every FUSE row gets (seconds)
#   $moonfs   the host binary (MOONFS_BINARY); $scripts its scripts/
#             directory (else the repository's); $repo the repository
#   $ll       libfuse's passthrough_ll, compiled for this run
#   $devfuse  ",noio_uring" once the host knows that option, else empty
#   $ncpu     the number of CPUs
# The command must stay in the foreground (-f): its pid is the host's, whose
# memory is measured and which is stopped by that pid. MOUNT "-" is the
# plain directory: no mount, the figures are taken in $back itself.
# NEEDS is a function that succeeds when the row can run here, and
# otherwise prints why not; SETUP and TEARDOWN run around the row's mounts.
# A row whose NEEDS fails is left out of the default BENCH_ROWS and printed
# as "-" with the reason when named in BENCH_ROWS.

def_row plain "plain directory" -
def_row pt "mirror" \
	'"$moonfs" "$scripts/mirror.lua" "$mnt" -f -o "root=$back,timeout=$timeout,stats$devfuse"'
def_row cpus "mirror all CPUs" \
	'"$moonfs" "$scripts/mirror.lua" "$mnt" -f -o "root=$back,timeout=$timeout,stats,workers=$ncpu$devfuse"' \
	needs_workers
def_row uring "mirror io_uring" \
	'"$moonfs" "$scripts/mirror.lua" "$mnt" -f -o "root=$back,timeout=$timeout,stats"' \
	needs_uring uring_on uring_restore
def_row npt "mirror, no PT" \
	'"$moonfs" "$scripts/mirror.lua" "$mnt" -f -o "root=$back,timeout=$timeout,stats,nopassthrough$devfuse"'
def_row memfs "memfs" \
	'"$moonfs" "$scripts/memfs.lua" "$mnt" -f -o "timeout=$timeout,stats$devfuse"'
def_row cref "passthrough_ll" \
	'"$ll" -f -o "source=$back,timeout=$timeout" "$mnt"' \
	needs_ll

# The rows run, in this order, unless BENCH_ROWS names others. The mirror
# rows are compared with the C reference on their own line under each
# table (BENCH_VS_C; the first of them that ran).
default_rows="plain pt cpus uring npt memfs cref"
vs_c_rows="cpus uring pt"
# The C reference: the "/ C" lines compare with it, and what it cannot do
# is noted without failing the run.
ref_row="cref"
# Hosts that keep an open descriptor per inode the kernel knows: their
# memory probe is limited to what RLIMIT_NOFILE allows (the metadata rows
# stay below 20,000 inodes at once for them: 4 clients x 4,000 files).
fd_rows="cref"

# ---------------------------------------------------------------- needs
# The host's help text tells which options it has; an option it does not
# know would be handed to the script and silently ignored.
host_help() { "$moonfs" --help 2>&1; }

needs_workers() {
	host_help | grep -q 'workers=' && return 0
	echo "the host has no -o workers yet (issue 11, part 1)"
	return 1
}

uring_param=/sys/module/fuse/parameters/enable_uring
needs_uring() {
	if ! host_help | grep -q 'io_uring'; then
		echo "the host has no io_uring transport yet (issue 11, part 2)"
		return 1
	fi
	if [ ! -e $uring_param ]; then
		echo "kernel $(uname -r) has no FUSE-over-io_uring ($uring_param)"
		return 1
	fi
}

uring_saved=""
uring_on() {
	uring_saved=$(cat $uring_param)
	echo Y >$uring_param
}
uring_restore() {
	[ -n "$uring_saved" ] && echo "$uring_saved" >$uring_param
	uring_saved=""
}

needs_ll() {
	[ -x "$ll" ] && return 0
	echo "${ll_error:-passthrough_ll could not be built}"
	return 1
}
