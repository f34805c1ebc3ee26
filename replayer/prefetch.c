/* quotetape — a read-ahead thread for a replay source.
 *
 * At full speed a replay does two things per quote: read it (SQLite) and
 * hand it to the producer. Reading in a second thread overlaps the two; the
 * hand-off is in chunks of QT_PF_CHUNK messages so the threads meet (one
 * mutex, maybe one wake-up) once per chunk, not once per message. Memory is
 * bounded: QT_PF_NCHUNK chunks, each an array of messages and an arena of
 * their bytes capped at QT_PF_ARENA_MAX (a message bigger than what is left
 * starts the next chunk; one bigger than the cap is an error).
 *
 * Threads: the reader thread alone calls the inner source's next(); the
 * caller's thread calls everything else, and only while the reader is not
 * running (rewind and free stop it first), so the inner source needs no
 * locking of its own. */
#define _GNU_SOURCE /* pthread_setname_np */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "replayer/replay.h"

#define QT_PF_CHUNK 1024
#define QT_PF_NCHUNK 8
#define QT_PF_ARENA_MAX (8u * 1024u * 1024u)

typedef struct qt_pf_chunk {
    qt_replay_msg m[QT_PF_CHUNK];
    size_t koff[QT_PF_CHUNK], voff[QT_PF_CHUNK];
    int n;
    int end;       /* 1: more follow; 0: end of the selection after these; -1: error */
    qt_err err_code;
    char err[512];
    char *arena;
    size_t len, alloc;
} qt_pf_chunk;

typedef struct qt_pf {
    qt_source base;
    qt_source *inner;
    pthread_t thread;
    int running;
    pthread_mutex_t mu;
    pthread_cond_t cv_full, cv_free;
    qt_pf_chunk chunks[QT_PF_NCHUNK];
    qt_pf_chunk *full[QT_PF_NCHUNK], *freeq[QT_PF_NCHUNK];
    int full_head, full_n, free_head, free_n;
    int quit;
    qt_pf_chunk *cur; /* being handed out by next() */
    int cur_i;
} qt_pf;

static void qt_pf_push(qt_pf_chunk **q, int *head, int *n, qt_pf_chunk *c)
{
    q[(*head + *n) % QT_PF_NCHUNK] = c;
    (*n)++;
}

static qt_pf_chunk *qt_pf_pop(qt_pf_chunk **q, int *head, int *n)
{
    qt_pf_chunk *c = q[*head];
    *head = (*head + 1) % QT_PF_NCHUNK;
    (*n)--;
    return c;
}

/* Appends p[0..n) to the chunk's arena; -1 if that would pass the cap. */
static int qt_pf_arena_add(qt_pf_chunk *c, const void *p, size_t n, size_t *off)
{
    if (c->len + n > c->alloc) {
        size_t want = c->alloc ? c->alloc : 16384;
        char *a;
        while (want < c->len + n)
            want *= 2;
        if (want > QT_PF_ARENA_MAX)
            want = QT_PF_ARENA_MAX;
        if (c->len + n > want || !(a = realloc(c->arena, want)))
            return -1;
        c->arena = a;
        c->alloc = want;
    }
    if (n)
        memcpy(c->arena + c->len, p, n);
    *off = c->len;
    c->len += n;
    return 0;
}

static void *qt_pf_reader(void *arg)
{
    qt_pf *pf = arg;
    qt_replay_msg m;
    int pending = 0, end = 1;

#ifdef __linux__
    pthread_setname_np(pthread_self(), "qt:read-ahead");
#endif
    while (end == 1) {
        qt_pf_chunk *c;
        pthread_mutex_lock(&pf->mu);
        while (!pf->free_n && !pf->quit)
            pthread_cond_wait(&pf->cv_free, &pf->mu);
        if (pf->quit) {
            pthread_mutex_unlock(&pf->mu);
            break;
        }
        c = qt_pf_pop(pf->freeq, &pf->free_head, &pf->free_n);
        pthread_mutex_unlock(&pf->mu);

        c->n = 0;
        c->len = 0;
        c->end = 1;
        c->err[0] = '\0';
        while (c->n < QT_PF_CHUNK) {
            if (!pending) {
                int r = pf->inner->next(pf->inner, &m, c->err, sizeof c->err);
                if (r <= 0) {
                    c->end = end = r;
                    c->err_code = pf->inner->last_err;
                    break;
                }
            }
            pending = 0;
            if (qt_pf_arena_add(c, m.key, m.key_len, &c->koff[c->n]) ||
                qt_pf_arena_add(c, m.value, m.value_len, &c->voff[c->n])) {
                if (c->n > 0) {
                    pending = 1; /* m stays valid: next() was not called again */
                    break;
                }
                snprintf(c->err, sizeof c->err, "message at position %lld is larger than %u bytes",
                         (long long)m.pos, QT_PF_ARENA_MAX);
                c->err_code = QT_ETOOBIG;
                c->end = end = -1;
                break;
            }
            c->m[c->n++] = m;
        }
        for (int i = 0; i < c->n; i++) {
            c->m[i].key = c->arena + c->koff[i];
            c->m[i].value = c->arena + c->voff[i];
        }
        pthread_mutex_lock(&pf->mu);
        qt_pf_push(pf->full, &pf->full_head, &pf->full_n, c);
        pthread_cond_signal(&pf->cv_full);
        pthread_mutex_unlock(&pf->mu);
    }
    return NULL;
}

/* Stops the reader thread (it exits at its next chunk boundary, or at once
 * if it already reached the end) and makes every chunk free again. */
static void qt_pf_stop(qt_pf *pf)
{
    if (pf->running) {
        pthread_mutex_lock(&pf->mu);
        pf->quit = 1;
        pthread_cond_broadcast(&pf->cv_free);
        pthread_mutex_unlock(&pf->mu);
        pthread_join(pf->thread, NULL);
        pf->running = 0;
    }
    pf->quit = 0;
    pf->cur = NULL;
    pf->cur_i = 0;
    pf->full_head = pf->full_n = pf->free_head = pf->free_n = 0;
    for (int i = 0; i < QT_PF_NCHUNK; i++)
        qt_pf_push(pf->freeq, &pf->free_head, &pf->free_n, &pf->chunks[i]);
}

static qt_err qt_pf_start(qt_pf *pf, char *err, size_t errsz)
{
    pthread_attr_t attr;
    struct sched_param sp = {0};
    int rc;
    /* Ordinary scheduling even when started from a real-time pacing
     * thread (a rewind for --loop): the reader must not inherit it. */
    pthread_attr_init(&attr);
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&attr, SCHED_OTHER);
    pthread_attr_setschedparam(&attr, &sp);
    rc = pthread_create(&pf->thread, &attr, qt_pf_reader, pf);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return qt_fail(QT_EIO, err, errsz, "cannot start the read-ahead thread");
    pf->running = 1;
    return QT_OK;
}

static int qt_pf_next(qt_source *s, qt_replay_msg *m, char *err, size_t errsz)
{
    qt_pf *pf = (qt_pf *)s;
    for (;;) {
        qt_pf_chunk *c = pf->cur;
        if (c && pf->cur_i < c->n) {
            *m = c->m[pf->cur_i++];
            return 1;
        }
        if (c && c->end != 1) {
            if (c->end < 0) {
                s->last_err = c->err_code;
                qt_fail(c->err_code, err, errsz, "%s", c->err);
            }
            return c->end;
        }
        pthread_mutex_lock(&pf->mu);
        if (c) {
            qt_pf_push(pf->freeq, &pf->free_head, &pf->free_n, c);
            pthread_cond_signal(&pf->cv_free);
        }
        while (!pf->full_n)
            pthread_cond_wait(&pf->cv_full, &pf->mu);
        pf->cur = qt_pf_pop(pf->full, &pf->full_head, &pf->full_n);
        pf->cur_i = 0;
        pthread_mutex_unlock(&pf->mu);
    }
}

static qt_err qt_pf_rewind(qt_source *s, char *err, size_t errsz)
{
    qt_pf *pf = (qt_pf *)s;
    qt_err e;
    qt_pf_stop(pf);
    if ((e = pf->inner->rewind(pf->inner, err, errsz)))
        return e;
    return qt_pf_start(pf, err, errsz);
}

static size_t qt_pf_resume(qt_source *s, int64_t pos, int32_t partition, char *buf, size_t n)
{
    qt_pf *pf = (qt_pf *)s;
    return pf->inner->resume(pf->inner, pos, partition, buf, n);
}

static void qt_pf_free(qt_source *s)
{
    qt_pf *pf = (qt_pf *)s;
    if (!pf)
        return;
    qt_pf_stop(pf);
    for (int i = 0; i < QT_PF_NCHUNK; i++)
        free(pf->chunks[i].arena);
    pthread_cond_destroy(&pf->cv_full);
    pthread_cond_destroy(&pf->cv_free);
    pthread_mutex_destroy(&pf->mu);
    pf->inner->free(pf->inner);
    free(pf);
}

qt_err qt_source_prefetch(qt_source **src, char *err, size_t errsz)
{
    qt_pf *pf = calloc(1, sizeof *pf);
    qt_err e;
    if (!pf)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    pf->base.next = qt_pf_next;
    pf->base.rewind = qt_pf_rewind;
    pf->base.resume = qt_pf_resume;
    pf->base.free = qt_pf_free;
    pf->base.total = (*src)->total;
    pf->base.has_recv = (*src)->has_recv;
    pf->inner = *src;
    pthread_mutex_init(&pf->mu, NULL);
    pthread_cond_init(&pf->cv_full, NULL);
    pthread_cond_init(&pf->cv_free, NULL);
    qt_pf_stop(pf); /* sets the queues up */
    if ((e = qt_pf_start(pf, err, errsz))) {
        pf->inner = NULL;
        pthread_cond_destroy(&pf->cv_full);
        pthread_cond_destroy(&pf->cv_free);
        pthread_mutex_destroy(&pf->mu);
        free(pf);
        return e;
    }
    *src = &pf->base;
    return QT_OK;
}
