# moonfs: `make demo` and `make test` do everything on a fresh Debian 12.

VERSION := 0.1.0
PREFIX ?= /usr/local
LUADIR = $(PREFIX)/share/moonfs/lua
MANDIR = $(PREFIX)/share/man/man1

# Debian packages the build, the specs, the demo and the bench use.
PACKAGES := gcc make pkg-config libfuse3-dev fuse3 libluajit-5.1-dev luajit \
            libuv1-dev lua-luv lua-luv-dev lua-busted lua-posix fio lua-sql-sqlite3 \
            redis-server lua-check acl man-db tmux e2fsprogs liburing-dev \
            strace

CC ?= gcc
CFLAGS ?= -O2 -g
# Recursively expanded, so pkg-config runs after `deps` has installed it.
MOONFS_CFLAGS = -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
	$(shell pkg-config --cflags fuse3 luajit libuv liburing) \
	-DFUSE_USE_VERSION=314 -DMOONFS_VERSION='"$(VERSION)"' -DMOONFS_LUA_DIR='"$(LUADIR)"'
# luv for LuaJIT: Debian's lua5.1 build (its pkg-config file wants
# liblua5.1-dev, which LuaJIT replaces), found by name.
MOONFS_LIBS = $(shell pkg-config --libs fuse3 luajit libuv liburing) -llua5.1-luv -lpthread -ldl -lm

SOURCES := $(wildcard host/*.c)
OBJECTS := $(SOURCES:host/%.c=build/%.o)
ASAN_OBJECTS := $(SOURCES:host/%.c=build/asan/%.o)
BUSTED = luajit /usr/bin/busted

.PHONY: all deps demo test test-asan test-valgrind bench soak install uninstall clean

all: moonfs

# Installs whatever Debian package is missing; explains what to do when
# not root.
deps:
	@missing=""; \
	for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "moonfs needs these Debian packages:$$missing"; \
	    echo "run as root:  apt-get update && apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	  echo "installing:$$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q$$missing >/dev/null || exit 1; \
	fi

build/%.o: host/%.c | deps
	@mkdir -p build
	$(CC) $(CFLAGS) $(MOONFS_CFLAGS) -MMD -MP -c $< -o $@

moonfs: $(OBJECTS)
	$(CC) $(CFLAGS) -o $@ $(OBJECTS) $(MOONFS_LIBS)

# The same host with AddressSanitizer and UndefinedBehaviorSanitizer
# (float-to-integer overflows included). Any report aborts the host, so the
# spec that caused it fails.
SANITIZE = -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all
build/asan/%.o: host/%.c | deps
	@mkdir -p build/asan
	$(CC) -O1 -g $(SANITIZE) -fno-omit-frame-pointer $(MOONFS_CFLAGS) -MMD -MP -c $< -o $@

moonfs-asan: $(ASAN_OBJECTS)
	$(CC) $(SANITIZE) -o $@ $(ASAN_OBJECTS) $(MOONFS_LIBS)

-include $(OBJECTS:.o=.d) $(ASAN_OBJECTS:.o=.d)

# Mounts the demo filesystems in a temporary directory and shows them.
demo: moonfs
	@sh spec/support/demo.sh

test: moonfs
	@$(BUSTED)

test-asan: moonfs moonfs-asan
	@MOONFS_BINARY=$(CURDIR)/moonfs-asan $(BUSTED)

# 100,000 random operations against the mirror and memfs, each compared with
# a plain directory. Replay a mismatch: make soak SOAK_ARGS="--seed S --target mirror"
soak: moonfs
	@luajit spec/soak/soak.lua $(SOAK_ARGS)

# valgrind's memcheck over a representative subset of the specs: the host
# exits 99 (and the spec fails) on an invalid access or a definite leak.
VALGRIND_SPECS = spec/hello_spec.lua spec/memfs_spec.lua spec/readdir_spec.lua \
	spec/bad_scripts_spec.lua spec/faults_spec.lua spec/passthrough_spec.lua
test-valgrind: moonfs
	@dpkg-query -W valgrind >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind >/dev/null
	@MOONFS_VALGRIND=1 $(BUSTED) $(VALGRIND_SPECS)

# Benches ./moonfs, or the host MOONFS_BINARY names (then ./moonfs is not built).
bench: $(if $(MOONFS_BINARY),,moonfs)
	@sh spec/bench/run.sh

# The binary, its Lua library, the example scripts (for fstab lines such as
# /usr/local/share/moonfs/scripts/mirror.lua) and the man page. mount(8)
# needs nothing more: for type fuse.moonfs it runs mount.fuse3, which runs
# `moonfs` through /bin/sh without the caller's PATH, so from /usr/local/bin
# or /usr/bin (the shell's default PATH), not from other PREFIXes.
install: moonfs
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LUADIR)/moonfs \
		$(DESTDIR)$(PREFIX)/share/moonfs/scripts $(DESTDIR)$(MANDIR)
	install -m 755 moonfs $(DESTDIR)$(PREFIX)/bin/moonfs
	install -m 644 lua/moonfs/*.lua $(DESTDIR)$(LUADIR)/moonfs/
	install -m 644 scripts/*.lua $(DESTDIR)$(PREFIX)/share/moonfs/scripts/
	install -m 644 host/moonfs.1 $(DESTDIR)$(MANDIR)/moonfs.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/moonfs $(DESTDIR)$(MANDIR)/moonfs.1
	rm -rf $(DESTDIR)$(PREFIX)/share/moonfs

clean:
	rm -rf build moonfs moonfs-asan spec/tmp
