/* quotetape — JSON value delimiting. */
#include "core/jsonscan.h"

#include <string.h>

size_t qt_json_ws(const char *buf, size_t len, size_t i)
{
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
        i++;
    return i;
}

/* Returns the index one past the closing quote of the string at buf[i]. */
static int qt_json_skip_string(const char *buf, size_t len, size_t *i)
{
    size_t k = *i + 1;
    while (k < len) {
        unsigned char c = (unsigned char)buf[k];
        if (c == '"') {
            *i = k + 1;
            return 0;
        }
        if (c == '\\') {
            if (k + 1 >= len)
                return -1;
            k += 2;
            continue;
        }
        if (c < 0x20)
            return -1;
        k++;
    }
    return -1;
}

qt_err qt_json_skip(const char *buf, size_t len, size_t i, size_t *start, size_t *end, char *err,
                    size_t errsz)
{
    char stack[QT_JSON_DEPTH_MAX];
    int depth = 0;

    i = qt_json_ws(buf, len, i);
    if (i >= len)
        return qt_fail(QT_EINVAL, err, errsz, "expected a JSON value, found end of input");
    *start = i;
    do {
        char c = buf[i];
        if (c == '"') {
            if (qt_json_skip_string(buf, len, &i))
                return qt_fail(QT_EINVAL, err, errsz, "unterminated or broken string at byte %zu",
                               i);
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth == QT_JSON_DEPTH_MAX)
                return qt_fail(QT_EINVAL, err, errsz, "JSON nested deeper than %d",
                               QT_JSON_DEPTH_MAX);
            stack[depth++] = c == '{' ? '}' : ']';
            i++;
            continue;
        }
        if (c == '}' || c == ']') {
            if (depth == 0 || stack[depth - 1] != c)
                return qt_fail(QT_EINVAL, err, errsz, "unbalanced '%c' at byte %zu", c, i);
            depth--;
            i++;
            continue;
        }
        if (depth == 0) {
            /* a scalar at top level: number or literal, up to a delimiter */
            while (i < len && buf[i] != ',' && buf[i] != '}' && buf[i] != ']' && buf[i] != ' ' &&
                   buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r')
                i++;
            if (i == *start)
                return qt_fail(QT_EINVAL, err, errsz, "unexpected '%c' at byte %zu", c, i);
            break;
        }
        i++;
    } while (depth > 0 && i < len);
    if (depth > 0)
        return qt_fail(QT_EINVAL, err, errsz, "unexpected end of input inside JSON value");
    *end = i;
    return QT_OK;
}

qt_err qt_json_member(const char *buf, size_t len, const char *key, const char **val,
                      size_t *val_len, char *err, size_t errsz)
{
    size_t klen = strlen(key), i = qt_json_ws(buf, len, 0), ks, ke, vs, ve;
    qt_err rc;

    if (i >= len || buf[i] != '{')
        return qt_fail(QT_EINVAL, err, errsz, "expected a JSON object");
    i = qt_json_ws(buf, len, i + 1);
    if (i < len && buf[i] == '}')
        return QT_ENOTFOUND;
    for (;;) {
        if (i >= len || buf[i] != '"')
            return qt_fail(QT_EINVAL, err, errsz, "expected a member name at byte %zu", i);
        rc = qt_json_skip(buf, len, i, &ks, &ke, err, errsz);
        if (rc)
            return rc;
        i = qt_json_ws(buf, len, ke);
        if (i >= len || buf[i] != ':')
            return qt_fail(QT_EINVAL, err, errsz, "expected ':' at byte %zu", i);
        rc = qt_json_skip(buf, len, i + 1, &vs, &ve, err, errsz);
        if (rc)
            return rc;
        if (ke - ks == klen + 2 && memcmp(buf + ks + 1, key, klen) == 0) {
            *val = buf + vs;
            *val_len = ve - vs;
            return QT_OK;
        }
        i = qt_json_ws(buf, len, ve);
        if (i < len && buf[i] == ',') {
            i = qt_json_ws(buf, len, i + 1);
            continue;
        }
        if (i < len && buf[i] == '}')
            return QT_ENOTFOUND;
        return qt_fail(QT_EINVAL, err, errsz, "expected ',' or '}' at byte %zu", i);
    }
}

qt_err qt_json_members(const char *buf, size_t len, const char *const *keys, size_t nkeys,
                       const char **vals, size_t *lens, char *err, size_t errsz)
{
    size_t i = qt_json_ws(buf, len, 0), ks, ke, vs, ve;
    qt_err rc;

    for (size_t k = 0; k < nkeys; k++) {
        vals[k] = NULL;
        lens[k] = 0;
    }
    if (i >= len || buf[i] != '{')
        return qt_fail(QT_EINVAL, err, errsz, "expected a JSON object");
    i = qt_json_ws(buf, len, i + 1);
    if (i < len && buf[i] == '}') {
        i++;
        goto tail;
    }
    for (;;) {
        if (i >= len || buf[i] != '"')
            return qt_fail(QT_EINVAL, err, errsz, "expected a member name at byte %zu", i);
        rc = qt_json_skip(buf, len, i, &ks, &ke, err, errsz);
        if (rc)
            return rc;
        i = qt_json_ws(buf, len, ke);
        if (i >= len || buf[i] != ':')
            return qt_fail(QT_EINVAL, err, errsz, "expected ':' at byte %zu", i);
        rc = qt_json_skip(buf, len, i + 1, &vs, &ve, err, errsz);
        if (rc)
            return rc;
        for (size_t k = 0; k < nkeys; k++) {
            size_t kl = strlen(keys[k]);
            if (ke - ks == kl + 2 && memcmp(buf + ks + 1, keys[k], kl) == 0) {
                vals[k] = buf + vs;
                lens[k] = ve - vs;
            }
        }
        i = qt_json_ws(buf, len, ve);
        if (i < len && buf[i] == ',') {
            i = qt_json_ws(buf, len, i + 1);
            continue;
        }
        if (i < len && buf[i] == '}') {
            i++;
            break;
        }
        return qt_fail(QT_EINVAL, err, errsz, "expected ',' or '}' at byte %zu", i);
    }
tail:
    if (qt_json_ws(buf, len, i) != len)
        return qt_fail(QT_EINVAL, err, errsz, "trailing bytes after the JSON value");
    return QT_OK;
}
