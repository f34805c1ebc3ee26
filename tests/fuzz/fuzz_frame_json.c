/* Fuzz target: Alpaca JSON frames through the codec, and re-encoding of
 * every message that parses. */
#include <stddef.h>
#include <stdint.h>

#include "core/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_msg(const qt_msg *m, void *ud)
{
    qt_buf *b = ud;
    qt_buf_reset(b);
    switch (m->type) {
    case QT_MSG_QUOTE: qt_quote_to_json(&m->u.quote, b); qt_quote_to_msgpack(&m->u.quote, b); break;
    case QT_MSG_TRADE: qt_trade_to_json(&m->u.trade, b); qt_trade_to_msgpack(&m->u.trade, b); break;
    case QT_MSG_BAR: qt_bar_to_json(&m->u.bar, b); qt_bar_to_msgpack(&m->u.bar, b); break;
    case QT_MSG_SUBSCRIPTION: qt_subscription_frame_json(m->u.sub, b); break;
    default: break;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    qt_buf b;
    size_t n;
    qt_buf_init(&b, 0);
    qt_frame_parse_json((const char *)data, size, 1, on_msg, &b, &n, err, sizeof err);
    qt_buf_release(&b);
    return 0;
}
