/*
 * colonies.c: the ColonyOS RPC client (libcurl, one persistent connection
 * per process).  Every request is a signed envelope; see
 * shared/colonies-protocol.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "financebee.h"

char *
colonies_envelope(const struct crypto_key *key, const char *msgtype,
    const char *payload_json, size_t *len)
{
	char	 sig[CRYPTO_SIG_HEXLEN + 1], *b64, *body;
	size_t	 blen, tlen, n;

	b64 = crypto_base64_encode(payload_json, strlen(payload_json), &blen);
	if (b64 == NULL)
		return NULL;
	if (crypto_sign(key, b64, blen, sig) == -1) {
		free(b64);
		return NULL;
	}
	tlen = strlen(msgtype);
	n = sizeof("{\"signature\":\"\",\"payloadtype\":\"\",\"payload\":\"\"}")
	    - 1 + CRYPTO_SIG_HEXLEN + tlen + blen;
	if ((body = malloc(n + 1)) == NULL) {
		free(b64);
		return NULL;
	}
	snprintf(body, n + 1,
	    "{\"signature\":\"%s\",\"payloadtype\":\"%s\",\"payload\":\"%s\"}",
	    sig, msgtype, b64);
	free(b64);
	if (len != NULL)
		*len = n;
	return body;
}
