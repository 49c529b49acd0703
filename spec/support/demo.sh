#!/bin/sh
# `make demo`: mounts the example filesystems in a temporary directory,
# shows them working, and takes them down again.
set -u
here=$(pwd)
work=$(mktemp -d /tmp/moonfs-demo.XXXXXX)
pids=""

cleanup() {
	for d in "$work"/*/mnt; do
		grep -q " $d fuse" /proc/mounts 2>/dev/null && fusermount3 -u "$d" 2>/dev/null
	done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# mount NAME SCRIPT [OPTIONS]: starts the host in the background, waits for it
start() {
	mkdir -p "$work/$1/mnt"
	if [ -n "${3:-}" ]; then
		"$here/moonfs" "$here/$2" "$work/$1/mnt" -f --trace -o "$3" 2>"$work/$1/log" &
	else
		"$here/moonfs" "$here/$2" "$work/$1/mnt" -f --trace 2>"$work/$1/log" &
	fi
	pids="$pids $!"
	i=0
	until grep -q " $work/$1/mnt fuse" /proc/mounts; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then echo "moonfs did not mount $2:"; cat "$work/$1/log"; exit 1; fi
		sleep 0.05
	done
}

show() { echo "\$ $*"; sh -c "$*" 2>&1 | sed 's/^/  /'; }

echo "== hello.lua: a read-only file in a dozen lines of Lua =="
start hello scripts/hello.lua
cd "$work/hello/mnt"
show ls -l
show cat hello.txt
cd "$here"
echo "   what the host saw (--trace):"
grep " trace " "$work/hello/log" | sed 's/^moonfs: trace /   /' | head -8
echo

echo "== memfs.lua: a read-write filesystem in pure Lua =="
start memfs scripts/memfs.lua
cd "$work/memfs/mnt"
show 'mkdir -p docs/notes && echo "moon" > docs/notes/a.txt && mv docs/notes/a.txt docs/notes/b.txt'
show 'ln -s notes/b.txt docs/link && cat docs/link && ls -lR'
show 'ln docs/notes/b.txt hard && stat -c "%n links=%h size=%s" hard docs/notes/b.txt'
cd "$here"
echo

echo "== mirror.lua: a passthrough mirror; file data never enters the host =="
mkdir -p "$work/mirror/src"
start mirror scripts/mirror.lua "root=$work/mirror/src"
cd "$work/mirror/mnt"
show 'dd if=/dev/zero of=big bs=1M count=64 status=none && cmp big ../src/big && echo identical'
show 'cat big > /dev/null && ls -l'
cd "$here"
mpid=$(echo $pids | awk '{print $3}')
kill -USR1 "$mpid"; ls "$work/mirror/mnt" >/dev/null; sleep 0.2
echo "   request counters (SIGUSR1): no read or write reached the host"
grep "stats " "$work/mirror/log" | sed 's/^moonfs: /   /'
echo
echo "demo done; unmounting."
