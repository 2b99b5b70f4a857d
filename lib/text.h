/*
 * text.h - the small character tests that parsers share, so that there is
 * one of each.
 */
#ifndef WARDEN_TEXT_H
#define WARDEN_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The value of a hexadecimal digit (either case), or -1. */
int text_hex_digit(unsigned char c);

/* RFC 9110 tchar: a byte of a token (a method, a header name). */
bool text_is_tchar(unsigned char c);

/*
 * A byte a field value may hold (RFC 9110 field-vchar, SP, HTAB, obs-text):
 * anything but a control byte (HTAB allowed) and DEL, so no CR/LF injection.
 */
bool text_is_field_value_byte(unsigned char c);

/* Is every byte of value[0..len) a field-value byte? */
bool text_is_field_value(const char *value, size_t len);

/* Flags for text_percent_decode. */
#define TEXT_PCT_NO_NUL     0x1 /* a NUL byte, raw or decoded, is an error */
#define TEXT_PCT_NO_CONTROL 0x2 /* a control byte (0x00-0x1f, 0x7f), raw or decoded, too */
#define TEXT_PCT_SEGMENT    0x4 /* one path segment: an encoded '/' or any '\\' is an error */
#define TEXT_PCT_LENIENT    0x8 /* a '%' without two hex digits stays a literal '%' */

/*
 * Percent-decode in[0..len) ("%41" -> 'A'; '+' stays a literal '+') into
 * out[size], NUL-terminated, under the TEXT_PCT_* flags. out may be NULL
 * (size 0) to only check in and count. Returns the decoded length, -EINVAL
 * for a bad escape (unless TEXT_PCT_LENIENT) or a byte the flags refuse, or
 * -ENAMETOOLONG when the decoded text and its NUL do not fit out (the
 * contents of out are then unspecified). Pure; the one percent-decoder.
 */
ssize_t text_percent_decode(const char *in, size_t len, char *out, size_t size, unsigned flags);

/*
 * The offset of the first byte of text[0..len) that is a space, a control
 * character or not ASCII (<= 0x20 or >= 0x7f), or -1 when there is none.
 */
ssize_t text_find_unprintable(const char *text, size_t len);

/*
 * The edit distance between a and b, ignoring ASCII case: insertions,
 * deletions, substitutions and swaps of two neighbours each count 1
 * (optimal string alignment). For "did you mean" suggestions: strings
 * longer than TEXT_DISTANCE_MAX bytes give TEXT_DISTANCE_MAX + 1. Pure.
 */
#define TEXT_DISTANCE_MAX 64
size_t text_edit_distance(const char *a, size_t a_len, const char *b, size_t b_len);

#endif
