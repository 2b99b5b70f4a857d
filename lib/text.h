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

#endif
