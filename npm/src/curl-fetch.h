/*
 * curl-fetch.h - forced into lib/http.c when it is built for WebAssembly
 * (emcc -include, see npm/build.sh).
 *
 * http.c loads libcurl at run time (dlopen, dlsym) and calls it only
 * through the pointers it finds there.  That is the seam: here dlopen and
 * dlsym are curl-fetch.c's, which hands out the same eleven functions of
 * libcurl's easy interface implemented over fetch().  Retries, deadlines,
 * backoff and the classification of answers stay http.c's, unchanged.
 */
#ifndef SMG_CURL_FETCH_H
#define SMG_CURL_FETCH_H

#include <stdint.h>
#include <time.h>

#define dlopen smg_fetch_dlopen
#define dlsym smg_fetch_dlsym
#define dlerror smg_fetch_dlerror
/* The backoff sleeps without blocking the event loop (asyncify). */
#define nanosleep smg_fetch_nanosleep

/*
 * http.c's one call that waits for the network, cu.easy_perform(curl),
 * made a direct call: asyncify then instruments only the functions on the
 * way to it (-sASYNCIFY_IGNORE_INDIRECT), which halves the module.  The
 * field of the same name, followed by no parenthesis, is left alone.
 */
#define easy_perform(curl) easy_perform ? smg_fetch_perform(curl) : CURLE_FAILED_INIT
int smg_fetch_perform(void *curl);

void *smg_fetch_dlopen(const char *name, int flags);
void *smg_fetch_dlsym(void *lib, const char *name);
char *smg_fetch_dlerror(void);
int smg_fetch_nanosleep(const struct timespec *want, struct timespec *left);
/* musl has none; the jitter of the backoff needs one. */
uint32_t arc4random_uniform(uint32_t upper);

#endif
