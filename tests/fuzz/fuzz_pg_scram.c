/* libFuzzer target for protocols/pgsql/pg_scram: arbitrary bytes as the
 * client's SCRAM messages to the server half and as a backend's messages to
 * the client half.
 *
 * Input: one selector byte, then two messages split at the first 0xff byte
 * (0xff never occurs in a valid SCRAM message). Selector bit 0 picks the
 * side. Each message is handed over in an exactly-sized heap copy, so any
 * read past its length is an AddressSanitizer report. Because our nonces
 * are random, the target pins them to fixed values after the first step so
 * the fuzzer can reach the later parsing. It does not check the
 * cryptography (the unit test does); it looks for crashes, over-reads and
 * undefined behaviour.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_pg_scram.c \
 *       protocols/pgsql/pg_scram.c lib/crypto.c -lcrypto -o /tmp/fz
 */
#include "protocols/pgsql/pg_scram.h"

#include <stdlib.h>
#include <string.h>

#define FIXED_SNONCE "SSSSSSSSSSSSSSSSSSSSSSSS" /* PG_SCRAM_NONCE_B64 chars */
#define FIXED_CNONCE "CCCCCCCCCCCCCCCCCCCCCCCC"

static char *dup_exact(const uint8_t *p, size_t n)
{
	char *m = malloc(n ? n : 1);
	if (m && n)
		memcpy(m, p, n);
	return m;
}

/* Would the client half run PBKDF2 with more than the minimum iteration
 * count? Any "i=<digits>" over 4096 anywhere: skip those inputs, or the
 * fuzzer spends its time in up to 10,000,000 HMAC rounds. The range check
 * itself is exercised by the unit test. */
static int expensive(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 2 < n; i++) {
		if (p[i] != 'i' || p[i + 1] != '=')
			continue;
		long v = 0;
		size_t k = i + 2;
		while (k < n && p[k] >= '0' && p[k] <= '9' && v <= 4096)
			v = v * 10 + (p[k++] - '0');
		if (v > 4096)
			return 1;
	}
	return 0;
}

static void fuzz_server(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	static const uint8_t salt[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	struct pg_scram_server s;
	uint8_t proof[SB_SHA256_LEN];
	char err[128];
	char *m = dup_exact(a, an);
	if (!m)
		return;
	int rc = pg_scram_server_first(&s, m, an, salt, sizeof salt, 4096, err,
				       sizeof err);
	free(m);
	if (rc == 0) {
		/* Replace the random server nonce (the last 24 characters of
		 * s.nonce, and the same inside "r=...," of server_first). */
		size_t nl = strlen(s.nonce);
		if (nl < PG_SCRAM_NONCE_B64 ||
		    strncmp(s.server_first + 2, s.nonce, nl) != 0)
			abort();
		memcpy(s.nonce + nl - PG_SCRAM_NONCE_B64, FIXED_SNONCE,
		       PG_SCRAM_NONCE_B64);
		memcpy(s.server_first + 2 + nl - PG_SCRAM_NONCE_B64, FIXED_SNONCE,
		       PG_SCRAM_NONCE_B64);
	}
	/* After a failure too: server_final must refuse an unset state. */
	m = dup_exact(b, bn);
	if (!m)
		return;
	rc = pg_scram_server_final(&s, m, bn, proof, err, sizeof err);
	free(m);
	if (rc == 0) {
		if (s.auth_message_len >= sizeof s.auth_message ||
		    s.auth_message_len != strlen(s.auth_message))
			abort();
		char out[64];
		if (pg_scram_server_final_message(proof, out, sizeof out) != 46)
			abort();
	}
}

static void fuzz_client(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	struct pg_scram_client c;
	char out[PG_SCRAM_MSG_MAX * 2], err[128];
	if (pg_scram_client_first(&c, out, sizeof out) < 0)
		abort();
	memcpy(c.nonce, FIXED_CNONCE, sizeof FIXED_CNONCE);
	memcpy(c.client_first_bare, "n=,r=" FIXED_CNONCE, sizeof "n=,r=" FIXED_CNONCE);
	if (expensive(a, an))
		return;
	char *m = dup_exact(a, an);
	if (!m)
		return;
	int rc = pg_scram_client_final(&c, "pencil", m, an, out, sizeof out, err,
				       sizeof err);
	free(m);
	if (rc >= 0 && (size_t)rc != strlen(out))
		abort();
	m = dup_exact(b, bn);
	if (!m)
		return;
	rc = pg_scram_client_verify(&c, m, bn);
	free(m);
	(void)rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	data++;
	size--;
	const uint8_t *sep = memchr(data, 0xff, size);
	size_t an = sep ? (size_t)(sep - data) : size;
	const uint8_t *b = sep ? sep + 1 : data + size;
	size_t bn = sep ? size - an - 1 : 0;
	if (sel & 1)
		fuzz_client(data, an, b, bn);
	else
		fuzz_server(data, an, b, bn);
	if (sel & 2) {
		/* md5 with the two pieces as user and password */
		char *u = malloc(an + 1), *p = malloc(bn + 1);
		static const uint8_t salt[4] = {1, 2, 3, 4};
		char out[36];
		if (u && p) {
			memcpy(u, data, an);
			u[an] = '\0';
			memcpy(p, b, bn);
			p[bn] = '\0';
			pg_md5_password(u, p, salt, out);
		}
		free(u);
		free(p);
	}
	return 0;
}
