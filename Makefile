# smugglr - one Makefile, no autotools.
#   make            build bin/smg-* and lib/libsmg.a
#   make check      build and run every test (tests/run)
#   make asan       the same programs built with ASan+UBSan into build-asan/
#   make check-asan run the test suite against the sanitizer build
#   make install    PREFIX=/usr/local DESTDIR= : programs, the porcelain's
#                   verb files (PREFIX/libexec/smugglr) and man pages
#   make dist       versioned tarball with SHA256SUMS
#   make fuzz       libFuzzer targets (clang) in build/fuzz, from tests/fuzz
#   make npm        the npm package (WebAssembly; needs emscripten)

# make release: binary tarballs for linux-x86_64 and linux-aarch64 with
# SHA256SUMS and install.sh in $(B)/release (scripts/release); the aarch64
# one needs Debian's cross toolchain (scripts/deps --release).

VERSION  = 0.1.0
PREFIX  ?= /usr/local
BINDIR   = $(PREFIX)/bin
# bin/smugglr finds its verb files at ../libexec/smugglr from itself
LIBEXECDIR = $(PREFIX)/libexec/smugglr
MANDIR   = $(PREFIX)/share/man
CC      ?= cc
PKG_CONFIG ?= pkg-config
PKGS     = sqlite3 libcurl libcrypto libsodium json-c
CFLAGS  ?= -O2 -g
override CFLAGS += -std=c11 -pthread -D_GNU_SOURCE -Wall -Wextra -Werror -Ilib \
           $(shell $(PKG_CONFIG) --cflags $(PKGS))
# --as-needed: smg-hash need not load libcurl and its dozens of libraries
override LDFLAGS += -Wl,--as-needed -pthread
# STATIC=1 (make release): these from Debian's own .a files, so that the
# programs need nothing but glibc; libcurl is dlopen()ed either way (http.c)
STATIC_PKGS = sqlite3 libcrypto libsodium json-c
ifeq ($(STATIC),1)
LIBS := $(foreach p,$(STATIC_PKGS),$(shell $(PKG_CONFIG) --variable=libdir $(p))/lib$(p:lib%=%).a)
else
LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS))
endif
override LDLIBS += $(LIBS) -lm -ldl

B       ?= build
LIB_SRC  = $(wildcard lib/*.c)
LIB_OBJ  = $(LIB_SRC:lib/%.c=$(B)/lib/%.o)
PROG_SRC = $(wildcard bin/smg-*.c)
PROGS    = $(PROG_SRC:bin/%.c=$(B)/bin/%)
UNIT_SRC = $(wildcard tests/unit/*.c)
UNITS    = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
SCRIPTS  = bin/smugglr
LIBEXEC  = $(wildcard libexec/smugglr/*.sh)
MAN1     = $(wildcard man/*.1)
MAN5     = $(wildcard man/*.5)
MAN7     = $(wildcard man/*.7)

all: $(PROGS) $(UNITS)

$(B)/lib/%.o: lib/%.c $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/libsmg.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/bin/%: bin/%.c $(B)/libsmg.a $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libsmg.a $(LDFLAGS) $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(B)/libsmg.a $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libsmg.a $(LDFLAGS) $(LDLIBS)

# The whole suite, then the unit and core tests again under ASan+UBSan.
check: all asan
	SMG_BUILD=$(CURDIR)/$(B) SMG_ASAN=$(CURDIR)/build-asan sh tests/run

# Quicker: without the sanitizer pass.
check-fast: all
	SMG_BUILD=$(CURDIR)/$(B) sh tests/run

asan:
	$(MAKE) B=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined"

check-asan: asan
	ASAN_OPTIONS=detect_leaks=1 SMG_BUILD=$(CURDIR)/build-asan sh tests/run

# Binary tarballs of every program, the porcelain and the manual, linked
# statically but for glibc (STATIC=1), one per machine: make release
# RELEASE_MACHINES=x86_64 builds one.  The layout is `make install`'s.
RELEASE_MACHINES = x86_64 aarch64
release:
	sh scripts/release $(B)/release $(VERSION) $(RELEASE_MACHINES)
.PHONY: release

demo: all
	sh scripts/demo

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man7
	install -m 755 $(PROGS) $(DESTDIR)$(BINDIR)/
	install -m 755 $(SCRIPTS) $(DESTDIR)$(BINDIR)/
	mkdir -p $(DESTDIR)$(LIBEXECDIR)
	install -m 644 $(LIBEXEC) $(DESTDIR)$(LIBEXECDIR)/
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/

DIST = smugglr-$(VERSION)
dist:
	rm -rf $(B)/$(DIST) && mkdir -p $(B)/$(DIST)
	git ls-files | tar -cf - -T - | tar -xf - -C $(B)/$(DIST)
	tar -czf $(B)/$(DIST).tar.gz -C $(B) $(DIST)
	cd $(B) && sha256sum $(DIST).tar.gz > SHA256SUMS
	@echo "$(B)/$(DIST).tar.gz"

clean:
	rm -rf build build-asan

# The npm package: the engine as WebAssembly (emscripten), packed with
# npm pack into $(B)/npm/smugglr-$(VERSION).tgz.  See npm/README.md.
npm:
	sh npm/build.sh $(B)
.PHONY: npm

# libFuzzer targets (clang), one per tests/fuzz/*_fuzz.c, linked with the
# library built once for fuzzing; each file's header says how to run it.  A
# target that compiles a lib/ file into itself (for its static functions)
# defines every symbol of it, so the archive's copy is never linked.
FUZZ_SRC = $(wildcard tests/fuzz/*_fuzz.c)
FUZZ     = $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)
FUZZ_OBJ = $(LIB_SRC:lib/%.c=$(B)/fuzz/lib/%.o)
FUZZ_CFLAGS = -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
	-std=c11 -pthread -D_GNU_SOURCE -Wall -Wextra -Werror -Ilib $(shell pkg-config --cflags $(PKGS))
fuzz: $(FUZZ)

$(B)/fuzz/lib/%.o: lib/%.c $(wildcard lib/*.h)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(B)/fuzz/libsmg.a: $(FUZZ_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/fuzz/%: tests/fuzz/%.c $(B)/fuzz/libsmg.a $(LIB_SRC) $(wildcard lib/*.h)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(B)/fuzz/libsmg.a \
		$(shell pkg-config --libs $(PKGS)) -lm -ldl

.PHONY: all check check-fast asan check-asan demo install dist clean fuzz
.SECONDARY:
