/* idle_clients: open N logged-in PostgreSQL connections and hold them idle;
 * or stream one big result and throw it away.
 *
 * Used by tests/bench/bench.py to measure a proxy's memory per idle session
 * and its memory growth while one client streams a large result. It uses
 * libpq's asynchronous connect (PQconnectStart / PQconnectPoll) over poll(),
 * with at most -p connects in flight, so thousands of logins proceed without
 * a thread per connection. Whatever login the server or proxy asks for
 * (SCRAM-SHA-256, md5, trust) libpq answers; the password comes from the
 * PGPASSWORD environment variable, never from argv.
 *
 * Modes
 *   idle_clients [-p PARALLEL] [-t TIMEOUT_S] -n N CONNINFO
 *       Opens N connections. When every attempt has finished it prints
 *         ready <ok> <failed> <seconds> [first error]
 *       on stdout, then holds the connections until stdin reaches EOF (the
 *       driver closes its end), closes them and exits 0 (1 if none opened).
 *   idle_clients --stream SQL CONNINFO
 *       One connection; runs SQL (a COPY ... TO STDOUT or a query, read in
 *       single-row mode so the client holds one row at a time), discards
 *       the data and prints
 *         streamed <bytes> <rows> <seconds>
 *
 * The soft RLIMIT_NOFILE is raised to the hard limit at start.
 * It does not measure anything itself: the driver reads /proc of the proxy.
 */
#include <libpq-fe.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: idle_clients [-p PARALLEL] [-t TIMEOUT_S] -n N CONNINFO\n"
		"       idle_clients --stream SQL CONNINFO\n");
	exit(2);
}

/* ---- streaming ---------------------------------------------------------- */

static int stream(const char *sql, const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "idle_clients: connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return 1;
	}
	double t0 = now_s();
	unsigned long long bytes = 0, rows = 0;
	if (!PQsendQuery(c, sql) || !PQsetSingleRowMode(c)) {
		fprintf(stderr, "idle_clients: send: %s", PQerrorMessage(c));
		PQfinish(c);
		return 1;
	}
	int rc = 0;
	PGresult *r;
	while ((r = PQgetResult(c)) != NULL) {
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_COPY_OUT) {
			char *buf;
			int n;
			while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
				bytes += (unsigned long long)n;
				rows++;
				PQfreemem(buf);
			}
			if (n == -2) {
				fprintf(stderr, "idle_clients: copy: %s", PQerrorMessage(c));
				rc = 1;
			}
		} else if (st == PGRES_SINGLE_TUPLE) {
			for (int f = 0; f < PQnfields(r); f++)
				bytes += (unsigned long long)PQgetlength(r, 0, f);
			rows++;
		} else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
			fprintf(stderr, "idle_clients: query: %s", PQresultErrorMessage(r));
			rc = 1;
		}
		PQclear(r);
	}
	printf("streamed %llu %llu %.3f\n", bytes, rows, now_s() - t0);
	PQfinish(c);
	return rc;
}

/* ---- idle sessions ------------------------------------------------------ */

struct slot {
	PGconn *conn;
	PostgresPollingStatusType want; /* PGRES_POLLING_READING / WRITING */
};

int main(int argc, char **argv)
{
	long n = -1, parallel = 64, timeout_s = 600;
	const char *stream_sql = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			n = atol(argv[++i]);
		else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
			parallel = atol(argv[++i]);
		else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
			timeout_s = atol(argv[++i]);
		else if (strcmp(argv[i], "--stream") == 0 && i + 1 < argc)
			stream_sql = argv[++i];
		else
			usage();
	}
	if (i != argc - 1)
		usage();
	const char *conninfo = argv[i];
	raise_nofile();
	if (stream_sql)
		return stream(stream_sql, conninfo);
	if (n <= 0 || parallel <= 0)
		usage();

	PGconn **done = calloc((size_t)n, sizeof *done);
	struct slot *fly = calloc((size_t)parallel, sizeof *fly);
	struct pollfd *pfd = calloc((size_t)parallel, sizeof *pfd);
	if (!done || !fly || !pfd) {
		fprintf(stderr, "idle_clients: out of memory\n");
		return 1;
	}
	long started = 0, ok = 0, failed = 0, nfly = 0;
	char first_err[256] = "";
	double t0 = now_s();

	while (ok + failed < n) {
		/* top up the in-flight set */
		while (nfly < parallel && started < n) {
			PGconn *c = PQconnectStart(conninfo);
			started++;
			if (!c || PQstatus(c) == CONNECTION_BAD) {
				if (!first_err[0] && c)
					snprintf(first_err, sizeof first_err, "%s",
						 PQerrorMessage(c));
				PQfinish(c);
				failed++;
				continue;
			}
			fly[nfly].conn = c;
			fly[nfly].want = PGRES_POLLING_WRITING;
			nfly++;
		}
		if (nfly == 0)
			continue;
		for (long k = 0; k < nfly; k++) {
			pfd[k].fd = PQsocket(fly[k].conn);
			pfd[k].events = fly[k].want == PGRES_POLLING_READING ? POLLIN : POLLOUT;
			pfd[k].revents = 0;
		}
		int pr = poll(pfd, (nfds_t)nfly, 1000);
		if (pr < 0 && errno != EINTR) {
			perror("idle_clients: poll");
			return 1;
		}
		if (now_s() - t0 > (double)timeout_s) {
			for (long k = 0; k < nfly; k++) {
				PQfinish(fly[k].conn);
				failed++;
			}
			nfly = 0;
			failed += n - started;
			if (!first_err[0])
				snprintf(first_err, sizeof first_err, "timeout after %lds",
					 timeout_s);
			break;
		}
		for (long k = 0; k < nfly;) {
			if (pfd[k].revents == 0) {
				k++;
				continue;
			}
			PostgresPollingStatusType st = PQconnectPoll(fly[k].conn);
			if (st == PGRES_POLLING_OK || st == PGRES_POLLING_FAILED) {
				if (st == PGRES_POLLING_OK) {
					done[ok++] = fly[k].conn;
				} else {
					if (!first_err[0])
						snprintf(first_err, sizeof first_err, "%s",
							 PQerrorMessage(fly[k].conn));
					PQfinish(fly[k].conn);
					failed++;
				}
				/* move the last in-flight slot here; its pollfd too */
				nfly--;
				fly[k] = fly[nfly];
				pfd[k] = pfd[nfly];
				continue;
			}
			fly[k].want = st;
			k++;
		}
	}
	for (char *p = first_err; *p; p++)
		if (*p == '\n')
			*p = ' ';
	printf("ready %ld %ld %.3f %s\n", ok, failed, now_s() - t0, first_err);
	fflush(stdout);

	/* hold until the driver closes our stdin */
	char buf[256];
	while (read(0, buf, sizeof buf) > 0)
		;
	for (long k = 0; k < ok; k++)
		PQfinish(done[k]);
	free(done);
	free(fly);
	free(pfd);
	return ok > 0 ? 0 : 1;
}
