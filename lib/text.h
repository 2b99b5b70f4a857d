/*
 * text.h - the small character tests that parsers share, so that there is
 * one of each.
 */
#ifndef WARDEN_TEXT_H
#define WARDEN_TEXT_H

#include <stddef.h>
#include <sys/types.h>

/* The value of a hexadecimal digit (either case), or -1. */
int text_hex_digit(unsigned char c);

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
