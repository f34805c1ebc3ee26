/* quotetape — the tape JSON-lines format (schema/tape-jsonl.md). */
#ifndef QT_JSONL_H
#define QT_JSONL_H

#include <stddef.h>
#include <stdint.h>

#include "core/codec.h"
#include "core/error.h"

/* Parses one line (without its '\n') and calls cb for every message in it,
 * with the envelope's receive time copied into quotes, trades and bars.
 * A blank line delivers nothing and returns QT_OK. */
qt_err qt_jsonl_parse_line(const char *line, size_t len, qt_msg_cb cb, void *ud,
                           size_t *delivered, char *err, size_t errsz);

/* Appends the canonical line for a message: {"recv":"..","msg":RAW}\n
 * (recv omitted when recv_ns is 0). */
qt_err qt_jsonl_format(int64_t recv_ns, const char *raw, size_t raw_len, qt_buf *out);

#endif
