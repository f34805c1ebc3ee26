/* quotetape — tape JSON lines (schema/tape-jsonl.md). */
#include "core/jsonl.h"

#include <string.h>

#include "core/jsonscan.h"
#include "core/qtime.h"

/* Parses the envelope's "recv" value span, if any, into *recv_ns. */
static qt_err qt_jsonl_recv(const char *v, size_t vl, int64_t *recv_ns, char *err, size_t errsz)
{
    char e2[160];
    *recv_ns = 0;
    if (!v)
        return QT_OK;
    if (vl < 2 || v[0] != '"' || v[vl - 1] != '"')
        return qt_fail(QT_EINVAL, err, errsz, "\"recv\" must be an RFC 3339 string");
    if (qt_time_parse(v + 1, vl - 2, recv_ns, e2, sizeof e2))
        return qt_fail(QT_EINVAL, err, errsz, "\"recv\": %s", e2);
    return QT_OK;
}

/* The fast path of qt_jsonl_parse_line: 1 with *m parsed, 0 to take the
 * general path. */
static int qt_jsonl_fast(const char *p, size_t n, qt_msg *m)
{
    static const char recv_key[] = "{\"recv\":\"", msg_key[] = "\"msg\":";
    int64_t recv_ns = 0;
    size_t i;
    char e2[160];
    if (n < 2 || p[n - 1] != '}')
        return 0;
    if (n > sizeof recv_key && memcmp(p, recv_key, sizeof recv_key - 1) == 0) {
        const char *q = memchr(p + sizeof recv_key - 1, '"', n - (sizeof recv_key - 1));
        if (!q)
            return 0;
        i = (size_t)(q - p);
        if (qt_time_parse(p + sizeof recv_key - 1, i - (sizeof recv_key - 1), &recv_ns, e2,
                          sizeof e2))
            return 0;
        i++;
        if (i >= n || p[i] != ',')
            return 0;
        i++;
    } else if (p[0] == '{') {
        i = 1;
    } else {
        return 0;
    }
    if (n - i < sizeof msg_key || memcmp(p + i, msg_key, sizeof msg_key - 1) != 0)
        return 0;
    i += sizeof msg_key - 1;
    if (p[i] != '{')
        return 0;
    return qt_msg_parse_json(p + i, n - 1 - i, recv_ns, m, e2, sizeof e2) == QT_OK;
}

qt_err qt_jsonl_parse_line(const char *line, size_t len, qt_msg_cb cb, void *ud,
                           size_t *delivered, char *err, size_t errsz)
{
    enum { K_T, K_MSG, K_FRAME, K_RECV };
    static const char *const keys[] = {"T", "msg", "frame", "recv"};
    const char *v[4];
    size_t vl[4], i;
    int64_t recv_ns;
    qt_msg m;
    qt_err e;

    if (delivered)
        *delivered = 0;
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    i = qt_json_ws(line, len, 0);
    if (i == len)
        return QT_OK;
    if (len > QT_FRAME_MAX)
        return qt_fail(QT_ETOOBIG, err, errsz, "line of %zu bytes exceeds the %u-byte limit", len,
                       QT_FRAME_MAX);
    if (line[i] == '[')
        return qt_frame_parse_json(line, len, 0, cb, ud, delivered, err, errsz);
    if (line[i] != '{')
        return qt_fail(QT_EINVAL, err, errsz, "expected a JSON object or array");
    /* The envelope as quotetape writes it, {"recv":"TIME","msg":{...}} or
     * {"msg":{...}}: the message is everything between the prefix and the
     * final brace, and qt_msg_parse_json validates that span as exactly one
     * object, so the message is scanned once, not twice. Anything else, and
     * any failure (for its wording), takes the general path below. */
    if (qt_jsonl_fast(line + i, len - i, &m)) {
        if (delivered)
            *delivered = 1;
        return cb(&m, ud) ? QT_EINTR : QT_OK;
    }
    /* one pass over the envelope finds all four members */
    if ((e = qt_json_members(line, len, keys, 4, v, vl, err, errsz)))
        return e;
    if (v[K_T]) {
        /* a bare Alpaca message (whose own "msg" field, in success messages,
         * must not be taken for the envelope's) */
        if ((e = qt_msg_parse_json(line, len, 0, &m, err, errsz)))
            return e;
    } else if (v[K_MSG]) {
        if ((e = qt_jsonl_recv(v[K_RECV], vl[K_RECV], &recv_ns, err, errsz)) ||
            (e = qt_msg_parse_json(v[K_MSG], vl[K_MSG], recv_ns, &m, err, errsz)))
            return e;
    } else if (v[K_FRAME]) {
        if ((e = qt_jsonl_recv(v[K_RECV], vl[K_RECV], &recv_ns, err, errsz)))
            return e;
        return qt_frame_parse_json(v[K_FRAME], vl[K_FRAME], recv_ns, cb, ud, delivered, err,
                                   errsz);
    } else {
        return qt_fail(QT_EINVAL, err, errsz,
                       "expected an Alpaca message (with \"T\") or an envelope with \"msg\" or "
                       "\"frame\"");
    }
    if (delivered)
        *delivered = 1;
    return cb(&m, ud) ? QT_EINTR : QT_OK;
}

qt_err qt_jsonl_format(int64_t recv_ns, const char *raw, size_t raw_len, qt_buf *out)
{
    char ts[QT_TIME_STRMAX];
    qt_err e;
    if (recv_ns) {
        qt_time_format(recv_ns, 9, ts);
        e = qt_buf_printf(out, "{\"recv\":\"%s\",\"msg\":", ts);
    } else {
        e = qt_buf_append(out, "{\"msg\":", 7);
    }
    if (!e)
        e = qt_buf_append(out, raw, raw_len);
    if (!e)
        e = qt_buf_append(out, "}\n", 2);
    return e;
}
