/* my_auth_ed25519: MariaDB client_ed25519 signatures (see my_auth_ed25519.h).
 *
 * Written from RFC 8032: section 5.1 (curve edwards25519: p, d, B, L),
 * 5.1.2 (point encoding), 5.1.4 (addition in extended coordinates, a = -1),
 * 5.1.5 (key derivation) and 5.1.6 (signing). Points are (X:Y:Z:T) with
 * x = X/Z, y = Y/Z, x*y = T/Z. The addition formula is complete on this
 * curve (a = -1 is a square, d is not), so it doubles a point as well and
 * the neutral element (0:1:1:0) needs no special case.
 */
#include "protocols/mysql/my_auth_ed25519.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

/* RFC 8032 section 5.1, edwards25519. d = -121665/121666 mod p is computed;
 * the base point is given in decimal there (y = 4/5, x even). */
#define ED_BX "15112221349535400772501151409588531511454012693041857206046113283949847762202"
#define ED_BY "46316835694926478169428394003475163141307993866256225615783033603165251855960"
#define ED_L_LOW "27742317777372353535851937790883648493" /* L = 2^252 + this */

struct ed_point {
	BIGNUM *X, *Y, *Z, *T; /* owned */
};

struct ed_curve {
	BN_CTX *bn;      /* owned: temporaries (secure, cleared when freed) */
	BIGNUM *p;       /* 2^255 - 19 */
	BIGNUM *d2;      /* 2 * d mod p, as the addition formula uses it */
	BIGNUM *L;       /* order of B */
	struct ed_point B;
};

static int point_init(struct ed_point *pt)
{
	pt->X = BN_secure_new();
	pt->Y = BN_secure_new();
	pt->Z = BN_secure_new();
	pt->T = BN_secure_new();
	return pt->X && pt->Y && pt->Z && pt->T;
}

static void point_free(struct ed_point *pt)
{
	BN_clear_free(pt->X);
	BN_clear_free(pt->Y);
	BN_clear_free(pt->Z);
	BN_clear_free(pt->T);
	memset(pt, 0, sizeof *pt);
}

/* The neutral element (0, 1). */
static int point_zero(struct ed_point *pt)
{
	BN_zero(pt->X);
	BN_zero(pt->T);
	return BN_one(pt->Y) && BN_one(pt->Z);
}

static void curve_free(struct ed_curve *e)
{
	point_free(&e->B);
	BN_free(e->p);
	BN_free(e->d2);
	BN_free(e->L);
	BN_CTX_free(e->bn);
	memset(e, 0, sizeof *e);
}

static int curve_init(struct ed_curve *e)
{
	memset(e, 0, sizeof *e);
	e->bn = BN_CTX_secure_new();
	e->p = BN_new();
	e->d2 = BN_new();
	e->L = BN_new();
	if (!e->bn || !e->p || !e->d2 || !e->L || !point_init(&e->B))
		return 0;
	BN_CTX_start(e->bn);
	BIGNUM *t = BN_CTX_get(e->bn), *u = BN_CTX_get(e->bn);
	/* p = 2^255 - 19; L = 2^252 + 27742317777372353535851937790883648493 */
	int ok = u && BN_set_bit(e->p, 255) && BN_sub_word(e->p, 19);
	ok = ok && BN_dec2bn(&t, ED_L_LOW) && BN_set_bit(u, 252) && BN_add(e->L, u, t);
	/* d = -121665 / 121666 mod p, then doubled */
	ok = ok && BN_set_word(t, 121666) && BN_mod_inverse(u, t, e->p, e->bn) &&
	     BN_set_word(t, 121665) && BN_sub(t, e->p, t) && BN_mod_mul(u, u, t, e->p, e->bn) &&
	     BN_mod_add(e->d2, u, u, e->p, e->bn);
	/* B in extended coordinates: Z = 1, T = x * y */
	ok = ok && BN_dec2bn(&e->B.X, ED_BX) && BN_dec2bn(&e->B.Y, ED_BY) && BN_one(e->B.Z) &&
	     BN_mod_mul(e->B.T, e->B.X, e->B.Y, e->p, e->bn);
	BN_CTX_end(e->bn);
	return ok;
}

/* r = a + b (RFC 8032 section 5.1.4). r may be a or b. */
static int point_add(struct ed_curve *e, struct ed_point *r, const struct ed_point *a,
		     const struct ed_point *b)
{
	BN_CTX *bn = e->bn;
	const BIGNUM *p = e->p;
	BN_CTX_start(bn);
	BIGNUM *A = BN_CTX_get(bn), *B = BN_CTX_get(bn), *C = BN_CTX_get(bn),
	       *D = BN_CTX_get(bn), *E = BN_CTX_get(bn), *F = BN_CTX_get(bn),
	       *G = BN_CTX_get(bn), *H = BN_CTX_get(bn), *t1 = BN_CTX_get(bn),
	       *t2 = BN_CTX_get(bn);
	int ok = t2 != NULL; /* BN_CTX_get fails from then on once it failed */
	/* A = (Y1 - X1) * (Y2 - X2); B = (Y1 + X1) * (Y2 + X2) */
	ok = ok && BN_mod_sub(t1, a->Y, a->X, p, bn) && BN_mod_sub(t2, b->Y, b->X, p, bn) &&
	     BN_mod_mul(A, t1, t2, p, bn);
	ok = ok && BN_mod_add(t1, a->Y, a->X, p, bn) && BN_mod_add(t2, b->Y, b->X, p, bn) &&
	     BN_mod_mul(B, t1, t2, p, bn);
	/* C = T1 * 2 * d * T2; D = Z1 * 2 * Z2 */
	ok = ok && BN_mod_mul(t1, a->T, b->T, p, bn) && BN_mod_mul(C, t1, e->d2, p, bn);
	ok = ok && BN_mod_mul(t1, a->Z, b->Z, p, bn) && BN_mod_add(D, t1, t1, p, bn);
	/* E = B - A, F = D - C, G = D + C, H = B + A */
	ok = ok && BN_mod_sub(E, B, A, p, bn) && BN_mod_sub(F, D, C, p, bn) &&
	     BN_mod_add(G, D, C, p, bn) && BN_mod_add(H, B, A, p, bn);
	/* a and b are not read below, so r may be either of them */
	ok = ok && BN_mod_mul(r->X, E, F, p, bn) && BN_mod_mul(r->Y, G, H, p, bn) &&
	     BN_mod_mul(r->T, E, H, p, bn) && BN_mod_mul(r->Z, F, G, p, bn);
	BN_CTX_end(bn);
	return ok;
}

/* Swap the coordinates of a and b when bit is 1, without a branch on it. */
static void point_cswap(struct ed_point *a, struct ed_point *b, int bit)
{
	uintptr_t m = (uintptr_t)0 - (uintptr_t)(bit & 1);
	BIGNUM **pa[4] = {&a->X, &a->Y, &a->Z, &a->T};
	BIGNUM **pb[4] = {&b->X, &b->Y, &b->Z, &b->T};
	for (int i = 0; i < 4; i++) {
		uintptr_t x = ((uintptr_t)*pa[i] ^ (uintptr_t)*pb[i]) & m;
		*pa[i] = (BIGNUM *)((uintptr_t)*pa[i] ^ x);
		*pb[i] = (BIGNUM *)((uintptr_t)*pb[i] ^ x);
	}
}

/* out = encoding of [k]B, k < 2^256: little-endian y, the low bit of x in
 * the top bit of the last byte (RFC 8032 section 5.1.2). */
static int scalar_mult_base(struct ed_curve *e, uint8_t out[32], const BIGNUM *k)
{
	struct ed_point q = {0}, t = {0};
	int ok = point_init(&q) && point_init(&t) && point_zero(&q);
	/* Double and always add: the same two additions for every bit; the
	 * sum is kept only when the bit is set. */
	for (int i = 255; ok && i >= 0; i--) {
		ok = point_add(e, &q, &q, &q) && point_add(e, &t, &q, &e->B);
		if (ok)
			point_cswap(&q, &t, BN_is_bit_set(k, i));
	}
	BN_CTX_start(e->bn);
	BIGNUM *zi = BN_CTX_get(e->bn), *x = BN_CTX_get(e->bn), *y = BN_CTX_get(e->bn);
	ok = ok && y != NULL;
	if (ok)
		BN_set_flags(q.Z, BN_FLG_CONSTTIME);
	ok = ok && BN_mod_inverse(zi, q.Z, e->p, e->bn) && BN_mod_mul(x, q.X, zi, e->p, e->bn) &&
	     BN_mod_mul(y, q.Y, zi, e->p, e->bn) && BN_bn2lebinpad(y, out, 32) == 32;
	if (ok)
		out[31] |= (uint8_t)(BN_is_odd(x) << 7);
	BN_CTX_end(e->bn);
	point_free(&q);
	point_free(&t);
	return ok;
}

/* out = SHA-512(a || b || c) read as a little-endian number, mod L. */
static int hash_mod_l(struct ed_curve *e, BIGNUM *out, const void *a, size_t al, const void *b,
		      size_t bl, const void *c, size_t cl)
{
	uint8_t h[64];
	unsigned hl = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestInit_ex(md, EVP_sha512(), NULL) &&
		 EVP_DigestUpdate(md, a, al) && EVP_DigestUpdate(md, b, bl) &&
		 EVP_DigestUpdate(md, c, cl) && EVP_DigestFinal_ex(md, h, &hl) && hl == 64;
	EVP_MD_CTX_free(md);
	ok = ok && BN_lebin2bn(h, 64, out) && BN_nnmod(out, out, e->L, e->bn);
	OPENSSL_cleanse(h, sizeof h);
	return ok;
}

int my_ed25519_sign(const void *pw, size_t pwlen, const uint8_t *msg, size_t msglen,
		    uint8_t sig[MY_ED25519_SIG_LEN], uint8_t *pub)
{
	struct ed_curve e;
	uint8_t az[64], A[32];
	unsigned azl = 0;
	BIGNUM *s = BN_secure_new(), *r = BN_secure_new(), *k = BN_secure_new();
	static const uint8_t none = 0;
	if (!msg)
		msg = &none; /* msglen is 0 then; EVP wants a pointer */
	if (!pw)
		pw = &none;
	int ok = curve_init(&e) && s && r && k;
	/* 5.1.5: az = SHA-512(secret); the low half, clamped, is the scalar s
	 * (low 3 bits cleared, bit 255 cleared, bit 254 set). */
	ok = ok && EVP_Digest(pw, pwlen, az, &azl, EVP_sha512(), NULL) && azl == 64;
	if (ok) {
		az[0] &= 248;
		az[31] &= 127;
		az[31] |= 64;
	}
	ok = ok && BN_lebin2bn(az, 32, s) && scalar_mult_base(&e, A, s);
	/* 5.1.6: r = SHA-512(prefix || M) mod L, R = [r]B */
	ok = ok && hash_mod_l(&e, r, az + 32, 32, msg, msglen, "", 0) &&
	     scalar_mult_base(&e, sig, r);
	/* k = SHA-512(R || A || M) mod L, S = (r + k * s) mod L */
	ok = ok && hash_mod_l(&e, k, sig, 32, A, 32, msg, msglen) &&
	     BN_mod_mul(k, k, s, e.L, e.bn) && BN_mod_add(k, k, r, e.L, e.bn) &&
	     BN_bn2lebinpad(k, sig + 32, 32) == 32;
	if (ok && pub)
		memcpy(pub, A, sizeof A);
	if (!ok)
		OPENSSL_cleanse(sig, MY_ED25519_SIG_LEN);
	OPENSSL_cleanse(az, sizeof az);
	BN_clear_free(s);
	BN_clear_free(r);
	BN_clear_free(k);
	curve_free(&e);
	return ok ? 0 : -1;
}
