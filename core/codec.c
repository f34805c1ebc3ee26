/* quotetape — the Alpaca wire codec: buffers, numbers, message decoding
 * shared by both formats, and the JSON half (cJSON). The MessagePack half
 * is in codec_msgpack.c. */
#include "core/codec.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/codec_int.h"
#include "core/jsonscan.h"
#include "core/qtime.h"

/* ======================================================================
 * qt_buf
 * ====================================================================== */

void qt_buf_init(qt_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap ? cap : QT_FRAME_MAX;
}

void qt_buf_release(qt_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

void qt_buf_reset(qt_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Makes room for need more bytes plus a NUL. The data stays NUL-terminated
 * after every successful append, so text can be handed to printf-likes. */
static qt_err qt_buf_reserve(qt_buf *b, size_t need)
{
    size_t want, na;
    char *p;

    if (need > b->cap || b->len > b->cap - need)
        return QT_ETOOBIG;
    want = b->len + need + 1;
    if (want <= b->alloc)
        return QT_OK;
    na = b->alloc ? b->alloc : 256;
    while (na < want)
        na = na > SIZE_MAX / 2 ? want : na * 2;
    if (na > b->cap + 1)
        na = b->cap + 1;
    p = realloc(b->data, na);
    if (!p)
        return QT_ENOMEM;
    b->data = p;
    b->alloc = na;
    return QT_OK;
}

qt_err qt_buf_append(qt_buf *b, const void *p, size_t n)
{
    qt_err rc = qt_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return QT_OK;
}

qt_err qt_buf_printf(qt_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t room = b->alloc > b->len ? b->alloc - b->len : 0;
    qt_err rc;

    va_start(ap, fmt);
    n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return QT_EINVAL;
    if ((size_t)n < room) {
        /* it fitted; still honour the cap */
        if ((size_t)n > b->cap - b->len) {
            b->data[b->len] = '\0';
            return QT_ETOOBIG;
        }
        b->len += (size_t)n;
        return QT_OK;
    }
    if (room)
        b->data[b->len] = '\0';
    rc = qt_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return QT_OK;
}

static qt_err qt_buf_puts(qt_buf *b, const char *s)
{
    return qt_buf_append(b, s, strlen(s));
}

/* ======================================================================
 * numbers
 * ====================================================================== */

/* %.15g is exact for every decimal of up to 15 significant digits, and when
 * it reads back to v no shorter form does either (a shorter one would round
 * to the same 15 digits). Otherwise 16, and 17 always reads back. The
 * exponent loses its leading zeros ("1e-07" -> "1e-7"). */
size_t qt_fmt_double(double v, char *buf)
{
    int n = 0;

    if (isnan(v))
        return (size_t)snprintf(buf, 32, "nan");
    if (isinf(v))
        return (size_t)snprintf(buf, 32, v < 0 ? "-inf" : "inf");
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, 32, "%.*g", prec, v);
        if (prec == 17 || strtod(buf, NULL) == v)
            break;
    }
    char *e = strchr(buf, 'e');
    if (e) {
        char *d = e + 1, *z;
        if (*d == '+' || *d == '-')
            d++;
        z = d;
        while (*z == '0' && z[1] != '\0')
            z++;
        if (z != d) {
            memmove(d, z, strlen(z) + 1);
            n = (int)strlen(buf);
        }
    }
    return (size_t)n;
}

/* ======================================================================
 * Alpaca error codes
 * ====================================================================== */

const char *qt_alpaca_error_text(int code)
{
    switch (code) {
    case QT_ALPACA_INVALID_SYNTAX: return "invalid syntax";
    case QT_ALPACA_NOT_AUTHENTICATED: return "not authenticated";
    case QT_ALPACA_AUTH_FAILED: return "auth failed";
    case QT_ALPACA_ALREADY_AUTHENTICATED: return "already authenticated";
    case QT_ALPACA_AUTH_TIMEOUT: return "auth timeout";
    case QT_ALPACA_SYMBOL_LIMIT: return "symbol limit exceeded";
    case QT_ALPACA_CONNECTION_LIMIT: return "connection limit exceeded";
    case QT_ALPACA_SLOW_CLIENT: return "slow client";
    case QT_ALPACA_INSUFFICIENT_SUBSCRIPTION: return "insufficient subscription";
    case QT_ALPACA_INVALID_SUBSCRIBE_ACTION: return "invalid subscribe action for this feed";
    case QT_ALPACA_INTERNAL_ERROR: return "internal error";
    default: return NULL;
    }
}

/* ======================================================================
 * message decoding, shared by both formats
 * ====================================================================== */

const char *const qt_codec_sub_keys[QT_SUB_NLISTS] = {"trades",      "quotes",      "bars",
                                                      "updatedBars", "dailyBars",   "statuses",
                                                      "lulds",       "corrections", "cancelErrors"};

const qt_sublist *qt_codec_sub_list(const qt_subscription *s, size_t k)
{
    const qt_sublist *l[QT_SUB_NLISTS] = {&s->trades,       &s->quotes,      &s->bars,
                                          &s->updated_bars, &s->daily_bars,  &s->statuses,
                                          &s->lulds,        &s->corrections, &s->cancel_errors};
    return k < QT_SUB_NLISTS ? l[k] : NULL;
}

static const char *qt_vkind_name(qt_vkind k)
{
    switch (k) {
    case QT_V_NULL: return "null";
    case QT_V_BOOL: return "a boolean";
    case QT_V_NUMBER: return "a number";
    case QT_V_STRING: return "a string";
    case QT_V_ARRAY: return "an array";
    case QT_V_OBJECT: return "an object";
    case QT_V_TIME: return "a timestamp";
    default: return "of an unsupported type";
    }
}

static qt_err qt_field_type(const char *key, const qt_val *v, const char *want, char *err,
                            size_t errsz)
{
    return qt_fail(QT_EINVAL, err, errsz, "field '%s' is %s, expected %s", key,
                   qt_vkind_name(v->kind), want);
}

/* A string field copied into dst[dstsz]; absent is "" unless required. */
static qt_err qt_get_str(const qt_src *src, const char *key, int required, char *dst, size_t dstsz,
                         char *err, size_t errsz)
{
    qt_val v;
    src->get(src, key, &v);
    dst[0] = '\0';
    if (v.kind == QT_V_ABSENT) {
        if (required)
            return qt_fail(QT_EINVAL, err, errsz, "missing field '%s'", key);
        return QT_OK;
    }
    if (v.kind != QT_V_STRING)
        return qt_field_type(key, &v, "a string", err, errsz);
    if (v.slen >= dstsz)
        return qt_fail(QT_EINVAL, err, errsz, "field '%s' ('%.*s%s') is longer than %zu bytes", key,
                       (int)(v.slen > 40 ? 40 : v.slen), v.s, v.slen > 40 ? "..." : "", dstsz - 1);
    if (memchr(v.s, '\0', v.slen))
        return qt_fail(QT_EINVAL, err, errsz, "field '%s' holds a NUL byte", key);
    memcpy(dst, v.s, v.slen);
    dst[v.slen] = '\0';
    return QT_OK;
}

static qt_err qt_get_num(const qt_src *src, const char *key, int required, double *out, char *err,
                         size_t errsz)
{
    qt_val v;
    src->get(src, key, &v);
    if (v.kind == QT_V_ABSENT) {
        *out = 0;
        if (required)
            return qt_fail(QT_EINVAL, err, errsz, "missing field '%s'", key);
        return QT_OK;
    }
    if (v.kind != QT_V_NUMBER)
        return qt_field_type(key, &v, "a number", err, errsz);
    if (!isfinite(v.d))
        return qt_fail(QT_EINVAL, err, errsz, "field '%s' is not a finite number", key);
    *out = v.d;
    return QT_OK;
}

static qt_err qt_get_int(const qt_src *src, const char *key, int required, int64_t *out, char *err,
                         size_t errsz)
{
    qt_val v;
    src->get(src, key, &v);
    *out = 0;
    if (v.kind == QT_V_ABSENT) {
        if (required)
            return qt_fail(QT_EINVAL, err, errsz, "missing field '%s'", key);
        return QT_OK;
    }
    if (v.kind != QT_V_NUMBER)
        return qt_field_type(key, &v, "an integer", err, errsz);
    if (v.int_range)
        return qt_fail(QT_EINVAL, err, errsz, "field '%s' is out of range", key);
    if (!v.is_int)
        return qt_fail(QT_EINVAL, err, errsz, "field '%s' is not an integer", key);
    *out = v.i;
    return QT_OK;
}

/* "t": RFC 3339 text, or (MessagePack) the timestamp extension. */
static qt_err qt_get_time(const qt_src *src, const char *key, int64_t *out, char *err, size_t errsz)
{
    qt_val v;
    char why[160];

    src->get(src, key, &v);
    if (v.kind == QT_V_ABSENT)
        return qt_fail(QT_EINVAL, err, errsz, "missing field '%s'", key);
    if (v.kind == QT_V_TIME) {
        if (v.bad_time)
            return qt_fail(QT_EINVAL, err, errsz,
                           "field '%s' is a malformed or out-of-range timestamp extension", key);
        *out = v.ns;
        return QT_OK;
    }
    if (v.kind != QT_V_STRING)
        return qt_field_type(key, &v, "an RFC 3339 string", err, errsz);
    if (qt_time_parse(v.s, v.slen, out, why, sizeof why))
        return qt_fail(QT_EINVAL, err, errsz, "field '%s': %s", key, why);
    return QT_OK;
}

/* Conditions: an array of strings, kept as compact JSON text ("" when
 * absent) in dst[QT_COND_MAX]. */
static qt_err qt_get_cond(const qt_src *src, const char *key, char *dst, char *err, size_t errsz)
{
    qt_val v, e;
    qt_buf b;
    qt_err rc = QT_OK;

    dst[0] = '\0';
    src->get(src, key, &v);
    if (v.kind == QT_V_ABSENT)
        return QT_OK;
    if (v.kind != QT_V_ARRAY)
        return qt_field_type(key, &v, "an array of strings", err, errsz);
    qt_buf_init(&b, QT_COND_MAX - 1);
    rc = qt_buf_append(&b, "[", 1);
    for (size_t i = 0; !rc && i < v.n; i++) {
        src->elem(src, v.h, i, &e);
        if (e.kind != QT_V_STRING) {
            qt_buf_release(&b);
            return qt_fail(QT_EINVAL, err, errsz, "field '%s' element %zu is %s, expected a string",
                           key, i, qt_vkind_name(e.kind));
        }
        if (i)
            rc = qt_buf_append(&b, ",", 1);
        if (!rc)
            rc = qt_codec_json_str(&b, e.s, e.slen);
    }
    if (!rc)
        rc = qt_buf_append(&b, "]", 1);
    if (rc == QT_ETOOBIG)
        rc = qt_fail(QT_EINVAL, err, errsz, "field '%s' is longer than %d bytes as JSON", key,
                     QT_COND_MAX - 1);
    else if (rc)
        rc = qt_fail(rc, err, errsz, "field '%s': %s", key, qt_strerror(rc));
    else
        memcpy(dst, b.data, b.len + 1);
    qt_buf_release(&b);
    return rc;
}

/* Subscription lists: each an optional array of symbol strings. With
 * subp, builds one heap block: the struct, then the NUL-terminated
 * symbols its pointers point at. */
static qt_err qt_get_sub(const qt_src *src, qt_subscription **subp, char *err, size_t errsz)
{
    qt_val v, e;
    size_t bytes = 0;
    qt_subscription *s;
    char *p;

    for (size_t k = 0; k < QT_SUB_NLISTS; k++) {
        const char *key = qt_codec_sub_keys[k];
        src->get(src, key, &v);
        if (v.kind == QT_V_ABSENT)
            continue;
        if (v.kind != QT_V_ARRAY)
            return qt_field_type(key, &v, "an array of strings", err, errsz);
        if (v.n > QT_SUB_MAX)
            return qt_fail(QT_EINVAL, err, errsz, "field '%s' lists %zu symbols, more than %d", key,
                           v.n, QT_SUB_MAX);
        for (size_t i = 0; i < v.n; i++) {
            src->elem(src, v.h, i, &e);
            if (e.kind != QT_V_STRING)
                return qt_fail(QT_EINVAL, err, errsz,
                               "field '%s' element %zu is %s, expected a string", key, i,
                               qt_vkind_name(e.kind));
            if (e.slen >= QT_SYMBOL_MAX)
                return qt_fail(QT_EINVAL, err, errsz,
                               "field '%s' element %zu is longer than %d bytes", key, i,
                               QT_SYMBOL_MAX - 1);
            if (memchr(e.s, '\0', e.slen))
                return qt_fail(QT_EINVAL, err, errsz, "field '%s' element %zu holds a NUL byte",
                               key, i);
            bytes += e.slen + 1;
        }
    }
    if (!subp)
        return QT_OK;
    s = calloc(1, sizeof *s + bytes);
    if (!s)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory for a subscription message");
    p = (char *)(s + 1);
    for (size_t k = 0; k < QT_SUB_NLISTS; k++) {
        qt_sublist *l = (qt_sublist *)qt_codec_sub_list(s, k);
        src->get(src, qt_codec_sub_keys[k], &v);
        if (v.kind != QT_V_ARRAY)
            continue;
        for (size_t i = 0; i < v.n; i++) {
            src->elem(src, v.h, i, &e);
            memcpy(p, e.s, e.slen);
            p[e.slen] = '\0';
            l->syms[l->n++] = p;
            p += e.slen + 1;
        }
    }
    *subp = s;
    return QT_OK;
}

static qt_err qt_decode_quote(const qt_src *src, qt_quote *q, char *err, size_t errsz)
{
    qt_err rc;
    if ((rc = qt_get_str(src, "S", 1, q->symbol, sizeof q->symbol, err, errsz)) ||
        (rc = qt_get_str(src, "bx", 0, q->bid_ex, sizeof q->bid_ex, err, errsz)) ||
        (rc = qt_get_num(src, "bp", 1, &q->bid_px, err, errsz)) ||
        (rc = qt_get_int(src, "bs", 1, &q->bid_sz, err, errsz)) ||
        (rc = qt_get_str(src, "ax", 0, q->ask_ex, sizeof q->ask_ex, err, errsz)) ||
        (rc = qt_get_num(src, "ap", 1, &q->ask_px, err, errsz)) ||
        (rc = qt_get_int(src, "as", 1, &q->ask_sz, err, errsz)) ||
        (rc = qt_get_cond(src, "c", q->cond, err, errsz)) ||
        (rc = qt_get_str(src, "z", 0, q->tape, sizeof q->tape, err, errsz)) ||
        (rc = qt_get_time(src, "t", &q->t_ns, err, errsz)))
        return rc;
    return QT_OK;
}

static qt_err qt_decode_trade(const qt_src *src, qt_trade *t, char *err, size_t errsz)
{
    qt_err rc;
    if ((rc = qt_get_str(src, "S", 1, t->symbol, sizeof t->symbol, err, errsz)) ||
        (rc = qt_get_int(src, "i", 0, &t->id, err, errsz)) ||
        (rc = qt_get_str(src, "x", 0, t->ex, sizeof t->ex, err, errsz)) ||
        (rc = qt_get_num(src, "p", 1, &t->px, err, errsz)) ||
        (rc = qt_get_int(src, "s", 1, &t->sz, err, errsz)) ||
        (rc = qt_get_cond(src, "c", t->cond, err, errsz)) ||
        (rc = qt_get_str(src, "z", 0, t->tape, sizeof t->tape, err, errsz)) ||
        (rc = qt_get_time(src, "t", &t->t_ns, err, errsz)))
        return rc;
    return QT_OK;
}

static qt_err qt_decode_bar(const qt_src *src, qt_bar *b, char *err, size_t errsz)
{
    qt_err rc;
    if ((rc = qt_get_str(src, "S", 1, b->symbol, sizeof b->symbol, err, errsz)) ||
        (rc = qt_get_num(src, "o", 1, &b->o, err, errsz)) ||
        (rc = qt_get_num(src, "h", 1, &b->h, err, errsz)) ||
        (rc = qt_get_num(src, "l", 1, &b->l, err, errsz)) ||
        (rc = qt_get_num(src, "c", 1, &b->c, err, errsz)) ||
        (rc = qt_get_int(src, "v", 1, &b->v, err, errsz)) ||
        (rc = qt_get_time(src, "t", &b->t_ns, err, errsz)) ||
        (rc = qt_get_int(src, "n", 0, &b->n, err, errsz)) ||
        (rc = qt_get_num(src, "vw", 0, &b->vw, err, errsz)))
        return rc;
    return QT_OK;
}

qt_err qt_codec_decode(const qt_src *src, int64_t recv_ns, qt_msg *m, qt_subscription **sub,
                       char *err, size_t errsz)
{
    qt_val v;
    qt_err rc;

    memset(&m->u, 0, sizeof m->u);
    m->type = QT_MSG_OTHER;
    m->T[0] = '\0';
    if (sub)
        *sub = NULL;
    src->get(src, "T", &v);
    if (v.kind == QT_V_ABSENT)
        return qt_fail(QT_EINVAL, err, errsz, "missing field 'T'");
    if ((rc = qt_get_str(src, "T", 1, m->T, sizeof m->T, err, errsz)))
        return rc;

    if (strcmp(m->T, "q") == 0) {
        m->type = QT_MSG_QUOTE;
        rc = qt_decode_quote(src, &m->u.quote, err, errsz);
        m->u.quote.recv_ns = recv_ns;
    } else if (strcmp(m->T, "t") == 0) {
        m->type = QT_MSG_TRADE;
        rc = qt_decode_trade(src, &m->u.trade, err, errsz);
        m->u.trade.recv_ns = recv_ns;
    } else if (strcmp(m->T, "b") == 0 || strcmp(m->T, "d") == 0 || strcmp(m->T, "u") == 0) {
        m->type = QT_MSG_BAR;
        rc = qt_decode_bar(src, &m->u.bar, err, errsz);
        m->u.bar.recv_ns = recv_ns;
    } else if (strcmp(m->T, "success") == 0) {
        m->type = QT_MSG_SUCCESS;
        rc = qt_get_str(src, "msg", 1, m->u.success.msg, sizeof m->u.success.msg, err, errsz);
    } else if (strcmp(m->T, "error") == 0) {
        int64_t code;
        m->type = QT_MSG_ERROR;
        rc = qt_get_int(src, "code", 1, &code, err, errsz);
        if (!rc && (code < 0 || code > 99999))
            rc = qt_fail(QT_EINVAL, err, errsz, "field 'code' (%lld) is out of range",
                         (long long)code);
        if (rc)
            return rc;
        m->u.error.code = (int)code;
        src->get(src, "msg", &v);
        if (v.kind == QT_V_ABSENT) {
            const char *d = qt_alpaca_error_text((int)code);
            snprintf(m->u.error.msg, sizeof m->u.error.msg, "%s", d ? d : "");
        } else if (v.kind != QT_V_STRING) {
            rc = qt_field_type("msg", &v, "a string", err, errsz);
        } else {
            /* a long server message is cut, not refused: raw keeps it whole */
            size_t n = v.slen < sizeof m->u.error.msg ? v.slen : sizeof m->u.error.msg - 1;
            memcpy(m->u.error.msg, v.s, n);
            m->u.error.msg[n] = '\0';
        }
    } else if (strcmp(m->T, "subscription") == 0) {
        m->type = QT_MSG_SUBSCRIPTION;
        rc = qt_get_sub(src, sub, err, errsz);
        if (!rc && sub)
            m->u.sub = *sub;
    } else {
        m->type = QT_MSG_OTHER;
    }
    return rc;
}

/* ======================================================================
 * JSON: the cJSON source
 * ====================================================================== */

/* Integers beyond 2^53 do not survive cJSON's double; re-read their text. */
typedef struct qt_jsrc {
    qt_src src;
    const char *raw;
    size_t raw_len;
} qt_jsrc;

static void qt_json_val(const qt_jsrc *js, const cJSON *it, const char *key, qt_val *v)
{
    memset(v, 0, sizeof *v);
    if (!it) {
        v->kind = QT_V_ABSENT;
    } else if (cJSON_IsNull(it)) {
        v->kind = QT_V_NULL;
    } else if (cJSON_IsBool(it)) {
        v->kind = QT_V_BOOL;
    } else if (cJSON_IsNumber(it)) {
        double d = it->valuedouble;
        v->kind = QT_V_NUMBER;
        v->d = d;
        if (isfinite(d) && d == floor(d)) {
            if (fabs(d) < 9007199254740992.0) { /* 2^53: exact in a double */
                v->is_int = 1;
                v->i = (int64_t)d;
            } else {
                const char *t;
                size_t tl;
                char num[32], *end;
                v->int_range = 1;
                if (js && key &&
                    qt_json_member(js->raw, js->raw_len, key, &t, &tl, NULL, 0) == QT_OK &&
                    tl < sizeof num) {
                    long long ll;
                    memcpy(num, t, tl);
                    num[tl] = '\0';
                    errno = 0;
                    ll = strtoll(num, &end, 10);
                    if (errno == 0 && *end == '\0') {
                        v->is_int = 1;
                        v->int_range = 0;
                        v->i = ll;
                    }
                }
            }
        }
    } else if (cJSON_IsString(it)) {
        v->kind = QT_V_STRING;
        v->s = it->valuestring;
        v->slen = strlen(it->valuestring);
    } else if (cJSON_IsArray(it)) {
        v->kind = QT_V_ARRAY;
        v->h = it;
        v->n = (size_t)cJSON_GetArraySize(it);
    } else if (cJSON_IsObject(it)) {
        v->kind = QT_V_OBJECT;
    } else {
        v->kind = QT_V_OTHER;
    }
}

static void qt_json_get(const qt_src *src, const char *key, qt_val *v)
{
    const qt_jsrc *js = (const qt_jsrc *)src;
    qt_json_val(js, cJSON_GetObjectItemCaseSensitive((const cJSON *)src->obj, key), key, v);
}

static void qt_json_elem(const qt_src *src, const void *arr, size_t i, qt_val *v)
{
    (void)src;
    qt_json_val(NULL, cJSON_GetArrayItem((const cJSON *)arr, (int)i), NULL, v);
}

/* ======================================================================
 * JSON: parsing
 * ====================================================================== */

/* Parses one message object's text and decodes it. The span must be one
 * JSON value; *root receives the tree (the caller deletes it) because
 * subscription symbols and strings may point into it. */
static qt_err qt_json_decode(const char *buf, size_t len, int64_t recv_ns, qt_msg *m,
                             qt_subscription **sub, char *err, size_t errsz)
{
    const char *end = NULL;
    cJSON *root;
    qt_jsrc js;
    qt_err rc;

    m->raw = buf;
    m->raw_len = len;
    {
        /* the common case: a valid flat object, decoded without allocating */
        qt_fjsrc fs;
        if (qt_fj_open(&fs, buf, len) == 0) {
            rc = qt_codec_decode(&fs.src, recv_ns, m, sub, err, errsz);
            if (!fs.overflow)
                return rc;
            if (sub) {
                free(*sub);
                *sub = NULL;
            }
        }
    }
    root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (!root) {
        size_t at = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : 0;
        return qt_fail(QT_EINVAL, err, errsz, "invalid JSON at byte %zu of the message", at);
    }
    if (qt_json_ws(buf, len, (size_t)(end - buf)) != len) {
        cJSON_Delete(root);
        return qt_fail(QT_EINVAL, err, errsz, "trailing bytes after the message object");
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return qt_fail(QT_EINVAL, err, errsz, "message is not a JSON object");
    }
    js.src.obj = root;
    js.src.get = qt_json_get;
    js.src.elem = qt_json_elem;
    js.raw = buf;
    js.raw_len = len;
    rc = qt_codec_decode(&js.src, recv_ns, m, sub, err, errsz);
    cJSON_Delete(root);
    return rc;
}

qt_err qt_msg_parse_json(const char *buf, size_t len, int64_t recv_ns, qt_msg *m, char *err,
                         size_t errsz)
{
    size_t s, e;
    qt_err rc;

    if (len > QT_FRAME_MAX)
        return qt_fail(QT_ETOOBIG, err, errsz, "message of %zu bytes exceeds the %u-byte limit",
                       len, QT_FRAME_MAX);
    {
        /* the common case in one pass: the fast source validates the whole
         * text as one object, so the span scan below is only for the rest */
        qt_fjsrc fs;
        size_t b = qt_json_ws(buf, len, 0), e2 = len;
        while (e2 > b && (buf[e2 - 1] == ' ' || buf[e2 - 1] == '\t' || buf[e2 - 1] == '\n' ||
                          buf[e2 - 1] == '\r'))
            e2--;
        if (qt_fj_open(&fs, buf + b, e2 - b) == 0) {
            m->raw = buf + b;
            m->raw_len = e2 - b;
            rc = qt_codec_decode(&fs.src, recv_ns, m, NULL, err, errsz);
            if (!fs.overflow)
                return rc;
        }
    }
    /* the scanner bounds nesting and finds the value's exact span */
    rc = qt_json_skip(buf, len, 0, &s, &e, err, errsz);
    if (rc)
        return rc;
    if (qt_json_ws(buf, len, e) != len)
        return qt_fail(QT_EINVAL, err, errsz, "trailing bytes after the message object");
    rc = qt_json_decode(buf + s, e - s, recv_ns, m, NULL, err, errsz);
    return rc;
}

typedef struct qt_jframe {
    int64_t recv_ns;
    qt_msg_cb cb;
    void *ud;
    size_t idx, delivered;
    qt_err rc; /* error of a message, or QT_EINTR from the caller's cb */
    char *err;
    size_t errsz;
} qt_jframe;

/* Hands one decoded message (rc from its decode) to the caller's callback,
 * or records its error; returns nonzero to stop the walk. */
static int qt_jframe_deliver(qt_jframe *f, qt_msg *m, qt_subscription *sub, qt_err rc,
                             const char *why)
{
    if (rc) {
        free(sub);
        f->rc = qt_fail(rc, f->err, f->errsz, "message %zu: %s", f->idx, why);
        return 1;
    }
    f->idx++;
    f->delivered++;
    if (f->cb(m, f->ud)) {
        free(sub);
        f->rc = qt_fail(QT_EINTR, f->err, f->errsz, "stopped by the message handler");
        return 1;
    }
    free(sub);
    return 0;
}

static int qt_jframe_elem(const char *elem, size_t len, void *ud)
{
    qt_jframe *f = ud;
    qt_subscription *sub = NULL;
    qt_msg m;
    char why[256];
    qt_err rc = qt_json_decode(elem, len, f->recv_ns, &m, &sub, why, sizeof why);
    return qt_jframe_deliver(f, &m, sub, rc, why);
}

qt_err qt_frame_parse_json(const char *buf, size_t len, int64_t recv_ns, qt_msg_cb cb, void *ud,
                           size_t *delivered, char *err, size_t errsz)
{
    qt_jframe f = {recv_ns, cb, ud, 0, 0, QT_OK, err, errsz};
    size_t i;
    qt_err rc;
    char why[200];

    if (delivered)
        *delivered = 0;
    if (len > QT_FRAME_MAX)
        return qt_fail(QT_ETOOBIG, err, errsz, "frame of %zu bytes exceeds the %u-byte limit", len,
                       QT_FRAME_MAX);
    i = qt_json_ws(buf, len, 0);
    if (i < len && buf[i] == '{') {
        /* one bare message object, as some feeds send */
        size_t s, e;
        rc = qt_json_skip(buf, len, i, &s, &e, why, sizeof why);
        if (!rc && qt_json_ws(buf, len, e) != len)
            rc = qt_fail(QT_EINVAL, why, sizeof why, "trailing bytes after the message at byte %zu",
                         qt_json_ws(buf, len, e));
        if (rc)
            return qt_fail(rc, err, errsz, "message 0: %s", why);
        qt_jframe_elem(buf + s, e - s, &f);
        if (delivered)
            *delivered = f.delivered;
        return f.rc;
    }
    if (i >= len || buf[i] != '[')
        return qt_fail(QT_EINVAL, err, errsz, "frame is not a JSON array of messages");
    /* One pass over the frame: the fast source delimits, validates and
     * decodes each message object at once. An element it does not take
     * (invalid, or not a flat object) is delimited by the scanner and
     * decoded the general way, which also words any error. */
    rc = QT_OK;
    i = qt_json_ws(buf, len, i + 1);
    if (i < len && buf[i] == ']') {
        i++;
    } else {
        for (;;) {
            size_t s, e;
            qt_fjsrc fs;
            int stop;
            if (i < len && buf[i] == '{' && qt_fj_object(&fs, buf, len, i, &e) == 0) {
                qt_subscription *sub = NULL;
                qt_msg m;
                s = i;
                m.raw = buf + s;
                m.raw_len = e - s;
                rc = qt_codec_decode(&fs.src, recv_ns, &m, &sub, why, sizeof why);
                if (fs.overflow) {
                    free(sub);
                    stop = qt_jframe_elem(buf + s, e - s, &f);
                } else {
                    stop = qt_jframe_deliver(&f, &m, sub, rc, why);
                }
            } else {
                if ((rc = qt_json_skip(buf, len, i, &s, &e, why, sizeof why)))
                    break;
                stop = qt_jframe_elem(buf + s, e - s, &f);
            }
            if (stop) {
                rc = QT_EINTR;
                break;
            }
            i = qt_json_ws(buf, len, e);
            if (i < len && buf[i] == ',') {
                i = qt_json_ws(buf, len, i + 1);
                continue;
            }
            if (i < len && buf[i] == ']') {
                i++;
                break;
            }
            rc = qt_fail(QT_EINVAL, why, sizeof why, "expected ',' or ']' at byte %zu", i);
            break;
        }
    }
    if (!rc && qt_json_ws(buf, len, i) != len)
        rc = qt_fail(QT_EINVAL, why, sizeof why, "trailing bytes after the array at byte %zu",
                     qt_json_ws(buf, len, i));
    if (delivered)
        *delivered = f.delivered;
    if (rc == QT_EINTR)
        return f.rc;
    if (rc)
        return qt_fail(rc, err, errsz, "malformed JSON frame at message %zu: %s", f.idx, why);
    return QT_OK;
}

/* ======================================================================
 * JSON: encoding
 * ====================================================================== */

qt_err qt_codec_json_str(qt_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    qt_err rc = qt_buf_append(out, "\"", 1);

    for (size_t i = 0; !rc && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[c >> 4], u[5] = hex[c & 15],
            u[6] = '\0';
            esc = u;
        }
        rc = qt_buf_append(out, s + run, i - run);
        if (!rc)
            rc = qt_buf_puts(out, esc);
        run = i + 1;
    }
    if (!rc)
        rc = qt_buf_append(out, s + run, len - run);
    if (!rc)
        rc = qt_buf_append(out, "\"", 1);
    return rc;
}

int qt_codec_cond_ok(const char *cond)
{
    size_t len = strlen(cond), s, e;
    if (len == 0)
        return 1;
    if (cond[0] != '[' || qt_json_skip(cond, len, 0, &s, &e, NULL, 0) || e != len)
        return 0;
    return 1;
}

/* ,"key":"value" (skipped when value is empty and optional) */
static qt_err qt_j_str(qt_buf *o, const char *key, const char *val, int optional)
{
    qt_err rc;
    if (optional && !val[0])
        return QT_OK;
    if ((rc = qt_buf_printf(o, ",\"%s\":", key)))
        return rc;
    return qt_codec_json_str(o, val, strlen(val));
}

static qt_err qt_j_num(qt_buf *o, const char *key, double v)
{
    char num[32];
    if (!isfinite(v))
        return QT_EINVAL;
    qt_fmt_double(v, num);
    return qt_buf_printf(o, ",\"%s\":%s", key, num);
}

static qt_err qt_j_int(qt_buf *o, const char *key, int64_t v)
{
    return qt_buf_printf(o, ",\"%s\":%lld", key, (long long)v);
}

static qt_err qt_j_time(qt_buf *o, const char *key, int64_t ns)
{
    char ts[QT_TIME_STRMAX];
    qt_time_format(ns, -1, ts);
    return qt_buf_printf(o, ",\"%s\":\"%s\"", key, ts);
}

static qt_err qt_j_cond(qt_buf *o, const char *cond)
{
    if (!cond[0])
        return QT_OK;
    if (!qt_codec_cond_ok(cond))
        return QT_EINVAL;
    return qt_buf_printf(o, ",\"c\":%s", cond);
}

/* Runs an encoder and rolls the buffer back to where it was on failure. */
static qt_err qt_j_done(qt_buf *o, size_t mark, qt_err rc)
{
    if (rc) {
        o->len = mark;
        if (o->data)
            o->data[mark] = '\0';
    }
    return rc;
}

qt_err qt_quote_to_json(const qt_quote *q, qt_buf *out)
{
    size_t mark = out->len;
    qt_err rc;
    if ((rc = qt_buf_puts(out, "{\"T\":\"q\"")) || (rc = qt_j_str(out, "S", q->symbol, 0)) ||
        (rc = qt_j_str(out, "bx", q->bid_ex, 1)) || (rc = qt_j_num(out, "bp", q->bid_px)) ||
        (rc = qt_j_int(out, "bs", q->bid_sz)) || (rc = qt_j_str(out, "ax", q->ask_ex, 1)) ||
        (rc = qt_j_num(out, "ap", q->ask_px)) || (rc = qt_j_int(out, "as", q->ask_sz)) ||
        (rc = qt_j_cond(out, q->cond)) || (rc = qt_j_str(out, "z", q->tape, 1)) ||
        (rc = qt_j_time(out, "t", q->t_ns)) || (rc = qt_buf_puts(out, "}")))
        return qt_j_done(out, mark, rc);
    return QT_OK;
}

qt_err qt_trade_to_json(const qt_trade *t, qt_buf *out)
{
    size_t mark = out->len;
    qt_err rc;
    if ((rc = qt_buf_puts(out, "{\"T\":\"t\"")) || (rc = qt_j_str(out, "S", t->symbol, 0)) ||
        (rc = qt_j_int(out, "i", t->id)) || (rc = qt_j_str(out, "x", t->ex, 1)) ||
        (rc = qt_j_num(out, "p", t->px)) || (rc = qt_j_int(out, "s", t->sz)) ||
        (rc = qt_j_cond(out, t->cond)) || (rc = qt_j_str(out, "z", t->tape, 1)) ||
        (rc = qt_j_time(out, "t", t->t_ns)) || (rc = qt_buf_puts(out, "}")))
        return qt_j_done(out, mark, rc);
    return QT_OK;
}

qt_err qt_bar_to_json(const qt_bar *b, qt_buf *out)
{
    size_t mark = out->len;
    qt_err rc;
    if ((rc = qt_buf_puts(out, "{\"T\":\"b\"")) || (rc = qt_j_str(out, "S", b->symbol, 0)) ||
        (rc = qt_j_num(out, "o", b->o)) || (rc = qt_j_num(out, "h", b->h)) ||
        (rc = qt_j_num(out, "l", b->l)) || (rc = qt_j_num(out, "c", b->c)) ||
        (rc = qt_j_int(out, "v", b->v)) || (rc = qt_j_time(out, "t", b->t_ns)) ||
        (rc = qt_j_int(out, "n", b->n)) || (rc = qt_j_num(out, "vw", b->vw)) ||
        (rc = qt_buf_puts(out, "}")))
        return qt_j_done(out, mark, rc);
    return QT_OK;
}

qt_err qt_success_frame_json(const char *msg, qt_buf *out)
{
    size_t mark = out->len;
    qt_err rc;
    if ((rc = qt_buf_puts(out, "[{\"T\":\"success\"")) ||
        (rc = qt_j_str(out, "msg", msg ? msg : "", 0)) || (rc = qt_buf_puts(out, "}]")))
        return qt_j_done(out, mark, rc);
    return QT_OK;
}

qt_err qt_error_frame_json(int code, const char *msg, qt_buf *out)
{
    size_t mark = out->len;
    qt_err rc;
    if (!msg)
        msg = qt_alpaca_error_text(code);
    if ((rc = qt_buf_puts(out, "[{\"T\":\"error\"")) || (rc = qt_j_int(out, "code", code)) ||
        (rc = qt_j_str(out, "msg", msg ? msg : "", 0)) || (rc = qt_buf_puts(out, "}]")))
        return qt_j_done(out, mark, rc);
    return QT_OK;
}

qt_err qt_subscription_frame_json(const qt_subscription *s, qt_buf *out)
{
    size_t mark = out->len;
    qt_err rc = qt_buf_puts(out, "[{\"T\":\"subscription\"");

    for (size_t k = 0; !rc && k < QT_SUB_NLISTS; k++) {
        const qt_sublist *l = s ? qt_codec_sub_list(s, k) : NULL;
        size_t n = l ? l->n : 0;
        if (n > QT_SUB_MAX)
            rc = QT_EINVAL;
        if (!rc)
            rc = qt_buf_printf(out, ",\"%s\":[", qt_codec_sub_keys[k]);
        for (size_t i = 0; !rc && i < n; i++) {
            const char *sym = l->syms[i] ? l->syms[i] : "";
            if (i)
                rc = qt_buf_append(out, ",", 1);
            if (!rc)
                rc = qt_codec_json_str(out, sym, strlen(sym));
        }
        if (!rc)
            rc = qt_buf_append(out, "]", 1);
    }
    if (!rc)
        rc = qt_buf_puts(out, "}]");
    return qt_j_done(out, mark, rc);
}
