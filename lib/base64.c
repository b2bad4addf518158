/*
 * base64.c - base64 (RFC 4648, padded) of the stream's blobs and of HTTP
 * endpoints' values: written table-driven, read strictly, so that each
 * byte string has exactly one encoding (declared in json.h).
 */
#include "json.h"

/* Table-driven rather than libsodium's constant-time encoder: these are
 * row values, not secrets, and every blob of every row passes here. */
void smg_base64_add(struct smg_buf *b, const char *p, size_t n)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = (const unsigned char *)p;
	smg_buf_grow(b, (n + 2) / 3 * 4 + 1);
	char *o = b->data + b->len;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		o[0] = digits[v >> 18];
		o[1] = digits[v >> 12 & 63];
		o[2] = digits[v >> 6 & 63];
		o[3] = digits[v & 63];
		o += 4;
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
		o[0] = digits[v >> 18];
		o[1] = digits[v >> 12 & 63];
		o[2] = i + 1 < n ? digits[v >> 6 & 63] : '=';
		o[3] = '=';
		o += 4;
	}
	b->len = (size_t)(o - b->data);
	*o = '\0';
}

/* A digit's value plus one, 0 for anything else. */
#define B(c, v) [c] = v + 1
static const unsigned char b64v[256] = {
	B('A', 0), B('B', 1), B('C', 2), B('D', 3), B('E', 4), B('F', 5), B('G', 6), B('H', 7),
	B('I', 8), B('J', 9), B('K', 10), B('L', 11), B('M', 12), B('N', 13), B('O', 14),
	B('P', 15), B('Q', 16), B('R', 17), B('S', 18), B('T', 19), B('U', 20), B('V', 21),
	B('W', 22), B('X', 23), B('Y', 24), B('Z', 25), B('a', 26), B('b', 27), B('c', 28),
	B('d', 29), B('e', 30), B('f', 31), B('g', 32), B('h', 33), B('i', 34), B('j', 35),
	B('k', 36), B('l', 37), B('m', 38), B('n', 39), B('o', 40), B('p', 41), B('q', 42),
	B('r', 43), B('s', 44), B('t', 45), B('u', 46), B('v', 47), B('w', 48), B('x', 49),
	B('y', 50), B('z', 51), B('0', 52), B('1', 53), B('2', 54), B('3', 55), B('4', 56),
	B('5', 57), B('6', 58), B('7', 59), B('8', 60), B('9', 61), B('+', 62), B('/', 63),
};
#undef B

/* Strict: padded to a multiple of four, no other byte, and the bits the
 * padding leaves over zero, so each byte string has one encoding (the one
 * smg_base64_add writes).  out has room for n / 4 * 3 bytes. */
bool smg_base64_decode(const char *in, size_t n, char *out, size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char *o = (unsigned char *)out;
	if (n % 4)
		return false;
	size_t pad = n && s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
	size_t whole = n - (pad ? 4 : 0);
	unsigned bad = 0;
	for (size_t i = 0; i < whole; i += 4) {
		unsigned a = b64v[s[i]], b = b64v[s[i + 1]], c = b64v[s[i + 2]], d = b64v[s[i + 3]];
		bad |= !a | !b | !c | !d;
		uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (d - 1);
		o[0] = (unsigned char)(v >> 16);
		o[1] = (unsigned char)(v >> 8);
		o[2] = (unsigned char)v;
		o += 3;
	}
	if (bad)
		return false;
	if (pad) {
		unsigned a = b64v[s[whole]], b = b64v[s[whole + 1]];
		unsigned c = pad == 1 ? b64v[s[whole + 2]] : 1;
		if (!a || !b || !c)
			return false;
		uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6;
		if (v & (pad == 1 ? 0xFF : 0xFFFF))	/* bits past the last byte */
			return false;
		*o++ = (unsigned char)(v >> 16);
		if (pad == 1)
			*o++ = (unsigned char)(v >> 8);
	}
	*outlen = (size_t)(o - (unsigned char *)out);
	return true;
}
