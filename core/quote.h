/* quotetape — the market data model: quotes, trades, bars.
 *
 * Plain value structs, no heap: a quote copies by assignment. Text fields
 * are NUL-terminated and bounded; the codec rejects input that does not fit
 * (a symbol longer than QT_SYMBOL_MAX - 1 is malformed, not truncated). The
 * raw message as received travels beside the struct (see codec.h), so nothing
 * is lost in translation. */
#ifndef QT_QUOTE_H
#define QT_QUOTE_H

#include <stdint.h>

#define QT_SYMBOL_MAX 32   /* "BTC/USD", "BRK.B", options roots */
#define QT_EXCH_MAX 8      /* exchange codes are one letter; room to spare */
#define QT_COND_MAX 64     /* conditions, kept as compact JSON array text */
#define QT_TAPE_MAX 8      /* "A", "B", "C" */

typedef struct qt_quote {
    char symbol[QT_SYMBOL_MAX];
    int64_t t_ns;    /* event time, ns since the epoch (Alpaca "t") */
    int64_t recv_ns; /* local receive time, ns since the epoch; 0 = unknown */
    double bid_px;   /* "bp" */
    double ask_px;   /* "ap" */
    int64_t bid_sz;  /* "bs" */
    int64_t ask_sz;  /* "as" */
    char bid_ex[QT_EXCH_MAX]; /* "bx" */
    char ask_ex[QT_EXCH_MAX]; /* "ax" */
    char cond[QT_COND_MAX];   /* "c" as compact JSON, e.g. ["R"]; "" = absent */
    char tape[QT_TAPE_MAX];   /* "z" */
} qt_quote;

typedef struct qt_trade {
    char symbol[QT_SYMBOL_MAX];
    int64_t t_ns;
    int64_t recv_ns;
    int64_t id;      /* "i" */
    double px;       /* "p" */
    int64_t sz;      /* "s" */
    char ex[QT_EXCH_MAX];   /* "x" */
    char cond[QT_COND_MAX]; /* "c" */
    char tape[QT_TAPE_MAX]; /* "z" */
} qt_trade;

typedef struct qt_bar {
    char symbol[QT_SYMBOL_MAX];
    int64_t t_ns;
    int64_t recv_ns;
    double o, h, l, c; /* "o" "h" "l" "c" */
    int64_t v;         /* "v" volume */
    int64_t n;         /* "n" trade count (0 if absent) */
    double vw;         /* "vw" (0 if absent) */
} qt_bar;

#endif
