/*
 * test-crypto: crypto.c against the ColonyOS test vectors made by the real
 * server's code ($FB_FIXTURES/colonies-vectors.json), plus the server's
 * error texts for bad signatures, key parsing, derivation and base64.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <secp256k1.h>

#include "colonies.h"
#include "tap.h"


static const char *
jstr(json_t *o, const char *k)
{
	const char	*s = json_string_value(json_object_get(o, k));

	if (s == NULL) {
		printf("Bail out! vector field %s missing\n", k);
		exit(1);
	}
	return s;
}

/* Recover and return the cause (or "OK:<id>"). */
static const char *
recover(const char *msg, const char *sig)
{
	static char	cause[FB_CAUSE_MAX], buf[FB_CAUSE_MAX];
	char		id[CRYPTO_ID_HEXLEN + 1];

	cause[0] = '\0';
	if (crypto_recover_id(msg, strlen(msg), sig, strlen(sig), id, cause,
	    sizeof cause) == 0) {
		snprintf(buf, sizeof buf, "OK:%s", id);
		return buf;
	}
	return cause;
}

static void
set_v(char *sighex, unsigned int v)
{
	snprintf(sighex + 128, 3, "%02x", v);
}

static void
test_vectors(json_t *root)
{
	json_t		*keys, *k, *sigs, *s, *hc, *env;
	struct crypto_key key;
	size_t		 i, j, nv0 = 0, nv1 = 0, blen, bodylen;
	char		 hex[256], sig[CRYPTO_SIG_HEXLEN + 1], cause[FB_CAUSE_MAX];
	char		 id[CRYPTO_ID_HEXLEN + 1], *b64, *body;
	unsigned char	 d[32];
	const char	*msg;

	hc = json_object_get(root, "hash_check");
	crypto_sha3_256("", 0, d);
	crypto_hex(d, 32, hex);
	is_str(hex, jstr(hc, "sha3_256_empty"), "SHA3-256(\"\")");
	ok(strcmp(hex, jstr(hc, "keccak256_empty")) != 0,
	    "SHA3-256(\"\") is not Keccak-256(\"\")");
	crypto_sha3_256("hello", 5, d);
	crypto_hex(d, 32, hex);
	is_str(hex, jstr(hc, "sha3_256_hello"), "SHA3-256(\"hello\")");
	ok(strcmp(hex, jstr(hc, "keccak256_hello")) != 0,
	    "SHA3-256(\"hello\") is not Keccak-256");

	keys = json_object_get(root, "keys");
	ok(json_array_size(keys) >= 5, "at least 5 key vectors (%zu)",
	    json_array_size(keys));
	json_array_foreach(keys, i, k) {
		if (!ok(crypto_key_parse(&key, jstr(k, "prvkey"), 64, cause,
		    sizeof cause) == 0, "key %zu parses", i))
			continue;
		crypto_hex(key.pubkey, sizeof key.pubkey, hex);
		is_str(hex, jstr(k, "pubkey_uncompressed_hex"),
		    "key pubkey matches");
		is_str(key.id, jstr(k, "id"), "key id matches");
		sigs = json_object_get(k, "signatures");
		json_array_foreach(sigs, j, s) {
			msg = jstr(s, "message");
			crypto_sha3_256(msg, strlen(msg), d);
			crypto_hex(d, 32, hex);
			is_str(hex, jstr(s, "sha3_256_of_message"),
			    "sha3 of message");
			ok(crypto_sign(&key, msg, strlen(msg), sig) == 0,
			    "sign");
			is_str(sig, jstr(s, "signature"), "signature byte for "
			    "byte");
			if (json_integer_value(json_object_get(s,
			    "recovery_id_v")) == 0)
				nv0++;
			else
				nv1++;
			/* Recover from the vector's signature, not ours. */
			if (crypto_recover_id(msg, strlen(msg),
			    jstr(s, "signature"), 130, id, cause,
			    sizeof cause) == 0)
				is_str(id, jstr(s, "recovered_id"),
				    "recovered id");
			else
				ok(0, "recover: %s", cause);
		}
		crypto_key_clear(&key);
	}
	ok(nv0 > 0 && nv1 > 0, "both recovery ids covered (%zu/%zu)", nv0,
	    nv1);

	/* The complete assign request of the protocol doc, section 5. */
	env = json_object_get(root, "assign_envelope");
	if (crypto_key_parse(&key, jstr(env, "prvkey"), 64, cause,
	    sizeof cause) == -1)
		ok(0, "assign key: %s", cause);
	is_str(key.id, jstr(env, "id"), "assign key id");
	b64 = crypto_base64_encode(jstr(env, "payload_json"),
	    strlen(jstr(env, "payload_json")), &blen);
	is_str(b64, jstr(env, "payload_base64"), "assign payload base64");
	crypto_sha3_256(b64, blen, d);
	crypto_hex(d, 32, hex);
	is_str(hex, jstr(env, "sha3_256_of_payload_base64"),
	    "assign payload sha3");
	crypto_sign(&key, b64, blen, sig);
	is_str(sig, jstr(env, "signature"), "assign signature");
	free(b64);
	body = colonies_envelope(&key, "assignprocessmsg",
	    jstr(env, "payload_json"), &bodylen);
	is_str(body, jstr(env, "http_body"), "assign HTTP body byte for byte");
	ok(bodylen == 332 && (json_int_t)bodylen ==
	    json_integer_value(json_object_get(env, "http_body_length")),
	    "assign body is 332 bytes (%zu)", bodylen);
	free(body);
	crypto_key_clear(&key);
}

static void
test_recover_errors(void)
{
	const char	*good = "24ea2d66a639d2b8c973094911a1b5d9ccdb6ee48d94487e"
	    "cda2407edbbf6f4513bed23538ec23b13926dc510694564e20639fc4edea1c6c0"
	    "2558d8d2dd24d8c01";
	const char	*id1 = "OK:2036f5bc759cfb3589fb4e2342bc9b3c843c5ef27dc8de"
	    "d538de328a7567089b";
	const char	*n = "fffffffffffffffffffffffffffffffebaaedce6af48a03b"
	    "bfd25e8cd0364141";
	char		 sig[CRYPTO_SIG_HEXLEN + 16], up[CRYPTO_SIG_HEXLEN + 1];
	unsigned char	 raw[65], s[32];
	unsigned int	 i, borrow;
	const char	*r;

	is_str(recover("hello", good), id1, "good signature recovers key 1");
	for (i = 0; good[i] != '\0'; i++)
		up[i] = (char)(good[i] >= 'a' && good[i] <= 'f' ?
		    good[i] - 32 : good[i]);
	up[i] = '\0';
	is_str(recover("hello", up), id1, "uppercase hex accepted");

	is_str(recover("hello", ""), "Invalid signature length",
	    "empty signature");
	snprintf(sig, sizeof sig, "%.128s", good);
	is_str(recover("hello", sig), "Invalid signature length",
	    "64-byte signature");
	snprintf(sig, sizeof sig, "%s00", good);
	is_str(recover("hello", sig), "Invalid signature length",
	    "66-byte signature");
	snprintf(sig, sizeof sig, "%s0", good);
	is_str(recover("hello", sig), "encoding/hex: odd length hex string",
	    "odd-length signature (Go hex error)");
	snprintf(sig, sizeof sig, "%s", good);
	sig[7] = 'g';
	is_str(recover("hello", sig), "encoding/hex: invalid byte: U+0067 'g'",
	    "non-hex byte (Go hex error)");
	sig[7] = '\n';
	is_str(recover("hello", sig), "encoding/hex: invalid byte: U+000A",
	    "control byte (Go hex error)");

	snprintf(sig, sizeof sig, "%s", good);
	set_v(sig, 27);
	is_str(recover("hello", sig), "Failed to recover public key: invalid "
	    "signature: public key recovery code 54 is not in the valid range "
	    "[27, 34]", "v=27");
	set_v(sig, 28);
	r = recover("hello", sig);
	ok(strstr(r, "recovery code 55 is not in") != NULL, "v=28: %s", r);
	set_v(sig, 8);
	is_str(recover("hello", sig), "Failed to recover public key: invalid "
	    "signature: public key recovery code 35 is not in the valid range "
	    "[27, 34]", "v=8");
	set_v(sig, 255);
	is_str(recover("hello", sig), "Failed to recover public key: invalid "
	    "signature: public key recovery code 26 is not in the valid range "
	    "[27, 34]", "v=255 wraps like Go's byte");
	set_v(sig, 2);
	is_str(recover("hello", sig), "Failed to recover public key: invalid "
	    "signature: signature R + N >= P", "v=2");
	set_v(sig, 3);
	is_str(recover("hello", sig), "Failed to recover public key: invalid "
	    "signature: signature R + N >= P", "v=3");
	/* Codes 31/32 are "compressed" variants of 0/1: the server accepts. */
	set_v(sig, 5);
	is_str(recover("hello", sig), id1, "v=5 (compressed flag) recovers "
	    "like v=1, as btcec does");
	set_v(sig, 0);
	r = recover("hello", sig);
	ok(strncmp(r, "OK:", 3) == 0 && strcmp(r, id1) != 0,
	    "flipped v recovers a different id");

	/* High S: s' = n - s with v flipped is the same signature. */
	crypto_unhex(good, 130, raw, sizeof raw);
	crypto_unhex(n, 64, s, sizeof s);
	borrow = 0;
	for (i = 32; i > 0; i--) {
		int v = (int)s[i - 1] - (int)raw[32 + i - 1] - (int)borrow;

		borrow = v < 0;
		raw[32 + i - 1] = (unsigned char)(v + (borrow ? 256 : 0));
	}
	raw[64] ^= 1;
	crypto_hex(raw, 65, sig);
	is_str(recover("hello", sig), "Failed verify signature: Signature s "
	    "value is over half the order", "high-S signature");

	snprintf(sig, sizeof sig, "%s", good);
	memset(sig, '0', 64);
	is_str(recover("hello", sig), "Failed to recover public key: invalid "
	    "signature: R is 0", "r = 0");
	memcpy(sig, n, 64);
	is_str(recover("hello", sig), "Failed to recover public key: invalid "
	    "signature: R >= group order", "r = n");
	snprintf(sig, sizeof sig, "%s", good);
	memset(sig + 64, '0', 64);
	is_str(recover("hello", sig), "Failed to recover public key: invalid "
	    "signature: S is 0", "s = 0");
	memset(sig + 64, 'f', 64);
	is_str(recover("hello", sig), "Failed to recover public key: invalid "
	    "signature: S >= group order", "s = 2^256-1");
	/* r = 5: x^3 + 7 = 132 is not a square mod p. */
	snprintf(sig, sizeof sig, "%s", good);
	memset(sig, '0', 64);
	sig[63] = '5';
	r = recover("hello", sig);
	is_str(r, "Failed to recover public key: invalid signature: not "
	    "for a valid curve point", "r = 5 is no curve x");
	/* r = 5 with v = 2: x = 5 + n; 5 < p - n so the next check runs. */
	sig[63] = '1';
	set_v(sig, 2);
	r = recover("hello", sig);
	ok(strncmp(r, "OK:", 3) == 0 || strcmp(r, "Failed to recover public "
	    "key: invalid signature: not for a valid curve point") == 0 ||
	    strstr(r, "point at infinity") != NULL,
	    "r = 1, v = 2 passes the R + N check: %s", r);

	r = recover("hellp", good);
	ok(strncmp(r, "OK:", 3) == 0 && strcmp(r, id1) != 0,
	    "tampered message recovers a different id");
}

static void
test_keys(void)
{
	struct crypto_key	 a, b, c;
	char			 cause[FB_CAUSE_MAX];
	const char		*seed = "0123456789abcdef-secret-seed";
	const char		*bad[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
		"fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364142",
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"000000000000000000000000000000000000000000000000000000000000001",
		"00000000000000000000000000000000000000000000000000000000000000001",
		"000000000000000000000000000000000000000000000000000000000000000g",
		"00000000000000000000000000000000000000000000000000000000000000 1",
		"",
	};
	size_t			 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause[0] = '\0';
		ok(crypto_key_parse(&a, bad[i], strlen(bad[i]), cause,
		    sizeof cause) == -1 && cause[0] != '\0',
		    "bad key %zu rejected: %s", i, cause);
		ok(strstr(cause, "0000000") == NULL &&
		    strstr(cause, "fffffff") == NULL,
		    "cause holds no key material");
	}
	ok(crypto_key_parse(&a, "FCC79953D8A751BF41DB661592DC34D30004B1A651FF"
	    "A0725B03AC227641499D", 64, cause, sizeof cause) == 0,
	    "uppercase key accepted");
	is_str(a.id, "039231c7644e04b6895471dd5335cf332681c54e27f81fac54f9067b"
	    "3f2c0103", "uppercase key gives the same id");
	ok(crypto_key_parse(&a, "fffffffffffffffffffffffffffffffebaaedce6af48"
	    "a03bbfd25e8cd0364140", 64, cause, sizeof cause) == 0,
	    "n - 1 accepted");

	ok(crypto_key_derive(&a, (const unsigned char *)seed, strlen(seed),
	    "executor", 1, cause, sizeof cause) == 0, "derive slot 1");
	ok(crypto_key_derive(&b, (const unsigned char *)seed, strlen(seed),
	    "executor", 1, cause, sizeof cause) == 0, "derive slot 1 again");
	ok(memcmp(&a, &b, sizeof a) == 0, "derivation is deterministic");
	ok(crypto_key_derive(&c, (const unsigned char *)seed, strlen(seed),
	    "executor", 2, cause, sizeof cause) == 0, "derive slot 2");
	ok(strcmp(a.id, c.id) != 0, "slots get different ids");
	ok(crypto_key_derive(&c, (const unsigned char *)seed, strlen(seed),
	    "other", 1, cause, sizeof cause) == 0 && strcmp(a.id, c.id) != 0,
	    "labels get different ids");
	ok(crypto_key_derive(&c, (const unsigned char *)seed, strlen(seed) - 1,
	    "executor", 1, cause, sizeof cause) == 0 &&
	    strcmp(a.id, c.id) != 0, "seeds get different ids");
	ok(crypto_key_derive(&c, (const unsigned char *)seed, 0, "executor", 1,
	    cause, sizeof cause) == -1, "empty seed rejected");
	{
		/* The documented formula, computed here independently. */
		unsigned char	buf[128], d[32];
		size_t		n = strlen(seed);
		char		hex[65];

		memcpy(buf, seed, n);
		memcpy(buf + n, "executor", 8);
		n += 8;
		buf[n++] = 0;
		buf[n++] = '1';
		crypto_sha3_256(buf, n, d);
		crypto_hex(a.seckey, 32, cause);
		crypto_hex(d, 32, hex);
		is_str(cause, hex, "derived key = SHA3(seed||label||0||\"1\")");
	}
	crypto_key_clear(&a);
	for (i = 0; i < sizeof a; i++)
		if (((unsigned char *)&a)[i] != 0)
			break;
	ok(i == sizeof a, "crypto_key_clear zeroes the key");

	ok(crypto_key_generate(&a, cause, sizeof cause) == 0 &&
	    crypto_key_generate(&b, cause, sizeof cause) == 0 &&
	    strcmp(a.id, b.id) != 0 && strlen(a.id) == 64,
	    "generated keys differ");
	{
		char	sig[CRYPTO_SIG_HEXLEN + 1], id[CRYPTO_ID_HEXLEN + 1];

		crypto_sign(&a, "x", 1, sig);
		ok(crypto_recover_id("x", 1, sig, 130, id, cause,
		    sizeof cause) == 0 && strcmp(id, a.id) == 0,
		    "generated key signs and recovers");
	}
}

static void
test_base64(void)
{
	const char	*vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
		{ "{}", "e30=" },
	};
	const char	*bad[] = {
		"Zg=", "Zg", "Z===", "====", "Zm9v\n", "Zm 9v", "Zm9v====",
		"Zg==Zg==", "Zm=v", "Zm9-", "Zm9_", "=Zm9", "Zm9v=",
	};
	unsigned char	 bin[256], *dec;
	char		*enc;
	size_t		 i, len, dlen;
	unsigned int	 seed = 12345;

	for (i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		enc = crypto_base64_encode(vec[i][0], strlen(vec[i][0]), &len);
		is_str(enc, vec[i][1], "base64 encode");
		free(enc);
		dec = crypto_base64_decode(vec[i][1], strlen(vec[i][1]), &dlen);
		ok(dec != NULL && dlen == strlen(vec[i][0]) &&
		    memcmp(dec, vec[i][0], dlen) == 0 && dec[dlen] == '\0',
		    "base64 decode \"%s\"", vec[i][1]);
		free(dec);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		dec = crypto_base64_decode(bad[i], strlen(bad[i]), &dlen);
		ok(dec == NULL, "base64 rejects bad[%zu]", i);
		free(dec);
	}
	/* Every length 0..255 of pseudo-random bytes round-trips. */
	for (len = 0; len < sizeof bin; len++) {
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245 + 12345;
			bin[i] = (unsigned char)(seed >> 16);
		}
		enc = crypto_base64_encode(bin, len, &dlen);
		dec = crypto_base64_decode(enc, dlen, &dlen);
		if (dec == NULL || dlen != len || memcmp(dec, bin, len) != 0)
			break;
		free(enc);
		free(dec);
		enc = NULL;
		dec = NULL;
	}
	ok(len == sizeof bin, "base64 round-trips lengths 0..255");
	free(enc);
	free(dec);

	/*
	 * Every byte value in every place of a 16-character text: the
	 * decoder's quad tables take a character outside the alphabet
	 * anywhere (or '=' before the end) as an error, and what they take
	 * encodes back to the same text.
	 */
	{
		static const char	 abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
					    "abcdefghijklmnopqrstuvwxyz0123456789+/";
		char			 t[17];
		size_t			 pos, wrong = 0;
		int			 c, valid, pad;

		for (pos = 0; pos < 16; pos++) {
			for (c = 0; c < 256; c++) {
				memcpy(t, "QUJDREVGR0hJSktM", 17);
				t[pos] = (char)c;
				valid = c != 0 && strchr(abc, c) != NULL;
				/* "...SKt=": padding, with bits under it. */
				pad = pos == 15 && c == '=';
				dec = crypto_base64_decode(t, 16, &dlen);
				enc = dec != NULL ? crypto_base64_encode(dec,
				    dlen, &len) : NULL;
				if ((dec != NULL) != (valid || pad) || (valid &&
				    (enc == NULL || strcmp(enc, t) != 0)))
					wrong++;
				free(dec);
				free(enc);
			}
		}
		ok(wrong == 0, "base64: each of 256 bytes in each of 16 "
		    "places decodes exactly when in the alphabet (%zu wrong)",
		    wrong);
	}
}

static void
test_hex(void)
{
	unsigned char	out[4];
	char		hex[9];

	ok(crypto_unhex("0aFf", 4, out, sizeof out) == 2 && out[0] == 0x0a &&
	    out[1] == 0xff, "unhex mixed case");
	ok(crypto_unhex("0aF", 3, out, sizeof out) == -1, "unhex odd length");
	ok(crypto_unhex("0x", 2, out, sizeof out) == -1, "unhex bad char");
	ok(crypto_unhex("0011223344", 10, out, sizeof out) == -1,
	    "unhex overflow");
	crypto_hex((const unsigned char *)"\x01\xab\xff\x00", 4, hex);
	is_str(hex, "01abff00", "hex lowercase");
}

/*
 * crypto_sign()'s nonce is libsecp256k1's RFC 6979 nonce function, byte
 * for byte: the same nonces for random keys and messages, for a message
 * at or above the group order (reduced mod n), and for the retries
 * (counter > 0) the library asks for when a nonce is out of range.
 */
static void
test_nonce(void)
{
	static const unsigned char	 n[32] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
		0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b,
		0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41
	};
	unsigned char	 key[32], msg[32], a[32], b[32];
	unsigned int	 i, c, same = 0, tried = 0;

	for (i = 0; i < 40; i++) {
		if (crypto_random(key, sizeof key) == -1 ||
		    crypto_random(msg, sizeof msg) == -1) {
			ok(0, "getrandom");
			return;
		}
		if (i == 1)
			memcpy(msg, n, 32);		/* m = n: 0 */
		else if (i == 2)
			memset(msg, 0xff, 32);		/* m = 2^256 - 1 */
		else if (i == 3) {
			memcpy(msg, n, 32);		/* m = n + 5 */
			msg[31] += 5;
		}
		for (c = 0; c < 4; c++) {
			tried++;
			if (crypto_nonce_rfc6979(a, msg, key, NULL, NULL, c) ==
			    1 && secp256k1_nonce_function_rfc6979(b, msg, key,
			    NULL, NULL, c) == 1 && memcmp(a, b, 32) == 0)
				same++;
		}
	}
	ok(same == tried, "RFC 6979 nonces as libsecp256k1's, m >= n and "
	    "retries too (%u of %u)", same, tried);
}

int
main(void)
{
	json_t		*root;
	json_error_t	 err;
	const char	*fx;
	char		 path[1024];

	if (crypto_init() == -1 || crypto_init() == -1) {
		printf("Bail out! crypto_init\n");
		return 1;
	}
	if ((fx = getenv("FB_FIXTURES")) == NULL)
		fx = "t/data";
	snprintf(path, sizeof path, "%s/colonies-vectors.json", fx);
	if ((root = json_load_file(path, 0, &err)) == NULL) {
		printf("Bail out! %s: %s\n", path, err.text);
		return 1;
	}
	test_vectors(root);
	json_decref(root);
	test_recover_errors();
	test_keys();
	test_base64();
	test_hex();
	test_nonce();
	return tap_done();
}
