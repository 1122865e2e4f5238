# test/fuzz/fuzz.mk: fuzzing and the sanitizer build (included at the end of the Makefile).
#
#   make fuzz [FUZZ_SECONDS=60]  libFuzzer (clang 14, ASan + UBSan) on every target for a fixed time,
#                                from test/fuzz/corpus/<target>/; prints executions and time per target.
#                                A crash stops the target and its input is in $(FUZZ_OUT)/<target>/:
#                                keep it in test/fuzz/regress/<target>/ with the fix.
#   make fuzz-replay             every corpus and regress input once, gcc + ASan/UBSan, no libFuzzer
#                                (test/unit/run.sh does the same at every `make test`).
#   make test-sanitize           the whole suite against the extension built with UBSan
#                                (-fsanitize=undefined -fno-sanitize-recover=all), in its own copy.
FUZZ_TARGETS  = json http numbers
FUZZ_SECONDS ?= 60
FUZZ_OUT     ?= /tmp/pg_billing-fuzz
FUZZ_CC      ?= clang-14
FUZZ_SRC_json    = src/common/decimal_time.c src/json/json_mem.c
FUZZ_SRC_http    = src/http/http_util.c src/common/decimal_time.c
FUZZ_SRC_numbers = src/common/decimal_time.c

# PGB_SANITIZE=undefined in the environment builds the extension with that sanitizer. CFLAGS,
# not PG_CFLAGS: PGXS has already copied PG_CFLAGS into CFLAGS when this file is read.
ifneq ($(PGB_SANITIZE),)
override CFLAGS += -fsanitize=$(PGB_SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
SHLIB_LINK += -fsanitize=$(PGB_SANITIZE)
endif

.PHONY: fuzz fuzz-deps fuzz-replay test-sanitize
fuzz-deps:
	@test/fuzz/deps.sh

fuzz: fuzz-deps
	@mkdir -p $(FUZZ_OUT)
	@for t in $(FUZZ_TARGETS); do \
	    case $$t in json) src="$(FUZZ_SRC_json)"; lib=-ljansson;; http) src="$(FUZZ_SRC_http)"; lib=;; \
	                numbers) src="$(FUZZ_SRC_numbers)"; lib=;; esac; \
	    $(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc \
	        test/fuzz/fuzz_$$t.c $$src $$lib -lm -o $(FUZZ_OUT)/fuzz_$$t || exit 1; \
	    rm -rf $(FUZZ_OUT)/$$t && mkdir -p $(FUZZ_OUT)/$$t/corpus $(FUZZ_OUT)/$$t/crashes; \
	    cp test/fuzz/corpus/$$t/* $(FUZZ_OUT)/$$t/corpus/; \
	    cp test/fuzz/regress/$$t/* $(FUZZ_OUT)/$$t/corpus/ 2>/dev/null; \
	    start=$$(date +%s); \
	    $(FUZZ_OUT)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -rss_limit_mb=2048 \
	        -timeout=60 -artifact_prefix=$(FUZZ_OUT)/$$t/crashes/ $(FUZZ_OUT)/$$t/corpus \
	        > $(FUZZ_OUT)/$$t/log.txt 2>&1; rc=$$?; \
	    execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_OUT)/$$t/log.txt); \
	    cov=$$(grep -o 'cov: [0-9]*' $(FUZZ_OUT)/$$t/log.txt | tail -1); \
	    printf 'fuzz_%s: %s executions in %s s, %s, %s crash(es)\n' $$t "$${execs:-?}" $$(( $$(date +%s) - start )) \
	        "$${cov:-cov: ?}" $$(ls $(FUZZ_OUT)/$$t/crashes | wc -l); \
	    if [ $$rc -ne 0 ]; then tail -30 $(FUZZ_OUT)/$$t/log.txt; exit 1; fi; \
	done

fuzz-replay:
	@test/unit/run.sh $(FUZZ_OUT)/replay > /dev/null; cat $(FUZZ_OUT)/replay/fuzz.tap; \
	    ! grep -q '^not ok' $(FUZZ_OUT)/replay/fuzz.tap

# A copy of the checkout, so the sanitized objects never mix with the normal build's. UBSan
# writes its reports to $(FUZZ_OUT)/ubsan-logs/ (any report fails the target).
test-sanitize: deps
	@rm -rf $(FUZZ_OUT)/ubsan-src $(FUZZ_OUT)/ubsan-logs && mkdir -p $(FUZZ_OUT)/ubsan-src $(FUZZ_OUT)/ubsan-logs
	@chmod 1777 $(FUZZ_OUT)/ubsan-logs
	@tar --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . | tar -xf - -C $(FUZZ_OUT)/ubsan-src
	@cd $(FUZZ_OUT)/ubsan-src && PGB_SANITIZE=undefined PGB_SHARED=$${PGB_SHARED:-$(abspath ..)/shared} \
	    UBSAN_OPTIONS=print_stacktrace=1:log_path=$(FUZZ_OUT)/ubsan-logs/ubsan $(MAKE) -s test; rc=$$?; \
	    nm -D $(FUZZ_OUT)/ubsan-src/pg_billing.so | grep -q ' U __ubsan_handle' || { echo "test-sanitize: the build is not instrumented"; exit 1; }; \
	    if ls $(FUZZ_OUT)/ubsan-logs/ubsan.* >/dev/null 2>&1; then \
	        echo "UBSan reports:"; cat $(FUZZ_OUT)/ubsan-logs/ubsan.*; exit 1; fi; \
	    echo "UBSan: pg_billing.so instrumented, no report from any process"; exit $$rc
