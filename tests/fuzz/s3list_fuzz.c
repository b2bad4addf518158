/*
 * tests/fuzz/s3list_fuzz.c - libFuzzer target for the S3 listing parser
 * (lib/s3-list.c: list_page and the XML it reads): whatever a store answers to
 * ListObjectsV2, a page gives its objects and maybe a continuation token,
 * or one "malformed listing" message and exit 7; never a crash, an
 * out-of-bounds read, a key outside the prefix or a listing that would
 * never end.  `make fuzz` builds it; run it for a while:
 *
 *   make fuzz && mkdir -p build/fuzz/corpus-s3list
 *   build/fuzz/s3list_fuzz -max_total_time=60 -close_fd_mask=2 \
 *     build/fuzz/corpus-s3list tests/fuzz/corpus-s3list
 * Leaks count: the objects a page adds and the tokens kept are the
 * listing's (listing_free); a bad page frees the token it read.
 *
 * The first input byte picks the prefix asked for; the rest is the body of
 * one or more pages, split at each form feed (\f), read in turn as the
 * listing of smg_s3_list reads them.  s3-list.c is compiled into this file
 * for its static parser (the Makefile's archive then leaves its own copy out).
 */
#include "../../lib/s3-list.c"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void check_object(const struct smg_obj_info *o, const char *prefix)
{
	if (strncmp(o->key, prefix, strlen(prefix)) != 0)
		abort();	/* list_object lets no other key through */
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const prefixes[] = {"", "snapshots/", "a", "%", "+ "};
	if (size == 0)
		return 0;
	const char *prefix = prefixes[data[0] % (sizeof prefixes / sizeof *prefixes)];
	struct s3_call c;
	s3_call_init(&c, "GET", "bucket", NULL);
	struct listing l = {.call = &c, .prefix = prefix};
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	int rc = 0;
	while (rc == 0 && p <= end) {
		const char *ff = memchr(p, '\f', (size_t)(end - p));
		const char *stop = ff ? ff : end;
		struct smg_buf body = SMG_BUF_INIT;
		smg_buf_add(&body, p, (size_t)(stop - p));
		char *token = NULL;
		rc = list_page(&l, &body, &token);
		smg_buf_free(&body);
		if (rc != 0 && rc != SMG_EXIT_DATA)
			abort();	/* a bad page is 7, nothing else */
		if (rc == 0 && token) {
			l.tokens = smg_xrealloc(l.tokens, (l.ntokens + 1) * sizeof *l.tokens);
			l.tokens[l.ntokens++] = token;
		} else if (rc == 0) {
			break;	/* the last page */
		}
		p = stop + 1;
	}
	for (size_t i = 0; rc == 0 && i < l.n; i++)
		check_object(&l.v[i], prefix);
	listing_free(&l);
	s3_call_free(&c);
	return 0;
}
