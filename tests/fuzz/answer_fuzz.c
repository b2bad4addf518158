/*
 * tests/fuzz/answer_fuzz.c - libFuzzer target for the answers of HTTP SQL
 * endpoints as each built-in profile reads them (lib/remote.c, the paths
 * of lib/profile.c, the cells of lib/remote-sql.c): whatever an endpoint
 * answers, with whatever HTTP status, the answer is believed, a failure
 * with an exit code and a message, or worth another try; its rows are
 * read or refused; never a crash, an out-of-bounds read or a hang.  `make
 * fuzz` builds it; run it for a while:
 *
 *   make fuzz && mkdir -p build/fuzz/corpus-answer
 *   build/fuzz/answer_fuzz -max_total_time=60 \
 *     -close_fd_mask=2 build/fuzz/corpus-answer tests/fuzz/corpus-answer
 *
 * Leaks count: the parsed answer and the body are the harness's, freed
 * after each input; nothing the code under test makes outlives it.
 * Input: byte 0 picks the profile, byte 1 the HTTP status, byte 2 the
 * number of statements asked (1-4); the rest is the body.  remote.c is
 * compiled into this file for its static judge_answer (the Makefile's
 * archive then leaves its own copy out).
 */
#include "../../lib/remote.c"

#include <setjmp.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static jmp_buf back;

static void jump_back(void)
{
	longjmp(back, 1);
}

/* Each cell of each row as the fetch reads it: plain text and tagged. */
static void read_rows(struct smg_remote *r, long i)
{
	struct json_object *rows;
	if (!smg_jc_path(r->answer, r->p->rows, i, &rows) || !json_object_is_type(rows, json_type_array))
		return;
	for (size_t k = 0; k < json_object_array_length(rows) && k < 64; k++) {
		const char *row = json_object_to_json_string_ext(json_object_array_get_idx(rows, k),
								 JSON_C_TO_STRING_PLAIN);
		const char *cell[4];
		size_t celllen[4];
		bool bad = false;
		size_t n = remote_row_cells(row, strlen(row), 3, cell, celllen, &bad);
		for (size_t c = 0; !bad && c < n && c < 3; c++) {
			free(remote_cell_text(r->p, cell[c], celllen[c]));
			struct smg_value v;
			remote_decode_tagged(r->p, cell[c], celllen[c], &v);
		}
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const long statuses[] = {200, 200, 200, 400, 401, 404, 409, 429, 500, 503};
	static struct smg_http_profile profiles[16];
	static size_t nprofiles;
	static struct smg_target t = {.type = SMG_TARGET_HTTP, .name = "fuzz"};
	if (!nprofiles) {
		char err[600];
		for (; smg_profile_builtins[nprofiles]; nprofiles++)
			if (smg_profile_load(&profiles[nprofiles], smg_profile_builtins[nprofiles], NULL,
					     NULL, err, sizeof err))
				abort();
	}
	if (size < 3)
		return 0;
	struct smg_remote r = {.t = &t, .p = &profiles[data[0] % nprofiles],
			       .resp = SMG_HTTP_RESPONSE_INIT};
	r.resp.status = statuses[data[1] % (sizeof statuses / sizeof *statuses)];
	r.resp.attempts = 1;
	long nstmts = 1 + data[2] % 4;
	smg_buf_add(&r.resp.body, (const char *)data + 3, size - 3);
	struct failure f;
	smg_atdie(jump_back);
	if (setjmp(back) == 0) {
		enum verdict v = judge_answer(&r, SMG_HTTP_DONE, nstmts, &f);
		if (v != ANSWER_OK && (!f.code || !f.msg[0]))
			abort();	/* a failure has its exit code and its words */
		for (long i = 0; v == ANSWER_OK && i < nstmts; i++) {
			const char *rows;
			size_t rowslen;
			char why[512];
			if (remote_find_rows(&r, r.resp.body.data, r.resp.body.len, i, &rows, &rowslen,
					     why, sizeof why))
				read_rows(&r, i);
			else if (!why[0])
				abort();
		}
		remote_answer_truncated(&r);
	}
	json_object_put(r.answer);
	smg_buf_free(&r.resp.body);
	return 0;
}
