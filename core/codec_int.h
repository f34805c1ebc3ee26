/* quotetape — internals shared by the JSON and MessagePack halves of the
 * codec (core/codec.c, core/codec_msgpack.c). Not for use outside them.
 *
 * Both wire formats decode through one field-access interface, so a message
 * is validated by one piece of code and both formats reject the same things
 * with the same words. */
#ifndef QT_CODEC_INT_H
#define QT_CODEC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/codec.h"

typedef enum qt_vkind {
    QT_V_ABSENT = 0, /* the key is not there */
    QT_V_NULL,
    QT_V_BOOL,
    QT_V_NUMBER,
    QT_V_STRING,
    QT_V_ARRAY,
    QT_V_OBJECT,
    QT_V_TIME, /* MessagePack timestamp extension */
    QT_V_OTHER /* binary, other extensions */
} qt_vkind;

/* One looked-up value. Pointers are valid while the source object lives. */
typedef struct qt_val {
    qt_vkind kind;
    const char *s; /* QT_V_STRING: bytes, not NUL-terminated */
    size_t slen;
    double d;      /* QT_V_NUMBER */
    int64_t i;     /* QT_V_NUMBER when is_int */
    int is_int;    /* the number is an exact integer that fits int64 */
    int int_range; /* the number is integral but outside int64 */
    int64_t ns;    /* QT_V_TIME */
    const void *h; /* QT_V_ARRAY: handle for elem() */
    size_t n;      /* QT_V_ARRAY: element count */
    int bad_time;  /* QT_V_TIME: the extension's bytes are not a timestamp */
} qt_val;

/* A message object in either format. get() looks up a top-level member by
 * key; elem() reads element i of an array handle from get(). */
typedef struct qt_src {
    const void *obj;
    void (*get)(const struct qt_src *src, const char *key, qt_val *v);
    void (*elem)(const struct qt_src *src, const void *arr, size_t i, qt_val *v);
} qt_src;

/* Decodes the message behind src into m (all but raw/raw_len). For a
 * subscription, *sub receives a heap block (struct and its strings) that the
 * caller frees with free() after use; with sub NULL the lists are only
 * validated and m->u.sub is NULL. Errors name the field, not the index. */
qt_err qt_codec_decode(const qt_src *src, int64_t recv_ns, qt_msg *m, qt_subscription **sub,
                       char *err, size_t errsz);

/* Appends s (len bytes) as a JSON string with quotes and escapes. */
qt_err qt_codec_json_str(qt_buf *out, const char *s, size_t len);

/* Checks that cond is "" or compact JSON array text, as qt_quote.cond holds. */
int qt_codec_cond_ok(const char *cond);

/* The subscription list names in Alpaca's order, and the list for index k
 * (0..QT_SUB_NLISTS-1) of s. */
#define QT_SUB_NLISTS 9
extern const char *const qt_codec_sub_keys[QT_SUB_NLISTS];
const qt_sublist *qt_codec_sub_list(const qt_subscription *s, size_t k);

/* The fast JSON source (codec_fastjson.c): a validated flat view of one
 * message object. qt_fj_open returns 0, or QT_FJ_FALLBACK when the text is
 * not valid JSON or not of the flat shape it handles — the caller then
 * parses with cJSON, which also words any error. A source that ran out of
 * arena while decoding sets overflow; the caller then decodes again with
 * cJSON. */
#define QT_FJ_MEMBERS 48
#define QT_FJ_FALLBACK 1
typedef struct qt_fjsrc {
    qt_src src;
    const char *buf;
    size_t len, n;
    size_t key[QT_FJ_MEMBERS], klen[QT_FJ_MEMBERS], val[QT_FJ_MEMBERS], vend[QT_FJ_MEMBERS];
    char arena[2048];
    size_t arena_len;
    int overflow;
} qt_fjsrc;

int qt_fj_open(qt_fjsrc *fs, const char *buf, size_t len);

/* The same for the object starting at buf[i] inside a larger text (a
 * frame): on success *end is one past its closing brace. */
int qt_fj_object(qt_fjsrc *fs, const char *buf, size_t len, size_t i, size_t *end);

#endif
