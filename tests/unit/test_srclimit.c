/* Unit tests for proxy/srclimit: the global and per-source ceilings on
 * connections before login, failed-login records per source per second
 * with every suppressed one reported exactly once, the token bucket of
 * expensive steps, the overflow entry past the table's cap, and gc. */
#include "proxy/srclimit.h"
#include "unit.h"

#include <stdlib.h>

static void test_unauth(void)
{
	struct srclimit *sl = srclimit_new(42);
	CHECK(sl != NULL);
	for (int i = 0; i < 3; i++)
		CHECK(srclimit_unauth_enter(sl, "10.0.0.1", 5, 3) == SRCLIMIT_OK);
	CHECK(srclimit_unauth_enter(sl, "10.0.0.1", 5, 3) == SRCLIMIT_SOURCE_FULL);
	CHECK(srclimit_unauth_of(sl, "10.0.0.1") == 3);
	CHECK(srclimit_unauth_enter(sl, "10.0.0.2", 5, 3) == SRCLIMIT_OK);
	CHECK(srclimit_unauth_enter(sl, "10.0.0.3", 5, 3) == SRCLIMIT_OK);
	CHECK(srclimit_unauth_enter(sl, "10.0.0.4", 5, 3) == SRCLIMIT_GLOBAL_FULL);
	CHECK(srclimit_unauth_total(sl) == 5);
	srclimit_unauth_leave(sl, "10.0.0.1");
	CHECK(srclimit_unauth_of(sl, "10.0.0.1") == 2);
	CHECK(srclimit_unauth_enter(sl, "10.0.0.4", 5, 3) == SRCLIMIT_OK);
	/* leave never goes below zero, even for a stranger */
	srclimit_unauth_leave(sl, "192.0.2.9");
	CHECK(srclimit_unauth_total(sl) == 5);
	/* 0 = no limit */
	for (int i = 0; i < 100; i++)
		CHECK(srclimit_unauth_enter(sl, "10.0.0.9", 0, 0) == SRCLIMIT_OK);
	/* gc keeps sources with connections */
	srclimit_gc(sl, 1000000);
	CHECK(srclimit_unauth_of(sl, "10.0.0.9") == 100);
	for (int i = 0; i < 100; i++)
		srclimit_unauth_leave(sl, "10.0.0.9");
	CHECK(srclimit_unauth_of(sl, "10.0.0.9") == 0);
	srclimit_free(sl);
}

struct sum {
	uint64_t total;
	int calls;
	char ip[64];
};

static void sum_cb(void *ctx, const char *ip, uint64_t n, int64_t since)
{
	struct sum *s = ctx;
	s->total += n;
	s->calls++;
	snprintf(s->ip, sizeof s->ip, "%s", ip);
}

static void test_failed(void)
{
	struct srclimit *sl = srclimit_new(7);
	uint64_t written = 0, attempts = 0;
	struct sum s = {0};
	/* 3 seconds of 50 failures a second, limit 10 a second */
	for (int64_t t = 100; t < 103; t++) {
		for (int i = 0; i < 50; i++) {
			attempts++;
			written += (uint64_t)srclimit_failed_login(sl, "198.51.100.7", t, 10);
		}
		srclimit_failed_flush(sl, t, sum_cb, &s); /* nothing of this second yet */
	}
	srclimit_failed_flush(sl, 103, sum_cb, &s);
	CHECK(written == 30);
	CHECK(written + s.total == attempts); /* none lost, none twice */
	CHECK_STR(s.ip, "198.51.100.7");
	int calls = s.calls;
	srclimit_failed_flush(sl, 200, sum_cb, &s);
	CHECK(s.calls == calls);
	/* another source is independent */
	CHECK(srclimit_failed_login(sl, "198.51.100.8", 103, 10) == 1);
	/* 0 = no limit */
	for (int i = 0; i < 100; i++)
		CHECK(srclimit_failed_login(sl, "198.51.100.9", 103, 0) == 1);
	srclimit_free(sl);
}

static void test_rates(void)
{
	struct srclimit *sl = srclimit_new(9);
	int ok = 0;
	for (int i = 0; i < 100; i++)
		ok += srclimit_rate(sl, "203.0.113.1", SRCLIMIT_RSA, 5000, 20);
	CHECK(ok == 20); /* the burst */
	CHECK(srclimit_rate(sl, "203.0.113.1", SRCLIMIT_RSA, 5049, 20) == 0);
	CHECK(srclimit_rate(sl, "203.0.113.1", SRCLIMIT_RSA, 5050, 20) == 1); /* one per 50 ms */
	CHECK(srclimit_rate(sl, "203.0.113.1", SRCLIMIT_RSA, 5050, 20) == 0);
	/* over ten seconds, at most burst + rate x time */
	ok = 0;
	for (int64_t ms = 6000; ms < 16000; ms++)
		ok += srclimit_rate(sl, "203.0.113.1", SRCLIMIT_RSA, ms, 20);
	CHECK(ok >= 200 && ok <= 220);
	CHECK(srclimit_rate(sl, "203.0.113.2", SRCLIMIT_RSA, 16000, 20) == 1);
	/* kinds are independent buckets */
	while (srclimit_rate(sl, "203.0.113.1", SRCLIMIT_RSA, 16000, 20))
		;
	CHECK(srclimit_rate(sl, "203.0.113.1", SRCLIMIT_RSA, 16000, 20) == 0);
	CHECK(srclimit_rate(sl, "203.0.113.1", SRCLIMIT_LOGIN, 16000, 20) == 1);
	srclimit_free(sl);
}

static void test_overflow_and_gc(void)
{
	struct srclimit *sl = srclimit_new(11);
	char ip[64];
	for (int i = 0; i < SRCLIMIT_MAX_SOURCES; i++) {
		snprintf(ip, sizeof ip, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		CHECK(srclimit_unauth_enter(sl, ip, 0, 2) == SRCLIMIT_OK);
	}
	/* past the cap, new sources share the overflow entry's ceiling */
	CHECK(srclimit_unauth_enter(sl, "fd00::1", 0, 2) == SRCLIMIT_OK);
	CHECK(srclimit_unauth_enter(sl, "fd00::2", 0, 2) == SRCLIMIT_OK);
	CHECK(srclimit_unauth_enter(sl, "fd00::3", 0, 2) == SRCLIMIT_SOURCE_FULL);
	srclimit_unauth_leave(sl, "fd00::1");
	CHECK(srclimit_unauth_enter(sl, "fd00::3", 0, 2) == SRCLIMIT_OK);
	for (int i = 0; i < SRCLIMIT_MAX_SOURCES; i++) {
		snprintf(ip, sizeof ip, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		srclimit_unauth_leave(sl, ip);
	}
	CHECK(srclimit_unauth_total(sl) == 2);
	CHECK(srclimit_gc(sl, 10) == 0);
	srclimit_free(sl);
}

int main(void)
{
	test_unauth();
	test_failed();
	test_rates();
	test_overflow_and_gc();
	return UNIT_DONE("srclimit");
}
