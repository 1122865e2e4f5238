# pg_billing: PGXS build. The control file's default_version is the one version number;
# the install and upgrade scripts are assembled from schema/<version>/*.sql.

EXTENSION  = pg_billing
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" pg_billing.control)
VERSIONS   = $(shell ls schema | sort -V)
OLDEST     = $(firstword $(VERSIONS))

MODULE_big = pg_billing
SRCS       = $(sort $(shell find src -name '*.c'))
OBJS       = $(SRCS:.c=.o)

# Full install script of every version, and one upgrade script per release.
pairs       = $(join $(addsuffix --,$(filter-out $(lastword $(VERSIONS)),$(VERSIONS))),$(wordlist 2,999,$(VERSIONS)))
INSTALL_SQL = $(foreach v,$(VERSIONS),pg_billing--$(v).sql)
UPGRADE_SQL = $(foreach p,$(pairs),pg_billing--$(p).sql)
DATA_built  = $(INSTALL_SQL) $(UPGRADE_SQL)

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PKG_CONFIG ?= pkg-config

# On a fresh machine PGXS itself is missing, and it is needed before any target runs:
# install the dependencies first (test/deps.sh is idempotent and quick when all is there).
ifeq ($(wildcard $(PG_CONFIG)),)
$(info pg_billing: installing the build dependencies (test/deps.sh))
$(shell test/deps.sh >&2)
endif
PG_CPPFLAGS = -I$(srcdir)/src $(shell $(PKG_CONFIG) --cflags libcurl jansson) -DPGB_VERSION='"$(EXTVERSION)"'
SHLIB_LINK  = $(shell $(PKG_CONFIG) --libs libcurl jansson)
# PostgreSQL's headers trip these -Wextra checks; everything else is an error.
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
# LLVM bitcode needs clang, which the build does not otherwise need.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: every object depends on every header of the project.
$(OBJS): $(shell find src -name '*.h')

# pg_billing--V.sql: every part of every version up to V, in order.
versions_upto = $(shell ls schema | sort -V | awk '{print} $$0=="$(1)"{exit}')
pg_billing--%.sql: $(shell find schema -name '*.sql') Makefile
	@v='$*'; case "$$v" in \
	  *--*) from=$${v%%--*}; to=$${v##*--}; \
	        { echo "-- pg_billing upgrade $$from -> $$to (generated from schema/$$to/, do not edit)"; \
	          printf '%s\n' "\\echo Use \"ALTER EXTENSION pg_billing UPDATE TO '$$to'\" to load this file. \\quit"; \
	          for f in schema/$$to/*.sql; do echo; echo "-- $$f"; grep -v '^\\echo Use' $$f; done; } > $@ ;; \
	  *)    { echo "-- pg_billing $$v (generated from schema/, do not edit)"; \
	          for d in $$(ls schema | sort -V | awk -v v="$$v" '{print} $$0==v{exit}'); do \
	            for f in schema/$$d/*.sql; do echo; echo "-- $$f"; cat $$f; done; done; } > $@ ;; \
	esac

.PHONY: test demo bench deps
deps:
	@test/deps.sh

test: deps all
	@test/run.sh

demo: deps all
	@test/demo/run.sh

bench: deps all
	@test/bench/run.sh

# Fuzzing and the sanitizer build: make fuzz, make fuzz-replay, make test-sanitize.
include test/fuzz/fuzz.mk
