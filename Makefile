# One GNU Makefile for the whole service: the two programs, their unit
# tests, and the commands that set up, run and test the stack.
#
#   make            build build/push_daemon, build/fcgi_app, build/chatctl
#   make deps       install the Debian and npm packages (idempotent)
#   make run        deps, build, start the whole stack in the foreground
#   make cluster    deps, build, then on loopback 3 Galera nodes, Redis and
#                   2 chat nodes in the foreground (scripts/cluster.sh run;
#                   CLUSTER_PORT, CLUSTER_DIR)
#   make test       deps, build, unit tests, integration tests
#   make SAN=1      build with ASan/UBSan into build/san/
#   make fuzz       build the libFuzzer targets, run each FUZZ_SECONDS
#   make test-container  the images of deploy/container/ as a podman pod,
#                   tested from the host, then removed

CC	?= cc
HTTP_PORT ?= 8080
TCP_PORT  ?= 9000
LOG_MAX_KIB ?= 10240
# make cluster: its ports run from CLUSTER_PORT to CLUSTER_PORT+40 (the map
# is at the top of scripts/cluster.sh), apart from make run's.
CLUSTER_PORT ?= 8100
CLUSTER_DIR ?= var/cluster

# Each program links only what it uses: the daemon needs no database,
# FastCGI server or hashing library, the workers no event loop.
PKGS	 = fcgi libcjson libmariadb libevent openssl libsodium hiredis
DAEMON_PKGS = libcjson libevent openssl hiredis
APP_PKGS = fcgi libcjson libmariadb libsodium hiredis
WARN	 = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wwrite-strings -Wformat=2
CFLAGS	?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Icommon \
	   $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS	 = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lwslay
DAEMON_LIBS = $(shell pkg-config --libs $(DAEMON_PKGS) 2>/dev/null) -lwslay
APP_LIBS = $(shell pkg-config --libs $(APP_PKGS) 2>/dev/null)

ifeq ($(SAN),1)
B	 = build/san
ALL_CFLAGS += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined
LDFLAGS	+= -fsanitize=address,undefined
else
B	 = build
endif

COMMON_SRCS = common/log.c common/config.c common/config-example.c \
	   common/sockperm.c common/shared.c

# push_daemon/: the event loop that holds every client connection.
DAEMON_SRCS = push_daemon/main.c push_daemon/listen.c push_daemon/conn.c \
	   push_daemon/linger.c push_daemon/online.c push_daemon/ratelimit.c \
	   push_daemon/packet.c push_daemon/frame-tcp.c \
	   push_daemon/transport-tcp.c push_daemon/ws-handshake.c \
	   push_daemon/transport-ws.c push_daemon/ws-boundary.c \
	   push_daemon/fcgi-client.c \
	   push_daemon/upstream.c push_daemon/route.c push_daemon/deliver.c \
	   push_daemon/pool.c push_daemon/addrlimit.c push_daemon/admin.c \
	   push_daemon/counters.c push_daemon/relay.c

# fcgi_app/: the FastCGI workers that run every command.
APP_SRCS = fcgi_app/main.c fcgi_app/worker.c fcgi_app/request.c \
	   fcgi_app/api.c fcgi_app/cmd.c fcgi_app/cmd-logon.c \
	   fcgi_app/cmd-login.c fcgi_app/cmd-logout.c fcgi_app/reply.c \
	   fcgi_app/packet.c fcgi_app/utf8.c fcgi_app/auth.c fcgi_app/db.c \
	   fcgi_app/db-account.c fcgi_app/db-throttle.c \
	   fcgi_app/cmd-add-friend.c fcgi_app/cmd-add-friend-confirm.c \
	   fcgi_app/cmd-list-friend.c fcgi_app/cmd-send-message.c \
	   fcgi_app/cmd-ack.c fcgi_app/friend.c fcgi_app/friendlist.c \
	   fcgi_app/notice.c fcgi_app/event.c fcgi_app/db-friend.c \
	   fcgi_app/db-message.c fcgi_app/db-presence.c \
	   fcgi_app/batch.c fcgi_app/batch-parse.c fcgi_app/msgqueue.c \
	   fcgi_app/daemon.c fcgi_app/metrics.c fcgi_app/stats.c \
	   fcgi_app/db-metrics.c fcgi_app/db-purge.c fcgi_app/retention.c \
	   fcgi_app/cmd-remove-friend.c fcgi_app/cmd-cancel-friend.c \
	   fcgi_app/cmd-block.c fcgi_app/cmd-unblock.c \
	   fcgi_app/cmd-list-blocked.c fcgi_app/db-block.c \
	   fcgi_app/history.c fcgi_app/db-history.c fcgi_app/cmd-history.c \
	   fcgi_app/cmd-read.c fcgi_app/marks.c fcgi_app/receipt.c \
	   fcgi_app/presence.c fcgi_app/relay.c fcgi_app/node.c \
	   fcgi_app/db-node.c

# chatctl/: the administrator's tool, on the workers' db code and hashing.
CTL_SRCS = chatctl/chatctl.c chatctl/cmd-account.c chatctl/cmd-report.c \
	   chatctl/cmd-purge.c chatctl/date.c chatctl/password.c \
	   chatctl/daemon.c chatctl/db-admin.c \
	   fcgi_app/db.c fcgi_app/db-account.c fcgi_app/db-friend.c \
	   fcgi_app/db-throttle.c fcgi_app/db-purge.c fcgi_app/auth.c \
	   fcgi_app/packet.c fcgi_app/utf8.c

# Unit tests: tests/unit/<name>.c plus the sources named in <name>_SRCS.
UNIT_TESTS = test-utf8 test-packet test-cmd test-tcp-frame test-fcgi-record test-ws-handshake
test-ws-handshake_SRCS = push_daemon/ws-handshake.c
test-fcgi-record_SRCS = push_daemon/fcgi-client.c
test-tcp-frame_SRCS = push_daemon/frame-tcp.c
test-cmd_SRCS = fcgi_app/cmd.c fcgi_app/cmd-logon.c fcgi_app/cmd-login.c \
	   common/shared.c \
	   fcgi_app/cmd-logout.c fcgi_app/reply.c fcgi_app/packet.c \
	   fcgi_app/utf8.c fcgi_app/auth.c common/log.c common/config.c \
	   common/config-example.c \
	   fcgi_app/cmd-add-friend.c fcgi_app/cmd-add-friend-confirm.c \
	   fcgi_app/cmd-list-friend.c fcgi_app/cmd-send-message.c \
	   fcgi_app/cmd-ack.c fcgi_app/friend.c fcgi_app/friendlist.c \
	   fcgi_app/notice.c fcgi_app/msgqueue.c \
	   fcgi_app/cmd-remove-friend.c fcgi_app/cmd-cancel-friend.c \
	   fcgi_app/cmd-block.c fcgi_app/cmd-unblock.c \
	   fcgi_app/cmd-list-blocked.c fcgi_app/history.c fcgi_app/cmd-history.c \
	   fcgi_app/cmd-read.c fcgi_app/marks.c fcgi_app/receipt.c \
	   fcgi_app/presence.c
UNIT_TESTS += test-friendlist test-addrlimit test-ws-boundary
test-ws-boundary_SRCS = push_daemon/ws-boundary.c
test-addrlimit_SRCS = push_daemon/addrlimit.c common/log.c common/shared.c
test-friendlist_SRCS = fcgi_app/friendlist.c common/shared.c
UNIT_TESTS += test-config test-history
test-history_SRCS = fcgi_app/history.c
test-config_SRCS = common/config.c common/config-example.c common/log.c
# deliver.c over stubs of conn.c and upstream.c (tests/unit/test-deliver.c)
UNIT_TESTS += test-deliver
test-deliver_SRCS = push_daemon/deliver.c push_daemon/packet.c common/log.c \
	   common/shared.c
# pool.c on a real event loop against a fake worker (tests/unit/test-pool.c)
UNIT_TESTS += test-pool
test-pool_SRCS = push_daemon/pool.c push_daemon/fcgi-client.c common/log.c
UNIT_TESTS += test-upstream test-route test-conn
test-conn_SRCS = push_daemon/conn.c push_daemon/packet.c push_daemon/counters.c \
	   push_daemon/ratelimit.c common/log.c common/shared.c
test-route_SRCS = push_daemon/route.c common/log.c
test-upstream_SRCS = push_daemon/upstream.c push_daemon/packet.c common/log.c \
	   common/shared.c
test-packet_SRCS = fcgi_app/packet.c fcgi_app/utf8.c
test-utf8_SRCS = fcgi_app/utf8.c
UNIT_TESTS += test-date
# metrics.c's body over stubs of daemon.c and the database
UNIT_TESTS += test-metrics
test-metrics_SRCS = fcgi_app/metrics.c fcgi_app/stats.c common/log.c
test-date_SRCS = chatctl/date.c

# tests/fuzz/: libFuzzer targets, built by clang into build/fuzz/, for
# every parser that reads bytes from outside; each links the sources in
# <name>_SRCS and the libraries in <name>_LIBS.  UBSan reports abort, so
# that libFuzzer counts them as crashes.
FUZZ_CC	?= clang
FUZZ_SECONDS ?= 30
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -g -O1 -Icommon \
	   -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	   $(shell pkg-config --cflags libcjson libevent openssl 2>/dev/null)
FUZZ_TARGETS = fuzz-tcp-frame fuzz-proxy-line fuzz-fcgi-record \
	   fuzz-ws-handshake fuzz-ws-frame fuzz-packet fuzz-config \
	   fuzz-batch fuzz-answer
fuzz-tcp-frame_SRCS = push_daemon/frame-tcp.c
fuzz-proxy-line_SRCS = push_daemon/frame-tcp.c
fuzz-fcgi-record_SRCS = push_daemon/fcgi-client.c
fuzz-ws-handshake_SRCS = push_daemon/ws-handshake.c
fuzz-ws-handshake_LIBS = -lcrypto
fuzz-ws-frame_SRCS = push_daemon/transport-ws.c push_daemon/ws-handshake.c \
	   push_daemon/ws-boundary.c
fuzz-ws-frame_LIBS = -levent -lwslay -lcrypto
fuzz-batch_SRCS = fcgi_app/batch-parse.c fcgi_app/packet.c fcgi_app/utf8.c
fuzz-batch_LIBS = $(shell pkg-config --libs libcjson 2>/dev/null)
fuzz-answer_SRCS = push_daemon/route.c common/log.c
fuzz-answer_LIBS = $(shell pkg-config --libs libcjson 2>/dev/null)
fuzz-packet_SRCS = fcgi_app/packet.c fcgi_app/utf8.c
fuzz-packet_LIBS = $(shell pkg-config --libs libcjson 2>/dev/null)
fuzz-config_SRCS = common/config.c common/config-example.c common/log.c

# bench/: the load generator (bench/README.md).
BENCH_SRCS = bench/main.c bench/conn.c bench/ws.c bench/session.c \
	   bench/setup.c bench/relay.c bench/idle.c bench/idle-proc.c \
	   bench/login.c \
	   bench/dbceil.c bench/procstat.c bench/stats.c bench/report.c \
	   bench/batches.c \
	   fcgi_app/db.c fcgi_app/db-message.c

# NOSTORE=1: workers that store no message, in a build directory of their
# own (the benchmark's transport ceiling; the negative control of the
# durability tests, which must see it lose messages).  Never for a real
# service: an offline recipient loses everything.
ifeq ($(NOSTORE),1)
B	:= $(if $(filter 1,$(SAN)),build/san-nostore,build/nostore)
APP_SRCS := $(filter-out fcgi_app/db-message.c,$(APP_SRCS)) \
	   fcgi_app/db-message-nostore.c
endif
NOSTORE_B = $(if $(filter 1,$(SAN)),build/san-nostore,build/nostore)

DAEMON_OBJS = $(patsubst %.c,$(B)/obj/%.o,$(DAEMON_SRCS) $(COMMON_SRCS))
APP_OBJS    = $(patsubst %.c,$(B)/obj/%.o,$(APP_SRCS) $(COMMON_SRCS))
BENCH_OBJS  = $(patsubst %.c,$(B)/obj/%.o,$(BENCH_SRCS) $(COMMON_SRCS))
CTL_OBJS    = $(patsubst %.c,$(B)/obj/%.o,$(CTL_SRCS) $(COMMON_SRCS))

.PHONY: all deps run cluster test unit unit-bin integration bench fuzz \
	fuzz-bin install uninstall example-config clean test-container

all: $(B)/push_daemon $(B)/fcgi_app $(B)/chatctl

$(B)/push_daemon: $(DAEMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS)

$(B)/fcgi_app: $(APP_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(APP_LIBS)

$(B)/chatctl: $(CTL_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# chatctl's db-admin.c runs statements through fcgi_app/db.h.
$(B)/obj/chatctl/%.o $(B)/obj/tests/unit/test-date.o \
    $(B)/obj/tests/unit/test-history.o: ALL_CFLAGS += -Ifcgi_app

$(B)/bench: $(BENCH_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lpthread -lm

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

define unit_rule
$(B)/tests/$(1): $(B)/obj/tests/unit/$(1).o $(patsubst %.c,$(B)/obj/%.o,$($(1)_SRCS))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS) -lcmocka
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

define fuzz_rule
build/fuzz/$(1): build/fuzz/obj/tests/fuzz/$(1).o \
    $(patsubst %.c,build/fuzz/obj/%.o,$($(1)_SRCS))
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -o $$@ $$^ $$($(1)_LIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rule,$(t))))

unit-bin: $(addprefix $(B)/tests/,$(UNIT_TESTS))

unit: unit-bin
	@tests/run.sh --build $(B) --unit-only

deps:
	@scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/stack.sh run --http-port $(HTTP_PORT) --tcp-port $(TCP_PORT) \
	    --log-max $(LOG_MAX_KIB)

# Chat node 1 on http://127.0.0.1:$(CLUSTER_PORT)/, node 2 two ports up.
cluster: deps
	@$(MAKE) --no-print-directory all
	@scripts/cluster.sh run --base-port $(CLUSTER_PORT) --dir $(CLUSTER_DIR)

test: deps
	@$(MAKE) --no-print-directory SAN=1 all unit-bin
	@$(MAKE) --no-print-directory SAN=1 NOSTORE=1 build/san-nostore/fcgi_app \
	    build/san-nostore/push_daemon
	@tests/run.sh --build build/san

integration:
	@tests/run.sh --build $(B) --no-unit

# Builds its images in podman from the sources, not from build/.
test-container: deps
	@tests/container/run.sh

# The cluster's own tests: 3 Galera nodes, Redis and 2 chat nodes of their
# own (scripts/cluster.sh) on free ports, the failure tests among them.
test-cluster: deps
	@$(MAKE) --no-print-directory SAN=1 all
	@tests/cluster/run.sh --build build/san

fuzz-bin: $(addprefix build/fuzz/,$(FUZZ_TARGETS))

# Each target for FUZZ_SECONDS from its seeds in tests/fuzz/corpus/;
# fails on the first crash, leak or sanitizer report (tests/fuzz/run.sh).
fuzz: fuzz-bin
	@tests/fuzz/run.sh --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The benchmark on a private stack; knobs in bench/README.md, e.g.
# make bench BENCH=relay RATE=5000 PAIRS=200
BENCH_KNOBS = BENCH PAIRS RATE INFLIGHT SIZE DURATION TRANSPORT CONNS \
	   IDLE_PROCS ACCOUNTS LOGINS CONCURRENCY WORKERS SOURCES COST SET OUT
bench: all $(B)/bench
	@$(MAKE) --no-print-directory NOSTORE=1 $(NOSTORE_B)/fcgi_app \
	    $(NOSTORE_B)/push_daemon
	@$(foreach k,$(BENCH_KNOBS),$(if $($(k)),$(k)='$($(k))')) \
	    bench/run.sh --build $(B) --nostore-build $(NOSTORE_B)

# A production host: everything INSTALL.md's steps use.  Programs, the
# man page, migrations, the web client, the nginx and Apache files and the
# docs go under PREFIX; the units where systemd looks under PREFIX
# (/usr/local/lib/systemd/system), naming PREFIX's programs; the logrotate
# file under SYSCONFDIR.  Nothing in /etc/chat, /etc/nginx or the database
# is touched: those steps are the operator's (INSTALL.md).
PREFIX	?= /usr/local
SYSCONFDIR ?= /etc
LOGDIR	?= /var/log/chat
MANDIR	?= $(PREFIX)/share/man
SHARE	 = $(PREFIX)/share/chat
UNITDIR	?= $(PREFIX)/lib/systemd/system
DOCDIR	 = $(PREFIX)/share/doc/chat
INSTALL_PROGRAMS = push_daemon fcgi_app chatctl
INSTALL_UNITS = chat-fcgi.service chat-push.service
INSTALL_NGINX = $(wildcard nginx/chat-site.conf nginx/chat-stream*.conf)
INSTALL_APACHE = $(wildcard deploy/apache/*.conf)
INSTALL_DOCS = INSTALL.md README.md $(wildcard docs/*.md) \
	   etc/chat.conf.example
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SHARE)/sql $(DESTDIR)$(SHARE)/scripts \
	    $(DESTDIR)$(SHARE)/nginx $(DESTDIR)$(SHARE)/apache \
	    $(DESTDIR)$(DOCDIR) $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/logrotate.d $(DESTDIR)$(LOGDIR)
	install -m 0755 $(addprefix $(B)/,$(INSTALL_PROGRAMS)) \
	    $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 chatctl/chatctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 sql/*.sql sql/README.md $(DESTDIR)$(SHARE)/sql/
	install -m 0755 scripts/migrate.sh $(DESTDIR)$(SHARE)/scripts/
	rm -rf $(DESTDIR)$(SHARE)/web
	cp -R web $(DESTDIR)$(SHARE)/web
	chmod -R u=rwX,go=rX $(DESTDIR)$(SHARE)/web
	install -m 0644 $(INSTALL_NGINX) $(DESTDIR)$(SHARE)/nginx/
	$(if $(INSTALL_APACHE),install -m 0644 $(INSTALL_APACHE) \
	    $(DESTDIR)$(SHARE)/apache/)
	for u in $(INSTALL_UNITS); do \
	    sed -e 's|/usr/local/sbin/|$(PREFIX)/sbin/|g' \
	        -e 's|/usr/local/share/doc/chat/|$(DOCDIR)/|g' \
	        -e 's|/var/log/chat/|$(LOGDIR)/|g' \
	        deploy/systemd/$$u >$(DESTDIR)$(UNITDIR)/$$u && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	sed 's|/var/log/chat/|$(LOGDIR)/|g' deploy/logrotate/chat \
	    >$(DESTDIR)$(SYSCONFDIR)/logrotate.d/chat
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/logrotate.d/chat
	install -m 0644 $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/

# What install put there, and its folders once empty; never the logs,
# the configuration or the database.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/sbin/,$(INSTALL_PROGRAMS)) \
	    $(DESTDIR)$(MANDIR)/man8/chatctl.8 \
	    $(addprefix $(DESTDIR)$(UNITDIR)/,$(INSTALL_UNITS)) \
	    $(DESTDIR)$(SYSCONFDIR)/logrotate.d/chat
	rm -rf $(DESTDIR)$(SHARE) $(DESTDIR)$(DOCDIR)
	-rmdir $(DESTDIR)$(LOGDIR) 2>/dev/null

# etc/chat.conf.example from the settings table (common/config.c);
# scripts/check-deploy.sh fails while the committed file differs.
example-config: $(B)/fcgi_app
	$(B)/fcgi_app -e >etc/chat.conf.example

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
