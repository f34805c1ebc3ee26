/* quotetape — the recorder's writer thread: the dual sink (tape + Kafka) on
 * a thread of its own.
 *
 * The websocket thread receives and parses; what it records it copies into
 * an open batch here (parsed fields and raw text). A full batch, or one that
 * is old enough, is handed to the writer thread, which appends it to the
 * sink and commits it, and between batches serves Kafka (qt_sink_poll). Two
 * batches exist: while the writer writes one, the websocket thread fills
 * the other, and hands it over only once the writer is done, so what is not
 * yet committed is at most two batches (the recorder makes each half its
 * transaction size, keeping the kill -9 bound) and memory is bounded.
 *
 * A failed write (disk full, I/O error) stops the writer: nothing after it
 * is written, so the tape stays a prefix of what was received. The failure
 * comes back from the next qt_writer_flush (or qt_writer_failed), with the
 * sink's message.
 *
 * Threads: one caller thread calls everything here; the sink belongs to the
 * writer thread from qt_writer_start to qt_writer_stop. */
#ifndef QT_WRITER_H
#define QT_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/quote.h"
#include "recorder/sink.h"

typedef struct qt_writer qt_writer;

/* Starts the writer thread over s; a batch is handed over at batch_rows
 * rows (or 4 MiB of text). */
qt_err qt_writer_start(qt_sink *s, size_t batch_rows, qt_writer **out, char *err, size_t errsz);

/* Copy a record into the open batch. They do not fail: a failure of the
 * writer shows at the next qt_writer_flush. */
void qt_writer_quote(qt_writer *w, const qt_quote *q, const char *raw, size_t raw_len);
void qt_writer_trade(qt_writer *w, const qt_trade *t, const char *raw, size_t raw_len);
void qt_writer_bar(qt_writer *w, const qt_bar *b, const char *raw, size_t raw_len);
void qt_writer_gap(qt_writer *w, int64_t from_ns, int64_t to_ns, const char *reason);

/* The open batch holds records / has reached its size. */
int qt_writer_pending(const qt_writer *w);
int qt_writer_batch_full(const qt_writer *w);

/* Hands the open batch to the writer thread, first waiting for it to finish
 * the previous one. Returns the writer's failure, if it has failed. */
qt_err qt_writer_flush(qt_writer *w, char *err, size_t errsz);

/* The writer's failure so far (QT_OK if none), without waiting. */
qt_err qt_writer_failed(qt_writer *w, char *err, size_t errsz);

/* Hands over the open batch, waits until everything is written and
 * committed, and stops the thread; the sink is the caller's again. Returns
 * the writer's failure, if any. Frees w. */
qt_err qt_writer_stop(qt_writer *w, char *err, size_t errsz);

#endif
