# Junction - one GNU Makefile; each folder adds its sources in module.mk.
#
#   make            build build/junction and build/junctionctl
#   make run        install the build packages if missing, build, start on the defaults
#                   with HTTPS on HTTPS_PORT (8443): TLS_CERT / TLS_KEY, or a self-signed
#                   pair made once into var/tls/ (webui/tls_selfsigned.sh); SIP over TLS
#                   on SIP_TLS_PORT (5061) with its own self-signed pair in var/sip-tls/
#   make test       install the test peers if missing, check the layering, build and
#                   run every test (unit, integration, a short fuzz run)
#   make check-layering  adapters/ and webui/ include nothing of db/ (tests/check_layering.sh)
#   make asan       the same tests on an AddressSanitizer/UBSan build
#   make bench      CPU per message, the highest FULL rate, RSS with 1e6 queued
#   make bench-store  committed envelopes/s beside raw SQLite (bench/README.md)
#   make bench-smpp  SMPP end to end with reports back, junction beside Kannel (bench/README.md)
#   make bench-sip   SIP proxy stateless and stateful beside Kamailio (bench/README.md)
#   make deps       install missing Debian packages (idempotent, quiet)
#   make fuzz       build the libFuzzer targets (clang)
#   make install    the binaries, man pages, systemd unit, sysusers entry and (when
#                   there is none) the configuration file; PREFIX (/usr/local),
#                   SYSCONFDIR (/etc), DESTDIR for staging
#   make check-install  `make install` into a temporary DESTDIR and check what it put
#                   there (tests/check_install.sh; also a step of make test)

.DEFAULT_GOAL := all
BUILD   ?= build
CC      ?= cc
PKGS    := libosip2 libsmpp34 librabbitmq sqlite3 libmicrohttpd libevent \
           libevent_pthreads libevent_openssl openssl jansson libpcre2-8 libsodium libconfig \
           libcares
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WERROR  ?= $(if $(CI),-Werror,)
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
# ROOT_INC puts the repository root on the include path ("db/db.h"); the
# adapters go without it (below).
ROOT_INC = -I.
CFLAGS  += -std=gnu11 -Wall -Wextra $(WERROR) -D_GNU_SOURCE -pthread \
           $(ROOT_INC) -Igateway $(PKG_CFLAGS) -MMD -MP $(SANITIZE)
LDFLAGS += -pthread $(SANITIZE)
LDLIBS  += $(PKG_LIBS) -lm

JUNCTION_SRCS :=
CTL_SRCS      :=
UNIT_TESTS    :=
FUZZ_TARGETS  :=

include gateway/module.mk router/module.mk db/module.mk adapters/sip/module.mk \
        adapters/smpp/module.mk adapters/amqp/module.mk adapters/http/module.mk webui/module.mk tests/module.mk \
        $(wildcard bench/bench.mk)

# Layering at compile time: adapters/ see gateway/ ("gw_*.h") and their
# own folder, not the repository root, so an include of "db/db.h" fails to
# compile there.  tests/check_layering.sh says the same with file:line (and
# covers webui/ and router/); its EXCEPTIONS list, the one place for them,
# names the files still allowed the root meanwhile.
LAYERING_EXCEPTIONS := $(shell sh tests/check_layering.sh --exceptions 2>/dev/null)
$(BUILD)/adapters/%.o: ROOT_INC :=
$(foreach f,$(LAYERING_EXCEPTIONS),$(eval $(BUILD)/$(basename $(f)).o: ROOT_INC := -I.))

# Everything but the daemon's main() also links into unit tests.
LIB_SRCS  := $(filter-out gateway/gw_main.c,$(JUNCTION_SRCS))
LIB_OBJS  := $(patsubst %,$(BUILD)/%.o,$(basename $(LIB_SRCS)))
MAIN_OBJ  := $(BUILD)/gateway/gw_main.o
CTL_OBJS  := $(patsubst %,$(BUILD)/%.o,$(basename $(CTL_SRCS)))

.PHONY: all run test unit integration asan bench deps fuzz fuzz-bins fuzz-run clean \
        check-layering install check-install
all: $(BUILD)/junction $(BUILD)/junctionctl

$(BUILD)/libjunction.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/junction: $(MAIN_OBJ) $(BUILD)/libjunction.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/junctionctl: $(CTL_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs jansson 2>/dev/null)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Assembler sources (web UI assets embedded with .incbin).
$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

deps:
	@sh .ci/deps.sh

# HTTPS of `make run`: the pair given, or var/tls/ (made on the first run).
HTTPS_PORT ?= 8443
# SIP over TLS of `make run`: a self-signed pair of its own in var/sip-tls/.
SIP_TLS_PORT ?= 5061
TLS_CERT   ?=
TLS_KEY    ?=
run:
	$(if $(TLS_CERT)$(TLS_KEY),$(if $(and $(TLS_CERT),$(TLS_KEY)),,$(error give both TLS_CERT and TLS_KEY, or neither)))
	@JUNCTION_DEPS=build sh .ci/deps.sh
	@$(MAKE) --no-print-directory all
	@mkdir -p var
	@$(if $(TLS_CERT),:,sh webui/tls_selfsigned.sh var/tls)
	@sh webui/tls_selfsigned.sh var/sip-tls
	./$(BUILD)/junction -o http.tls_port=$(HTTPS_PORT) \
	  -o http.tls_cert=$(or $(TLS_CERT),var/tls/cert.pem) -o http.tls_key=$(or $(TLS_KEY),var/tls/key.pem) \
	  -o sip.tls_port=$(SIP_TLS_PORT) -o sip.tls_cert=var/sip-tls/cert.pem -o sip.tls_key=var/sip-tls/key.pem

check-layering:
	@sh tests/check_layering.sh

# Installation.  The unit (docs/junction.service) names /usr/local/sbin and
# /etc/junction: it is installed with the paths of PREFIX and SYSCONFDIR.
# Creating the user junction is systemd-sysusers' (the sysusers.d entry),
# not make's: DESTDIR stages files only.
PREFIX      ?= /usr/local
SYSCONFDIR  ?= /etc
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL     ?= install

install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(SYSCONFDIR)/junction
	$(INSTALL) -m 0755 $(BUILD)/junction $(DESTDIR)$(SBINDIR)/junction
	$(INSTALL) -m 0755 $(BUILD)/junctionctl $(DESTDIR)$(BINDIR)/junctionctl
	$(INSTALL) -m 0644 docs/junction.8 docs/junctionctl.8 $(DESTDIR)$(MANDIR)/man8/
	sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' -e 's|/etc/junction/|$(SYSCONFDIR)/junction/|g' \
	  docs/junction.service > $(DESTDIR)$(UNITDIR)/junction.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/junction.service
	$(INSTALL) -m 0644 docs/junction.sysusers $(DESTDIR)$(SYSUSERSDIR)/junction.conf
	@# an operator's configuration is never overwritten
	[ -e $(DESTDIR)$(SYSCONFDIR)/junction/junction.cfg ] || \
	  $(INSTALL) -m 0644 docs/junction.cfg $(DESTDIR)$(SYSCONFDIR)/junction/junction.cfg

check-install: all
	@MAKE="$(MAKE)" BUILD=$(BUILD) sh tests/check_install.sh

# Install what is missing (as .ci/run does: SIPp, RabbitMQ, Node.js,
# Chromium, clang; quiet when all is there), check the layering, then unit
# tests, integration tests and a short bounded fuzz run of every
# network-facing parser on its seed corpus (FUZZ_SECONDS each).
test:
	@sh .ci/deps.sh
	@sh tests/check_layering.sh
	@$(MAKE) --no-print-directory all unit-bins
	@MAKE="$(MAKE)" BUILD=$(BUILD) sh tests/check_install.sh
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration
	@$(MAKE) --no-print-directory fuzz-run FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)

ASAN_FLAGS := BUILD=build-asan OPT=-O1 \
	  SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
asan:
	@$(MAKE) --no-print-directory $(ASAN_FLAGS) all unit-bins
	@$(MAKE) --no-print-directory $(ASAN_FLAGS) unit
	@$(MAKE) --no-print-directory $(ASAN_FLAGS) integration

# libFuzzer targets (tests/fuzz/fuzz_*.c, listed by each folder in FUZZ_TARGETS):
# built with clang into build-fuzz/; `make fuzz-run` gives each a short
# bounded run (FUZZ_SECONDS, default 20) on its seed corpus.
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_TARGETS))
FUZZ_SECONDS ?= 20
TEST_FUZZ_SECONDS ?= 6

$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/libjunction.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-bins: $(FUZZ_BINS)

fuzz:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT=-O1 \
	  WERROR="-Werror=incompatible-pointer-types -Werror=int-conversion" \
	  SANITIZE="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" fuzz-bins

fuzz-run: fuzz
	@for f in $(patsubst tests/fuzz/%.c,%,$(FUZZ_TARGETS)); do \
	  mkdir -p build-fuzz/corpus/$$f; \
	  echo "== fuzz $$f ($(FUZZ_SECONDS) s)"; \
	  if build-fuzz/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
	    -artifact_prefix=build-fuzz/ \
	    build-fuzz/corpus/$$f $$( [ -d tests/fuzz/corpus/$$f ] && echo tests/fuzz/corpus/$$f ) \
	    > build-fuzz/$$f.log 2>&1; then tail -n 2 build-fuzz/$$f.log; \
	  else tail -n 60 build-fuzz/$$f.log; echo "fuzz $$f failed (build-fuzz/$$f.log)"; exit 1; fi; \
	done

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
