/* quotetape — time: RFC 3339 with nanoseconds, durations, clocks.
 *
 * All times are int64_t nanoseconds: event and receive times since the Unix
 * epoch (UTC), durations and monotonic readings as plain spans. int64 ns
 * covers years 1678..2262, enough for market data. */
#ifndef QT_QTIME_H
#define QT_QTIME_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define QT_NS_PER_SEC INT64_C(1000000000)
#define QT_NS_PER_MS INT64_C(1000000)
#define QT_NS_PER_US INT64_C(1000)

/* Longest text qt_time_format writes, with its NUL. */
#define QT_TIME_STRMAX 40

/* Parses RFC 3339 ("2024-03-05T14:30:00.123456789Z", 0..9 fractional
 * digits, 'Z' or a +hh:mm/-hh:mm offset, 'T' or 't' or ' ' as separator)
 * of length len into ns since the epoch. Returns QT_EINVAL with a reason in
 * err for anything else, including out-of-range fields and trailing bytes. */
qt_err qt_time_parse(const char *s, size_t len, int64_t *ns, char *err, size_t errsz);

/* Formats ns as UTC RFC 3339 into buf (>= QT_TIME_STRMAX bytes). digits is
 * the number of fractional digits (0..9); -1 writes the fewest digits that
 * are exact (none when the fraction is zero), the way Alpaca does. Returns
 * the length written. */
size_t qt_time_format(int64_t ns, int digits, char *buf);

/* Parses a duration: an integer or decimal number with a unit ns, us, ms,
 * s, m, h (e.g. "5s", "250ms", "1.5m", "2h"); a bare "0" is zero.
 * Negative durations are refused. */
qt_err qt_dur_parse(const char *s, int64_t *ns, char *err, size_t errsz);

/* Formats a duration compactly ("5s", "250ms", "1m30s") into buf of size n. */
size_t qt_dur_format(int64_t ns, char *buf, size_t n);

/* CLOCK_REALTIME and CLOCK_MONOTONIC readings in ns. */
int64_t qt_now_ns(void);
int64_t qt_mono_ns(void);

/* Days since 1970-01-01 for a proleptic Gregorian civil date, and back. */
int64_t qt_days_from_civil(int64_t y, unsigned m, unsigned d);
void qt_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif
