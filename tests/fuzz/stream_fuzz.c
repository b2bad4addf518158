/*
 * libFuzzer target for the stream reader: any bytes must give records or a
 * clean "bad data" error, never a crash or an out-of-bounds read.
 *
 *   make fuzz && mkdir -p build/fuzz/corpus-stream
 *   build/fuzz/stream_fuzz -max_total_time=60 build/fuzz/corpus-stream tests/fuzz/corpus-stream
 * (libFuzzer adds what it finds to the first directory: never name
 * tests/fuzz/corpus-stream first)
 *
 * smg_die exits; here its hook jumps back instead, so an error is an
 * ordinary outcome of one input.  Leaks count: what the reader held when
 * it died is the reader's, freed by smg_reader_close.
 */
#include "stream.h"

#include <setjmp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static jmp_buf back;
static struct smg_reader *reader;

static void jump_back(void)
{
	longjmp(back, 1);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct smg_value *vals;
	static size_t cap;
	int fd = memfd_create("stream", 0);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	lseek(fd, 0, SEEK_SET);
	smg_atdie(jump_back);
	if (setjmp(back) == 0) {
		reader = smg_reader_open(fd, "fuzz");
		const struct smg_record *rec;
		while ((rec = smg_reader_next(reader)))
			if ((rec->kind == SMG_REC_ROW || rec->kind == SMG_REC_CHANGE) && rec->values)
				smg_reader_values(reader, rec, &vals, &cap);
	}
	smg_reader_close(reader);
	reader = NULL;
	close(fd);
	return 0;
}
