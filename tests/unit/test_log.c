/* Unit test for proxy/log: sb_log() escapes the whole message, so a peer's
 * string with newlines, terminal escapes, non-ASCII bytes or backslashes
 * makes exactly one line, and the bytes stay recoverable from \xNN. */
#include "lib/log.h"
#include "unit.h"

#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	char path[] = "/tmp/sbtest-log-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	CHECK(log_open(path) == 0);
	const char evil[] = "ev\nFORGED 2026-01-01T00:00:00.000Z ERROR x\x1b[31m\r\xff\\x";
	sb_log(LOG_WARN, "unknown user \"%s\"", evil);
	sb_log(LOG_INFO, "second");
	CHECK(log_open("-") == 0);
	FILE *f = fopen(path, "r");
	char buf[8192];
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	int lines = 0;
	for (size_t i = 0; i < n; i++)
		lines += buf[i] == '\n';
	CHECK(lines == 2);
	CHECK(strstr(buf, "WARN unknown user \"ev\\x0aFORGED 2026-01-01T00:00:00.000Z ERROR "
			  "x\\x1b[31m\\x0d\\xff\\x5cx\"\n") != NULL);
	CHECK(strstr(buf, " INFO second\n") != NULL);
	for (size_t i = 0; i < n; i++)
		CHECK(buf[i] == '\n' || (buf[i] >= 0x20 && buf[i] < 0x7f));
	/* A long message is cut, still one line. */
	char big[5000];
	memset(big, '\n', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK(log_open(path) == 0);
	sb_log(LOG_ERR, "%s", big);
	CHECK(log_open("-") == 0);
	f = fopen(path, "r");
	lines = 0;
	int c;
	while (f && (c = fgetc(f)) != EOF)
		lines += c == '\n';
	if (f)
		fclose(f);
	CHECK(lines == 3);
	unlink(path);
	return UNIT_DONE("log");
}
