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

# The usual PGXS way: the pg_config on PATH, or PG_CONFIG=... for another server. Debian keeps each
# version's pg_config outside PATH unless a -dev package links one in: then PostgreSQL 15's is used.
PG_CONFIG ?= pg_config
ifeq ($(shell command -v $(PG_CONFIG) 2>/dev/null),)
ifeq ($(PG_CONFIG),pg_config)
PG_CONFIG := /usr/lib/postgresql/15/bin/pg_config
endif
endif
PKG_CONFIG ?= pkg-config
# test/run.sh, the demo and the benchmarks build against the same PostgreSQL.
export PG_CONFIG

# Nothing is installed while this file is read: on a machine without the build dependencies only the
# targets that install them (deps, and test/demo/bench which call it) and the server-free ones run.
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
pgb_no_pgxs_goals = deps test demo bench unit
pgb_missing = $(if $(wildcard $(PGXS)),,PostgreSQL's PGXS ($(PG_CONFIG) --pgxs))$(if $(shell $(PKG_CONFIG) --exists libcurl jansson 2>/dev/null && echo ok),, libcurl/jansson (pkg-config))
ifneq ($(strip $(pgb_missing)),)
ifneq ($(filter-out $(pgb_no_pgxs_goals),$(or $(MAKECMDGOALS),all)),)
$(error pg_billing: the build dependencies are missing: $(strip $(pgb_missing)). Run `make deps` first (as root on Debian: it installs them with apt-get and npm))
endif
endif

PG_CPPFLAGS = -I$(srcdir)/src $(shell $(PKG_CONFIG) --cflags libcurl jansson) -DPGB_VERSION='"$(EXTVERSION)"'
SHLIB_LINK  = $(shell $(PKG_CONFIG) --libs libcurl jansson)
# PostgreSQL's headers trip these -Wextra checks; everything else is an error.
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
# LLVM bitcode needs clang, which the build does not otherwise need.
override with_llvm = no

# make installcheck: the pg_regress suite (sql/, expected/) against a running server that has this
# build installed and preloaded (PGHOST, PGPORT, PGUSER as for psql); install.sql creates the extension
# in the fresh database pg_regress makes (contrib_regression), and the other tests share it. The expected
# output assumes what test/run.sh's cluster has: UTF8 and the C collation, whatever the server's default.
REGRESS      = install $(sort $(filter-out install,$(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --encoding=UTF8 --no-locale

ifeq ($(strip $(pgb_missing)),)
include $(PGXS)
endif

# PGXS tracks no header dependencies: every object depends on every header of the project.
$(OBJS): $(shell find src -name '*.h')
# The version is compiled in (PGB_VERSION): a new default_version rebuilds what uses it.
src/pg_billing.o src/http/http_client.o: pg_billing.control

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

.PHONY: test demo bench deps unit
# Debian's packages and the pinned npm tools (tools/npm); quick when everything is there.
deps:
	@tools/deps.sh

# The build runs in a second make, which reads this file again once deps may have installed PGXS.
test: deps
	@$(MAKE) --no-print-directory all
	@test/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@tools/demo/run.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@tools/bench/run.sh

# The server-free C tests (test/unit/) under ASan and UBSan; needs only gcc, libcurl and jansson.
unit:
	@test/unit/run.sh

# Fuzzing and the sanitizer build: make fuzz, make fuzz-replay, make test-sanitize.
include test/fuzz/fuzz.mk
