/*
 * crypto.c: ColonyOS identities and signatures.  secp256k1 recoverable
 * ECDSA over SHA3-256 (FIPS 202, not Keccak) of the base64 payload text;
 * an id is the SHA3-256 of the lowercase hex text of the uncompressed
 * public key.  crypto_recover_id() mirrors the real server's checks and
 * error texts (colonies internal/crypto + btcec/dcrd RecoverCompact), so
 * minicolonies answers bad signatures exactly as the real server does.
 */
#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/hmac.h>
#include <nettle/sha2.h>
#include <nettle/sha3.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "colonies.h"

static secp256k1_context	*crypto_ctx;

/* The group order n, p - n and n / 2, big-endian. */
static const unsigned char crypto_n[32] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
	0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b,
	0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41
};
static const unsigned char crypto_p_minus_n[32] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x45, 0x51, 0x23, 0x19, 0x50, 0xb7, 0x5f, 0xc4,
	0x40, 0x2d, 0xa1, 0x72, 0x2f, 0xc9, 0xba, 0xee
};
static const unsigned char crypto_half_n[32] = {
	0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d,
	0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0
};

static const char crypto_hexdigits[] = "0123456789abcdef";

int
crypto_random(void *buf, size_t len)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
crypto_init(void)
{
	unsigned char	seed[32];
	int		ret;

	if (crypto_ctx != NULL)
		return 0;
	crypto_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	if (crypto_ctx == NULL)
		return -1;
	/* Blinding against side channels; the key itself is never reused. */
	if (crypto_random(seed, sizeof seed) == -1) {
		secp256k1_context_destroy(crypto_ctx);
		crypto_ctx = NULL;
		return -1;
	}
	ret = secp256k1_context_randomize(crypto_ctx, seed);
	explicit_bzero(seed, sizeof seed);
	if (!ret) {
		secp256k1_context_destroy(crypto_ctx);
		crypto_ctx = NULL;
		return -1;
	}
	return 0;
}

static void
crypto_need_init(void)
{
	if (crypto_ctx == NULL && crypto_init() == -1)
		fatalx("crypto: cannot initialise secp256k1/SHA3-256");
}

/*
 * nettle's SHA3-256 (FIPS 202), not OpenSSL's: an EVP fetch initialises
 * OpenSSL 3's provider machinery, ~2 MB of resident pages in every
 * process, for one hash; nettle has no global state at all.
 */
void
crypto_sha3_256(const void *buf, size_t len, unsigned char out[32])
{
	struct sha3_256_ctx	ctx;

	sha3_256_init(&ctx);
	sha3_256_update(&ctx, len, buf);
	sha3_256_digest(&ctx, SHA3_256_DIGEST_SIZE, out);
}

void
crypto_hex(const unsigned char *in, size_t len, char *out)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		out[2 * i] = crypto_hexdigits[in[i] >> 4];
		out[2 * i + 1] = crypto_hexdigits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

/*
 * Decode len hex characters (either case) into out (outlen bytes).
 * Returns the number of bytes written, or -1 for an odd length, a non-hex
 * character or an output buffer too small.
 */
int
crypto_unhex(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	size_t	i;
	int	hi, lo;

	if (len % 2 != 0 || len / 2 > outlen || len / 2 > INT32_MAX)
		return -1;
	for (i = 0; i < len / 2; i++) {
		hi = hexval((unsigned char)in[2 * i]);
		lo = hexval((unsigned char)in[2 * i + 1]);
		if (hi == -1 || lo == -1)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return (int)(len / 2);
}

/* Fill pubkey and id of a key whose seckey is already valid. */
static int
crypto_key_complete(struct crypto_key *key, char *cause, size_t causelen)
{
	secp256k1_pubkey	pub;
	size_t			publen = sizeof key->pubkey;
	char			hex[2 * sizeof key->pubkey + 1];
	unsigned char		digest[32];

	if (!secp256k1_ec_pubkey_create(crypto_ctx, &pub, key->seckey) ||
	    !secp256k1_ec_pubkey_serialize(crypto_ctx, key->pubkey, &publen,
	    &pub, SECP256K1_EC_UNCOMPRESSED) || publen != sizeof key->pubkey) {
		crypto_key_clear(key);
		snprintf(cause, causelen, "cannot derive the public key");
		return -1;
	}
	crypto_hex(key->pubkey, sizeof key->pubkey, hex);
	crypto_sha3_256(hex, 2 * sizeof key->pubkey, digest);
	crypto_hex(digest, sizeof digest, key->id);
	return 0;
}

int
crypto_key_parse(struct crypto_key *key, const char *s, size_t len,
    char *cause, size_t causelen)
{
	crypto_need_init();
	memset(key, 0, sizeof *key);
	if (len != 64) {
		snprintf(cause, causelen,
		    "private key must be 64 hex characters (got %zu)", len);
		return -1;
	}
	if (crypto_unhex(s, len, key->seckey, sizeof key->seckey) != 32) {
		crypto_key_clear(key);
		snprintf(cause, causelen,
		    "private key contains a non-hex character");
		return -1;
	}
	if (!secp256k1_ec_seckey_verify(crypto_ctx, key->seckey)) {
		crypto_key_clear(key);
		snprintf(cause, causelen,
		    "private key out of range (must be 0 < d < n)");
		return -1;
	}
	return crypto_key_complete(key, cause, causelen);
}

int
crypto_key_generate(struct crypto_key *key, char *cause, size_t causelen)
{
	crypto_need_init();
	memset(key, 0, sizeof *key);
	do {
		if (crypto_random(key->seckey, sizeof key->seckey) == -1) {
			crypto_key_clear(key);
			snprintf(cause, causelen, "getrandom: %s",
			    strerror(errno));
			return -1;
		}
	} while (!secp256k1_ec_seckey_verify(crypto_ctx, key->seckey));
	return crypto_key_complete(key, cause, causelen);
}

/*
 * Derive the key of one slot from a secret seed, so each bee keeps a
 * stable executor identity across restarts while only one secret is
 * configured:
 *
 *	d = SHA3-256(seed || label || 0x00 || decimal(slot))
 *
 * and, in the (2^-128) case that d is 0 or >= n, for counter c = 1, 2, ...
 *
 *	d = SHA3-256(seed || label || 0x00 || decimal(slot) || 0x00 ||
 *	    decimal(c))
 *
 * until valid.  A NULL label is the empty string.
 */
int
crypto_key_derive(struct crypto_key *key, const unsigned char *seed,
    size_t seedlen, const char *label, unsigned int slot, char *cause,
    size_t causelen)
{
	unsigned char	*buf;
	size_t		 lablen, len, n;
	unsigned int	 counter;
	int		 ret;

	crypto_need_init();
	memset(key, 0, sizeof *key);
	if (seed == NULL || seedlen == 0) {
		snprintf(cause, causelen, "empty key seed");
		return -1;
	}
	if (label == NULL)
		label = "";
	lablen = strlen(label);
	len = seedlen + lablen + 1 + 12 + 1 + 12;
	if ((buf = malloc(len)) == NULL) {
		snprintf(cause, causelen, "malloc: %s", strerror(errno));
		return -1;
	}
	memcpy(buf, seed, seedlen);
	memcpy(buf + seedlen, label, lablen);
	n = seedlen + lablen;
	buf[n++] = '\0';
	n += (size_t)snprintf((char *)buf + n, 12, "%u", slot);
	for (counter = 0;; counter++) {
		if (counter == 0)
			crypto_sha3_256(buf, n, key->seckey);
		else {
			buf[n] = '\0';
			ret = snprintf((char *)buf + n + 1, 12, "%u", counter);
			crypto_sha3_256(buf, n + 1 + (size_t)ret, key->seckey);
		}
		if (secp256k1_ec_seckey_verify(crypto_ctx, key->seckey))
			break;
	}
	explicit_bzero(buf, len);
	free(buf);
	return crypto_key_complete(key, cause, causelen);
}

void
crypto_key_clear(struct crypto_key *key)
{
	explicit_bzero(key, sizeof *key);
}

/*
 * libsecp256k1's own RFC 6979 nonce (secp256k1_nonce_function_rfc6979,
 * HMAC-SHA256 DRBG over key || message mod n, no extra data), byte for
 * byte, on nettle's SHA-256: the library's portable C SHA-256 took 80,000
 * instructions a signature (callgrind), an eighth of a bee's task; nettle
 * uses the CPU's SHA extensions where there are some.  The signatures
 * are the same (t/10-crypto checks them against the Go client's, and
 * this function against the library's, retries and m >= n included).
 */
static void
crypto_hmac(const unsigned char k[32], const unsigned char v[32],
    const unsigned char *extra, size_t extralen, unsigned char out[32])
{
	struct hmac_sha256_ctx	h;

	hmac_sha256_set_key(&h, 32, k);
	hmac_sha256_update(&h, 32, v);
	if (extralen > 0)
		hmac_sha256_update(&h, extralen, extra);
	hmac_sha256_digest(&h, SHA256_DIGEST_SIZE, out);
}

int
crypto_nonce_rfc6979(unsigned char *nonce32, const unsigned char *msg32,
    const unsigned char *key32, const unsigned char *algo16, void *data,
    unsigned int counter)
{
	unsigned char	in[1 + 64], k[32], v[32];
	unsigned int	i, borrow, d;

	if (algo16 != NULL || data != NULL)
		return 0;	/* never asked of us: crypto_sign passes none */
	/* key || (message mod n): n <= m < 2^256 loses n once. */
	memcpy(in + 1, key32, 32);
	memcpy(in + 33, msg32, 32);
	if (memcmp(msg32, crypto_n, 32) >= 0) {
		borrow = 0;
		for (i = 32; i > 0; i--) {
			d = (unsigned int)msg32[i - 1] - crypto_n[i - 1] -
			    borrow;
			in[32 + i] = (unsigned char)d;
			borrow = (d >> 8) & 1;
		}
	}
	memset(v, 0x01, sizeof v);
	memset(k, 0x00, sizeof k);
	in[0] = 0x00;
	crypto_hmac(k, v, in, sizeof in, k);
	crypto_hmac(k, v, NULL, 0, v);
	in[0] = 0x01;
	crypto_hmac(k, v, in, sizeof in, k);
	crypto_hmac(k, v, NULL, 0, v);
	for (i = 0; i <= counter; i++) {
		if (i > 0) {
			in[0] = 0x00;
			crypto_hmac(k, v, in, 1, k);
			crypto_hmac(k, v, NULL, 0, v);
		}
		crypto_hmac(k, v, NULL, 0, v);
	}
	memcpy(nonce32, v, 32);
	explicit_bzero(in, sizeof in);
	explicit_bzero(k, sizeof k);
	explicit_bzero(v, sizeof v);
	return 1;
}

int
crypto_sign(const struct crypto_key *key, const char *msg, size_t len,
    char *sighex)
{
	secp256k1_ecdsa_recoverable_signature	sig;
	unsigned char				digest[32], raw[65];
	int					recid;

	crypto_need_init();
	crypto_sha3_256(msg, len, digest);
	/* RFC6979, as the Go side (btcec) does. */
	if (!secp256k1_ecdsa_sign_recoverable(crypto_ctx, &sig, digest,
	    key->seckey, crypto_nonce_rfc6979, NULL))
		return -1;
	if (!secp256k1_ecdsa_recoverable_signature_serialize_compact(
	    crypto_ctx, raw, &recid, &sig))
		return -1;
	raw[64] = (unsigned char)recid;
	crypto_hex(raw, sizeof raw, sighex);
	return 0;
}

/*
 * Go's hex.DecodeString error, for a string it rejects: the first bad
 * byte in pair order, else "odd length".  Returns 0 if it is valid hex.
 * The bad byte is printed as Go's %#U of rune(byte) does.
 */
static int
crypto_go_hex_error(const char *s, size_t len, char *cause, size_t causelen)
{
	unsigned char	c;
	size_t		i, bad = len;

	for (i = 0; i < len; i++) {
		if (hexval((unsigned char)s[i]) == -1) {
			bad = i;
			break;
		}
	}
	if (bad == len) {
		if (len % 2 == 0)
			return 0;
		snprintf(cause, causelen, "encoding/hex: odd length hex string");
		return -1;
	}
	c = (unsigned char)s[bad];
	if (c >= 0x21 && c <= 0x7e)
		snprintf(cause, causelen,
		    "encoding/hex: invalid byte: U+%04X '%c'", c, c);
	else if (c >= 0xa1 && c != 0xad)	/* Latin-1, as UTF-8 */
		snprintf(cause, causelen,
		    "encoding/hex: invalid byte: U+%04X '%c%c'", c,
		    0xc0 | (c >> 6), 0x80 | (c & 0x3f));
	else
		snprintf(cause, causelen, "encoding/hex: invalid byte: U+%04X",
		    c);
	return -1;
}

/*
 * The real server: hex-decode, 65 bytes, recover with header v + 27 (as a
 * byte), then btcec's checks in btcec's order, then reject a high S.  The
 * slow diagnosis (which curve check failed) runs only on failure; the
 * success path does not allocate.
 */
int
crypto_recover_id(const char *msg, size_t len, const char *sighex,
    size_t siglen, char *idout, char *cause, size_t causelen)
{
	secp256k1_ecdsa_recoverable_signature	sig;
	secp256k1_pubkey			pub;
	unsigned char				raw[65], digest[32];
	unsigned char				xonly[33], pubraw[65];
	char					pubhex[131];
	size_t					publen = sizeof pubraw;
	unsigned int				code, recid, carry, i;

	crypto_need_init();
	if (siglen != 130 || crypto_unhex(sighex, siglen, raw,
	    sizeof raw) != 65) {
		if (crypto_go_hex_error(sighex, siglen, cause, causelen) == 0)
			snprintf(cause, causelen, "Invalid signature length");
		return -1;
	}
	code = (raw[64] + 27u) & 0xff;
	if (code < 27 || code > 34) {
		snprintf(cause, causelen, "Failed to recover public key: "
		    "invalid signature: public key recovery code %u is not in "
		    "the valid range [27, 34]", code);
		return -1;
	}
	/* Codes 31-34 only say "compressed"; the server ignores that. */
	recid = (code - 27) & 3;
	if (memcmp(raw, crypto_n, 32) >= 0) {
		snprintf(cause, causelen, "Failed to recover public key: "
		    "invalid signature: R >= group order");
		return -1;
	}
	for (i = 0; i < 32 && raw[i] == 0; i++)
		;
	if (i == 32) {
		snprintf(cause, causelen, "Failed to recover public key: "
		    "invalid signature: R is 0");
		return -1;
	}
	if (memcmp(raw + 32, crypto_n, 32) >= 0) {
		snprintf(cause, causelen, "Failed to recover public key: "
		    "invalid signature: S >= group order");
		return -1;
	}
	for (i = 32; i < 64 && raw[i] == 0; i++)
		;
	if (i == 64) {
		snprintf(cause, causelen, "Failed to recover public key: "
		    "invalid signature: S is 0");
		return -1;
	}
	if ((recid & 2) && memcmp(raw, crypto_p_minus_n, 32) >= 0) {
		snprintf(cause, causelen, "Failed to recover public key: "
		    "invalid signature: signature R + N >= P");
		return -1;
	}

	crypto_sha3_256(msg, len, digest);
	if (!secp256k1_ecdsa_recoverable_signature_parse_compact(crypto_ctx,
	    &sig, raw, (int)recid) ||
	    !secp256k1_ecdsa_recover(crypto_ctx, &pub, &sig, digest)) {
		/* Which one: x (r, or r + n) not on the curve, or infinity. */
		xonly[0] = 0x02;
		memcpy(xonly + 1, raw, 32);
		if (recid & 2) {
			carry = 0;
			for (i = 32; i > 0; i--) {
				carry += (unsigned int)xonly[i] + crypto_n[i - 1];
				xonly[i] = carry & 0xff;
				carry >>= 8;
			}
		}
		if (!secp256k1_ec_pubkey_parse(crypto_ctx, &pub, xonly,
		    sizeof xonly))
			snprintf(cause, causelen, "Failed to recover public key: "
			    "invalid signature: not for a valid curve point");
		else
			snprintf(cause, causelen, "Failed to recover public key: "
			    "invalid signature: recovered pubkey is the point at "
			    "infinity");
		return -1;
	}
	if (memcmp(raw + 32, crypto_half_n, 32) > 0) {
		snprintf(cause, causelen, "Failed verify signature: "
		    "Signature s value is over half the order");
		return -1;
	}
	if (!secp256k1_ec_pubkey_serialize(crypto_ctx, pubraw, &publen, &pub,
	    SECP256K1_EC_UNCOMPRESSED)) {
		snprintf(cause, causelen, "Invalid signature");
		return -1;
	}
	crypto_hex(pubraw, sizeof pubraw, pubhex);
	crypto_sha3_256(pubhex, 130, digest);
	crypto_hex(digest, sizeof digest, idout);
	return 0;
}

static const char crypto_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard alphabet with padding; NUL-terminated; *outlen excludes it. */
char *
crypto_base64_encode(const void *in, size_t len, size_t *outlen)
{
	const unsigned char	*p = in;
	char			*out, *o;
	size_t			 i;
	unsigned int		 v;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	if ((out = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	o = out;
	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned int)p[i] << 16 | (unsigned int)p[i + 1] << 8 |
		    p[i + 2];
		*o++ = crypto_b64[v >> 18];
		*o++ = crypto_b64[(v >> 12) & 0x3f];
		*o++ = crypto_b64[(v >> 6) & 0x3f];
		*o++ = crypto_b64[v & 0x3f];
	}
	if (len - i == 1) {
		v = (unsigned int)p[i] << 16;
		*o++ = crypto_b64[v >> 18];
		*o++ = crypto_b64[(v >> 12) & 0x3f];
		*o++ = '=';
		*o++ = '=';
	} else if (len - i == 2) {
		v = (unsigned int)p[i] << 16 | (unsigned int)p[i + 1] << 8;
		*o++ = crypto_b64[v >> 18];
		*o++ = crypto_b64[(v >> 12) & 0x3f];
		*o++ = crypto_b64[(v >> 6) & 0x3f];
		*o++ = '=';
	}
	*o = '\0';
	if (outlen != NULL)
		*outlen = (size_t)(o - out);
	return out;
}

/* Value of a base64 character, or -1: one load per character. */
static const signed char crypto_b64tab[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static int
crypto_b64val(unsigned char c)
{
	return crypto_b64tab[c];
}

/*
 * crypto_b64quad[k][c]: character c in place k of a quad, shifted to its
 * 6 bits of the 24; 0xff000000 for a character outside the alphabet.
 */
static uint32_t	crypto_b64quad[4][256];
static int	crypto_b64quad_ready;

static void
crypto_b64quad_init(void)
{
	int	c, k;

	if (crypto_b64quad_ready)
		return;
	for (c = 0; c < 256; c++)
		for (k = 0; k < 4; k++)
			crypto_b64quad[k][c] = crypto_b64tab[c] < 0 ?
			    UINT32_C(0xff000000) :
			    (uint32_t)crypto_b64tab[c] << (18 - 6 * k);
	crypto_b64quad_ready = 1;
}

/*
 * Strict standard base64: length a multiple of 4, only the alphabet, '='
 * only as the last one or two characters, no whitespace.  Non-zero bits
 * under the padding are accepted, as Go's StdEncoding (the server) does.
 * Returns a NUL-terminated buffer (the NUL not counted), or NULL.
 */
unsigned char *
crypto_base64_decode(const char *in, size_t len, size_t *outlen)
{
	const unsigned char	*p = (const unsigned char *)in;
	unsigned char		*out, *o;
	size_t			 i, pad = 0;
	int			 a, b, c, d;

	if (len % 4 != 0)
		return NULL;
	if (len > 0 && p[len - 1] == '=') {
		pad = 1;
		if (p[len - 2] == '=')
			pad = 2;
	}
	if ((out = malloc(len / 4 * 3 + 1)) == NULL)
		return NULL;
	o = out;
	crypto_b64quad_init();
	/*
	 * Every quad but the last has no padding: four loads of pre-shifted
	 * values, one test (a bad character sets bit 24 or above), one
	 * 4-byte store advancing by 3 (the 4th byte is overwritten next).
	 */
	for (i = 0; i + 4 < len; i += 4) {
		uint32_t	v = crypto_b64quad[0][p[i]] |
			    crypto_b64quad[1][p[i + 1]] |
			    crypto_b64quad[2][p[i + 2]] |
			    crypto_b64quad[3][p[i + 3]];

		if (v >> 24) {
			free(out);
			return NULL;
		}
		/* Big-endian bytes 1-3 of v; room: the last quad writes >= 1. */
		v = __builtin_bswap32(v << 8);
		memcpy(o, &v, 4);
		o += 3;
	}
	for (; i < len; i += 4) {
		a = crypto_b64val(p[i]);
		b = crypto_b64val(p[i + 1]);
		if (i + 4 == len && pad == 2) {
			c = d = 0;
		} else if (i + 4 == len && pad == 1) {
			c = crypto_b64val(p[i + 2]);
			d = 0;
		} else {
			c = crypto_b64val(p[i + 2]);
			d = crypto_b64val(p[i + 3]);
		}
		if (a == -1 || b == -1 || c == -1 || d == -1) {
			free(out);
			return NULL;
		}
		*o++ = (unsigned char)(a << 2 | b >> 4);
		if (i + 4 == len && pad == 2)
			break;
		*o++ = (unsigned char)((b & 0xf) << 4 | c >> 2);
		if (i + 4 == len && pad == 1)
			break;
		*o++ = (unsigned char)((c & 0x3) << 6 | d);
	}
	*o = '\0';
	if (outlen != NULL)
		*outlen = (size_t)(o - out);
	return out;
}
