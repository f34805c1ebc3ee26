/* quotetape — the replayer: a source (tape or Kafka topic), the pacer, a sink
 * (Kafka topic or stdout).
 *
 * qt_replay_run pulls messages from a source, waits for each one's due time
 * (core/pacer.h), stamps it with a Kafka timestamp per the --timestamps mode
 * and hands it to a sink. Sources and sinks are small vtables so the loop
 * does not care where quotes come from or go to.
 *
 * Positions are half-open: a selection is [from, to). When a replay stops
 * early (signal, Kafka failure) the stats carry the exact --from that
 * resumes: the first message not confirmed by the sink, so a resumed run
 * leaves no gap; with an idempotent producer and a clean stop it leaves no
 * duplicate either. */
#ifndef QT_REPLAY_H
#define QT_REPLAY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/aserver.h"
#include "core/error.h"
#include "core/kafka.h"
#include "core/position.h"

/* One message on its way through the replayer. Pointers are valid until the
 * source's next call. */
typedef struct qt_replay_msg {
    int64_t pos;       /* tape seq, or Kafka offset */
    int32_t partition; /* topic source; -1 for a tape */
    const char *key;   /* symbol */
    size_t key_len;
    const char *value; /* the quote JSON exactly as recorded */
    size_t value_len;
    int64_t event_ns;  /* the quote's own time */
    int64_t recv_ns;   /* when it was received live; 0 = unknown */
    int64_t stamp_ns;  /* set by qt_replay_run before send: the --timestamps
                        * time in ns (what ts_ms is, unrounded) */
} qt_replay_msg;

/* ---- sources ----------------------------------------------------------- */

typedef struct qt_source qt_source;
struct qt_source {
    /* Returns 1 with *m filled, 0 at the end of the selection, -1 on error. */
    int (*next)(qt_source *s, qt_replay_msg *m, char *err, size_t errsz);
    /* Goes back to the start of the selection (--loop). */
    qt_err (*rewind)(qt_source *s, char *err, size_t errsz);
    /* Writes the --from value that starts at message pos of partition
     * ("seq:N", "offset:N"); 0 if it cannot be named with one position. */
    size_t (*resume)(qt_source *s, int64_t pos, int32_t partition, char *buf, size_t n);
    void (*free)(qt_source *s);
    qt_err last_err; /* what a -1 from next() was (QT_EIO if not set) */
    int64_t total; /* messages in one pass; -1 if unknown */
    int has_recv;  /* receive times are available (pace-by recv) */
};

/* A selection from either kind of source. The symbol strings must outlive
 * the source opened with it (they stay bound to its query). */
typedef struct qt_replay_sel {
    const char *const *symbols; /* NULL = all */
    size_t nsymbols;
    const char *from; /* position text; NULL = beginning */
    const char *to;   /* position text; NULL = end */
} qt_replay_sel;

/* Opens the tape at path read-only and resolves the selection. Errors: those
 * of qt_tape_open (QT_ENOTFOUND, QT_ETAPE, QT_EBUSY, ...), QT_EINVAL for a
 * position a tape cannot take, QT_ERANGE for from after to or an empty
 * selection. */
qt_err qt_source_tape_open(const char *path, const qt_replay_sel *sel, qt_source **out, char *err,
                           size_t errsz);

/* Opens a reader on a Kafka topic. The selection ends at the high watermarks
 * the topic had when opened (or earlier with --to); time positions are found
 * by reading timestamps. Messages whose key is not a selected symbol are
 * skipped. seq:N positions are refused (QT_EINVAL). */
qt_err qt_source_topic_open(const qt_kopts *k, const char *topic, const qt_replay_sel *sel,
                            qt_source **out, char *err, size_t errsz);

/* Wraps *src in a read-ahead thread (bounded: a few chunks of messages) so
 * reading overlaps sending. On success *src is the wrapper, which owns and
 * frees the original; on failure *src is unchanged. */
qt_err qt_source_prefetch(qt_source **src, char *err, size_t errsz);

/* ---- sinks ------------------------------------------------------------- */

typedef struct qt_sink qt_sink;
struct qt_sink {
    qt_err (*send)(qt_sink *k, const qt_replay_msg *m, int64_t ts_ms, char *err, size_t errsz);
    /* Optional: housekeeping (delivery reports, failure checks) that a paced
     * replay calls before it waits for a message that is not due yet (and
     * every idle_every_ns while a long wait lasts), so that send() itself
     * does as little as possible at the due time. */
    qt_err (*idle)(qt_sink *k, char *err, size_t errsz);
    /* Optional: rehearses sending m, which is due shortly, without sending
     * it: touches what send() will touch, so that memory gone cold while the
     * replay slept is warm again when m is due. A paced replay calls it
     * every few milliseconds while m is close, and repeatedly while it spins
     * to m's due time (see qt_pacer_set_warm). It must not block, fail or
     * change what is delivered. */
    void (*warm)(qt_sink *k, const qt_replay_msg *m);
    /* Waits up to timeout_ms for everything sent to be confirmed; what is
     * still unconfirmed then counts as failed. */
    qt_err (*flush)(qt_sink *k, int timeout_ms, char *err, size_t errsz);
    void (*free)(qt_sink *k);
    uint64_t delivered, failed;
    int64_t first_failed_pos; /* lowest failed position, -1 = none */
    int32_t first_failed_part;
    char failure[256];        /* the first delivery error, "" = none */
};

/* A Kafka sink: idempotent producer, key = symbol, value = quote JSON. Opening
 * creates the producer, which connects in the background, so open it before
 * the source: the two get ready together. When nothing is confirmed
 * connect_timeout_ms after the first message, a metadata request decides:
 * no answer (unreachable) or a topic error is a clear QT_EKAFKA with nothing
 * delivered; an answer means slow, and message.timeout.ms applies. Unless
 * -X/-F set them:
 * message.timeout.ms = 30 s, bounding how long a broker that goes away
 * mid-replay can stall the end, queue.buffering.max.kbytes = 8 MiB and
 * queue.buffering.max.messages = 10000, so memory does not grow with the
 * tape, and batch.num.messages = a quarter of that queue. k may gain those
 * properties. */
qt_err qt_sink_kafka_open(qt_kopts *k, const char *topic, int connect_timeout_ms, qt_sink **out,
                          char *err, size_t errsz);

/* A stdout sink: tape JSON lines ({"recv":..,"msg":RAW}). line_flush flushes
 * after each line (paced replays feeding a pipe). A closed pipe ends the
 * replay with QT_EIO. */
qt_err qt_sink_stdout_open(int line_flush, qt_sink **out, char *err, size_t errsz);

/* A websocket sink: publishes each message (its JSON as recorded) on srv, to
 * every shared client (client 0) or to that one client. With restamp the
 * message's "t" becomes m->stamp_ns (--timestamps shift|wall) and its JSON
 * is re-encoded. "delivered" counts messages handed to the server; a
 * message that is not a quote, trade or bar is counted failed and skipped.
 * Flush waits (bounded) until the server has written everything to its
 * clients (shared sink only); clients that are slow or gone never fail a
 * replay. srv must outlive the sink. */
qt_err qt_sink_serve_open(qt_aserver *srv, uint64_t client, int restamp, qt_sink **out,
                          char *err, size_t errsz);

/* ---- the replay loop --------------------------------------------------- */

typedef enum qt_pace_by { QT_PACE_AUTO = 0, QT_PACE_RECV, QT_PACE_EVENT } qt_pace_by;
typedef enum qt_ts_mode { QT_TS_ORIGINAL = 0, QT_TS_SHIFT, QT_TS_WALL } qt_ts_mode;

/* Tape time between the last quote of a --loop pass and the first of the
 * next (pacing and the event-time shift alike). */
#define QT_REPLAY_PASS_GAP_NS INT64_C(1000000000)

typedef struct qt_replay_cfg {
    double speed;        /* 1, N, or 0 = max */
    int64_t max_gap_ns;  /* 0 = no cap */
    int64_t loops;       /* passes: 1 = once, 0 = until stopped */
    qt_pace_by pace_by;  /* AUTO = recv when the source has receive times */
    qt_ts_mode ts_mode;
    int progress;        /* draw a progress line on stderr */
    int flush_timeout_ms; /* final flush bound; 0 = 35 s */
    int realtime;        /* paced: ask for real-time scheduling while pacing
                          * (one replay per process only, see pacer.h) */
    int64_t idle_every_ns; /* paced: the sink's idle() runs at least this often
                            * while waiting for a message; 0 = 1 s */
    volatile sig_atomic_t *stop;
} qt_replay_cfg;

typedef struct qt_replay_stats {
    uint64_t sent, delivered, failed, late, passes;
    int64_t p50_ns, p99_ns, max_ns; /* send lateness; 0 at max speed */
    int64_t elapsed_ns;
    int paced;           /* speed was not max: lateness was measured */
    int stopped;         /* ended early (signal or failure) */
    char resume[64];     /* --from value that resumes; "" when all was delivered */
} qt_replay_stats;

/* Replays src into sink. Returns QT_OK when the selection was sent and
 * confirmed, QT_EINTR when *cfg->stop ended it (after a flush), QT_ERANGE if
 * the source yielded nothing, or the source's / sink's error. stats is
 * filled in every case. */
qt_err qt_replay_run(const qt_replay_cfg *cfg, qt_source *src, qt_sink *sink,
                     qt_replay_stats *stats, char *err, size_t errsz);

/* Parses a --speed value: "max" -> 0, else a factor > 0 and <= 1e6 with an
 * optional trailing 'x' ("20", "0.5", "100x"). Returns 0, or -1 when s is
 * not one. */
int qt_replay_parse_speed(const char *s, double *v);

/* ---- replay over the Alpaca-compatible websocket (--serve) ------------- */

typedef struct qt_serve_replay_cfg {
    qt_aserver_cfg server; /* bind, allow_remote, key/secret, queue bounds;
                            * on_event and ud are taken over */
    qt_replay_cfg replay;  /* speed, loops, pacing; stop ends everything */
    int per_client;        /* each connection gets its own replay */
    int64_t wait_clients;  /* shared: start once this many clients have
                            * subscribed (0 = at once) */
    /* where per-client replays read from: a tape, or a topic */
    const char *db;
    const char *topic;
    const qt_kopts *kopts;
    qt_replay_sel sel; /* --from is each client's default */
} qt_serve_replay_cfg;

typedef struct qt_serve_replay_stats {
    qt_replay_stats replay; /* shared: the one replay */
    qt_aserver_stats server;
    uint64_t feeds, feeds_failed; /* per-client replays started / refused */
} qt_serve_replay_stats;

/* Serves a replay on an Alpaca-compatible websocket until *cfg->replay.stop.
 *
 * Shared (default): src (opened by the caller, owned by it) is replayed once
 * through the pacer to every client, like a live market: clients that come
 * late join mid-stream. With wait_clients the clock starts only when that
 * many clients have subscribed. When the replay ends the server keeps
 * serving (idle) until stopped.
 *
 * Per-client: src is not used (may be NULL). Each connection is private;
 * its URL may carry ?from=POS&speed=S (else --from and --speed). A bad value
 * gets error 400 with the reason and the connection closes. On the client's
 * first subscription a feeder thread opens its own source and replays into
 * that client only; it stops when the client goes. All feeders are joined
 * before the server is freed.
 *
 * Returns QT_OK when stopped after a complete (shared) replay or in
 * per-client mode, QT_EINTR when stopped mid-replay, or the server's /
 * replay's error. */
qt_err qt_serve_replay_run(qt_serve_replay_cfg *cfg, qt_source *src, qt_serve_replay_stats *st,
                           char *err, size_t errsz);

/* Writes a one-line human summary of stats into buf: sent, delivered,
 * failed, then (paced replays) late count and p50/p99/max lateness, passes
 * (if more than one), elapsed. */
size_t qt_replay_summary(const qt_replay_stats *st, char *buf, size_t n);

#endif
