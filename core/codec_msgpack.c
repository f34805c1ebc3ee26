/* quotetape — the Alpaca wire codec, MessagePack half (msgpack-c).
 *
 * A frame is a MessagePack array of maps. A small scanner finds each
 * message's exact bytes (its raw form) and checks the structure against the
 * bytes actually there before msgpack-c unpacks it, so a header that claims
 * four billion elements is refused instead of allocated for. Message fields
 * are then validated by the decoder shared with JSON (codec.c). */
#include "core/codec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <msgpack.h>

#include "core/codec_int.h"
#include "core/qtime.h"

/* Deepest nesting accepted; msgpack-c's own unpacker stops at 32. */
#define QT_MP_DEPTH_MAX 30

/* ======================================================================
 * scanning
 * ====================================================================== */

static uint64_t qt_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Reads the header of the item at p[i]: *hdr is its header size, *body the
 * payload bytes after it, *kids the items nested in it (2 per map entry).
 * Returns -1 on a byte that starts no item or a header cut short. */
static int qt_mp_head(const unsigned char *p, size_t len, size_t i, size_t *hdr, uint64_t *body,
                      uint64_t *kids)
{
    unsigned char b;
    size_t lb = 0; /* bytes of length field */

    if (i >= len)
        return -1;
    b = p[i];
    *hdr = 1;
    *body = 0;
    *kids = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 0;
    if (b >= 0x80 && b <= 0x8f) {
        *kids = 2u * (b & 0x0fu);
        return 0;
    }
    if (b >= 0x90 && b <= 0x9f) {
        *kids = b & 0x0fu;
        return 0;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        *body = b & 0x1fu;
        return 0;
    }
    switch (b) {
    case 0xca: *body = 4; return 0;
    case 0xcb: *body = 8; return 0;
    case 0xcc:
    case 0xd0: *body = 1; return 0;
    case 0xcd:
    case 0xd1: *body = 2; return 0;
    case 0xce:
    case 0xd2: *body = 4; return 0;
    case 0xcf:
    case 0xd3: *body = 8; return 0;
    case 0xd4: *body = 2; return 0; /* fixext: type byte + data */
    case 0xd5: *body = 3; return 0;
    case 0xd6: *body = 5; return 0;
    case 0xd7: *body = 9; return 0;
    case 0xd8: *body = 17; return 0;
    case 0xc4:
    case 0xd9: lb = 1; break;
    case 0xc5:
    case 0xda: lb = 2; break;
    case 0xc6:
    case 0xdb: lb = 4; break;
    case 0xc7: lb = 1; break;
    case 0xc8: lb = 2; break;
    case 0xc9: lb = 4; break;
    case 0xdc:
    case 0xde: lb = 2; break;
    case 0xdd:
    case 0xdf: lb = 4; break;
    default: return -1; /* 0xc1, never used */
    }
    if (len - i - 1 < lb)
        return -1;
    *hdr = 1 + lb;
    uint64_t n = qt_be(p + i + 1, lb);
    if (b == 0xdc || b == 0xdd)
        *kids = n;
    else if (b == 0xde || b == 0xdf)
        *kids = 2 * n;
    else if (b >= 0xc7 && b <= 0xc9)
        *body = n + 1; /* the type byte */
    else
        *body = n;
    return 0;
}

/* Finds the end of the item starting at p[i]. Every nested item takes at
 * least one byte, so counts larger than the bytes left are refused early. */
static qt_err qt_mp_skip(const unsigned char *p, size_t len, size_t i, size_t *end, char *err,
                         size_t errsz)
{
    uint64_t left[QT_MP_DEPTH_MAX + 1];
    int depth = 0;
    size_t hdr;
    uint64_t body, kids;

    left[0] = 1;
    while (depth >= 0) {
        if (left[depth] == 0) {
            depth--;
            continue;
        }
        left[depth]--;
        if (qt_mp_head(p, len, i, &hdr, &body, &kids))
            return qt_fail(QT_EINVAL, err, errsz,
                           i >= len ? "MessagePack cut short at byte %zu"
                                    : "invalid MessagePack byte at %zu",
                           i);
        i += hdr;
        if (body > len - i)
            return qt_fail(QT_EINVAL, err, errsz, "MessagePack cut short at byte %zu", len);
        i += (size_t)body;
        if (kids) {
            if (kids > len - i)
                return qt_fail(QT_EINVAL, err, errsz,
                               "MessagePack container at byte %zu claims more items than bytes",
                               i - hdr);
            if (depth == QT_MP_DEPTH_MAX)
                return qt_fail(QT_EINVAL, err, errsz, "MessagePack nested deeper than %d",
                               QT_MP_DEPTH_MAX);
            left[++depth] = kids;
        }
    }
    *end = i;
    return QT_OK;
}

/* ======================================================================
 * the msgpack-c source
 * ====================================================================== */

static void qt_mp_time(const msgpack_object_ext *x, qt_val *v)
{
    const unsigned char *p = (const unsigned char *)x->ptr;
    int64_t sec;
    uint64_t nsec;

    v->kind = QT_V_TIME;
    if (x->size == 4) {
        sec = (int64_t)qt_be(p, 4);
        nsec = 0;
    } else if (x->size == 8) {
        uint64_t w = qt_be(p, 8);
        nsec = w >> 34;
        sec = (int64_t)(w & UINT64_C(0x3ffffffff));
    } else if (x->size == 12) {
        nsec = qt_be(p, 4);
        sec = (int64_t)qt_be(p + 4, 8);
    } else {
        v->bad_time = 1;
        return;
    }
    /* int64 ns spans smin s + 145224192 ns .. smax s + 854775807 ns */
    const int64_t smax = INT64_MAX / QT_NS_PER_SEC, smin = INT64_MIN / QT_NS_PER_SEC - 1;
    if (nsec >= (uint64_t)QT_NS_PER_SEC || sec > smax || sec < smin ||
        (sec == smax && (int64_t)nsec > INT64_MAX % QT_NS_PER_SEC) ||
        (sec == smin && (int64_t)nsec < QT_NS_PER_SEC + INT64_MIN % QT_NS_PER_SEC)) {
        v->bad_time = 1;
        return;
    }
    if (sec < 0) /* borrow a second so the product cannot overflow at smin */
        v->ns = (sec + 1) * QT_NS_PER_SEC + ((int64_t)nsec - QT_NS_PER_SEC);
    else
        v->ns = sec * QT_NS_PER_SEC + (int64_t)nsec;
}

static void qt_mp_val(const msgpack_object *o, qt_val *v)
{
    memset(v, 0, sizeof *v);
    if (!o) {
        v->kind = QT_V_ABSENT;
        return;
    }
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: v->kind = QT_V_NULL; break;
    case MSGPACK_OBJECT_BOOLEAN: v->kind = QT_V_BOOL; break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        v->kind = QT_V_NUMBER;
        v->d = (double)o->via.u64;
        if (o->via.u64 <= (uint64_t)INT64_MAX) {
            v->is_int = 1;
            v->i = (int64_t)o->via.u64;
        } else {
            v->int_range = 1;
        }
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        v->kind = QT_V_NUMBER;
        v->d = (double)o->via.i64;
        v->is_int = 1;
        v->i = o->via.i64;
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        v->kind = QT_V_NUMBER;
        v->d = o->via.f64;
        if (isfinite(v->d) && v->d == floor(v->d)) {
            if (v->d >= -9223372036854775808.0 && v->d < 9223372036854775808.0) {
                v->is_int = 1;
                v->i = (int64_t)v->d;
            } else {
                v->int_range = 1;
            }
        }
        break;
    case MSGPACK_OBJECT_STR:
        v->kind = QT_V_STRING;
        v->s = o->via.str.ptr;
        v->slen = o->via.str.size;
        break;
    case MSGPACK_OBJECT_ARRAY:
        v->kind = QT_V_ARRAY;
        v->h = &o->via.array;
        v->n = o->via.array.size;
        break;
    case MSGPACK_OBJECT_MAP: v->kind = QT_V_OBJECT; break;
    case MSGPACK_OBJECT_EXT:
        if (o->via.ext.type == -1)
            qt_mp_time(&o->via.ext, v);
        else
            v->kind = QT_V_OTHER;
        break;
    default: v->kind = QT_V_OTHER; break;
    }
}

static void qt_mp_get(const qt_src *src, const char *key, qt_val *v)
{
    const msgpack_object_map *m = &((const msgpack_object *)src->obj)->via.map;
    size_t kl = strlen(key);
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
            memcmp(k->via.str.ptr, key, kl) == 0) {
            qt_mp_val(&m->ptr[i].val, v);
            return;
        }
    }
    qt_mp_val(NULL, v);
}

static void qt_mp_elem(const qt_src *src, const void *arr, size_t i, qt_val *v)
{
    const msgpack_object_array *a = arr;
    (void)src;
    qt_mp_val(i < a->size ? &a->ptr[i] : NULL, v);
}

/* ======================================================================
 * parsing
 * ====================================================================== */

/* Unpacks one message (exactly len bytes, already scanned) and hands it to
 * cb. Returns QT_EINTR when cb asked to stop. */
static qt_err qt_mp_message(const char *buf, size_t len, int64_t recv_ns, qt_msg_cb cb, void *ud,
                            char *err, size_t errsz)
{
    msgpack_unpacked u;
    size_t off = 0;
    qt_subscription *sub = NULL;
    qt_msg m;
    qt_src src;
    qt_err rc;
    msgpack_unpack_return r;

    msgpack_unpacked_init(&u);
    r = msgpack_unpack_next(&u, buf, len, &off);
    if (r == MSGPACK_UNPACK_NOMEM_ERROR) {
        msgpack_unpacked_destroy(&u);
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory unpacking MessagePack");
    }
    if ((r != MSGPACK_UNPACK_SUCCESS && r != MSGPACK_UNPACK_EXTRA_BYTES) || off != len) {
        msgpack_unpacked_destroy(&u);
        return qt_fail(QT_EINVAL, err, errsz, "invalid MessagePack");
    }
    if (u.data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy(&u);
        return qt_fail(QT_EINVAL, err, errsz, "message is not a MessagePack map");
    }
    src.obj = &u.data;
    src.get = qt_mp_get;
    src.elem = qt_mp_elem;
    m.raw = buf;
    m.raw_len = len;
    rc = qt_codec_decode(&src, recv_ns, &m, &sub, err, errsz);
    if (!rc && cb(&m, ud))
        rc = qt_fail(QT_EINTR, err, errsz, "stopped by the message handler");
    free(sub);
    msgpack_unpacked_destroy(&u);
    return rc;
}

qt_err qt_frame_parse_msgpack(const char *buf, size_t len, int64_t recv_ns, qt_msg_cb cb, void *ud,
                              size_t *delivered, char *err, size_t errsz)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t i, hdr, end, n_done = 0;
    uint64_t body, kids, count;
    char why[256];
    qt_err rc = QT_OK;

    if (delivered)
        *delivered = 0;
    if (len > QT_FRAME_MAX)
        return qt_fail(QT_ETOOBIG, err, errsz, "frame of %zu bytes exceeds the %u-byte limit", len,
                       QT_FRAME_MAX);
    if (len == 0)
        return qt_fail(QT_EINVAL, err, errsz, "empty MessagePack frame");
    if ((p[0] >= 0x80 && p[0] <= 0x8f) || p[0] == 0xde || p[0] == 0xdf) {
        /* one bare message map */
        rc = qt_mp_skip(p, len, 0, &end, why, sizeof why);
        if (!rc && end != len)
            rc = qt_fail(QT_EINVAL, why, sizeof why, "trailing bytes after the message at byte %zu",
                         end);
        if (!rc) {
            rc = qt_mp_message(buf, len, recv_ns, cb, ud, why, sizeof why);
            if (!rc || rc == QT_EINTR)
                n_done = 1;
        }
        if (delivered)
            *delivered = n_done;
        if (rc == QT_EINTR)
            return qt_fail(rc, err, errsz, "%s", why);
        return rc ? qt_fail(rc, err, errsz, "message 0: %s", why) : QT_OK;
    }
    if (!((p[0] >= 0x90 && p[0] <= 0x9f) || p[0] == 0xdc || p[0] == 0xdd))
        return qt_fail(QT_EINVAL, err, errsz, "frame is not a MessagePack array of messages");
    if (qt_mp_head(p, len, 0, &hdr, &body, &kids))
        return qt_fail(QT_EINVAL, err, errsz, "MessagePack frame cut short in its header");
    count = kids;
    i = hdr;
    for (uint64_t k = 0; k < count; k++) {
        rc = qt_mp_skip(p, len, i, &end, why, sizeof why);
        if (rc)
            break;
        rc = qt_mp_message(buf + i, end - i, recv_ns, cb, ud, why, sizeof why);
        if (rc == QT_EINTR) {
            n_done++;
            break;
        }
        if (rc)
            break;
        n_done++;
        i = end;
    }
    if (delivered)
        *delivered = n_done;
    if (rc == QT_EINTR)
        return qt_fail(rc, err, errsz, "%s", why);
    if (rc)
        return qt_fail(rc, err, errsz, "message %zu: %s", n_done, why);
    if (i != len)
        return qt_fail(QT_EINVAL, err, errsz, "trailing bytes after the frame at byte %zu", i);
    return QT_OK;
}

/* ======================================================================
 * encoding
 * ====================================================================== */

typedef struct qt_mpw {
    qt_buf *out;
    qt_err rc;
} qt_mpw;

static int qt_mp_write(void *data, const char *buf, size_t len)
{
    qt_mpw *w = data;
    if (w->rc)
        return -1;
    w->rc = qt_buf_append(w->out, buf, len);
    return w->rc ? -1 : 0;
}

static void qt_mp_key(msgpack_packer *pk, const char *key)
{
    size_t n = strlen(key);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, key, n);
}

static void qt_mp_kstr(msgpack_packer *pk, const char *key, const char *val)
{
    size_t n = strlen(val);
    qt_mp_key(pk, key);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, val, n);
}

static void qt_mp_kdbl(msgpack_packer *pk, const char *key, double v)
{
    qt_mp_key(pk, key);
    msgpack_pack_double(pk, v);
}

static void qt_mp_kint(msgpack_packer *pk, const char *key, int64_t v)
{
    qt_mp_key(pk, key);
    msgpack_pack_int64(pk, v);
}

/* The timestamp extension (type -1) in its smallest form: 32-bit when the
 * time is whole seconds in [0, 2^32), 64-bit for seconds in [0, 2^34),
 * 96-bit otherwise (before 1970 or after 2514). */
static void qt_mp_ktime(msgpack_packer *pk, const char *key, int64_t ns)
{
    int64_t sec = ns / QT_NS_PER_SEC, nsec = ns % QT_NS_PER_SEC;
    unsigned char b[12];

    if (nsec < 0) {
        nsec += QT_NS_PER_SEC;
        sec--;
    }
    qt_mp_key(pk, key);
    if (sec >= 0 && sec < (INT64_C(1) << 34)) {
        if (nsec == 0 && sec <= INT64_C(0xffffffff)) {
            for (int k = 0; k < 4; k++)
                b[k] = (unsigned char)((uint64_t)sec >> (24 - 8 * k));
            msgpack_pack_ext(pk, 4, -1);
            msgpack_pack_ext_body(pk, b, 4);
        } else {
            uint64_t w = (uint64_t)nsec << 34 | (uint64_t)sec;
            for (int k = 0; k < 8; k++)
                b[k] = (unsigned char)(w >> (56 - 8 * k));
            msgpack_pack_ext(pk, 8, -1);
            msgpack_pack_ext_body(pk, b, 8);
        }
    } else {
        for (int k = 0; k < 4; k++)
            b[k] = (unsigned char)((uint64_t)nsec >> (24 - 8 * k));
        for (int k = 0; k < 8; k++)
            b[4 + k] = (unsigned char)((uint64_t)sec >> (56 - 8 * k));
        msgpack_pack_ext(pk, 12, -1);
        msgpack_pack_ext_body(pk, b, 12);
    }
}

/* Conditions: the compact JSON array text becomes a MessagePack array of
 * strings. Returns QT_EINVAL for text that is not an array of strings. */
static qt_err qt_mp_kcond(msgpack_packer *pk, const char *cond)
{
    cJSON *a = cJSON_Parse(cond), *e;
    qt_err rc = QT_OK;

    if (!cJSON_IsArray(a)) {
        cJSON_Delete(a);
        return QT_EINVAL;
    }
    cJSON_ArrayForEach(e, a)
    {
        if (!cJSON_IsString(e))
            rc = QT_EINVAL;
    }
    if (!rc) {
        qt_mp_key(pk, "c");
        msgpack_pack_array(pk, (size_t)cJSON_GetArraySize(a));
        cJSON_ArrayForEach(e, a)
        {
            size_t n = strlen(e->valuestring);
            msgpack_pack_str(pk, n);
            msgpack_pack_str_body(pk, e->valuestring, n);
        }
    }
    cJSON_Delete(a);
    return rc;
}

/* Finishes an encoder: the writer's error wins; on failure the buffer is
 * rolled back to mark. */
static qt_err qt_mp_done(qt_mpw *w, size_t mark, qt_err rc)
{
    if (!rc)
        rc = w->rc;
    if (rc) {
        w->out->len = mark;
        if (w->out->data)
            w->out->data[mark] = '\0';
    }
    return rc;
}

static qt_err qt_mp_quote(msgpack_packer *pk, const qt_quote *q)
{
    size_t n = 7 + !!q->bid_ex[0] + !!q->ask_ex[0] + !!q->cond[0] + !!q->tape[0];
    qt_err rc = QT_OK;

    if (!isfinite(q->bid_px) || !isfinite(q->ask_px) || !qt_codec_cond_ok(q->cond))
        return QT_EINVAL;
    msgpack_pack_map(pk, n);
    qt_mp_kstr(pk, "T", "q");
    qt_mp_kstr(pk, "S", q->symbol);
    if (q->bid_ex[0])
        qt_mp_kstr(pk, "bx", q->bid_ex);
    qt_mp_kdbl(pk, "bp", q->bid_px);
    qt_mp_kint(pk, "bs", q->bid_sz);
    if (q->ask_ex[0])
        qt_mp_kstr(pk, "ax", q->ask_ex);
    qt_mp_kdbl(pk, "ap", q->ask_px);
    qt_mp_kint(pk, "as", q->ask_sz);
    if (q->cond[0])
        rc = qt_mp_kcond(pk, q->cond);
    if (q->tape[0])
        qt_mp_kstr(pk, "z", q->tape);
    qt_mp_ktime(pk, "t", q->t_ns);
    return rc;
}

qt_err qt_quote_to_msgpack(const qt_quote *q, qt_buf *out)
{
    qt_mpw w = {out, QT_OK};
    msgpack_packer pk;
    size_t mark = out->len;

    msgpack_packer_init(&pk, &w, qt_mp_write);
    return qt_mp_done(&w, mark, qt_mp_quote(&pk, q));
}

qt_err qt_trade_to_msgpack(const qt_trade *t, qt_buf *out)
{
    qt_mpw w = {out, QT_OK};
    msgpack_packer pk;
    size_t mark = out->len;
    size_t n = 6 + !!t->ex[0] + !!t->cond[0] + !!t->tape[0];
    qt_err rc = QT_OK;

    if (!isfinite(t->px) || !qt_codec_cond_ok(t->cond))
        return QT_EINVAL;
    msgpack_packer_init(&pk, &w, qt_mp_write);
    msgpack_pack_map(&pk, n);
    qt_mp_kstr(&pk, "T", "t");
    qt_mp_kstr(&pk, "S", t->symbol);
    qt_mp_kint(&pk, "i", t->id);
    if (t->ex[0])
        qt_mp_kstr(&pk, "x", t->ex);
    qt_mp_kdbl(&pk, "p", t->px);
    qt_mp_kint(&pk, "s", t->sz);
    if (t->cond[0])
        rc = qt_mp_kcond(&pk, t->cond);
    if (t->tape[0])
        qt_mp_kstr(&pk, "z", t->tape);
    qt_mp_ktime(&pk, "t", t->t_ns);
    return qt_mp_done(&w, mark, rc);
}

qt_err qt_bar_to_msgpack(const qt_bar *b, qt_buf *out)
{
    qt_mpw w = {out, QT_OK};
    msgpack_packer pk;
    size_t mark = out->len;

    if (!isfinite(b->o) || !isfinite(b->h) || !isfinite(b->l) || !isfinite(b->c) ||
        !isfinite(b->vw))
        return QT_EINVAL;
    msgpack_packer_init(&pk, &w, qt_mp_write);
    msgpack_pack_map(&pk, 10);
    qt_mp_kstr(&pk, "T", "b");
    qt_mp_kstr(&pk, "S", b->symbol);
    qt_mp_kdbl(&pk, "o", b->o);
    qt_mp_kdbl(&pk, "h", b->h);
    qt_mp_kdbl(&pk, "l", b->l);
    qt_mp_kdbl(&pk, "c", b->c);
    qt_mp_kint(&pk, "v", b->v);
    qt_mp_ktime(&pk, "t", b->t_ns);
    qt_mp_kint(&pk, "n", b->n);
    qt_mp_kdbl(&pk, "vw", b->vw);
    return qt_mp_done(&w, mark, QT_OK);
}

qt_err qt_success_frame_msgpack(const char *msg, qt_buf *out)
{
    qt_mpw w = {out, QT_OK};
    msgpack_packer pk;
    size_t mark = out->len;

    msgpack_packer_init(&pk, &w, qt_mp_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 2);
    qt_mp_kstr(&pk, "T", "success");
    qt_mp_kstr(&pk, "msg", msg ? msg : "");
    return qt_mp_done(&w, mark, QT_OK);
}

qt_err qt_error_frame_msgpack(int code, const char *msg, qt_buf *out)
{
    qt_mpw w = {out, QT_OK};
    msgpack_packer pk;
    size_t mark = out->len;

    if (!msg)
        msg = qt_alpaca_error_text(code);
    msgpack_packer_init(&pk, &w, qt_mp_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 3);
    qt_mp_kstr(&pk, "T", "error");
    qt_mp_kint(&pk, "code", code);
    qt_mp_kstr(&pk, "msg", msg ? msg : "");
    return qt_mp_done(&w, mark, QT_OK);
}

qt_err qt_subscription_frame_msgpack(const qt_subscription *s, qt_buf *out)
{
    qt_mpw w = {out, QT_OK};
    msgpack_packer pk;
    size_t mark = out->len;

    msgpack_packer_init(&pk, &w, qt_mp_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 1 + QT_SUB_NLISTS);
    qt_mp_kstr(&pk, "T", "subscription");
    for (size_t k = 0; k < QT_SUB_NLISTS; k++) {
        const qt_sublist *l = s ? qt_codec_sub_list(s, k) : NULL;
        size_t n = l ? l->n : 0;
        if (n > QT_SUB_MAX)
            return qt_mp_done(&w, mark, QT_EINVAL);
        qt_mp_key(&pk, qt_codec_sub_keys[k]);
        msgpack_pack_array(&pk, n);
        for (size_t i = 0; i < n; i++) {
            const char *sym = l->syms[i] ? l->syms[i] : "";
            size_t sl = strlen(sym);
            msgpack_pack_str(&pk, sl);
            msgpack_pack_str_body(&pk, sym, sl);
        }
    }
    return qt_mp_done(&w, mark, QT_OK);
}
