/* quotetape — the windower stage: Kafka quotes in, Kafka windows out.
 * See stream.h for the restart contract. */
#include "windower/stream.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonscan.h"
#include "core/log.h"
#include "core/qtime.h"
#include "core/topic.h"

#define QT_WS_POLL_MS 100
#define QT_WS_FLUSH_MS 30000
#define QT_WS_PRODUCE_MS 30000
#define QT_WS_META "qt-wm:"
#define QT_WS_TAG_OFFSET_MASK ((UINT64_C(1) << 48) - 1)

/* ======================================================================
 * Reading quote values
 * ====================================================================== */

/* Copies a JSON string value's text (span includes the quotes) into out,
 * unescaping through cJSON only when it has escapes. -1 if it does not fit. */
static int qt_ws_string(const char *v, size_t n, char *out, size_t outsz)
{
    if (n < 2 || v[0] != '"' || v[n - 1] != '"')
        return -1;
    if (!memchr(v, '\\', n)) {
        if (n - 2 >= outsz)
            return -1;
        memcpy(out, v + 1, n - 2);
        out[n - 2] = '\0';
        return 0;
    }
    cJSON *j = cJSON_ParseWithLength(v, n);
    int rc = -1;
    if (j && cJSON_IsString(j) && strlen(j->valuestring) < outsz) {
        memcpy(out, j->valuestring, strlen(j->valuestring) + 1);
        rc = 0;
    }
    cJSON_Delete(j);
    return rc;
}

static int qt_ws_number(const char *v, size_t n, double *out)
{
    char tmp[64];
    char *end;
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    *out = strtod(tmp, &end);
    return *end ? -1 : 0;
}

qt_err qt_wstream_parse_quote(const char *buf, size_t len, int want_t, qt_wquote *q)
{
    size_t i = qt_json_ws(buf, len, 0);
    int have = 0; /* bits: 1 S, 2 bp, 4 ap */

    q->symbol[0] = '\0';
    q->bid = q->ask = 0;
    q->t_ms = INT64_MIN;
    if (i >= len || buf[i] != '{')
        return QT_EINVAL;
    i++;
    for (;;) {
        size_t ks, ke, vs, ve;
        i = qt_json_ws(buf, len, i);
        if (i < len && buf[i] == '}')
            break;
        if (qt_json_skip(buf, len, i, &ks, &ke, NULL, 0) || buf[ks] != '"')
            return QT_EINVAL;
        i = qt_json_ws(buf, len, ke);
        if (i >= len || buf[i] != ':')
            return QT_EINVAL;
        if (qt_json_skip(buf, len, i + 1, &vs, &ve, NULL, 0))
            return QT_EINVAL;
        const char *k = buf + ks + 1, *v = buf + vs;
        size_t kl = ke - ks - 2, vl = ve - vs;
        if (kl == 1 && k[0] == 'T') {
            if (vl != 3 || memcmp(v, "\"q\"", 3) != 0)
                return QT_EINVAL;
        } else if (kl == 1 && k[0] == 'S') {
            if (qt_ws_string(v, vl, q->symbol, sizeof q->symbol) || !q->symbol[0])
                return QT_EINVAL;
            have |= 1;
        } else if (kl == 2 && k[0] == 'b' && k[1] == 'p') {
            if (qt_ws_number(v, vl, &q->bid))
                return QT_EINVAL;
            have |= 2;
        } else if (kl == 2 && k[0] == 'a' && k[1] == 'p') {
            if (qt_ws_number(v, vl, &q->ask))
                return QT_EINVAL;
            have |= 4;
        } else if (want_t && kl == 1 && k[0] == 't' && vl >= 2 && v[0] == '"') {
            int64_t ns;
            if (qt_time_parse(v + 1, vl - 2, &ns, NULL, 0) == QT_OK) {
                /* floor to ms, also before 1970 */
                q->t_ms = ns / QT_NS_PER_MS - (ns % QT_NS_PER_MS < 0);
            }
        }
        i = qt_json_ws(buf, len, ve);
        if (i < len && buf[i] == ',') {
            i++;
            continue;
        }
        if (i < len && buf[i] == '}')
            break;
        return QT_EINVAL;
    }
    if (have != 7 || (want_t && q->t_ms == INT64_MIN))
        return QT_EINVAL;
    return QT_OK;
}

/* ======================================================================
 * Writing window values
 * ====================================================================== */

static qt_err qt_ws_json_string(qt_buf *out, const char *s)
{
    qt_err rc = qt_buf_append(out, "\"", 1);
    for (; !rc && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = qt_buf_append(out, e, 2);
        } else if (c < 0x20) {
            rc = qt_buf_printf(out, "\\u%04x", c);
        } else {
            rc = qt_buf_append(out, s, 1);
        }
    }
    return rc ? rc : qt_buf_append(out, "\"", 1);
}

qt_err qt_wstream_format(const qt_window_row *w, qt_buf *out)
{
    char p[32], o[32], h[32], l[32], c[32], a[32];
    qt_err rc;
    qt_fmt_double(w->price, p);
    qt_fmt_double(w->bid_open, o);
    qt_fmt_double(w->bid_high, h);
    qt_fmt_double(w->bid_low, l);
    qt_fmt_double(w->bid_close, c);
    qt_fmt_double(w->ask_avg, a);
    if ((rc = qt_buf_append(out, "{\"symbol\":", 10)) || (rc = qt_ws_json_string(out, w->symbol)))
        return rc;
    return qt_buf_printf(out,
                         ",\"window_start\":%" PRId64 ",\"window_end\":%" PRId64
                         ",\"price\":%s,\"count\":%" PRId64
                         ",\"bid_open\":%s,\"bid_high\":%s,\"bid_low\":%s,\"bid_close\":%s"
                         ",\"ask_avg\":%s}",
                         w->start_ms, w->end_ms, p, w->count, o, h, l, c, a);
}

/* ======================================================================
 * The stage
 * ====================================================================== */

typedef struct qt_ws {
    const qt_wstream_opts *o;
    rd_kafka_t *prod;
    qt_buf val;
    qt_err prod_rc;
    char *err;
    size_t errsz;
    int64_t windows;
    int64_t dr_failed;
} qt_ws;

static void qt_ws_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    qt_ws *s = opaque;
    (void)rk;
    if (m->err && s->dr_failed++ == 0)
        qt_error("window not delivered to '%s': %s", s->o->out_topic, rd_kafka_err2str(m->err));
}

static int qt_ws_emit(const qt_window_row *w, void *ud)
{
    qt_ws *s = ud;
    qt_buf_reset(&s->val);
    if ((s->prod_rc = qt_wstream_format(w, &s->val)) ||
        (s->prod_rc = qt_kafka_produce(s->prod, s->o->out_topic, RD_KAFKA_PARTITION_UA, w->symbol,
                                       strlen(w->symbol), s->val.data, s->val.len,
                                       w->end_ms - 1, NULL, QT_WS_PRODUCE_MS, s->err, s->errsz)))
        return 1;
    s->windows++;
    return 0;
}

/* Reads the watermark the previous run stored with its commit; the highest
 * over partitions. QT_WINDOW_NO_WM if there is none. */
static int64_t qt_ws_restore_wm(rd_kafka_t *rk, const char *topic, int npart)
{
    int64_t wm = QT_WINDOW_NO_WM;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(npart);
    for (int p = 0; p < npart; p++)
        rd_kafka_topic_partition_list_add(l, topic, p);
    if (rd_kafka_committed(rk, l, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int i = 0; i < l->cnt; i++) {
            const rd_kafka_topic_partition_t *e = &l->elems[i];
            char tmp[48];
            size_t ml = strlen(QT_WS_META);
            if (!e->metadata || e->metadata_size <= ml || e->metadata_size >= sizeof tmp ||
                memcmp(e->metadata, QT_WS_META, ml) != 0)
                continue;
            memcpy(tmp, e->metadata, e->metadata_size);
            tmp[e->metadata_size] = '\0';
            char *end;
            long long v = strtoll(tmp + ml, &end, 10);
            if (!*end && v > wm)
                wm = v;
        }
    rd_kafka_topic_partition_list_destroy(l);
    return wm;
}

/* Flushes the producer, then commits per partition the offset that is safe
 * to restart from (see stream.h) with the watermark as metadata. */
static qt_err qt_ws_commit(qt_ws *s, qt_window *w, rd_kafka_t *rk, const int64_t *next,
                           int npart, char *err, size_t errsz)
{
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t r;
    char meta[48];
    int n = 0;
    qt_err rc;

    if ((rc = qt_kafka_flush(s->prod, QT_WS_FLUSH_MS, err, errsz)))
        return rc;
    if (s->dr_failed)
        return qt_fail(QT_EKAFKA, err, errsz, "%lld window(s) not delivered to '%s'",
                       (long long)s->dr_failed, s->o->out_topic);
    snprintf(meta, sizeof meta, QT_WS_META "%" PRId64, qt_window_watermark(w));
    l = rd_kafka_topic_partition_list_new(npart);
    for (int p = 0; p < npart; p++) {
        uint64_t tag;
        int64_t off;
        if (next[p] < 0)
            continue; /* nothing read from it: leave its position alone */
        off = qt_window_min_tag(w, (uint64_t)p, &tag) ? (int64_t)(tag & QT_WS_TAG_OFFSET_MASK)
                                                      : next[p];
        rd_kafka_topic_partition_t *e = rd_kafka_topic_partition_list_add(l, s->o->in_topic, p);
        e->offset = off;
        e->metadata = strdup(meta);
        e->metadata_size = e->metadata ? strlen(meta) : 0;
        n++;
    }
    r = n ? rd_kafka_commit(rk, l, 0) : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(l);
    if (r)
        return qt_fail(QT_EKAFKA, err, errsz, "cannot commit position on '%s': %s",
                       s->o->in_topic, rd_kafka_err2str(r));
    return QT_OK;
}

qt_err qt_wstream_run(const qt_wstream_opts *o, qt_wstream_stats *st, char *err, size_t errsz)
{
    qt_ws s;
    qt_window *w = NULL;
    qt_topic_reader *r = NULL;
    qt_wstream_stats local;
    char group[512];
    int npart = 0;
    int64_t *next = NULL;
    int64_t last_in, last_commit;
    int64_t commit_ns = (o->commit_ms > 0 ? o->commit_ms : 1000) * QT_NS_PER_MS;
    qt_err rc;

    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    st->restored_wm = QT_WINDOW_NO_WM;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.err = err;
    s.errsz = errsz;
    qt_buf_init(&s.val, 64 * 1024);
    if (o->group)
        snprintf(group, sizeof group, "%s", o->group);
    else
        snprintf(group, sizeof group, "quotetape-window-%s", o->out_topic);

    if ((rc = qt_window_new(o->size_ms, o->lateness_ms, qt_ws_emit, &s, &w, err, errsz)))
        goto out;
    if ((rc = qt_kafka_producer_new(o->kopts, 1, qt_ws_dr, &s, &s.prod, err, errsz)))
        goto out;
    if ((rc = qt_topic_reader_open(o->kopts, o->in_topic, o->from, group, o->from == NULL, &r, err,
                                   errsz)))
        goto out;
    if ((rc = qt_kafka_partitions(qt_topic_reader_handle(r), o->in_topic, &npart, 10000, err,
                                  errsz)))
        goto out;
    next = malloc((size_t)npart * sizeof *next);
    if (!next) {
        rc = qt_fail(QT_ENOMEM, err, errsz, "out of memory");
        goto out;
    }
    for (int p = 0; p < npart; p++)
        next[p] = -1;
    if (!o->from) {
        st->restored_wm = qt_ws_restore_wm(qt_topic_reader_handle(r), o->in_topic, npart);
        if (st->restored_wm != QT_WINDOW_NO_WM) {
            qt_info("resuming '%s' with watermark %" PRId64, o->in_topic, st->restored_wm);
            qt_window_advance(w, st->restored_wm);
        }
    }

    last_in = last_commit = qt_mono_ns();
    for (;;) {
        rd_kafka_message_t *m = NULL;
        int got;
        if (o->stop && *o->stop) {
            rc = QT_EINTR;
            break;
        }
        if (o->exit_at_end && qt_topic_reader_at_end(r)) {
            rc = qt_window_flush(w);
            break;
        }
        got = qt_topic_reader_next(r, QT_WS_POLL_MS, &m, err, errsz);
        rd_kafka_poll(s.prod, 0);
        if (got < 0) {
            rc = QT_EKAFKA;
            break;
        }
        if (got > 0) {
            qt_wquote q;
            int late = 0;
            int64_t ts;
            st->messages++;
            last_in = qt_mono_ns();
            if (m->partition >= 0 && m->partition < npart)
                next[m->partition] = m->offset + 1;
            if (!m->payload ||
                qt_wstream_parse_quote(m->payload, m->len, o->time_field, &q) != QT_OK) {
                if (st->bad++ == 0)
                    qt_warn("skipping a message that is not a quote ('%s' partition %d offset "
                            "%" PRId64 "); further ones are counted",
                            o->in_topic, (int)m->partition, (int64_t)m->offset);
                rd_kafka_message_destroy(m);
                continue;
            }
            ts = o->time_field ? q.t_ms : rd_kafka_message_timestamp(m, NULL);
            uint64_t tag = ((uint64_t)(uint32_t)m->partition << 48) |
                           ((uint64_t)m->offset & QT_WS_TAG_OFFSET_MASK);
            rd_kafka_message_destroy(m);
            rc = qt_window_feed(w, q.symbol, ts, q.bid, q.ask, tag, &late);
            if (rc == QT_EINTR)
                break; /* produce failed; err is set */
            if (rc) {
                if (qt_window_get_stats(w)->refused == 1)
                    qt_warn("skipping quote for '%s': %s", q.symbol, qt_strerror(rc));
                rc = QT_OK;
                continue;
            }
        } else if (o->idle_flush_ms > 0 && qt_window_open_count(w) > 0 &&
                   qt_mono_ns() - last_in >= o->idle_flush_ms * QT_NS_PER_MS) {
            qt_debug("input idle for %" PRId64 " ms: flushing %zu open window(s)",
                     o->idle_flush_ms, qt_window_open_count(w));
            if ((rc = qt_window_flush(w)))
                break;
        }
        if (qt_mono_ns() - last_commit >= commit_ns) {
            if ((rc = qt_ws_commit(&s, w, qt_topic_reader_handle(r), next, npart, err, errsz)))
                break;
            last_commit = qt_mono_ns();
        }
    }
    if (rc == QT_EINTR && s.prod_rc)
        rc = s.prod_rc;
    if (rc == QT_OK || rc == QT_EINTR) {
        /* Stopping: confirm what was produced and store a restart point. */
        char e2[512];
        qt_err rc2 = qt_ws_commit(&s, w, qt_topic_reader_handle(r), next, npart, e2, sizeof e2);
        if (rc2 && rc == QT_OK) {
            rc = rc2;
            snprintf(err, errsz, "%s", e2);
        } else if (rc2) {
            qt_error("%s", e2);
        }
    }
out:
    if (w) {
        const qt_window_stats *ws = qt_window_get_stats(w);
        st->records = ws->records;
        st->late = ws->late;
        st->bad += ws->refused;
    }
    st->windows = s.windows;
    qt_topic_reader_free(r);
    if (s.prod)
        rd_kafka_destroy(s.prod);
    qt_window_free(w);
    qt_buf_release(&s.val);
    free(next);
    return rc;
}
