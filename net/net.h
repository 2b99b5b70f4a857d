/*
 * net.h - deadline-bounded name resolution and TCP connect, shared by the
 * probe kinds that open their own sockets (tcp, redis) and by postgres (which
 * resolves first so that libpq never does a blocking lookup).
 *
 * Nothing here blocks past the deadline it is given, whatever the resolver
 * or the peer does.
 */
#ifndef WARDEN_NET_NET_H
#define WARDEN_NET_NET_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "net/outcome.h"

/* One resolved address. */
struct net_addr {
	struct sockaddr_storage sa;
	socklen_t len;
};

#define NET_ADDRS_MAX 8

/*
 * Resolve host (a name or a literal v4/v6 address) and port to at most
 * NET_ADDRS_MAX TCP addresses, in resolver order, before deadline_mono_ms.
 * Uses getaddrinfo_a, so a hung resolver costs at most the deadline; a lookup
 * abandoned at the deadline is freed when it completes (no leak, no
 * use-after-free). Returns the number of addresses (> 0), or a negative
 * value with status filled: NET_DNS (no such name, resolver error),
 * NET_TIMEOUT, or NET_INTERNAL (bad port, out of memory). Names in
 * ".invalid" fail at once without asking the resolver (RFC 6761). A
 * lookup abandoned at the deadline keeps one of glibc's resolver threads
 * until the system resolver gives up on it.
 */
int net_resolve(const char *host, int port, int64_t deadline_mono_ms, struct net_addr *addrs,
                struct net_status *status);

/*
 * Connect a non-blocking TCP socket to the first address that accepts,
 * before deadline_mono_ms. Returns the connected fd (O_NONBLOCK, CLOEXEC,
 * TCP_NODELAY), or -1 with status filled: NET_REFUSED, NET_TIMEOUT,
 * NET_NETWORK (unreachable, reset...).
 */
int net_connect(const struct net_addr *addrs, int count, int64_t deadline_mono_ms,
                struct net_status *status);

/*
 * Wait until fd is ready for `events` (POLLIN/POLLOUT) or the deadline.
 * Returns 0 when ready, -1 with status = NET_TIMEOUT at the deadline (or
 * NET_NETWORK on a poll error / hang-up with nothing to read).
 */
int net_wait(int fd, short events, int64_t deadline_mono_ms, struct net_status *status);

/* Write all n bytes before the deadline. 0, or -1 with status filled. */
int net_write_all(int fd, const void *data, size_t n, int64_t deadline_mono_ms,
                  struct net_status *status);

/*
 * Read what is available (waiting for at least one byte) before the
 * deadline. Returns bytes read (> 0), or -1 with status filled (NET_TIMEOUT,
 * NET_NETWORK for a reset or an early close).
 */
ssize_t net_read_some(int fd, void *buf, size_t size, int64_t deadline_mono_ms,
                      struct net_status *status);

/* Format an address as "1.2.3.4:5" or "[::1]:5" into buf. */
void net_addr_str(const struct net_addr *addr, char *buf, size_t size);

#endif
