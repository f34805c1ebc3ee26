/* quotetape — Kafka client set-up. */
#include "core/kafka.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Largest properties file read with -F. */
#define QT_PROPS_MAX (1024 * 1024)

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

void qt_kopts_init(qt_kopts *o)
{
    const char *env = getenv("QUOTETAPE_BROKERS");
    memset(o, 0, sizeof *o);
    if (env && *env)
        o->brokers = strdup(env);
}

void qt_kopts_release(qt_kopts *o)
{
    free(o->brokers);
    for (size_t i = 0; i < o->nprops; i++) {
        free(o->props[i].key);
        free(o->props[i].value);
        free(o->props[i].origin);
    }
    memset(o, 0, sizeof *o);
}

qt_err qt_kopts_set_brokers(qt_kopts *o, const char *brokers)
{
    char *b = strdup(brokers);
    if (!b)
        return QT_ENOMEM;
    free(o->brokers);
    o->brokers = b;
    return QT_OK;
}

static qt_err qt_kopts_add(qt_kopts *o, const char *key, size_t klen, const char *value,
                           const char *origin, char *err, size_t errsz)
{
    qt_kprop *p;
    if (o->nprops == QT_KOPTS_MAX)
        return qt_fail(QT_ECONFIG, err, errsz, "%s: more than %d Kafka properties", origin,
                       QT_KOPTS_MAX);
    p = &o->props[o->nprops];
    p->key = strndup(key, klen);
    p->value = strdup(value);
    p->origin = strdup(origin);
    if (!p->key || !p->value || !p->origin) {
        free(p->key);
        free(p->value);
        free(p->origin);
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    }
    o->nprops++;
    return QT_OK;
}

qt_err qt_kopts_add_kv(qt_kopts *o, const char *kv, char *err, size_t errsz)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return qt_fail(QT_EUSAGE, err, errsz, "-X takes key=value, not '%.*s'",
                       (int)(eq ? 0 : strlen(kv) > 64 ? 64 : strlen(kv)), eq ? "" : kv);
    return qt_kopts_add(o, kv, (size_t)(eq - kv), eq + 1, "-X", err, errsz);
}

/* ------------------------------------------------------------------------ */
/* Properties files                                                          */
/* ------------------------------------------------------------------------ */

static int qt_is_space(char c) { return c == ' ' || c == '\t' || c == '\f'; }

qt_err qt_props_parse(const char *text, size_t len, const char *name, qt_props_cb cb, void *ud,
                      char *err, size_t errsz)
{
    /* A logical line (after \ continuations) is capped at 64 KiB. */
    enum { LINE_MAX_ = 65536 };
    char *line = malloc(LINE_MAX_);
    size_t i = 0, n;
    int lineno = 0, start_line;
    qt_err e = QT_OK;

    if (!line)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    while (i < len) {
        /* gather one logical line */
        n = 0;
        start_line = lineno + 1;
        for (;;) {
            size_t j = i;
            lineno++;
            while (j < len && text[j] != '\n')
                j++;
            size_t end = j;
            if (end > i && text[end - 1] == '\r')
                end--;
            /* skip leading blanks of continuation and first lines alike */
            while (i < end && qt_is_space(text[i]))
                i++;
            int cont = end > i && text[end - 1] == '\\';
            size_t take = end - i - (size_t)cont;
            if (n + take >= LINE_MAX_) {
                e = qt_fail(QT_ECONFIG, err, errsz, "%s:%d: line too long", name, start_line);
                goto out;
            }
            if (memchr(text + i, '\0', take)) {
                e = qt_fail(QT_ECONFIG, err, errsz, "%s:%d: NUL byte in line", name, lineno);
                goto out;
            }
            memcpy(line + n, text + i, take);
            n += take;
            i = j < len ? j + 1 : j;
            if (!cont || i >= len)
                break;
        }
        line[n] = '\0';
        while (n && qt_is_space(line[n - 1]))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#' || line[0] == '!')
            continue;
        size_t k = 0;
        while (k < n && line[k] != '=' && line[k] != ':' && !qt_is_space(line[k]))
            k++;
        size_t v = k;
        while (v < n && qt_is_space(line[v]))
            v++;
        if (k == 0 || v >= n || (line[v] != '=' && line[v] != ':')) {
            e = qt_fail(QT_ECONFIG, err, errsz, "%s:%d: expected key=value", name, start_line);
            goto out;
        }
        line[k] = '\0';
        v++;
        while (v < n && qt_is_space(line[v]))
            v++;
        if (cb(line, line + v, start_line, ud)) {
            e = QT_EINTR;
            goto out;
        }
    }
out:
    free(line);
    return e;
}

struct qt_props_ctx {
    qt_kopts *o;
    const char *path;
    qt_err e;
    char *err;
    size_t errsz;
};

static int qt_props_add_cb(const char *key, const char *value, int line, void *ud)
{
    struct qt_props_ctx *c = ud;
    char origin[1024];
    snprintf(origin, sizeof origin, "%s:%d", c->path, line);
    c->e = qt_kopts_add(c->o, key, strlen(key), value, origin, c->err, c->errsz);
    return c->e != QT_OK;
}

qt_err qt_kopts_add_file(qt_kopts *o, const char *path, char *err, size_t errsz)
{
    struct qt_props_ctx c = {o, path, QT_OK, err, errsz};
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;
    qt_err e;

    if (!f)
        return qt_fail(errno == ENOENT ? QT_ENOTFOUND : QT_EIO, err, errsz,
                       "cannot open config '%s': %s", path, strerror(errno));
    buf = malloc(QT_PROPS_MAX + 1);
    if (!buf) {
        fclose(f);
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    }
    n = fread(buf, 1, QT_PROPS_MAX + 1, f);
    if (ferror(f)) {
        e = qt_fail(QT_EIO, err, errsz, "cannot read config '%s': %s", path, strerror(errno));
    } else if (n > QT_PROPS_MAX) {
        e = qt_fail(QT_ECONFIG, err, errsz, "config '%s' is larger than %d bytes", path,
                    QT_PROPS_MAX);
    } else {
        e = qt_props_parse(buf, n, path, qt_props_add_cb, &c, err, errsz);
        if (e == QT_EINTR)
            e = c.e;
    }
    free(buf);
    fclose(f);
    return e;
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */
/* ------------------------------------------------------------------------ */

static void qt_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    /* librdkafka's syslog levels: 0..3 errors, 4 warning, 5..6 info, 7 debug.
     * Its connection-refused chatter is routine while a broker restarts. */
    qt_log(level <= 3 ? QT_LOG_WARN : level <= 6 ? QT_LOG_DEBUG : QT_LOG_DEBUG + 1,
           "kafka: %s: %s", fac, buf);
}

static qt_err qt_kafka_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                           const char *origin, char *err, size_t errsz)
{
    char e2[512];
    if (rd_kafka_conf_set(conf, key, value, e2, sizeof e2) != RD_KAFKA_CONF_OK)
        return qt_fail(QT_ECONFIG, err, errsz, "%s: Kafka property '%s': %s", origin, key, e2);
    return QT_OK;
}

qt_err qt_kafka_conf(const qt_kopts *o, rd_kafka_conf_t **out, char *err, size_t errsz)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int have_bootstrap = o->brokers != NULL;
    qt_err e;

    *out = NULL;
    if (!conf)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    rd_kafka_conf_set_log_cb(conf, qt_kafka_log_cb);
    if ((e = qt_kafka_set(conf, "client.id", "quotetape", "default", err, errsz)))
        goto fail;
    for (size_t i = 0; i < o->nprops; i++) {
        const qt_kprop *p = &o->props[i];
        if (strcmp(p->key, "bootstrap.servers") == 0 || strcmp(p->key, "metadata.broker.list") == 0)
            have_bootstrap = 1;
        if ((e = qt_kafka_set(conf, p->key, p->value, p->origin, err, errsz)))
            goto fail;
        qt_debug("kafka property %s=%s (%s)", p->key, qt_log_redact(p->key, p->value), p->origin);
    }
    if (o->brokers && (e = qt_kafka_set(conf, "bootstrap.servers", o->brokers, "-b", err, errsz)))
        goto fail;
    if (!have_bootstrap) {
        e = qt_fail(QT_EUSAGE, err, errsz,
                    "no Kafka brokers: use -b host:port, -F client.properties or set "
                    "QUOTETAPE_BROKERS");
        goto fail;
    }
    *out = conf;
    return QT_OK;
fail:
    rd_kafka_conf_destroy(conf);
    return e;
}

/* The class of a failed rd_kafka_new: librdkafka checks the properties
 * together there (enable.idempotence with an incompatible setting, a
 * missing certificate file), which is a configuration error like a bad
 * single property; anything else is Kafka's. */
static qt_err qt_kafka_new_err(void)
{
    return rd_kafka_last_error() == RD_KAFKA_RESP_ERR__INVALID_ARG ? QT_ECONFIG : QT_EKAFKA;
}

qt_err qt_kafka_producer_new(const qt_kopts *o, int idempotent,
                             void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                             void *opaque, rd_kafka_t **out, char *err, size_t errsz)
{
    rd_kafka_conf_t *conf;
    char e2[512];
    qt_err e = qt_kafka_conf(o, &conf, err, errsz);

    *out = NULL;
    if (e)
        return e;
    /* Defaults first so -X / -F can still override them: the loop below only
     * sets keys the user did not set. */
    static const char *defaults[][2] = {
        {"linger.ms", "5"},
        {"compression.type", "lz4"},
        {"queue.buffering.max.messages", "1000000"},
        {"message.timeout.ms", "300000"},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        int user = 0;
        for (size_t k = 0; k < o->nprops; k++)
            user |= strcmp(o->props[k].key, defaults[i][0]) == 0;
        if (!user && (e = qt_kafka_set(conf, defaults[i][0], defaults[i][1], "default", err,
                                       errsz))) {
            rd_kafka_conf_destroy(conf);
            return e;
        }
    }
    if (idempotent && (e = qt_kafka_set(conf, "enable.idempotence", "true", "default", err,
                                        errsz))) {
        rd_kafka_conf_destroy(conf);
        return e;
    }
    if (dr_cb)
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    if (opaque)
        rd_kafka_conf_set_opaque(conf, opaque);
    *out = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e2, sizeof e2);
    if (!*out) {
        rd_kafka_conf_destroy(conf);
        return qt_fail(qt_kafka_new_err(), err, errsz, "cannot create Kafka producer: %s", e2);
    }
    return QT_OK;
}

qt_err qt_kafka_produce(rd_kafka_t *rk, const char *topic, int32_t partition, const void *key,
                        size_t key_len, const void *value, size_t value_len, int64_t ts_ms,
                        void *msg_opaque, int timeout_ms, char *err, size_t errsz)
{
    int waited = 0;
    for (;;) {
        rd_kafka_resp_err_t r = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
            RD_KAFKA_V_TIMESTAMP(ts_ms), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
        if (r == RD_KAFKA_RESP_ERR_NO_ERROR)
            return QT_OK;
        if (r != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return qt_fail(QT_EKAFKA, err, errsz, "cannot produce to '%s': %s", topic,
                           rd_kafka_err2str(r));
        if (waited >= timeout_ms)
            return qt_fail(QT_ETIMEOUT, err, errsz,
                           "cannot produce to '%s': local queue full for %d ms (broker down?)",
                           topic, waited);
        rd_kafka_poll(rk, 10);
        waited += 10;
    }
}

qt_err qt_kafka_flush(rd_kafka_t *rk, int timeout_ms, char *err, size_t errsz)
{
    rd_kafka_flush(rk, timeout_ms);
    int left = rd_kafka_outq_len(rk);
    if (left > 0)
        return qt_fail(QT_ETIMEOUT, err, errsz,
                       "%d message(s) not confirmed by Kafka after %d ms", left, timeout_ms);
    return QT_OK;
}

qt_err qt_kafka_consumer_new(const qt_kopts *o, const char *group, rd_kafka_t **out, char *err,
                             size_t errsz)
{
    rd_kafka_conf_t *conf;
    char e2[512];
    qt_err e = qt_kafka_conf(o, &conf, err, errsz);

    *out = NULL;
    if (e)
        return e;
    if ((e = qt_kafka_set(conf, "group.id", group ? group : "quotetape-reader", "default", err,
                          errsz)) ||
        (e = qt_kafka_set(conf, "enable.auto.commit", "false", "default", err, errsz)) ||
        (e = qt_kafka_set(conf, "enable.partition.eof", "true", "default", err, errsz)) ||
        (e = qt_kafka_set(conf, "auto.offset.reset", "earliest", "default", err, errsz))) {
        rd_kafka_conf_destroy(conf);
        return e;
    }
    /* user overrides again after our defaults */
    for (size_t i = 0; i < o->nprops; i++)
        if (strcmp(o->props[i].key, "auto.offset.reset") == 0 ||
            strcmp(o->props[i].key, "isolation.level") == 0)
            qt_kafka_set(conf, o->props[i].key, o->props[i].value, o->props[i].origin, NULL, 0);
    *out = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e2, sizeof e2);
    if (!*out) {
        rd_kafka_conf_destroy(conf);
        return qt_fail(qt_kafka_new_err(), err, errsz, "cannot create Kafka consumer: %s", e2);
    }
    return QT_OK;
}

qt_err qt_kafka_partitions(rd_kafka_t *rk, const char *topic, int *n, int timeout_ms, char *err,
                           size_t errsz)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t r;
    qt_err e = QT_OK;

    if (!rkt)
        return qt_fail(QT_EKAFKA, err, errsz, "bad topic name '%s'", topic);
    r = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (r != RD_KAFKA_RESP_ERR_NO_ERROR)
        return qt_fail(r == RD_KAFKA_RESP_ERR__TIMED_OUT ? QT_ETIMEOUT : QT_EKAFKA, err, errsz,
                       "cannot read metadata of topic '%s': %s", topic, rd_kafka_err2str(r));
    if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0)
        e = qt_fail(QT_ENOTFOUND, err, errsz, "topic '%s' does not exist: %s", topic,
                    md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "no metadata");
    else
        *n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return e;
}

qt_err qt_kafka_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t *lo,
                           int64_t *hi, int timeout_ms, char *err, size_t errsz)
{
    rd_kafka_resp_err_t r =
        rd_kafka_query_watermark_offsets(rk, topic, partition, lo, hi, timeout_ms);
    if (r != RD_KAFKA_RESP_ERR_NO_ERROR)
        return qt_fail(r == RD_KAFKA_RESP_ERR__TIMED_OUT ? QT_ETIMEOUT : QT_EKAFKA, err, errsz,
                       "cannot read offsets of '%s' [%d]: %s", topic, (int)partition,
                       rd_kafka_err2str(r));
    return QT_OK;
}
