# sqlbastion build.
#
#   make            build bin/sqlbastion and bin/sqlbastionctl
#   make check      install missing test packages (scripts/deps.sh), unit tests,
#                   then integration tests against real servers
#   make check SAN=1  the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make demo       install what is missing, start sandboxes, the proxy, print psql line
#   make bench      benchmarks (tests/bench)
#   make fuzz       libFuzzer targets (clang)
#   make clean
#
# Every library object goes into build/libsqlbastion.a; the two programs and each
# unit test link against it, so a unit test pulls in only the modules it calls.

CC      ?= cc
PKGS    := openssl libevent libevent_openssl libpq libmariadb libpcre2-8 sqlite3 libssh
BUILD   := build
BIN     := bin

# -Wno-format-truncation: bounded snprintf into fixed buffers is deliberate here
# (messages and paths are cut, never overflowed); the warning cannot tell.
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wformat=2 -Wvla -Wno-unknown-warning-option -Wno-format-truncation
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) -I. $(shell pkg-config --cflags $(PKGS))
LDLIBS  := $(shell pkg-config --libs $(PKGS)) -lm -pthread

ifeq ($(SAN),1)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD   := build-san
BIN     := bin-san
endif

LIB_SRC := $(wildcard lib/*.c proxy/*.c protocols/*.c protocols/*/*.c policy/*.c audit/*.c)
LIB_SRC := $(filter-out proxy/main.c proxy/ctl_main.c,$(LIB_SRC))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB     := $(BUILD)/libsqlbastion.a

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# Each unit test links only the module it tests (by file-name prefix), so a
# half-written module elsewhere never breaks another module's tests.
CRYPTO_SRC  := lib/crypto.c lib/fsutil.c
POLICY_SRC  := $(wildcard policy/*.c)
AUDIT_SRC   := $(wildcard audit/*.c) $(CRYPTO_SRC)
CONTROL_SRC := $(wildcard proxy/state*.c proxy/auth*.c proxy/secret*.c proxy/tlsgen*.c) \
               $(CRYPTO_SRC) policy/level.c
PGSQL_SRC   := $(wildcard protocols/pgsql/pg_codec*.c protocols/pgsql/pg_scram*.c) \
               protocols/pgsql/pg_params.c audit/audit_json.c audit/audit_value.c $(CRYPTO_SRC)
MYSQL_SRC   := $(wildcard protocols/mysql/my_codec*.c protocols/mysql/my_auth*.c) $(CRYPTO_SRC)
TNS_SRC     := protocols/tns/tns_codec.c protocols/tns/tns_desc.c protocols/tns/tns_ttc.c
CONFIG_SRC  := proxy/config.c
unit_deps = $(strip \
  $(if $(filter test_policy%,$1),$(POLICY_SRC)) \
  $(if $(filter test_audit%,$1),$(AUDIT_SRC)) \
  $(if $(filter test_state% test_auth% test_secret% test_tlsgen%,$1),$(CONTROL_SRC)) \
  $(if $(filter test_pg%,$1),$(PGSQL_SRC)) \
  $(if $(filter test_my%,$1),$(MYSQL_SRC)) \
  $(if $(filter test_tns%,$1),$(TNS_SRC)) \
  $(if $(filter test_config%,$1),$(CONFIG_SRC)) \
  $(if $(filter test_crypto%,$1),$(CRYPTO_SRC)) \
  $(if $(filter test_srclimit%,$1),proxy/srclimit.c) \
  $(if $(filter test_stmt%,$1),proxy/stmt.c lib/ring.c) \
  $(if $(filter test_bev_io%,$1),proxy/bev_io.c) \
  $(if $(filter test_session%,$1),$(LIB_SRC)) \
  $(if $(filter test_log%,$1),lib/log.c) \
  $(if $(filter test_login%,$1),$(LIB_SRC)))

all: $(BIN)/sqlbastion $(BIN)/sqlbastionctl

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/sqlbastion: $(BUILD)/proxy/main.o $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/sqlbastionctl: $(BUILD)/proxy/ctl_main.o $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.SECONDEXPANSION:
$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h $$(addprefix $(BUILD)/,$$(subst .c,.o,$$(sort $$(call unit_deps,$$*))))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(filter %.o,$^) $(LDLIBS)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; (cd tests/unit && ../../$$t); done

# Integration tests need Debian's python3 (python3-pytest, psycopg2, pymysql).
PYTEST := /usr/bin/python3 -m pytest
integration: all
	SQLBASTION_BIN=$(CURDIR)/$(BIN) SQLBASTION_SAN=$(SAN) $(PYTEST) -q -ra tests/integration $(PYTEST_ARGS)

# A fresh machine gets what the tests need first (scripts/deps.sh: apt-get,
# sudo when not root; a no-op when everything is there; CI_SKIP_APT=1 skips).
check:
	@bash scripts/deps.sh test
	@$(MAKE) --no-print-directory unit integration

demo:
	bash scripts/demo.sh

bench: all
	bash tests/bench/run.sh

fuzz:
	$(MAKE) -f tests/fuzz/Makefile

clean:
	rm -rf build build-san bin bin-san

.PHONY: all unit integration check demo bench fuzz clean
.SECONDARY:

-include $(LIB_OBJ:.o=.d) $(BUILD)/proxy/main.d $(BUILD)/proxy/ctl_main.d
