/* quotetape — listen addresses for the servers (--serve). */
#include "core/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "core/log.h"

qt_err qt_net_parse_bind(const char *bind, char *host, size_t hostsz, int *port, int *loopback,
                         char *err, size_t errsz)
{
    const char *colon, *h = bind;
    size_t hl;
    if (!bind || !*bind)
        return qt_fail(QT_EUSAGE, err, errsz, "empty serve address");
    if (bind[0] == '[') {
        const char *rb = strchr(bind, ']');
        if (!rb || rb[1] != ':')
            return qt_fail(QT_EUSAGE, err, errsz, "bad serve address '%s': want [V6]:PORT", bind);
        h = bind + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(bind, ':');
        if (!colon)
            return qt_fail(QT_EUSAGE, err, errsz, "bad serve address '%s': want HOST:PORT", bind);
        hl = (size_t)(colon - bind);
    }
    if (!hl || hl >= hostsz)
        return qt_fail(QT_EUSAGE, err, errsz, "bad serve address '%s': bad host", bind);
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 0 || p > 65535)
        return qt_fail(QT_EUSAGE, err, errsz, "bad serve address '%s': bad port", bind);
    *port = (int)p;
    unsigned char a6[16];
    struct in_addr a4;
    if (strcmp(host, "localhost") == 0) {
        *loopback = 1;
    } else if (inet_pton(AF_INET, host, &a4) == 1) {
        *loopback = (ntohl(a4.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, host, a6) == 1) {
        static const unsigned char lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        *loopback = memcmp(a6, lo6, 16) == 0;
    } else {
        return qt_fail(QT_EUSAGE, err, errsz,
                       "bad serve address '%s': host must be an IP address or localhost", bind);
    }
    return QT_OK;
}

qt_err qt_net_probe_bind(const char *host, int port, char *err, size_t errsz)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    if (strchr(host, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            return qt_fail(QT_EUSAGE, err, errsz, "cannot serve on '%s': not an address", host);
        sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return qt_fail(QT_EUSAGE, err, errsz, "cannot serve on '%s': not an address", host);
        sl = sizeof *a;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return qt_fail(QT_ENET, err, errsz, "cannot serve on %s:%d: %s", host, port,
                       strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = bind(fd, (struct sockaddr *)&ss, sl);
    int e = errno;
    close(fd);
    if (rc)
        return qt_fail(QT_ENET, err, errsz, "cannot serve on %s:%d: %s", host, port, strerror(e));
    return QT_OK;
}

qt_err qt_net_listen(const char *host, int port, const struct lws_protocols *protocols,
                     void *user, struct lws_context **ctx, int *bound, char *err, size_t errsz)
{
    struct lws_context_creation_info info;
    struct lws_vhost *vh;

    memset(&info, 0, sizeof info);
    info.port = port; /* 0: the kernel picks one */
    info.iface = host;
    info.protocols = protocols;
    info.user = user;
    info.count_threads = 1;
    info.options = strchr(host, ':') ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6;
    lws_set_log_level(qt_log_get_level() >= QT_LOG_DEBUG ? LLL_ERR | LLL_WARN : LLL_ERR, NULL);
    *ctx = lws_create_context(&info);
    if (!*ctx)
        return qt_fail(QT_ENET, err, errsz, "cannot serve on %s:%d: cannot listen", host, port);
    vh = lws_get_vhost_by_name(*ctx, "default");
    *bound = vh ? lws_get_vhost_listen_port(vh) : port;
    if (*bound <= 0) {
        lws_context_destroy(*ctx);
        *ctx = NULL;
        return qt_fail(QT_ENET, err, errsz, "cannot serve on %s:%d: cannot listen", host, port);
    }
    return QT_OK;
}
