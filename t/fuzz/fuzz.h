/*
 * t/fuzz/fuzz.h: what the libFuzzer targets of t/fuzz share.
 *
 * Each target defines LLVMFuzzerTestOneInput() (and may define
 * LLVMFuzzerInitialize()).  Built with clang -fsanitize=fuzzer by
 * contrib/fuzz.sh ("make fuzz"); built with t/fuzz/driver.c instead by
 * the ordinary build, which replays the seed corpus in t/85-fuzz-corpus.t.
 */
#ifndef FB_FUZZ_H
#define FB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

/* A promise broken: say which and on what input, then abort (a crash). */
static inline void __attribute__((__noreturn__))
fuzz_fail(const char *file, int line, const char *expr, const char *s,
    size_t len)
{
	size_t	i;

	fprintf(stderr, "%s:%d: check failed: %s\ninput (%zu bytes): ", file,
	    line, expr, len);
	for (i = 0; i < len && i < 512; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			fputc(s[i], stderr);
		else
			fprintf(stderr, "\\x%02x", (unsigned char)s[i]);
	}
	fprintf(stderr, "%s\n", len > 512 ? "..." : "");
	abort();
}

#define FUZZ_CHECK(e, s, len) do {					\
	if (!(e))							\
		fuzz_fail(__FILE__, __LINE__, #e, (const char *)(s),	\
		    (len));						\
} while (0)

#endif /* FB_FUZZ_H */
