/* quotetape — the recorder: one Alpaca websocket connection, every message
 * into the dual sink (tape + Kafka).
 *
 * A single-threaded libwebsockets client loop. The documented handshake:
 * wait for "connected", send auth, check "authenticated", subscribe, check
 * that the subscription reply lists what was asked; then every frame (an
 * array of messages, possibly fragmented: reassembled up to a cap) is parsed
 * with the core codec and each quote (trade, bar) appended to the sink.
 *
 * Faults: a lost connection is retried with exponential backoff and jitter
 * (an lws_retry_bo_t table) and written to the tape as a gap; 406 (another
 * client holds the key's one connection) backs off for limit_backoff; 402
 * and the other non-retriable errors end the run with a distinct error; a
 * socket that stays open but silent (no data and no pong for idle_timeout)
 * is dropped and reconnected. Nothing blocks inside a callback; the batch
 * commit and Kafka polling run from an lws_sul timer.
 *
 * Fan-out: every message handed to the sink is also handed to the optional
 * fanout hook (raw text, type), so a local Alpaca-compatible server can
 * serve the live stream to more clients without another connection. */
#ifndef QT_RECORDER_H
#define QT_RECORDER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/codec.h"
#include "core/error.h"
#include "core/kafka.h"

/* Called for each recorded message (quote, trade, bar) after it is in the
 * open batch; raw is valid during the call only. */
typedef void (*qt_rec_fanout_fn)(const qt_msg *m, void *ud);

typedef struct qt_rec_opts {
    const char *url;                  /* ws:// or wss:// */
    const char *const *symbols;       /* quotes (and trades/bars when asked) */
    size_t nsymbols;
    int trades, bars;                 /* also subscribe to trades / bars */
    const char *key_id, *secret;      /* never logged */
    int insecure;                     /* wss without peer verification (local tests) */
    const char *ca_file;              /* PEM CAs for wss instead of the system's; NULL */
    const char *source;               /* session source, e.g. "alpaca:iex" */

    const char *db;                   /* the tape */
    const qt_kopts *kopts;            /* NULL: tape only */
    const char *topic, *trades_topic, *bars_topic;

    int64_t backoff_min_ns, backoff_max_ns; /* reconnect backoff; 0 = 500ms, 30s */
    int64_t limit_backoff_ns;         /* after 406; 0 = 60s */
    int64_t idle_timeout_ns;          /* silent socket; 0 = 30s */
    int64_t commit_interval_ns;       /* 0 = 200ms */
    int64_t connect_timeout_ns;       /* handshake to subscription; 0 = 15s */
    int flush_timeout_ms;             /* at shutdown; 0 = 10000 */
    size_t frame_max;                 /* 0 = QT_FRAME_MAX */
    size_t batch_max;                 /* rows per transaction; 0 = 10000 */
    int64_t max_quotes;               /* stop after this many quotes; 0 = no limit */

    volatile sig_atomic_t *stop;      /* set by a signal handler */
    qt_rec_fanout_fn fanout;          /* may be NULL */
    void *fanout_ud;
} qt_rec_opts;

typedef struct qt_rec_stats {
    int64_t quotes, trades, bars;     /* recorded into the tape */
    int64_t frames, bad_frames, oversize_frames;
    int64_t connects, disconnects, gaps;
    int64_t kafka_produced, kafka_delivered, kafka_skipped, kafka_acked;
} qt_rec_stats;

/* Records until *stop, a fatal error, or max_quotes. Returns QT_OK on a
 * clean stop; QT_EAUTH (402 or missing keys), QT_EUSAGE (405 symbol limit,
 * bad URL), QT_EPROTO (400, 409, 410, a wrong subscription reply), QT_ETAPE /
 * QT_EIO (tape), QT_EKAFKA (producer set-up) otherwise, with text in err.
 * Kafka trouble during the run never stops the recording. */
qt_err qt_rec_run(const qt_rec_opts *o, qt_rec_stats *st, char *err, size_t errsz);

/* Produces to Kafka what the tape holds after its acked seq (skipping what
 * the topic already has) and waits up to timeout_ms for confirmation.
 * *produced / *skipped (may be NULL) get the counts. */
qt_err qt_rec_sync(const char *db, const qt_kopts *k, const char *topic, int timeout_ms,
                   int64_t *produced, int64_t *skipped, char *err, size_t errsz);

/* What the recorder does on an Alpaca error code: 0 = log and carry on,
 * 1 = reconnect with backoff, 2 = reconnect after the long 406 backoff,
 * 3 = stop with an error. *e gets the error for 3. */
int qt_rec_error_action(int code, qt_err *e);

/* The size of a reassembly buffer after growing to hold need bytes, or 0 if
 * that would pass cap: doubles from 64 KiB. */
size_t qt_rec_grow(size_t have, size_t need, size_t cap);

#endif
