/* quotetape — a JSON scanner that finds value boundaries without parsing.
 *
 * cJSON re-serialises what it parses; to keep each message's raw text exactly
 * as it was received we need the byte spans of values inside a frame or a
 * tape line. These functions only delimit: they check strings, escapes and
 * bracket nesting, not numbers or literals (cJSON validates the values
 * afterwards). */
#ifndef QT_JSONSCAN_H
#define QT_JSONSCAN_H

#include <stddef.h>

#include "core/error.h"

/* Deepest nesting accepted; deeper input is malformed. */
#define QT_JSON_DEPTH_MAX 64

/* Skips whitespace from i; returns the new index. */
size_t qt_json_ws(const char *buf, size_t len, size_t i);

/* Finds the end of the value starting at buf[i] (after whitespace):
 * *end is one past its last byte. QT_EINVAL with a reason on a broken
 * string, unbalanced bracket or too deep nesting. */
qt_err qt_json_skip(const char *buf, size_t len, size_t i, size_t *start, size_t *end, char *err,
                    size_t errsz);

/* In the top-level object text, finds member key (unescaped ASCII compare)
 * and returns its value's span. QT_ENOTFOUND if absent. */
qt_err qt_json_member(const char *buf, size_t len, const char *key, const char **val,
                      size_t *val_len, char *err, size_t errsz);

/* One pass over the top-level object text: for each member whose name is in
 * keys[0..nkeys), stores its value's span in vals[i]/lens[i] (NULL/0 when
 * absent). Cheaper than one qt_json_member call per key. The whole text
 * must be exactly one object. */
qt_err qt_json_members(const char *buf, size_t len, const char *const *keys, size_t nkeys,
                       const char **vals, size_t *lens, char *err, size_t errsz);

#endif
