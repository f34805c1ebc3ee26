/* Fuzz target: one tape JSON line (envelopes, bare messages, frames). */
#include <stddef.h>
#include <stdint.h>

#include "core/jsonl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_msg(const qt_msg *m, void *ud)
{
    qt_buf *b = ud;
    qt_buf_reset(b);
    qt_jsonl_format(m->type == QT_MSG_QUOTE ? m->u.quote.recv_ns : 0, m->raw, m->raw_len, b);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    qt_buf b;
    size_t n;
    qt_buf_init(&b, 0);
    qt_jsonl_parse_line((const char *)data, size, on_msg, &b, &n, err, sizeof err);
    qt_buf_release(&b);
    return 0;
}
