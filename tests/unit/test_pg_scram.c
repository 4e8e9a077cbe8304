/* Unit tests for protocols/pgsql/pg_scram: a full client/server exchange
 * (with the proof checked the way the frontend will check it), the RFC 7677
 * SCRAM-SHA-256 example from both sides, malformed and hostile messages
 * (each passed in an exactly-sized heap copy, so a read past the length is
 * an AddressSanitizer error), and the PostgreSQL md5 known answer. */
#include "protocols/pgsql/pg_scram.h"
#include "unit.h"

#include <stdlib.h>

/* RFC 7677 section 3 example. */
#define RFC_CNONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC_NONCE RFC_CNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_SFIRST "r=" RFC_NONCE ",s=" RFC_SALT ",i=4096"
#define RFC_CFINAL_NP "c=biws,r=" RFC_NONCE
#define RFC_PROOF "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_CFINAL RFC_CFINAL_NP ",p=" RFC_PROOF
#define RFC_SFINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* Exactly-sized heap copy: no NUL after the data, nothing to over-read. */
static char *dup_exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);
	if (!p) {
		perror("malloc");
		exit(2);
	}
	memcpy(p, s, n);
	return p;
}

static int server_first_n(struct pg_scram_server *s, const char *msg, size_t n,
			  const uint8_t *salt, size_t saltlen, int iter)
{
	char err[128] = "";
	char *m = dup_exact(msg, n);
	int rc = pg_scram_server_first(s, m, n, salt, saltlen, iter, err, sizeof err);
	free(m);
	if (rc != 0 && err[0] == '\0')
		rc = 99; /* failures must say why */
	return rc;
}

static int server_final_n(struct pg_scram_server *s, const char *msg, size_t n,
			  uint8_t proof[SB_SHA256_LEN])
{
	char err[128] = "";
	char *m = dup_exact(msg, n);
	int rc = pg_scram_server_final(s, m, n, proof, err, sizeof err);
	free(m);
	if (rc != 0 && err[0] == '\0')
		rc = 99;
	return rc;
}

static int client_final_n(struct pg_scram_client *c, const char *pw,
			  const char *msg, size_t n, char *out, size_t cap)
{
	char err[128] = "";
	char *m = dup_exact(msg, n);
	int rc = pg_scram_client_final(c, pw, m, n, out, cap, err, sizeof err);
	free(m);
	if (rc < 0 && err[0] == '\0')
		rc = 99;
	return rc;
}

static int client_verify_n(const struct pg_scram_client *c, const char *msg,
			   size_t n)
{
	char *m = dup_exact(msg, n);
	int rc = pg_scram_client_verify(c, m, n);
	free(m);
	return rc;
}

/* What the frontend does with the proof: ClientKey = proof XOR
 * HMAC(StoredKey, AuthMessage); accept iff SHA-256(ClientKey) == StoredKey. */
static int proof_ok(const struct pg_scram_server *s, const uint8_t proof[32],
		    const uint8_t stored_key[32])
{
	uint8_t sig[32], ck[32], h[32];
	sb_hmac_sha256(stored_key, 32, s->auth_message, s->auth_message_len, sig);
	for (int i = 0; i < 32; i++)
		ck[i] = proof[i] ^ sig[i];
	sb_sha256(ck, 32, h);
	return sb_ct_equal(h, stored_key, 32);
}

static void server_signature(const struct pg_scram_server *s,
			     const uint8_t server_key[32], uint8_t sig[32])
{
	sb_hmac_sha256(server_key, 32, s->auth_message, s->auth_message_len, sig);
}

static void test_exchange(void)
{
	const char *pw = "correct horse battery staple";
	uint8_t salt[16], stored[32], server_key[32], proof[32], sig[32];
	char cfirst[PG_SCRAM_MSG_MAX], cfinal[PG_SCRAM_MSG_MAX], sfinal[64];
	char err[128];
	struct pg_scram_server s;
	struct pg_scram_client c;

	CHECK(sb_random(salt, sizeof salt) == 0);
	CHECK(pg_scram_make_verifier(pw, strlen(pw), salt, sizeof salt, 4096,
				     stored, server_key) == 0);

	int n = pg_scram_client_first(&c, cfirst, sizeof cfirst);
	CHECK(n == 3 + 5 + PG_SCRAM_NONCE_B64);
	CHECK(strncmp(cfirst, "n,,n=,r=", 8) == 0);
	CHECK(strlen(c.nonce) == PG_SCRAM_NONCE_B64);
	CHECK(strchr(c.nonce, ',') == NULL);
	CHECK(pg_scram_client_first(&c, cfirst, 10) == -1); /* too small */
	n = pg_scram_client_first(&c, cfirst, sizeof cfirst);

	CHECK(server_first_n(&s, cfirst, (size_t)n, salt, sizeof salt, 4096) == 0);
	CHECK_STR(s.gs2_header, "n,,");
	CHECK_STR(s.client_first_bare, cfirst + 3);
	CHECK(strlen(s.nonce) == 2 * PG_SCRAM_NONCE_B64);
	CHECK(strncmp(s.nonce, c.nonce, PG_SCRAM_NONCE_B64) == 0);
	for (size_t i = 0; i < strlen(s.nonce); i++)
		CHECK(s.nonce[i] > 0x20 && s.nonce[i] < 0x7f && s.nonce[i] != ',');
	CHECK(strncmp(s.server_first, "r=", 2) == 0);
	CHECK(strstr(s.server_first, ",i=4096") != NULL);

	/* right password */
	n = client_final_n(&c, pw, s.server_first, strlen(s.server_first), cfinal,
			   sizeof cfinal);
	CHECK(n > 0 && (size_t)n == strlen(cfinal));
	CHECK(strncmp(cfinal, "c=biws,r=", 9) == 0);
	CHECK(server_final_n(&s, cfinal, (size_t)n, proof) == 0);
	CHECK(proof_ok(&s, proof, stored));
	server_signature(&s, server_key, sig);
	int m = pg_scram_server_final_message(sig, sfinal, sizeof sfinal);
	CHECK(m == 46 && sfinal[0] == 'v' && sfinal[1] == '=');
	CHECK(pg_scram_server_final_message(sig, sfinal, 10) == -1);
	m = pg_scram_server_final_message(sig, sfinal, sizeof sfinal);
	CHECK(client_verify_n(&c, sfinal, (size_t)m) == 0);

	/* A server that only guessed: flipped signature, error, wrong key. */
	char bad[64];
	memcpy(bad, sfinal, (size_t)m);
	bad[5] = bad[5] == 'A' ? 'B' : 'A';
	CHECK(client_verify_n(&c, bad, (size_t)m) == -1);
	CHECK(client_verify_n(&c, "e=invalid-proof", 15) == -1);
	uint8_t other[32];
	server_signature(&s, stored, other);
	m = pg_scram_server_final_message(other, bad, sizeof bad);
	CHECK(client_verify_n(&c, bad, (size_t)m) == -1);
	CHECK(client_verify_n(&c, sfinal, 45) == -1); /* truncated */

	/* wrong password: well-formed, but the proof does not check and the
	 * client rejects the real server's signature. */
	n = pg_scram_client_first(&c, cfirst, sizeof cfirst);
	CHECK(server_first_n(&s, cfirst, (size_t)n, salt, sizeof salt, 4096) == 0);
	n = client_final_n(&c, "wrong", s.server_first, strlen(s.server_first),
			   cfinal, sizeof cfinal);
	CHECK(n > 0);
	CHECK(server_final_n(&s, cfinal, (size_t)n, proof) == 0);
	CHECK(!proof_ok(&s, proof, stored));
	server_signature(&s, server_key, sig);
	m = pg_scram_server_final_message(sig, sfinal, sizeof sfinal);
	CHECK(client_verify_n(&c, sfinal, (size_t)m) == -1);

	/* gs2 flag 'y' needs c=eSws (base64 "y,,"); biws is a mismatch. */
	char yfirst[PG_SCRAM_MSG_MAX];
	n = pg_scram_client_first(&c, cfirst, sizeof cfirst);
	snprintf(yfirst, sizeof yfirst, "y%s", cfirst + 1);
	CHECK(server_first_n(&s, yfirst, strlen(yfirst), salt, sizeof salt, 4096) == 0);
	CHECK_STR(s.gs2_header, "y,,");
	n = client_final_n(&c, pw, s.server_first, strlen(s.server_first), cfinal,
			   sizeof cfinal);
	CHECK(n > 0);
	CHECK(server_final_n(&s, cfinal, (size_t)n, proof) == -1);
	char yfinal[PG_SCRAM_MSG_MAX];
	snprintf(yfinal, sizeof yfinal, "c=eSws%s", cfinal + 6);
	CHECK(server_final_n(&s, yfinal, strlen(yfinal), proof) == 0);
	/* the client's proof covered "c=biws", so it does not check here */
	CHECK(!proof_ok(&s, proof, stored));

	/* Out of sequence. */
	struct pg_scram_server fresh;
	memset(&fresh, 0, sizeof fresh);
	CHECK(server_final_n(&fresh, cfinal, strlen(cfinal), proof) == -1);
	struct pg_scram_client cfresh;
	memset(&cfresh, 0, sizeof cfresh);
	CHECK(pg_scram_client_final(&cfresh, pw, s.server_first,
				    strlen(s.server_first), cfinal, sizeof cfinal,
				    err, sizeof err) == -1);
	/* verify before final: signature unset, even for v=<32 zero bytes> */
	CHECK(client_verify_n(&cfresh, "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 46) == -1);
	n = pg_scram_client_first(&c, cfirst, sizeof cfirst);
	CHECK(client_verify_n(&c, "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 46) == -1);
}

static void test_rfc7677(void)
{
	uint8_t salt[16], stored[32], server_key[32], proof[32], want[32], sig[32];
	char out[PG_SCRAM_MSG_MAX], b64[64];
	struct pg_scram_client c;
	struct pg_scram_server s;

	CHECK(sb_base64_decode(RFC_SALT, 24, salt, sizeof salt) == 16);
	CHECK(pg_scram_make_verifier("pencil", 6, salt, 16, 4096, stored,
				     server_key) == 0);
	sb_base64_encode(stored, 32, b64, sizeof b64);
	CHECK_STR(b64, "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=");

	/* Client side. The RFC's client sends "n=user" and a fixed nonce, so
	 * set the state pg_scram_client_first would have produced (its fields
	 * are public) rather than add a test hook to the header. */
	memset(&c, 0, sizeof c);
	strcpy(c.nonce, RFC_CNONCE);
	strcpy(c.client_first_bare, "n=user,r=" RFC_CNONCE);
	int n = client_final_n(&c, "pencil", RFC_SFIRST, strlen(RFC_SFIRST), out,
			       sizeof out);
	CHECK(n == (int)strlen(RFC_CFINAL));
	CHECK_STR(out, RFC_CFINAL);
	CHECK(client_verify_n(&c, RFC_SFINAL, strlen(RFC_SFINAL)) == 0);

	/* Server side: parse the RFC's client-first, then pin the server nonce
	 * to the RFC's (ours is random) and replay the RFC's client-final. */
	const char *cfirst = "n,,n=user,r=" RFC_CNONCE;
	CHECK(server_first_n(&s, cfirst, strlen(cfirst), salt, 16, 4096) == 0);
	CHECK_STR(s.client_first_bare, "n=user,r=" RFC_CNONCE);
	CHECK(strncmp(s.server_first, "r=" RFC_CNONCE, 2 + strlen(RFC_CNONCE)) == 0);
	CHECK(strstr(s.server_first, ",s=" RFC_SALT ",i=4096") != NULL);
	strcpy(s.nonce, RFC_NONCE);
	strcpy(s.server_first, RFC_SFIRST);
	CHECK(server_final_n(&s, RFC_CFINAL, strlen(RFC_CFINAL), proof) == 0);
	CHECK_STR(s.auth_message,
		  "n=user,r=" RFC_CNONCE "," RFC_SFIRST "," RFC_CFINAL_NP);
	CHECK(s.auth_message_len == strlen(s.auth_message));
	CHECK(sb_base64_decode(RFC_PROOF, 44, want, sizeof want) == 32);
	CHECK(memcmp(proof, want, 32) == 0);
	CHECK(proof_ok(&s, proof, stored));
	server_signature(&s, server_key, sig);
	n = pg_scram_server_final_message(sig, out, sizeof out);
	CHECK(n == (int)strlen(RFC_SFINAL));
	CHECK_STR(out, RFC_SFINAL);
}

struct bad_case {
	const char *msg;
	size_t len; /* 0: strlen(msg) */
	const char *why;
};

#define L(s) s, sizeof(s) - 1 /* literal with its exact length (keeps NULs) */

static void test_malformed_server_first(void)
{
	static const uint8_t salt[4] = {1, 2, 3, 4};
	static const struct bad_case cases[] = {
		{L(""), "empty"},
		{L("n,,n=,r="), "empty nonce"},
		{L("n,,n=,"), "missing nonce"},
		{L("n,,n="), "missing nonce, no comma"},
		{L("n,,r=abc"), "missing user"},
		{L("n,,r=abc,n="), "wrong order"},
		{L("n,,"), "no bare"},
		{L("n,"), "truncated gs2 header"},
		{L("n"), "flag only"},
		{L(",,n=,r=abc"), "no flag"},
		{L("x,,n=,r=abc"), "unknown flag"},
		{L("nn,,n=,r=abc"), "long flag"},
		{L("p=tls-server-end-point,,n=,r=abc"), "channel binding"},
		{L("p,,n=,r=abc"), "bare p"},
		{L("n,a=admin,n=,r=abc"), "authzid"},
		{L("n,a=,n=,r=abc"), "empty a="},
		{L("n,zzz,n=,r=abc"), "junk authzid"},
		{L("n,,m=ext,n=,r=abc"), "mandatory extension"},
		{L("n,,n=a=b,r=abc"), "bad saslname escape"},
		{L("n,,n=a=2,r=abc"), "short saslname escape"},
		{L("n,,n=,r=ab c"), "space in nonce"},
		{L("n,,n=,r=ab\x7f"), "DEL in nonce"},
		{L("n,,n=,r=ab\xc3\xa9"), "non-ASCII nonce"},
		{L("n,,n=,r=abc,"), "trailing comma"},
		{L("n,,n=,r=abc,x"), "bad extension"},
		{L("n,,n=,r=abc,x="), "empty extension"},
		{L("n,,n=,r=abc,1=2"), "extension not alpha"},
		{L("n,,n=,r=a\0c"), "embedded NUL"},
		{L("n,,n=,r=abc\0"), "trailing NUL"},
		{L("n,,n=\0,r=abc"), "NUL in user"},
		{L("N,,n=,r=abc"), "upper-case flag"},
		{L("n,,n=,R=abc"), "upper-case attr"},
		{L("n,,n=,r"), "attr without ="},
	};
	struct pg_scram_server s;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = server_first_n(&s, cases[i].msg, cases[i].len, salt, 4, 4096);
		if (rc != -1)
			fprintf(stderr, "server_first accepted: %s\n", cases[i].why);
		CHECK(rc == -1);
		CHECK(s.nonce[0] == '\0' && s.server_first[0] == '\0');
	}

	/* The well-formed variants around those cases are accepted. */
	CHECK(server_first_n(&s, L("n,,n=,r=abc"), salt, 4, 4096) == 0);
	CHECK(server_first_n(&s, L("y,,n=,r=abc"), salt, 4, 4096) == 0);
	CHECK(server_first_n(&s, L("n,,n=*,r=abc"), salt, 4, 4096) == 0);
	CHECK(server_first_n(&s, L("n,,n=a=2Cb=3D,r=abc"), salt, 4, 4096) == 0);
	CHECK(server_first_n(&s, L("n,,n=,r=abc,x=1,y=2"), salt, 4, 4096) == 0);
	CHECK_STR(s.client_first_bare, "n=,r=abc,x=1,y=2");

	/* Oversize: at and beyond the limit, not NUL-terminated. */
	char big[PG_SCRAM_MSG_MAX + 100];
	memcpy(big, "n,,n=,r=", 8);
	memset(big + 8, 'A', sizeof big - 8);
	CHECK(server_first_n(&s, big, sizeof big, salt, 4, 4096) == -1);
	CHECK(server_first_n(&s, big, PG_SCRAM_MSG_MAX, salt, 4, 4096) == -1);
	/* a client nonce so long the combined nonce cannot fit */
	CHECK(server_first_n(&s, big, PG_SCRAM_MSG_MAX - 1, salt, 4, 4096) == -1);
	/* long but fitting */
	CHECK(server_first_n(&s, big, 600, salt, 4, 4096) == 0);
	CHECK(strlen(s.nonce) == 592 + PG_SCRAM_NONCE_B64);
	/* long nonce plus a large salt: server-first would not fit */
	uint8_t bigsalt[600] = {0};
	CHECK(server_first_n(&s, big, 600, bigsalt, sizeof bigsalt, 4096) == -1);
	/* bad verifier parameters */
	CHECK(server_first_n(&s, L("n,,n=,r=abc"), salt, 0, 4096) == -1);
	CHECK(server_first_n(&s, L("n,,n=,r=abc"), salt, 4, 0) == -1);
	char err[64];
	CHECK(pg_scram_server_first(&s, NULL, 0, salt, 4, 4096, err, sizeof err) == -1);
	CHECK(pg_scram_server_first(&s, "n,,n=,r=abc", 11, salt, 4, 4096, NULL, 0) == 0);
	CHECK(pg_scram_server_first(&s, "p=x,,n=,r=abc", 13, salt, 4, 4096, err, 1) == -1);
	CHECK(err[0] == '\0');
	CHECK(pg_scram_server_first(&s, "p=x,,n=,r=abc", 13, salt, 4, 4096, err, sizeof err) == -1);
	CHECK(strstr(err, "channel binding") != NULL);
}

/* Fill template t into out: {N} is the nonce, {P} the proof, {P43} and
 * {P40} its first 43 / 40 characters. */
static void expand(char *out, size_t cap, const char *t, const char *nonce,
		   const char *proof)
{
	size_t o = 0;
	while (*t && o + 1 < cap) {
		const char *ins = NULL;
		size_t inlen = 0, skip = 0;
		if (strncmp(t, "{N}", 3) == 0)
			ins = nonce, inlen = strlen(nonce), skip = 3;
		else if (strncmp(t, "{P}", 3) == 0)
			ins = proof, inlen = strlen(proof), skip = 3;
		else if (strncmp(t, "{P43}", 5) == 0)
			ins = proof, inlen = 43, skip = 5;
		else if (strncmp(t, "{P40}", 5) == 0)
			ins = proof, inlen = 40, skip = 5;
		if (ins) {
			if (o + inlen >= cap)
				break;
			memcpy(out + o, ins, inlen);
			o += inlen;
			t += skip;
		} else {
			out[o++] = *t++;
		}
	}
	out[o] = '\0';
}

static void test_malformed_server_final(void)
{
	static const uint8_t salt[4] = {1, 2, 3, 4};
	struct pg_scram_server s;
	uint8_t proof[32];
	char good[256], m[512];
	const char *p44 = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

	CHECK(server_first_n(&s, L("n,,n=,r=abc"), salt, 4, 4096) == 0);
	const char *nonce = s.nonce;
	expand(good, sizeof good, "c=biws,r={N},p={P}", nonce, p44);
	CHECK(server_final_n(&s, good, strlen(good), proof) == 0);
	expand(m, sizeof m, "c=biws,r={N},x=ext,p={P}", nonce, p44);
	CHECK(server_final_n(&s, m, strlen(m), proof) == 0); /* extension ok */

	const char *tmpl[] = {
		"",
		"c=biws",
		"c=biws,r={N}",
		"c=biws,r={N},",
		"c=biws,r={N},p=",
		"c=biws,p={P}",
		"r={N},c=biws,p={P}",
		"c=biws,p={P},r={N}",
		"c=eSws,r={N},p={P}",
		"c=cD10bHMtc2VydmVyLWVuZC1wb2ludCws,r={N},p={P}",
		"c=biw,r={N},p={P}",
		"c=biws=,r={N},p={P}",
		"c=,r={N},p={P}",
		"c=biws,r={N}X,p={P}",
		"c=biws,r=X{N},p={P}",
		"c=biws,r=abc,p={P}",
		"c=biws,r={N},p={P},x=1",
		"c=biws,r={N},p={P},",
		"c=biws,r={N},p={P},p={P}",
		"c=biws,r={N},p={P43}",
		"c=biws,r={N},p={P40}",
		"c=biws,r={N},p={P}AAAA",
		"c=biws,r={N},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",
		"c=biws,r={N},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ==",
		"c=biws,r={N},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndV!=",
		"c=biws,r={N},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQA",
		"c=biws,r={N},1=x,p={P}",
		"c=biws,r={N},x,p={P}",
		"C=biws,r={N},p={P}",
		"c=biws,,r={N},p={P}",
		"c=biws,r={N},,p={P}",
	};
	for (size_t i = 0; i < sizeof tmpl / sizeof tmpl[0]; i++) {
		expand(m, sizeof m, tmpl[i], nonce, p44);
		int rc = server_final_n(&s, m, strlen(m), proof);
		if (rc != -1)
			fprintf(stderr, "server_final accepted: %s\n", m);
		CHECK(rc == -1);
		CHECK(s.auth_message_len == 0);
	}
	/* embedded NUL, truncation, oversize */
	size_t gl = strlen(good);
	memcpy(m, good, gl);
	m[9] = '\0';
	CHECK(server_final_n(&s, m, gl, proof) == -1);
	memcpy(m, good, gl);
	m[gl - 1] = '\0';
	CHECK(server_final_n(&s, m, gl, proof) == -1);
	for (size_t cut = 0; cut < gl; cut++)
		CHECK(server_final_n(&s, good, cut, proof) == -1);
	char big[PG_SCRAM_MSG_MAX + 10];
	memset(big, 'A', sizeof big);
	memcpy(big, good, gl);
	CHECK(server_final_n(&s, big, sizeof big, proof) == -1);
	CHECK(server_final_n(&s, good, gl, proof) == 0); /* state intact */
	/* A failed server_first leaves nothing to finish. */
	CHECK(server_first_n(&s, L("p=x,,n=,r=abc"), salt, 4, 4096) == -1);
	CHECK(server_final_n(&s, good, gl, proof) == -1);
}

static void test_malformed_client(void)
{
	struct pg_scram_client c;
	char out[PG_SCRAM_MSG_MAX], m[PG_SCRAM_MSG_MAX + 64];
	const char *cn = "rOprNGfwEbeRWgbNEkqO";

	memset(&c, 0, sizeof c);
	strcpy(c.nonce, cn);
	strcpy(c.client_first_bare, "n=,r=rOprNGfwEbeRWgbNEkqO");

	static const struct bad_case cases[] = {
		{L(""), "empty"},
		{L("r=rOprNGfwEbeRWgbNEkqO"), "nonce only"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ=="), "no i"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,i=4096"), "no s"},
		{L("s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"), "no r"},
		{L("s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOxyz,i=4096"), "order"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,i=4096,s=W22ZaJ0SNY7soEsUEjb6gQ=="), "order 2"},
		{L("m=x,r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"), "mext"},
		{L("r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"), "nonce not longer"},
		{L("r=rOprNGfwEbeRWgbNEkq,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"), "nonce shorter"},
		{L("r=XOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"), "nonce mismatch"},
		{L("r=rOprNGfwEbeRWgbNEkqOx z,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"), "space in nonce"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096"), "bad b64"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7so!sUEjb6gQ==,i=4096"), "bad b64 char"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,s=,i=4096"), "empty salt"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095"), "i low"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10000001"), "i high"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999999999999"), "i huge"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-4096"), "i negative"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=04096"), "i leading 0"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096x"), "i junk"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i= 4096"), "i space"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i="), "i empty"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"), "trailing ,"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,x=1"), "extension"},
		{L("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096\0"), "NUL"},
		{L("r=rOprNGfwEbeRWgbNEkqOx\0z,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"), "NUL in nonce"},
		{L("e=other-error"), "error"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = client_final_n(&c, "pencil", cases[i].msg, cases[i].len, out,
					sizeof out);
		if (rc != -1)
			fprintf(stderr, "client_final accepted: %s\n", cases[i].why);
		CHECK(rc == -1);
		CHECK(out[0] == '\0');
		/* nothing to verify against after a failure */
		CHECK(client_verify_n(&c, RFC_SFINAL, strlen(RFC_SFINAL)) == -1);
	}

	const char *good = "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
	size_t gl = strlen(good);
	for (size_t cut = 0; cut < gl; cut++)
		CHECK(client_final_n(&c, "pencil", good, cut, out, sizeof out) == -1);
	memset(m, 'A', sizeof m);
	memcpy(m, good, gl);
	m[gl] = ',';
	CHECK(client_final_n(&c, "pencil", m, sizeof m, out, sizeof out) == -1);
	CHECK(client_final_n(&c, "pencil", good, gl, out, 20) == -1); /* small out */
	CHECK(client_final_n(&c, "pencil", good, gl, out, sizeof out) > 0);
	/* the verify side: only "v=" + exactly 32 bytes of base64 */
	static const struct bad_case v[] = {
		{L(""), "empty"},
		{L("v="), "empty v"},
		{L("e=invalid-proof"), "error"},
		{L("x=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="), "wrong attr"},
		{L("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4"), "short"},
		{L("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,x=1"), "extension"},
		{L("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4\0"), "NUL"},
		{L("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G!="), "bad b64"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		CHECK(client_verify_n(&c, v[i].msg, v[i].len) == -1);
	CHECK(pg_scram_client_verify(&c, NULL, 0) == -1);
}

static void test_md5(void)
{
	/* Expected value computed with:
	 *   python3 -c "import hashlib; i=hashlib.md5(b'secret'+b'postgres')
	 *     .hexdigest(); print('md5'+hashlib.md5(i.encode()
	 *     +bytes([1,2,3,4])).hexdigest())"
	 * (inner md5hex("secretpostgres") = 53f48b7c4b76a86ce72276c5755f217d) */
	static const uint8_t salt[4] = {0x01, 0x02, 0x03, 0x04};
	char out[36];
	memset(out, 'X', sizeof out);
	pg_md5_password("postgres", "secret", salt, out);
	CHECK_STR(out, "md5bb41a296aab6baccb36ff243a562abff");
	pg_md5_password("postgres", "Secret", salt, out);
	CHECK(strcmp(out, "md5bb41a296aab6baccb36ff243a562abff") != 0);
	CHECK(strlen(out) == 35 && strncmp(out, "md5", 3) == 0);
}

int main(void)
{
	test_exchange();
	test_rfc7677();
	test_malformed_server_first();
	test_malformed_server_final();
	test_malformed_client();
	test_md5();
	return UNIT_DONE("pg_scram");
}
