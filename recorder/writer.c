/* quotetape — the recorder's writer thread (see writer.h). */
#include "recorder/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/qtime.h"

/* Text one batch may hold before it is handed over (the sink keeps a copy
 * of up to 8 MiB for Kafka per transaction). */
#define QT_W_BYTES (4u * 1024u * 1024u)
/* How often an idle writer serves Kafka (delivery reports, catch-up). */
#define QT_W_POLL_NS (20 * QT_NS_PER_MS)

enum { QT_W_QUOTE, QT_W_TRADE, QT_W_BAR, QT_W_GAP };

typedef struct qt_wrec {
    int kind;
    uint32_t off, len; /* raw text (the reason, for a gap) in the arena */
    union {
        qt_quote q;
        qt_trade t;
        qt_bar b;
        struct {
            int64_t from_ns, to_ns;
        } gap;
    } u;
} qt_wrec;

typedef struct qt_wbatch {
    qt_wrec *recs;
    size_t n, cap;
    char *arena;
    size_t len, alloc;
} qt_wbatch;

struct qt_writer {
    qt_sink *sink;
    size_t rows;
    qt_wbatch b[2];
    qt_wbatch *open;   /* the caller's */
    qt_wbatch *handed; /* the writer's until it is done with it; NULL when idle */
    int oom;           /* the caller could not copy a record */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    int quit;
    qt_err fail; /* written by the writer thread under mu */
    char fail_msg[512];
};

/* ---- the caller's side ------------------------------------------------- */

/* A new record at the end of the open batch with len bytes of text copied;
 * NULL (and w->oom) when memory ran out. */
static qt_wrec *qt_writer_add(qt_writer *w, int kind, const char *text, size_t len)
{
    qt_wbatch *b = w->open;
    qt_wrec *r;
    if (w->oom)
        return NULL;
    if (b->n == b->cap) {
        /* room for a full batch at once; more only for the records a
         * caller adds past it (a gap) */
        size_t cap = b->cap ? b->cap + b->cap / 4 : w->rows + 16;
        qt_wrec *p = realloc(b->recs, cap * sizeof *p);
        if (!p) {
            w->oom = 1;
            return NULL;
        }
        b->recs = p;
        b->cap = cap;
    }
    if (b->len + len > b->alloc) {
        size_t alloc = b->alloc ? b->alloc : 65536;
        char *p;
        while (alloc < b->len + len)
            alloc *= 2;
        if (!(p = realloc(b->arena, alloc))) {
            w->oom = 1;
            return NULL;
        }
        b->arena = p;
        b->alloc = alloc;
    }
    r = &b->recs[b->n++];
    r->kind = kind;
    r->off = (uint32_t)b->len;
    r->len = (uint32_t)len;
    if (len)
        memcpy(b->arena + b->len, text, len);
    b->len += len;
    return r;
}

void qt_writer_quote(qt_writer *w, const qt_quote *q, const char *raw, size_t raw_len)
{
    qt_wrec *r = qt_writer_add(w, QT_W_QUOTE, raw, raw_len);
    if (r)
        r->u.q = *q;
}

void qt_writer_trade(qt_writer *w, const qt_trade *t, const char *raw, size_t raw_len)
{
    qt_wrec *r = qt_writer_add(w, QT_W_TRADE, raw, raw_len);
    if (r)
        r->u.t = *t;
}

void qt_writer_bar(qt_writer *w, const qt_bar *b, const char *raw, size_t raw_len)
{
    qt_wrec *r = qt_writer_add(w, QT_W_BAR, raw, raw_len);
    if (r)
        r->u.b = *b;
}

void qt_writer_gap(qt_writer *w, int64_t from_ns, int64_t to_ns, const char *reason)
{
    /* with its NUL: the sink takes a C string */
    qt_wrec *r = qt_writer_add(w, QT_W_GAP, reason, strlen(reason) + 1);
    if (r) {
        r->u.gap.from_ns = from_ns;
        r->u.gap.to_ns = to_ns;
    }
}

int qt_writer_pending(const qt_writer *w)
{
    return w->open->n > 0;
}

int qt_writer_batch_full(const qt_writer *w)
{
    return w->open->n >= w->rows || w->open->len >= QT_W_BYTES;
}

/* The writer's failure, copied out; call with mu held. */
static qt_err qt_writer_fail_locked(qt_writer *w, char *err, size_t errsz)
{
    if (!w->fail)
        return QT_OK;
    return qt_fail(w->fail, err, errsz, "%s", w->fail_msg);
}

qt_err qt_writer_failed(qt_writer *w, char *err, size_t errsz)
{
    qt_err e;
    pthread_mutex_lock(&w->mu);
    e = qt_writer_fail_locked(w, err, errsz);
    pthread_mutex_unlock(&w->mu);
    return e;
}

qt_err qt_writer_flush(qt_writer *w, char *err, size_t errsz)
{
    qt_err e;
    if (w->oom)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory for the batch being recorded");
    pthread_mutex_lock(&w->mu);
    while (w->handed && !w->fail)
        pthread_cond_wait(&w->cv_done, &w->mu);
    if (!(e = qt_writer_fail_locked(w, err, errsz)) && w->open->n) {
        w->handed = w->open;
        w->open = w->open == &w->b[0] ? &w->b[1] : &w->b[0];
        pthread_cond_signal(&w->cv_work);
    }
    pthread_mutex_unlock(&w->mu);
    return e;
}

/* ---- the writer thread ------------------------------------------------- */

/* Appends a batch to the sink and commits it; on a failure remembers it and
 * writes nothing more. */
static void qt_writer_apply(qt_writer *w, qt_wbatch *b)
{
    char err[512];
    qt_err e = QT_OK;
    for (size_t i = 0; i < b->n && !e; i++) {
        const qt_wrec *r = &b->recs[i];
        const char *text = b->arena + r->off;
        switch (r->kind) {
        case QT_W_QUOTE: e = qt_sink_quote(w->sink, &r->u.q, text, r->len, err, sizeof err); break;
        case QT_W_TRADE: e = qt_sink_trade(w->sink, &r->u.t, text, r->len, err, sizeof err); break;
        case QT_W_BAR: e = qt_sink_bar(w->sink, &r->u.b, text, r->len, err, sizeof err); break;
        default:
            e = qt_sink_gap(w->sink, r->u.gap.from_ns, r->u.gap.to_ns, text, err, sizeof err);
            break;
        }
    }
    if (!e)
        e = qt_sink_commit(w->sink, err, sizeof err);
    if (e) {
        pthread_mutex_lock(&w->mu);
        w->fail = e;
        snprintf(w->fail_msg, sizeof w->fail_msg, "%s", err);
        pthread_mutex_unlock(&w->mu);
    }
}

static void *qt_writer_main(void *arg)
{
    qt_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (w->handed) {
            qt_wbatch *b = w->handed;
            int failed = w->fail != QT_OK;
            pthread_mutex_unlock(&w->mu);
            if (!failed)
                qt_writer_apply(w, b);
            b->n = 0;
            b->len = 0;
            pthread_mutex_lock(&w->mu);
            w->handed = NULL;
            pthread_cond_broadcast(&w->cv_done);
            continue;
        }
        if (w->quit)
            break;
        {
            int64_t until = qt_mono_ns() + QT_W_POLL_NS;
            struct timespec ts = {(time_t)(until / QT_NS_PER_SEC), (long)(until % QT_NS_PER_SEC)};
            if (pthread_cond_timedwait(&w->cv_work, &w->mu, &ts) == ETIMEDOUT && !w->fail) {
                pthread_mutex_unlock(&w->mu);
                qt_sink_poll(w->sink);
                pthread_mutex_lock(&w->mu);
            }
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- start and stop ---------------------------------------------------- */

static void qt_writer_free(qt_writer *w)
{
    for (int i = 0; i < 2; i++) {
        free(w->b[i].recs);
        free(w->b[i].arena);
    }
    pthread_cond_destroy(&w->cv_work);
    pthread_cond_destroy(&w->cv_done);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

qt_err qt_writer_start(qt_sink *s, size_t batch_rows, qt_writer **out, char *err, size_t errsz)
{
    qt_writer *w = calloc(1, sizeof *w);
    pthread_condattr_t ca;

    *out = NULL;
    if (!w)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    w->sink = s;
    w->rows = batch_rows ? batch_rows : 1;
    w->open = &w->b[0];
    pthread_mutex_init(&w->mu, NULL);
    /* the idle poll waits on the monotonic clock, like everything else */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv_work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&w->cv_done, NULL);
    if (pthread_create(&w->thread, NULL, qt_writer_main, w) != 0) {
        qt_writer_free(w);
        return qt_fail(QT_EIO, err, errsz, "cannot start the tape writer thread");
    }
    *out = w;
    return QT_OK;
}

qt_err qt_writer_stop(qt_writer *w, char *err, size_t errsz)
{
    qt_err e;
    if (!w)
        return QT_OK;
    e = qt_writer_flush(w, err, errsz);
    pthread_mutex_lock(&w->mu);
    while (w->handed)
        pthread_cond_wait(&w->cv_done, &w->mu);
    w->quit = 1;
    pthread_cond_signal(&w->cv_work);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    if (!e)
        e = qt_writer_fail_locked(w, err, errsz); /* the thread is gone: no lock needed */
    qt_writer_free(w);
    return e;
}
