#include "lib/text.h"

#include <errno.h>
#include <stdbool.h>

int text_hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 9110 tchar. */
static const unsigned char text_tchar_table[256] = {
        ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
        ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
        ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
        ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
        ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
        ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
        ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
        ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
        ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
        ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

bool text_is_tchar(unsigned char c)
{
	return text_tchar_table[c] != 0;
}

bool text_is_field_value_byte(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

bool text_is_field_value(const char *value, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!text_is_field_value_byte((unsigned char)value[i]))
			return false;
	}
	return true;
}

ssize_t text_percent_decode(const char *in, size_t len, char *out, size_t size, unsigned flags)
{
	size_t n = 0;
	bool too_long = false;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		bool escaped = false;

		if (c == '%') {
			int hi = i + 2 < len ? text_hex_digit((unsigned char)in[i + 1]) : -1;
			int lo = i + 2 < len ? text_hex_digit((unsigned char)in[i + 2]) : -1;

			if (hi >= 0 && lo >= 0) {
				c = (unsigned char)(hi * 16 + lo);
				escaped = true;
				i += 2;
			} else if (!(flags & TEXT_PCT_LENIENT)) {
				return -EINVAL;
			}
		}
		if (c == '\0' && (flags & (TEXT_PCT_NO_NUL | TEXT_PCT_NO_CONTROL)))
			return -EINVAL;
		if ((c < 0x20 || c == 0x7f) && (flags & TEXT_PCT_NO_CONTROL))
			return -EINVAL;
		if ((flags & TEXT_PCT_SEGMENT) && (c == '\\' || (escaped && c == '/')))
			return -EINVAL;
		if (out != NULL && n + 1 < size)
			out[n] = (char)c;
		else if (out != NULL)
			too_long = true;
		n++;
	}
	if (out != NULL && !too_long && n < size)
		out[n] = '\0';
	else if (out != NULL)
		too_long = true;
	return too_long ? -ENAMETOOLONG : (ssize_t)n;
}

ssize_t text_find_unprintable(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c <= 0x20 || c >= 0x7f)
			return (ssize_t)i;
	}
	return -1;
}

static unsigned char text_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static size_t text_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

size_t text_edit_distance(const char *a, size_t a_len, const char *b, size_t b_len)
{
	size_t rows[3][TEXT_DISTANCE_MAX + 1];
	size_t *before = rows[0];
	size_t *last = rows[1];
	size_t *row = rows[2];

	if (a_len > TEXT_DISTANCE_MAX || b_len > TEXT_DISTANCE_MAX)
		return TEXT_DISTANCE_MAX + 1;
	for (size_t j = 0; j <= b_len; j++)
		last[j] = j;
	for (size_t i = 1; i <= a_len; i++) {
		size_t *spare = before;

		row[0] = i;
		for (size_t j = 1; j <= b_len; j++) {
			unsigned char ca = text_lower((unsigned char)a[i - 1]);
			unsigned char cb = text_lower((unsigned char)b[j - 1]);
			size_t cost = ca == cb ? 0 : 1;

			row[j] =
			        text_min(text_min(last[j] + 1, row[j - 1] + 1), last[j - 1] + cost);
			if (i > 1 && j > 1 && ca == text_lower((unsigned char)b[j - 2]) &&
			    text_lower((unsigned char)a[i - 2]) == cb)
				row[j] = text_min(row[j], before[j - 2] + 1);
		}
		before = last;
		last = row;
		row = spare;
	}
	return last[b_len];
}
