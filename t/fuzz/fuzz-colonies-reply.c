/*
 * fuzz-colonies-reply: the ColonyOS reply decoder (src/colonies/colonies.c):
 * colonies_decode_reply() on an HTTP body, then col_process_parse() on an
 * assign reply's payload, as colonies_assign() does.
 *
 * Input: one byte choosing the HTTP status and the expected payload
 * type, then the body.  Checked on every input:
 *  - a code, and a cause without control characters unless COL_OK;
 *    a payload exactly when COL_OK;
 *  - the fast envelope path and the full JSON path agree (a leading space
 *    sends the same body down the full path): same code, cause, value;
 *  - col_process_parse(): on success every field set (args an array,
 *    kwargs an object, ids of hex digits); on failure a cause, nothing
 *    left allocated, processid empty or valid.
 * Seeds: t/fuzz/corpus/colonies-reply.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colonies.h"
#include "fuzz.h"

static const long fuzz_status[8] = { 200, 200, 200, 200, 404, 403, 500,
	408 };
static const char *const fuzz_type[2] = { "assignprocessmsg",
	"closesuccessfulmsg" };

/* A required id is 64 hex digits; an optional one "" or up to 64. */
static int
fuzz_is_id(const char *id, int required)
{
	size_t	i, n = strlen(id);

	if (n > CRYPTO_ID_HEXLEN || (required && n != CRYPTO_ID_HEXLEN))
		return 0;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)id[i]))
			return 0;
	return 1;
}

static void
fuzz_process(json_t *v, const char *s, size_t len)
{
	struct col_process	 p;
	char			 cause[FB_CAUSE_MAX];

	cause[0] = '\0';
	if (col_process_parse(v, &p, cause, sizeof cause) == 0) {
		FUZZ_CHECK(fuzz_is_id(p.processid, 1), s, len);
		FUZZ_CHECK(fuzz_is_id(p.assignedexecutorid, 0) &&
		    fuzz_is_id(p.initiatorid, 0), s, len);
		FUZZ_CHECK(json_is_array(p.args) && json_is_object(p.kwargs) &&
		    json_is_array(p.out) && json_is_array(p.errors), s, len);
		FUZZ_CHECK(p.funcname != NULL && p.executortype != NULL &&
		    p.submissiontime != NULL && p.starttime != NULL &&
		    p.execdeadline != NULL, s, len);
		FUZZ_CHECK(p.raw == v, s, len);
		col_process_free(&p);
	} else {
		FUZZ_CHECK(cause[0] != '\0', s, len);
		FUZZ_CHECK(fuzz_is_id(p.processid, 0), s, len);
		FUZZ_CHECK(p.funcname == NULL && p.args == NULL &&
		    p.kwargs == NULL && p.raw == NULL && p.out == NULL &&
		    p.errors == NULL && p.executortype == NULL, s, len);
	}
}

static enum col_err
fuzz_decode(long status, const char *body, size_t len, const char *type,
    json_t **v, char *cause, size_t causelen)
{
	enum col_err	 e;
	const char	*p;

	cause[0] = '\0';
	*v = (json_t *)1;	/* must be set either way */
	e = colonies_decode_reply(status, body, len, type, v, cause,
	    causelen);
	if (e == COL_OK) {
		FUZZ_CHECK(*v != NULL, body, len);
	} else {
		FUZZ_CHECK(*v == NULL, body, len);
		FUZZ_CHECK(cause[0] != '\0', body, len);
		for (p = cause; *p != '\0'; p++)
			FUZZ_CHECK(!iscntrl((unsigned char)*p), body, len);
	}
	FUZZ_CHECK(strlen(cause) < causelen, body, len);
	return e;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*body, *type;
	char		*spaced, cause[FB_CAUSE_MAX], cause2[FB_CAUSE_MAX];
	json_t		*v, *v2;
	enum col_err	 e, e2;
	long		 status;
	size_t		 len;

	if (size < 1)
		return 0;
	status = fuzz_status[data[0] & 7];
	type = fuzz_type[(data[0] >> 3) & 1];
	body = (const char *)data + 1;
	len = size - 1;

	e = fuzz_decode(status, body, len, type, &v, cause, sizeof cause);

	/* The same body past the fast path: the same answer. */
	if ((spaced = malloc(len + 1)) == NULL)
		abort();
	spaced[0] = ' ';
	memcpy(spaced + 1, body, len);
	e2 = fuzz_decode(status, spaced, len + 1, type, &v2, cause2,
	    sizeof cause2);
	FUZZ_CHECK(e == e2, body, len);
	/* An empty body is its own error; " " is not JSON. */
	if (len > 0)
		FUZZ_CHECK(strcmp(cause, cause2) == 0, body, len);
	FUZZ_CHECK((v == NULL && v2 == NULL) || json_equal(v, v2), body, len);
	json_decref(v2);
	free(spaced);

	if (e == COL_OK && strcmp(type, "assignprocessmsg") == 0)
		fuzz_process(v, body, len);
	json_decref(v);
	return 0;
}
