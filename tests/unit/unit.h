/* Minimal unit-test harness shared by tests/unit/test_*.c.
 *
 * CHECK(cond) records a failure with file:line and goes on; the program ends
 * with UNIT_DONE(), which prints "<name>: N passed, N failed" and returns the
 * exit status. No framework to install, and the closing line is one CI reads. */
#ifndef SB_UNIT_H
#define SB_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (cond) {                                                    \
			unit_passed++;                                         \
		} else {                                                       \
			unit_failed++;                                         \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
		}                                                              \
	} while (0)

#define CHECK_STR(got, want)                                                   \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                         \
		if (g_ && w_ && strcmp(g_, w_) == 0) {                         \
			unit_passed++;                                         \
		} else {                                                       \
			unit_failed++;                                         \
			fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n",    \
				__FILE__, __LINE__, g_ ? g_ : "(null)",        \
				w_ ? w_ : "(null)");                           \
		}                                                              \
	} while (0)

#define UNIT_DONE(name)                                                        \
	(printf("%s: %d passed, %d failed\n", (name), unit_passed,             \
		unit_failed),                                                  \
	 unit_failed ? 1 : 0)

#endif
