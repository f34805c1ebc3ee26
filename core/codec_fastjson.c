/* quotetape — the fast JSON source for the codec.
 *
 * cJSON builds a heap tree per message: a dozen mallocs and frees for a
 * quote, which was most of the cost of reading a stream. Alpaca messages are
 * flat objects (scalars and arrays of strings), so this source validates the
 * object in one pass, keeps the spans of its top-level members in a fixed
 * table, and decodes a value only when the decoder asks for it. Strings
 * without escapes point into the input; escaped ones are decoded into a
 * small arena.
 *
 * Anything outside that shape — invalid JSON, escaped keys, more than
 * QT_FJ_MEMBERS members, an arena overflow — returns QT_FJ_FALLBACK and the
 * caller parses with cJSON, which also words the error. So this file only
 * ever speeds up valid input; it never decides what is an error. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec_int.h"
#include "core/jsonscan.h"

static int qt_fj_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static size_t qt_fj_skipws(const char *b, size_t len, size_t i)
{
    while (i < len && qt_fj_ws(b[i]))
        i++;
    return i;
}

static int qt_fj_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Validates the string at b[*i] (a '"'); *i moves past it. *esc is set when
 * it holds a backslash. */
static int qt_fj_string(const char *b, size_t len, size_t *i, int *esc)
{
    size_t k = *i + 1;
    *esc = 0;
    while (k < len) {
        unsigned char c = (unsigned char)b[k];
        if (c == '"') {
            *i = k + 1;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            *esc = 1;
            if (k + 1 >= len)
                return -1;
            char e = b[k + 1];
            if (e == 'u') {
                if (k + 5 >= len || !qt_fj_hex(b[k + 2]) || !qt_fj_hex(b[k + 3]) ||
                    !qt_fj_hex(b[k + 4]) || !qt_fj_hex(b[k + 5]))
                    return -1;
                k += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0')
                return -1;
            k += 2;
            continue;
        }
        k++;
    }
    return -1;
}

/* Validates a JSON number at b[*i] by the JSON grammar; *isint is set when
 * it has no fraction or exponent. */
static int qt_fj_number(const char *b, size_t len, size_t *i, int *isint)
{
    size_t k = *i;
    *isint = 1;
    if (k < len && b[k] == '-')
        k++;
    if (k >= len)
        return -1;
    if (b[k] == '0') {
        k++;
    } else if (b[k] >= '1' && b[k] <= '9') {
        while (k < len && b[k] >= '0' && b[k] <= '9')
            k++;
    } else {
        return -1;
    }
    if (k < len && b[k] == '.') {
        *isint = 0;
        k++;
        if (k >= len || b[k] < '0' || b[k] > '9')
            return -1;
        while (k < len && b[k] >= '0' && b[k] <= '9')
            k++;
    }
    if (k < len && (b[k] == 'e' || b[k] == 'E')) {
        *isint = 0;
        k++;
        if (k < len && (b[k] == '+' || b[k] == '-'))
            k++;
        if (k >= len || b[k] < '0' || b[k] > '9')
            return -1;
        while (k < len && b[k] >= '0' && b[k] <= '9')
            k++;
    }
    *i = k;
    return 0;
}

/* Validates any value at b[*i]; *i moves past it. */
static int qt_fj_value(const char *b, size_t len, size_t *i, int depth)
{
    int esc, isint;
    if (depth > QT_JSON_DEPTH_MAX || *i >= len)
        return -1;
    switch (b[*i]) {
    case '"':
        return qt_fj_string(b, len, i, &esc);
    case '{':
    case '[': {
        char close = b[*i] == '{' ? '}' : ']';
        int obj = close == '}';
        size_t k = qt_fj_skipws(b, len, *i + 1);
        if (k < len && b[k] == close) {
            *i = k + 1;
            return 0;
        }
        for (;;) {
            if (obj) {
                if (k >= len || b[k] != '"' || qt_fj_string(b, len, &k, &esc))
                    return -1;
                k = qt_fj_skipws(b, len, k);
                if (k >= len || b[k] != ':')
                    return -1;
                k = qt_fj_skipws(b, len, k + 1);
            }
            if (qt_fj_value(b, len, &k, depth + 1))
                return -1;
            k = qt_fj_skipws(b, len, k);
            if (k < len && b[k] == ',') {
                k = qt_fj_skipws(b, len, k + 1);
                continue;
            }
            if (k < len && b[k] == close) {
                *i = k + 1;
                return 0;
            }
            return -1;
        }
    }
    case 't':
        if (len - *i >= 4 && memcmp(b + *i, "true", 4) == 0) {
            *i += 4;
            return 0;
        }
        return -1;
    case 'f':
        if (len - *i >= 5 && memcmp(b + *i, "false", 5) == 0) {
            *i += 5;
            return 0;
        }
        return -1;
    case 'n':
        if (len - *i >= 4 && memcmp(b + *i, "null", 4) == 0) {
            *i += 4;
            return 0;
        }
        return -1;
    default:
        return qt_fj_number(b, len, i, &isint);
    }
}

/* ---- the source ------------------------------------------------------- */

/* Appends the decoded string at b[s..e) (quotes excluded) to the arena;
 * returns its start or NULL if the arena is full. */
static const char *qt_fj_unescape(qt_fjsrc *fs, const char *b, size_t s, size_t e, size_t *outlen)
{
    size_t start = fs->arena_len, o = start;
    for (size_t k = s; k < e; k++) {
        if (o + 4 >= sizeof fs->arena)
            return NULL;
        if (b[k] != '\\') {
            fs->arena[o++] = b[k];
            continue;
        }
        char c = b[++k];
        switch (c) {
        case 'b': fs->arena[o++] = '\b'; break;
        case 'f': fs->arena[o++] = '\f'; break;
        case 'n': fs->arena[o++] = '\n'; break;
        case 'r': fs->arena[o++] = '\r'; break;
        case 't': fs->arena[o++] = '\t'; break;
        case 'u': {
            unsigned cp = (unsigned)strtoul((char[]){b[k + 1], b[k + 2], b[k + 3], b[k + 4], 0},
                                            NULL, 16);
            k += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && k + 6 < e && b[k + 1] == '\\' &&
                b[k + 2] == 'u') {
                unsigned lo = (unsigned)strtoul(
                    (char[]){b[k + 3], b[k + 4], b[k + 5], b[k + 6], 0}, NULL, 16);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    k += 6;
                }
            }
            if (cp < 0x80) {
                fs->arena[o++] = (char)cp;
            } else if (cp < 0x800) {
                fs->arena[o++] = (char)(0xC0 | (cp >> 6));
                fs->arena[o++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                fs->arena[o++] = (char)(0xE0 | (cp >> 12));
                fs->arena[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                fs->arena[o++] = (char)(0x80 | (cp & 0x3F));
            } else {
                fs->arena[o++] = (char)(0xF0 | (cp >> 18));
                fs->arena[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                fs->arena[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                fs->arena[o++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: fs->arena[o++] = c; break; /* " \ / */
        }
    }
    fs->arena_len = o;
    *outlen = o - start;
    return fs->arena + start;
}

/* Exact powers of ten a double holds. */
static const double qt_fj_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The common number, fast: at most 15 significant digits and no exponent
 * ("512.34", "3", "-0.5"). The digits form an integer m < 2^53 and the
 * value is m / 10^k with 10^k exact, so one IEEE division gives the
 * correctly rounded double, the same as strtod (Clinger's fast path).
 * Returns 0 for anything else, which the caller hands to strtod. */
static int qt_fj_fast_number(const char *p, size_t n, qt_val *v)
{
    uint64_t m = 0;
    int digits = 0, frac = 0, neg = 0, dot = 0;
    size_t i = 0;

    if (n && p[0] == '-') {
        neg = 1;
        i = 1;
    }
    for (; i < n; i++) {
        char c = p[i];
        if (c == '.') {
            dot = 1;
            continue;
        }
        if (c < '0' || c > '9' || ++digits > 15)
            return 0; /* an exponent, or too many digits */
        m = m * 10 + (uint64_t)(c - '0');
        frac += dot;
    }
    v->d = (double)m / qt_fj_pow10[frac];
    if (neg)
        v->d = -v->d;
    if (!dot || v->d == floor(v->d)) {
        v->is_int = 1;
        v->i = neg ? -(int64_t)(m / (uint64_t)qt_fj_pow10[frac]) : (int64_t)(m / (uint64_t)qt_fj_pow10[frac]);
    }
    return 1;
}

/* Fills v from the value at b[i] (already validated). */
/* Fills v from the value at b[i] (already validated); end is one past the
 * value when known (a member's), else 0. */
static void qt_fj_val(const qt_fjsrc *cfs, size_t i, size_t end, qt_val *v)
{
    qt_fjsrc *fs = (qt_fjsrc *)cfs; /* the arena is scratch, even for const lookups */
    const char *b = fs->buf;
    size_t len = fs->len, k = i;
    int esc, isint;

    memset(v, 0, sizeof *v);
    switch (b[i]) {
    case '"':
        if (end) {
            k = end;
            esc = memchr(b + i + 1, '\\', k - i - 2) != NULL;
        } else {
            qt_fj_string(b, len, &k, &esc);
        }
        if (!esc) {
            v->s = b + i + 1;
            v->slen = k - i - 2;
        } else {
            v->s = qt_fj_unescape(fs, b, i + 1, k - 1, &v->slen);
            if (!v->s) {
                fs->overflow = 1;
                v->s = "";
                v->slen = 0;
            }
        }
        v->kind = QT_V_STRING;
        return;
    case '[':
        v->kind = QT_V_ARRAY;
        v->h = b + i;
        k = qt_fj_skipws(b, len, i + 1);
        if (b[k] == ']')
            return;
        for (;;) {
            v->n++;
            qt_fj_value(b, len, &k, 1);
            k = qt_fj_skipws(b, len, k);
            if (b[k] != ',')
                return;
            k = qt_fj_skipws(b, len, k + 1);
        }
    case '{': v->kind = QT_V_OBJECT; return;
    case 't':
    case 'f': v->kind = QT_V_BOOL; return;
    case 'n': v->kind = QT_V_NULL; return;
    default: break;
    }
    v->kind = QT_V_NUMBER;
    if (end && qt_fj_fast_number(b + i, end - i, v))
        return;
    qt_fj_number(b, len, &k, &isint);
    if (!end && qt_fj_fast_number(b + i, k - i, v))
        return;
    /* the text ends at a delimiter of the enclosing object, so strtod and
     * strtoll stop at the number's end */
    v->d = strtod(b + i, NULL);
    if (isint) {
        errno = 0;
        long long ll = strtoll(b + i, NULL, 10);
        if (errno == ERANGE) {
            v->int_range = 1;
        } else {
            v->is_int = 1;
            v->i = ll;
        }
    } else if (isfinite(v->d) && v->d == floor(v->d)) {
        if (fabs(v->d) < 9223372036854775808.0) {
            v->is_int = 1;
            v->i = (int64_t)v->d;
        } else {
            v->int_range = 1;
        }
    }
}

static void qt_fj_get(const qt_src *src, const char *key, qt_val *v)
{
    const qt_fjsrc *fs = (const qt_fjsrc *)src;
    /* strncmp stops at the end of key, so a longer member name never reads
     * past it; key[klen] is then in bounds and must end the key */
    for (size_t m = 0; m < fs->n; m++)
        if (fs->buf[fs->key[m]] == key[0] &&
            strncmp(fs->buf + fs->key[m], key, fs->klen[m]) == 0 && key[fs->klen[m]] == '\0') {
            qt_fj_val(fs, fs->val[m], fs->vend[m], v);
            return;
        }
    memset(v, 0, sizeof *v);
    v->kind = QT_V_ABSENT;
}

static void qt_fj_elem(const qt_src *src, const void *arr, size_t i, qt_val *v)
{
    const qt_fjsrc *fs = (const qt_fjsrc *)src;
    const char *b = fs->buf;
    size_t k = qt_fj_skipws(b, fs->len, (size_t)((const char *)arr - b) + 1);
    for (size_t n = 0; n < i; n++) {
        qt_fj_value(b, fs->len, &k, 1);
        k = qt_fj_skipws(b, fs->len, k);
        k = qt_fj_skipws(b, fs->len, k + 1); /* the ',' */
    }
    qt_fj_val(fs, k, 0, v);
}

int qt_fj_object(qt_fjsrc *fs, const char *buf, size_t len, size_t i, size_t *end)
{
    int esc;

    fs->src.obj = fs;
    fs->src.get = qt_fj_get;
    fs->src.elem = qt_fj_elem;
    fs->buf = buf;
    fs->len = len;
    fs->n = 0;
    fs->arena_len = 0;
    fs->overflow = 0;
    if (i >= len || buf[i] != '{')
        return QT_FJ_FALLBACK;
    i = qt_fj_skipws(buf, len, i + 1);
    if (i < len && buf[i] == '}') {
        *end = i + 1;
        return 0;
    }
    for (;;) {
        size_t ks = i;
        if (fs->n == QT_FJ_MEMBERS || i >= len || buf[i] != '"' ||
            qt_fj_string(buf, len, &i, &esc) || esc)
            return QT_FJ_FALLBACK;
        fs->key[fs->n] = ks + 1;
        fs->klen[fs->n] = i - ks - 2;
        i = qt_fj_skipws(buf, len, i);
        if (i >= len || buf[i] != ':')
            return QT_FJ_FALLBACK;
        i = qt_fj_skipws(buf, len, i + 1);
        fs->val[fs->n] = i;
        /* the object is level 1, as for the scanner: members are level 2 */
        if (qt_fj_value(buf, len, &i, 2))
            return QT_FJ_FALLBACK;
        fs->vend[fs->n] = i;
        fs->n++;
        i = qt_fj_skipws(buf, len, i);
        if (i < len && buf[i] == ',') {
            i = qt_fj_skipws(buf, len, i + 1);
            continue;
        }
        if (i < len && buf[i] == '}') {
            *end = i + 1;
            return 0;
        }
        return QT_FJ_FALLBACK;
    }
}

int qt_fj_open(qt_fjsrc *fs, const char *buf, size_t len)
{
    size_t end;
    if (qt_fj_object(fs, buf, len, qt_fj_skipws(buf, len, 0), &end))
        return QT_FJ_FALLBACK;
    return qt_fj_skipws(buf, len, end) == len ? 0 : QT_FJ_FALLBACK;
}
