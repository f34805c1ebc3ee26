/* Fuzz target: Alpaca MessagePack frames through the codec. */
#include <stddef.h>
#include <stdint.h>

#include "core/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_msg(const qt_msg *m, void *ud)
{
    qt_buf *b = ud;
    qt_buf_reset(b);
    if (m->type == QT_MSG_QUOTE)
        qt_quote_to_json(&m->u.quote, b);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    qt_buf b;
    size_t n;
    qt_buf_init(&b, 0);
    qt_frame_parse_msgpack((const char *)data, size, 1, on_msg, &b, &n, err, sizeof err);
    qt_buf_release(&b);
    return 0;
}
