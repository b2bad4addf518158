/*
 * json.h - typed values and the JSON the stream needs, and no more: values
 * out (json-encode.c), a cursor that decodes them back (json.c), and the
 * base64 of blobs (base64.c).  Hand-written because the row stream is the
 * hot path; see smugglr-stream(5) for the encoding.
 */
#ifndef SMG_JSON_H
#define SMG_JSON_H

#include "smg.h"

/* ---- typed values ---------------------------------------------------- */

enum smg_type { SMG_NULL, SMG_INT, SMG_REAL, SMG_TEXT, SMG_BLOB };

/* A value.  Text and blob bytes are borrowed: whoever filled the value
 * says how long they live (until the next row, usually). */
struct smg_value {
	enum smg_type type;
	int64_t i;
	double r;
	const char *p;
	size_t n;
};

const char *smg_type_name(enum smg_type t);

/* ---- JSON encoding of values ------------------------------------------ */

/* Does byte c need an escape in a JSON string?  (Inline: both the writer
 * and the reader ask it of every byte.) */
static inline bool smg_json_needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

/* Append a JSON string literal for UTF-8 text p[0..n). */
void smg_json_add_string(struct smg_buf *b, const char *p, size_t n);
/* Append the typed encoding of a value (see smugglr-stream(5)). */
void smg_json_add_value(struct smg_buf *b, const struct smg_value *v);
/* Append "[v0,v1,...]". */
void smg_json_add_values(struct smg_buf *b, const struct smg_value *v, size_t n);
bool smg_utf8_valid(const char *p, size_t n);
/* Append p[0..n) as base64 (RFC 4648, padded). */
void smg_base64_add(struct smg_buf *b, const char *p, size_t n);
/* Strict base64 (RFC 4648, padded) into out (room for n / 4 * 3 bytes). */
bool smg_base64_decode(const char *in, size_t n, char *out, size_t *outlen);

/* A cursor over JSON text.  Parse errors set err (a static message) and
 * leave p where the error was found.  Strings with escapes and blobs are
 * decoded into scratch, which the caller grows by the length of the input
 * before parsing (decoded bytes never outnumber raw ones), so pointers into
 * it stay valid while the input is parsed. */
struct smg_json {
	const char *p, *start, *end;
	const char *err;
	struct smg_buf *scratch;
};

void smg_json_init(struct smg_json *j, const char *p, size_t n, struct smg_buf *scratch);
void smg_json_ws(struct smg_json *j);
bool smg_json_expect(struct smg_json *j, char c);
bool smg_json_string(struct smg_json *j, const char **p, size_t *n);
/* Skip any JSON value, giving its raw span. */
bool smg_json_skip(struct smg_json *j, const char **raw, size_t *rawlen);
bool smg_json_int(struct smg_json *j, int64_t *out);
/* One typed value (see smugglr-stream(5)). */
bool smg_json_value(struct smg_json *j, struct smg_value *v);
/* A JSON array of typed values into *vals (grown as needed, *cap slots). */
bool smg_json_values(struct smg_json *j, struct smg_value **vals, size_t *nvals,
		     size_t *cap);
/* Step through the items of an array or object whose opening bracket was
 * read: 1 with the cursor at the next item, 0 at `close` (consumed), -1 on
 * an error (j->err set).  Start with *i = 0. */
int smg_json_next_item(struct smg_json *j, size_t *i, char close);
/* A JSON array of strings, each a new NUL-terminated copy; on an error
 * nothing is allocated (*out NULL). */
bool smg_json_strings(struct smg_json *j, char ***out, size_t *n);

/* Split a raw JSON array "[a,b,c]" into the raw spans of its elements. */
bool smg_json_split(const char *raw, size_t len, const char **elem, size_t *elen,
		    size_t want);

#endif
