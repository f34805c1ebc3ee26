/* quotetape — listen addresses for the servers (--serve): parsing
 * "HOST:PORT" and checking early that the address can be bound. Shared by
 * the Alpaca-compatible websocket server and the viewer's web page. */
#ifndef QT_NETADDR_H
#define QT_NETADDR_H

#include <stddef.h>

#include "core/error.h"

/* Parses "HOST:PORT" or "[V6]:PORT" (port 0..65535) into host (size hostsz)
 * and *port, and reports whether host is a loopback address
 * (127.0.0.0/8, ::1, localhost). Anything else is QT_EUSAGE with a reason. */
qt_err qt_net_parse_bind(const char *bind, char *host, size_t hostsz, int *port, int *loopback,
                         char *err, size_t errsz);

/* Binds host:port once the way libwebsockets will (SO_REUSEADDR) and lets
 * it go, so a busy port or a foreign address is reported with the system's
 * words (QT_ENET) before a server starts; libwebsockets 4.1 would only log
 * it, and leaks a little when it fails to listen. */
qt_err qt_net_probe_bind(const char *host, int port, char *err, size_t errsz);

struct lws_context;
struct lws_protocols;

/* Starts a libwebsockets server context listening on host:port (0 = the
 * kernel picks; IPv6 only for a v6 host) with one service thread's worth of
 * state, the given protocols and user pointer. *bound gets the port it
 * listens on. libwebsockets logs errors only (warnings too with -v). On
 * failure nothing is left to free. */
qt_err qt_net_listen(const char *host, int port, const struct lws_protocols *protocols,
                     void *user, struct lws_context **ctx, int *bound, char *err, size_t errsz);

#endif
