/*
 * engine.c - the programs smg-fetch, smg-diff and smg-apply inside one
 * WebAssembly module (npm/build.sh compiles each bin/smg-*.c with its main
 * renamed), and the one export that runs one of them.
 *
 * The package's JavaScript (npm/smugglr.js) runs them as bin/smugglr runs
 * the programs, with files in the module's memory file system for pipes:
 * the same options, the same streams, the same JSON reports.  A program
 * that dies calls exit(), which the JavaScript side turns into an
 * exception carrying the status; what it allocated until then is not
 * freed.
 */
#include "target.h"

#include <emscripten.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

int smg_fetch_main(int argc, char **argv);
int smg_diff_main(int argc, char **argv);
int smg_apply_main(int argc, char **argv);

/* Point fd (1 or 2) at path, truncated. */
static int redirect(int fd, const char *path)
{
	int f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (f < 0)
		return -1;
	if (f != fd && (dup2(f, fd) < 0 || close(f) < 0))
		return -1;
	return 0;
}

static int redirect_both(const char *out_path, const char *err_path)
{
	fflush(stdout);
	fflush(stderr);
	if (redirect(1, out_path) || redirect(2, err_path))
		return -1;
	clearerr(stdout);
	clearerr(stderr);
	return 0;
}

/* After a program exited through exit(): what it wrote is in its files. */
EMSCRIPTEN_KEEPALIVE
void smg_wasm_flush(void)
{
	fflush(stdout);
	fflush(stderr);
}

/*
 * Runs program which (0 fetch, 1 diff, 2 apply) with argv, its stdout to
 * out_path and its stderr to err_path.  Returns its exit status, or -1
 * when the redirection failed.
 */
EMSCRIPTEN_KEEPALIVE
int smg_wasm_run(int which, int argc, char **argv, const char *out_path, const char *err_path)
{
	extern int optind;
	if (which < 0 || which > 2 || redirect_both(out_path, err_path))
		return -1;
	optind = 0;	/* musl: getopt starts over */
	/* direct calls: asyncify follows no indirect one (npm/build.sh) */
	int rc = which == 0 ? smg_fetch_main(argc, argv) : which == 1 ? smg_diff_main(argc, argv)
		: smg_apply_main(argc, argv);
	smg_wasm_flush();
	return rc;
}


/*
 * The label the programs give a target (target.c: a D1 database as
 * d1:ACCOUNT/DATABASE, a URL without its password), resolved as smg-fetch
 * resolves spec with these options and the config file; malloc'd.  A bad
 * target dies as the programs do, its message in err_path.
 */
EMSCRIPTEN_KEEPALIVE
char *smg_wasm_label(const char *config, const char *spec, const char *profile, const char *token,
		     const char *endpoint, const char *err_path)
{
	struct smg_config cfg;
	struct smg_target t;
	if (redirect_both("/dev/null", err_path))
		return NULL;
	smg_setprogname("smugglr");
	smg_config_load(&cfg, config, true);
	smg_target_resolve(&t, spec, *profile ? profile : NULL, *token ? token : NULL,
			   *endpoint ? endpoint : NULL, &cfg);
	char *label = strdup(t.name);
	smg_target_free(&t);
	smg_config_free(&cfg);
	smg_wasm_flush();
	return label;
}
