/* quotetape — replay sink: tape JSON lines on stdout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonl.h"
#include "replayer/replay.h"

typedef struct qt_sink_stdout {
    qt_sink base;
    qt_buf line;
    int line_flush;
} qt_sink_stdout;

static qt_err qt_sink_stdout_send(qt_sink *s, const qt_replay_msg *m, int64_t ts_ms, char *err,
                                  size_t errsz)
{
    qt_sink_stdout *k = (qt_sink_stdout *)s;
    qt_err e;
    (void)ts_ms;
    qt_buf_reset(&k->line);
    if ((e = qt_jsonl_format(m->recv_ns, m->value, m->value_len, &k->line)))
        return qt_fail(e, err, errsz, "cannot format message %lld: %s", (long long)m->pos,
                       qt_strerror(e));
    if (fwrite(k->line.data, 1, k->line.len, stdout) != k->line.len ||
        (k->line_flush && fflush(stdout) != 0)) {
        /* The reader went away (`| head`): a stop, not a failure. */
        if (errno == EPIPE)
            return qt_fail(QT_EINTR, err, errsz, "stdout closed");
        return qt_fail(QT_EIO, err, errsz, "cannot write to stdout: %s", strerror(errno));
    }
    k->base.delivered++;
    return QT_OK;
}

static qt_err qt_sink_stdout_flush(qt_sink *s, int timeout_ms, char *err, size_t errsz)
{
    (void)s;
    (void)timeout_ms;
    if (fflush(stdout) != 0 && errno != EPIPE)
        return qt_fail(QT_EIO, err, errsz, "cannot write to stdout: %s", strerror(errno));
    return QT_OK;
}

static void qt_sink_stdout_free(qt_sink *s)
{
    qt_sink_stdout *k = (qt_sink_stdout *)s;
    if (!k)
        return;
    qt_buf_release(&k->line);
    free(k);
}

qt_err qt_sink_stdout_open(int line_flush, qt_sink **out, char *err, size_t errsz)
{
    qt_sink_stdout *k = calloc(1, sizeof *k);
    *out = NULL;
    if (!k)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    k->base.send = qt_sink_stdout_send;
    k->base.flush = qt_sink_stdout_flush;
    k->base.free = qt_sink_stdout_free;
    k->base.first_failed_pos = -1;
    k->base.first_failed_part = -1;
    k->line_flush = line_flush;
    qt_buf_init(&k->line, 0);
    *out = &k->base;
    return QT_OK;
}
