/* quotetape — the Alpaca market-data wire codec (JSON and MessagePack).
 *
 * A frame is a JSON array (or MessagePack array) of message objects, each
 * with a "T" type field. qt_frame_parse walks a frame and hands each message
 * to a callback as a typed qt_msg; nothing is allocated per message that
 * outlives the callback. Malformed input (not an array, wrong types, missing
 * fields, bad timestamps, oversize) yields QT_EINVAL or QT_ETOOBIG with a
 * reason and never crashes.
 *
 * Message types recognised, as documented by Alpaca:
 *   success       {"T":"success","msg":"connected"|"authenticated"}
 *   error         {"T":"error","code":400..500,"msg":"..."}
 *   subscription  {"T":"subscription","trades":[..],"quotes":[..],"bars":[..],...}
 *   quote         {"T":"q","S":..,"bx":..,"bp":..,"bs":..,"ax":..,"ap":..,"as":..,
 *                  "c":[..],"z":..,"t":".."}
 *   trade         {"T":"t","S":..,"i":..,"x":..,"p":..,"s":..,"c":[..],"z":..,"t":".."}
 *   bar           {"T":"b"|"d"|"u","S":..,"o":..,"h":..,"l":..,"c":..,"v":..,"t":..,
 *                  "n":..,"vw":..}
 * Other "T" values are passed through as QT_MSG_OTHER with their raw text.
 */
#ifndef QT_CODEC_H
#define QT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/quote.h"

/* Largest frame accepted from a peer or a file line; larger is QT_ETOOBIG. */
#define QT_FRAME_MAX (4u * 1024u * 1024u)
/* Most symbols one subscription list may hold. */
#define QT_SUB_MAX 1024

typedef enum qt_msg_type {
    QT_MSG_SUCCESS = 1,
    QT_MSG_ERROR,
    QT_MSG_SUBSCRIPTION,
    QT_MSG_QUOTE,
    QT_MSG_TRADE,
    QT_MSG_BAR,
    QT_MSG_OTHER
} qt_msg_type;

/* Alpaca's documented stream error codes. */
enum {
    QT_ALPACA_INVALID_SYNTAX = 400,
    QT_ALPACA_NOT_AUTHENTICATED = 401,
    QT_ALPACA_AUTH_FAILED = 402,
    QT_ALPACA_ALREADY_AUTHENTICATED = 403,
    QT_ALPACA_AUTH_TIMEOUT = 404,
    QT_ALPACA_SYMBOL_LIMIT = 405,
    QT_ALPACA_CONNECTION_LIMIT = 406,
    QT_ALPACA_SLOW_CLIENT = 407,
    QT_ALPACA_INSUFFICIENT_SUBSCRIPTION = 409,
    QT_ALPACA_INVALID_SUBSCRIBE_ACTION = 410,
    QT_ALPACA_INTERNAL_ERROR = 500
};

/* Default text Alpaca sends with each error code ("invalid syntax", ...);
 * NULL for an unknown code. */
const char *qt_alpaca_error_text(int code);

/* One subscription list (e.g. the quotes a client is subscribed to). Owned
 * by the codec during the callback; copy what you keep. */
typedef struct qt_sublist {
    const char *syms[QT_SUB_MAX];
    size_t n;
} qt_sublist;

typedef struct qt_subscription {
    qt_sublist trades, quotes, bars, updated_bars, daily_bars, statuses, lulds,
        corrections, cancel_errors;
} qt_subscription;

typedef struct qt_msg {
    qt_msg_type type;
    /* The message object exactly as it stood in the frame (JSON text for JSON
     * frames; for MessagePack, the object's bytes). Valid during the
     * callback only. */
    const char *raw;
    size_t raw_len;
    char T[16]; /* the "T" field as sent */
    union {
        struct {
            char msg[64];
        } success;
        struct {
            int code;
            char msg[256];
        } error;
        const qt_subscription *sub;
        qt_quote quote;
        qt_trade trade;
        qt_bar bar;
    } u;
} qt_msg;

/* Called once per message; return nonzero to stop the walk (the parse then
 * returns QT_EINTR). */
typedef int (*qt_msg_cb)(const qt_msg *m, void *ud);

/* Parses a JSON frame: an array of messages, or (leniently, as some feeds do)
 * one bare message object. Messages are handed to cb in order. recv_ns is
 * copied into quotes, trades and bars. On a malformed message the walk stops
 * at it: messages before it were delivered, the error names the index.
 * *delivered (if non-NULL) counts the messages handed to cb. */
qt_err qt_frame_parse_json(const char *buf, size_t len, int64_t recv_ns, qt_msg_cb cb, void *ud,
                           size_t *delivered, char *err, size_t errsz);

/* The same for a MessagePack frame. raw points at each message's msgpack
 * bytes. Timestamps may be the timestamp extension (type -1) or a string. */
qt_err qt_frame_parse_msgpack(const char *buf, size_t len, int64_t recv_ns, qt_msg_cb cb,
                              void *ud, size_t *delivered, char *err, size_t errsz);

/* Parses one message object (JSON text) into m; m->raw points at buf.
 * A subscription message is validated but m->u.sub is NULL here (its lists
 * need storage that outlives this call); use qt_frame_parse_json for those. */
qt_err qt_msg_parse_json(const char *buf, size_t len, int64_t recv_ns, qt_msg *m, char *err,
                         size_t errsz);

/* ---- encoding ---------------------------------------------------------- */

/* A growable output buffer with a cap. qt_buf_init sets cap (0 = QT_FRAME_MAX).
 * Appends past cap fail with QT_ETOOBIG and leave the buffer unchanged.
 * After any successful append data[len] is '\0' (not counted in len).
 * The encoders below likewise leave out unchanged when they fail
 * (QT_EINVAL for a non-finite number or cond that is not a JSON array). */
typedef struct qt_buf {
    char *data;
    size_t len, alloc, cap;
} qt_buf;

void qt_buf_init(qt_buf *b, size_t cap);
void qt_buf_release(qt_buf *b); /* frees data; b may be re-inited */
void qt_buf_reset(qt_buf *b);   /* len = 0, keeps memory */
qt_err qt_buf_append(qt_buf *b, const void *p, size_t n);
qt_err qt_buf_printf(qt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes a double the shortest way that reads back exactly ("412.34", not
 * "412.33999999999997"). buf >= 32 bytes; returns the length. */
size_t qt_fmt_double(double v, char *buf);

/* Appends the quote as an Alpaca quote object in JSON, field order
 * T,S,bx,bp,bs,ax,ap,as,c,z,t, with t in RFC 3339 at full precision.
 * Empty text fields (bx, ax, c, z; a trade's x, c, z) are left out, as the
 * parser treats them as optional. A bar is always written with T "b". */
qt_err qt_quote_to_json(const qt_quote *q, qt_buf *out);
qt_err qt_trade_to_json(const qt_trade *t, qt_buf *out);
qt_err qt_bar_to_json(const qt_bar *b, qt_buf *out);

/* The same objects in MessagePack, t as the timestamp extension (type -1,
 * 96-bit form when needed) with full nanoseconds. */
qt_err qt_quote_to_msgpack(const qt_quote *q, qt_buf *out);
qt_err qt_trade_to_msgpack(const qt_trade *t, qt_buf *out);
qt_err qt_bar_to_msgpack(const qt_bar *b, qt_buf *out);

/* Control messages, JSON and MessagePack: [{"T":"success","msg":..}],
 * [{"T":"error","code":..,"msg":..}], and the subscription reply. These
 * append a whole one-element frame (with the brackets). */
qt_err qt_success_frame_json(const char *msg, qt_buf *out);
qt_err qt_error_frame_json(int code, const char *msg, qt_buf *out);
qt_err qt_subscription_frame_json(const qt_subscription *s, qt_buf *out);
qt_err qt_success_frame_msgpack(const char *msg, qt_buf *out);
qt_err qt_error_frame_msgpack(int code, const char *msg, qt_buf *out);
qt_err qt_subscription_frame_msgpack(const qt_subscription *s, qt_buf *out);

#endif
