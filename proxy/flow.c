/*
 * flow.c - one direction's buffer of a proxied connection, and the framing
 * of the bodies that stream through it (Content-Length, chunked, close).
 * No I/O here: side.c reads into a flow and writes out of it.
 */
#include <string.h>

#include "proxy/proxy_int.h"

/* Make room at the end: move the pending and the raw bytes to the front. */
static void flow_compact(struct flow *f)
{
	size_t pending = flow_pending(f);
	size_t raw = flow_raw(f);

	if (f->start == 0 && f->fwd == f->scan)
		return;
	if (pending > 0 && f->start > 0)
		memmove(f->buf, f->buf + f->start, pending);
	if (raw > 0)
		memmove(f->buf + pending, f->buf + f->scan, raw);
	f->start = 0;
	f->fwd = f->scan = pending;
	f->end = pending + raw;
}

size_t flow_space(struct flow *f)
{
	if (f->start == f->end) {
		flow_reset(f);
	} else if (f->cap - f->end < f->cap / 4) {
		flow_compact(f);
	}
	return f->cap - f->end;
}

/*
 * Frame the raw bytes of a body: move what belongs to the message to the
 * pending part (or drop it, if discard). Returns 1 when the body ended,
 * 0 if more is needed, -1 on bad chunked framing.
 */
int flow_frame(struct flow *f, enum http1_framing framing, uint64_t *left, struct http1_chunked *ck,
               bool discard)
{
	size_t raw = flow_raw(f);
	size_t out = 0;
	size_t take = raw;

	switch (framing) {
	case HTTP1_BODY_NONE: return 1;
	case HTTP1_BODY_LENGTH:
		if (take > *left)
			take = (size_t)*left;
		*left -= take;
		if (f->fwd != f->scan && take > 0)
			memmove(f->buf + f->fwd, f->buf + f->scan, take);
		out = take;
		break;
	case HTTP1_BODY_CLOSE: /* also tunnels */
		if (f->fwd != f->scan && take > 0)
			memmove(f->buf + f->fwd, f->buf + f->scan, take);
		out = take;
		break;
	case HTTP1_BODY_CHUNKED: {
		ssize_t used;

		if (raw == 0)
			return ck->done ? 1 : 0;
		used = http1_chunked_feed(ck, f->buf + f->fwd, f->buf + f->scan, raw, &out);
		if (used < 0)
			return -1;
		take = (size_t)used;
		break;
	}
	}
	f->scan += take;
	if (discard) {
		f->start = f->fwd = f->scan;
	} else {
		f->fwd += out;
		if (f->start == f->fwd && f->fwd < f->scan)
			f->start = f->fwd = f->scan; /* close the gap when nothing waits */
	}
	if (framing == HTTP1_BODY_LENGTH)
		return *left == 0 ? 1 : 0;
	if (framing == HTTP1_BODY_CHUNKED)
		return ck->done ? 1 : 0;
	return 0;
}

/* Drop leading CRLFs before a request line (RFC 9112 §2.2). */
void flow_skip_empty_lines(struct flow *f)
{
	while (flow_raw(f) >= 2 && f->buf[f->scan] == '\r' && f->buf[f->scan + 1] == '\n')
		f->scan += 2;
	f->start = f->fwd = f->scan;
}
