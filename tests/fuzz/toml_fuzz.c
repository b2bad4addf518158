/*
 * tests/fuzz/toml_fuzz.c - libFuzzer target for the TOML reader (lib/toml.c)
 * and the configuration built from it (lib/config.c): any bytes give a
 * tree or one "FILE:LINE:COL: message", and a tree gives a configuration
 * or one error naming the setting, never a crash, an out-of-bounds read or
 * a hang.  `make fuzz` builds it; run it for a while:
 *
 *   make fuzz && mkdir -p build/fuzz/corpus-toml
 *   build/fuzz/toml_fuzz -max_total_time=60 \
 *     -close_fd_mask=2 build/fuzz/corpus-toml tests/fuzz/corpus-toml
 * Leaks count: when the config loader dies on a bad value (its hook jumps
 * back here) it has freed the configuration first.
 */
#include "config.h"
#include "smg.h"
#include "toml.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static jmp_buf back;

static void jump_back(void)
{
	longjmp(back, 1);
}

/* Every node, its key and its text read in full: what a caller may touch. */
static size_t walk(const struct smg_toml_node *n, int depth)
{
	size_t sum = n->key_len + (size_t)n->line + (size_t)n->col;
	if (n->key)
		sum += strnlen(n->key, n->key_len + 1);
	if (n->type == SMG_TOML_STRING || n->type == SMG_TOML_DATETIME)
		for (size_t i = 0; i < n->v.str.len; i++)
			sum += (unsigned char)n->v.str.s[i];
	sum += strlen(smg_toml_type_name(n->type));
	for (const struct smg_toml_node *c = n->first; c && depth < 10000; c = c->next)
		sum += walk(c, depth + 1);
	return sum;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char err[512];
	struct smg_toml *doc = smg_toml_parse((const char *)data, size, "fuzz.toml", err, sizeof err);
	if (!doc) {
		if (!memchr(err, '\0', sizeof err) || strncmp(err, "fuzz.toml:", 10) != 0)
			abort();	/* an error is one "FILE:LINE:COL: message" */
		return 0;
	}
	volatile size_t sum = walk(smg_toml_root(doc), 0);
	(void)sum;
	smg_toml_get(smg_toml_root(doc), "sync.batch_size");
	smg_toml_free(doc);

	/* the same bytes as a configuration file */
	int fd = memfd_create("config", 0);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	static struct smg_config c;
	smg_atdie(jump_back);
	if (setjmp(back) == 0) {
		smg_config_load(&c, path, true);
		smg_config_free(&c);
	}
	close(fd);
	return 0;
}
