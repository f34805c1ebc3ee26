/* quotetape — a local Alpaca-compatible market-data websocket server.
 *
 * One upstream (the recorder's live connection, or a replayed tape) fanned
 * out to any number of local clients, each speaking Alpaca's documented v2
 * stream protocol:
 *
 *   paths        /v2/iex, /v2/sip, /v2/delayed_sip, /v2/test (others: 404)
 *   on open      [{"T":"success","msg":"connected"}]
 *   auth         {"action":"auth","key":K,"secret":S}
 *                -> [{"T":"success","msg":"authenticated"}]
 *                any key is accepted unless cfg.key/secret are set; a
 *                wrong one gets 402 "auth failed" and the connection closes
 *   no auth      404 "auth timeout" after cfg.auth_timeout_ns (10 s), closes
 *   too early    401 "not authenticated" for (un)subscribe before auth, closes
 *   again        403 "already authenticated" for a second auth
 *   bad input    400 "invalid syntax" (not an object, no/unknown action,
 *                wrong field types)
 *   too many     405 "symbol limit exceeded" (more than QT_SUB_MAX in a list)
 *   subscribe    {"action":"subscribe","quotes":[..],"trades":[..],"bars":[..]}
 *   unsubscribe  the same with "unsubscribe"; both are answered with the
 *                whole subscription ({"T":"subscription",...}); "*" in a
 *                list subscribes to every symbol of that kind
 *   slow         407 "slow client", then the connection closes
 *
 * Codec: JSON text frames by default; MessagePack binary frames when the
 * upgrade request carries `Content-Type: application/msgpack` (as Alpaca's
 * SDKs send it). In MessagePack "t" is the timestamp extension (type -1) with
 * full nanoseconds. Client actions are read in either codec whatever the
 * connection's codec is (a text frame as JSON, a binary frame as msgpack).
 *
 * Batching: each client has its own queue; when its socket becomes writable
 * everything queued (up to cfg.frame_max bytes) goes out as one frame, so
 * messages that arrive together travel together, as Alpaca sends them.
 *
 * Back-pressure: the queue is bounded (cfg.queue_bytes and cfg.queue_msgs).
 * A client whose queue would pass either bound is sent 407 and dropped; no
 * other client waits for it. There is no connection limit (no 406).
 *
 * Threading: the server owns one libwebsockets context and one service
 * thread, started by qt_aserver_start and joined by qt_aserver_free. Every
 * qt_aserver_publish_* call is thread-safe and cheap: the message's JSON is
 * made on the caller's thread (MessagePack once, on first need, on the
 * service thread), put on a bounded hand-over ring under a mutex, and the
 * service thread is woken with lws_cancel_service(). When the ring is full
 * (cfg.ring_msgs) the publisher waits until the service thread has drained
 * it, so a producer can never outrun memory; the wait is short because the
 * service thread only moves pointers into client queues. So:
 *   - the replayer calls publish from its pacing loop (its own thread);
 *   - the recorder calls publish from its fanout hook (inside its own lws
 *     client context's callback); no context is shared, nothing else to do.
 *
 * Per-client streams (replay --per-client): cfg.on_event is called on the
 * service thread when a client opens (with its path and URL query, e.g.
 * "from=+5m&speed=10"), authenticates, changes its subscription and closes.
 * Returning QT_AS_PRIVATE from the OPEN event makes that client private: it
 * then receives only what qt_aserver_publish_to() sends it, not the shared
 * stream. Subscription filtering applies to private clients too, so a
 * feeder usually starts on the client's first SUBSCRIBE event. Client ids
 * are never reused; publishing to a client that has gone is a no-op.
 * The event callback runs on the service thread (the CLOSE events of the
 * connections still open at qt_aserver_free run on the caller of free): it
 * must not block nor call qt_aserver_free. Publishing from it never waits:
 * with the ring full it returns QT_EBUSY.
 */
#ifndef QT_ASERVER_H
#define QT_ASERVER_H

#include <stddef.h>
#include <stdint.h>

#include "core/codec.h"
#include "core/error.h"
#include "core/quote.h"

typedef struct qt_aserver qt_aserver;

typedef enum qt_as_event_kind {
    QT_AS_OPEN = 1,  /* a websocket opened on a valid path */
    QT_AS_AUTH,      /* the client authenticated */
    QT_AS_SUBSCRIBE, /* the client's subscription changed */
    QT_AS_CLOSE      /* the connection is gone (any reason) */
} qt_as_event_kind;

typedef struct qt_as_event {
    qt_as_event_kind kind;
    uint64_t client;   /* id, from 1, never reused */
    const char *path;  /* "/v2/iex" ...; valid during the call */
    const char *query; /* URL query without '?', "" if none */
    int msgpack;       /* the client's codec is MessagePack */
    size_t nsyms;      /* SUBSCRIBE: symbols (all lists) now subscribed */
    int close_code;    /* CLOSE: Alpaca error code that closed it, 0 = peer */
    char *reply;       /* OPEN: room for a QT_AS_REJECT message; else NULL */
    size_t replysz;
} qt_as_event;

/* Return value of the OPEN event: share the common stream (0) or not (1),
 * or refuse the connection (2): it gets `connected`, then error 400 with
 * the message the callback wrote into ev->reply (e.g. "invalid from in URL:
 * ..."), and is closed. */
#define QT_AS_SHARED 0
#define QT_AS_PRIVATE 1
#define QT_AS_REJECT 2

typedef int (*qt_as_event_fn)(const qt_as_event *ev, void *ud);

typedef struct qt_aserver_cfg {
    const char *bind;         /* "HOST:PORT"; port 0 = ephemeral; NULL = 127.0.0.1:8765 */
    int allow_remote;         /* bind a non-loopback address (else QT_EUSAGE) */
    const char *key, *secret; /* both NULL = any key; else both must match */
    int64_t auth_timeout_ns;  /* 0 = 10 s */
    size_t queue_bytes;       /* per-client bound; 0 = 8 MiB */
    size_t queue_msgs;        /* per-client bound; 0 = 100000 */
    size_t frame_max;         /* largest batch frame; 0 = 256 KiB */
    size_t ring_msgs;         /* hand-over ring; 0 = 65536 */
    qt_as_event_fn on_event;  /* may be NULL */
    void *ud;
} qt_aserver_cfg;

typedef struct qt_aserver_stats {
    uint64_t clients_now, clients_total;
    uint64_t published;     /* messages handed to publish (accepted) */
    uint64_t delivered;     /* message copies written to sockets */
    uint64_t frames, bytes; /* data frames / bytes written */
    uint64_t slow;          /* clients dropped with 407 */
    uint64_t auth_failed, auth_timeouts, bad_syntax;
    uint64_t dropped_private; /* publish_to a client that had gone */
} qt_aserver_stats;

/* Binds, creates the context and starts the service thread. The listening
 * socket is open when this returns, so a client may connect at once.
 * Errors: QT_EUSAGE (bad bind text, non-loopback without allow_remote,
 * key without secret), QT_ENET (cannot listen, e.g. port in use),
 * QT_ENOMEM. cfg strings are copied. */
qt_err qt_aserver_start(const qt_aserver_cfg *cfg, qt_aserver **out, char *err, size_t errsz);

/* The port actually listened on (useful with port 0). */
int qt_aserver_port(const qt_aserver *s);

/* Publishes one message to every shared client subscribed to its symbol.
 * m is a quote, trade or bar as the codec parsed it. If m->raw is JSON text
 * ('{' first) it is sent to JSON clients byte for byte; if it is msgpack it is
 * sent to msgpack clients as is; the other codec is encoded from m->u.
 * This is the recorder's fanout hook: call it as is.
 * Returns QT_EINVAL for another message type, QT_EINTR once the server is
 * stopping. Thread-safe; may wait while the hand-over ring is full (except
 * on the service thread, in an event callback: QT_EBUSY then). */
qt_err qt_aserver_publish_msg(qt_aserver *s, const qt_msg *m);

/* Publishes n messages at once: they reach each client's queue together,
 * so a client that is keeping up gets them in one frame (an upstream frame
 * of several quotes stays one frame). Same rules as qt_aserver_publish_msg;
 * on an encoding error nothing is published. */
qt_err qt_aserver_publish_msgs(qt_aserver *s, const qt_msg *ms, size_t n);

/* The same for a quote struct; raw_json (may be NULL) is the quote object as
 * received, sent to JSON clients unchanged; without it the JSON is encoded
 * from q. */
qt_err qt_aserver_publish_quote(qt_aserver *s, const qt_quote *q, const char *raw_json,
                                size_t raw_len);

/* The same for one message object in JSON text (a replayed tape's "msg", a
 * Kafka value): parsed here, on the caller's thread. QT_EINVAL with a reason
 * for text that is not a quote, trade or bar. */
qt_err qt_aserver_publish_json(qt_aserver *s, const char *json, size_t len, char *err,
                               size_t errsz);

/* Like qt_aserver_publish_msg / _json but to one client only (private or
 * not), still filtered by that client's subscription. */
qt_err qt_aserver_publish_msg_to(qt_aserver *s, uint64_t client, const qt_msg *m);
qt_err qt_aserver_publish_json_to(qt_aserver *s, uint64_t client, const char *json, size_t len,
                                  char *err, size_t errsz);

/* Sends one client the error [{"T":"error","code":CODE,"msg":MSG}] (MSG
 * NULL = Alpaca's text for the code) after what is already queued for it,
 * then closes it. Thread-safe (from an event callback: QT_EBUSY when the
 * ring is full); a client that has gone is a no-op. For a per-client
 * stream that cannot start (its ?from= names an empty selection). */
qt_err qt_aserver_fail_client(qt_aserver *s, uint64_t client, int code, const char *msg);

/* Counters so far (consistent enough for logs and tests). */
void qt_aserver_get_stats(qt_aserver *s, qt_aserver_stats *st);

/* Waits up to timeout_ms until every message published so far has been
 * written to (or dropped for) every client it was queued for. QT_OK when
 * drained, QT_ETIMEOUT otherwise. For a clean end of a finite replay. */
qt_err qt_aserver_drain(qt_aserver *s, int timeout_ms);

/* Stops the service thread, closes every connection (Alpaca-style: the
 * socket just closes) and frees everything. A publisher blocked on a full
 * ring returns QT_EINTR; stop and join producer threads before this call
 * returns memory to the system (publishing after free is a use-after-free).
 * s may be NULL. */
void qt_aserver_free(qt_aserver *s);

/* Finds name=VALUE in a query as handed to the OPEN event ("from=+5m&
 * speed=10") and copies VALUE into val (size n). Returns 1 when found, 0 when
 * absent, -1 when VALUE does not fit. */
int qt_aserver_query_get(const char *query, const char *name, char *val, size_t n);

#endif
