/* quotetape — time parsing and formatting. */
#include "core/qtime.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Howard Hinnant's days_from_civil: exact for all int64 years we care for. */
int64_t qt_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void qt_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int qt_digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static unsigned qt_month_days(int64_t y, unsigned m)
{
    static const unsigned md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28u + (unsigned)leap : md[m - 1];
}

qt_err qt_time_parse(const char *s, size_t len, int64_t *ns, char *err, size_t errsz)
{
    unsigned Y, M, D, h, mi, sec, frac = 0, oh = 0, om = 0;
    size_t i = 19, nd = 0;
    int64_t off = 0;

    if (len < 20)
        return qt_fail(QT_EINVAL, err, errsz, "timestamp '%.*s' is too short",
                       (int)(len > 40 ? 40 : len), s);
    if (qt_digits(s, 4, &Y) || s[4] != '-' || qt_digits(s + 5, 2, &M) || s[7] != '-' ||
        qt_digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        qt_digits(s + 11, 2, &h) || s[13] != ':' || qt_digits(s + 14, 2, &mi) ||
        s[16] != ':' || qt_digits(s + 17, 2, &sec))
        goto bad;
    if (M < 1 || M > 12 || D < 1 || D > qt_month_days(Y, M) || h > 23 || mi > 59 || sec > 60)
        return qt_fail(QT_EINVAL, err, errsz, "timestamp '%.*s' has a field out of range",
                       (int)(len > 40 ? 40 : len), s);
    if (sec == 60)
        sec = 59; /* a leap second folds onto :59, as in most of the industry */
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (nd == 9)
                return qt_fail(QT_EINVAL, err, errsz,
                               "timestamp '%.*s' has more than 9 fractional digits",
                               (int)(len > 40 ? 40 : len), s);
            frac = frac * 10 + (unsigned)(s[i] - '0');
            nd++;
            i++;
        }
        if (nd == 0)
            goto bad;
        for (size_t k = nd; k < 9; k++)
            frac *= 10;
    }
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':' &&
               !qt_digits(s + i + 1, 2, &oh) && !qt_digits(s + i + 4, 2, &om) && oh < 24 &&
               om < 60) {
        off = ((int64_t)oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        goto bad;
    }
    if (i != len)
        goto bad;
    {
        int64_t days = qt_days_from_civil(Y, M, D);
        int64_t secs = days * 86400 + (int64_t)h * 3600 + mi * 60 + sec - off;
        const int64_t smax = INT64_MAX / QT_NS_PER_SEC, smin = INT64_MIN / QT_NS_PER_SEC - 1;
        /* int64 ns spans smin s + 145224192 ns .. smax s + 854775807 ns */
        if (secs > smax || secs < smin || (secs == smax && frac > INT64_MAX % QT_NS_PER_SEC) ||
            (secs == smin && frac < QT_NS_PER_SEC + INT64_MIN % QT_NS_PER_SEC))
            return qt_fail(QT_EINVAL, err, errsz, "timestamp '%.*s' is out of range",
                           (int)(len > 40 ? 40 : len), s);
        if (secs < 0) /* borrow a second so the product cannot overflow at smin */
            *ns = (secs + 1) * QT_NS_PER_SEC + ((int64_t)frac - QT_NS_PER_SEC);
        else
            *ns = secs * QT_NS_PER_SEC + frac;
    }
    return QT_OK;
bad:
    return qt_fail(QT_EINVAL, err, errsz, "timestamp '%.*s' is not RFC 3339",
                   (int)(len > 40 ? 40 : len), s);
}

size_t qt_time_format(int64_t ns, int digits, char *buf)
{
    int64_t secs = ns / QT_NS_PER_SEC, frac = ns % QT_NS_PER_SEC, y;
    unsigned m, d;
    int n;

    if (frac < 0) {
        frac += QT_NS_PER_SEC;
        secs -= 1;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    qt_civil_from_days(days, &y, &m, &d);
    n = snprintf(buf, QT_TIME_STRMAX, "%04lld-%02u-%02uT%02d:%02d:%02d", (long long)y, m, d,
                 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
    if (digits < 0) {
        digits = 9;
        if (frac == 0)
            digits = 0;
        else
            while (digits > 0 && frac % 10 == 0) {
                frac /= 10;
                digits--;
            }
        if (digits)
            n += snprintf(buf + n, (size_t)(QT_TIME_STRMAX - n), ".%0*lld", digits,
                          (long long)frac);
    } else if (digits > 0) {
        if (digits > 9)
            digits = 9;
        for (int k = digits; k < 9; k++)
            frac /= 10;
        n += snprintf(buf + n, (size_t)(QT_TIME_STRMAX - n), ".%0*lld", digits,
                      (long long)frac);
    }
    buf[n++] = 'Z';
    buf[n] = '\0';
    return (size_t)n;
}

/* One "<number><unit>" term of a duration at *pp; adds it to *ns. */
static qt_err qt_dur_term(const char **pp, const char *s, int64_t *ns, char *err, size_t errsz)
{
    static const struct {
        const char *u;
        size_t len;
        int64_t mul;
    } units[] = {{"ns", 2, 1},           {"us", 2, QT_NS_PER_US},
                 {"ms", 2, QT_NS_PER_MS}, {"s", 1, QT_NS_PER_SEC},
                 {"m", 1, 60 * QT_NS_PER_SEC}, {"h", 1, 3600 * QT_NS_PER_SEC}};
    const char *p = *pp;
    int64_t ip = 0, fp = 0, fscale = 1;
    int any = 0;

    while (*p >= '0' && *p <= '9') {
        if (ip > INT64_MAX / 10 - 10)
            return qt_fail(QT_EINVAL, err, errsz, "duration '%s' is too large", s);
        ip = ip * 10 + (*p++ - '0');
        any = 1;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (fscale < 1000000000) {
                fp = fp * 10 + (*p - '0');
                fscale *= 10;
            }
            p++;
            any = 1;
        }
    }
    if (!any)
        return qt_fail(QT_EINVAL, err, errsz,
                       "duration '%s' is not a number with a unit (e.g. 5s, 250ms, 2m)", s);
    if (*p == '\0')
        return qt_fail(QT_EINVAL, err, errsz,
                       "duration '%s' needs a unit: ns, us, ms, s, m or h", s);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strncmp(p, units[i].u, units[i].len) != 0)
            continue;
        /* "m" must not swallow the "m" of "ms" */
        if (units[i].len == 1 && units[i].u[0] == 'm' && p[1] == 's')
            continue;
        if (ip > INT64_MAX / units[i].mul - 1)
            return qt_fail(QT_EINVAL, err, errsz, "duration '%s' is too large", s);
        /* fp * mul / fscale without overflow (fp < fscale <= 1e9, found by
         * fuzz_position with "1.222222222h"): split mul by fscale */
        int64_t add = ip * units[i].mul + fp * (units[i].mul / fscale) +
                      (fp * (units[i].mul % fscale)) / fscale;
        if (*ns > INT64_MAX - add)
            return qt_fail(QT_EINVAL, err, errsz, "duration '%s' is too large", s);
        *ns += add;
        *pp = p + units[i].len;
        return QT_OK;
    }
    return qt_fail(QT_EINVAL, err, errsz, "duration '%s' has an unknown unit '%s'", s, p);
}

qt_err qt_dur_parse(const char *s, int64_t *ns, char *err, size_t errsz)
{
    const char *p = s;
    int64_t total = 0;
    qt_err e;

    if (!s || !*s)
        return qt_fail(QT_EINVAL, err, errsz, "empty duration");
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return QT_OK;
    }
    /* one or more terms, largest first as qt_dur_format writes them: "1m30s" */
    do {
        if ((e = qt_dur_term(&p, s, &total, err, errsz)))
            return e;
    } while (*p);
    *ns = total;
    return QT_OK;
}

size_t qt_dur_format(int64_t ns, char *buf, size_t n)
{
    int r;
    if (ns % QT_NS_PER_SEC == 0 && ns >= 60 * QT_NS_PER_SEC) {
        int64_t s = ns / QT_NS_PER_SEC;
        if (s % 3600 == 0)
            r = snprintf(buf, n, "%lldh", (long long)(s / 3600));
        else if (s % 60 == 0)
            r = snprintf(buf, n, "%lldm", (long long)(s / 60));
        else
            r = snprintf(buf, n, "%lldm%llds", (long long)(s / 60), (long long)(s % 60));
    } else if (ns % QT_NS_PER_SEC == 0) {
        r = snprintf(buf, n, "%llds", (long long)(ns / QT_NS_PER_SEC));
    } else if (ns >= QT_NS_PER_SEC) {
        /* seconds with the exact fraction, trailing zeros dropped: "2.5s" */
        int64_t frac = ns % QT_NS_PER_SEC;
        int digits = 9;
        while (frac % 10 == 0) {
            frac /= 10;
            digits--;
        }
        r = snprintf(buf, n, "%lld.%0*llds", (long long)(ns / QT_NS_PER_SEC), digits,
                     (long long)frac);
    }
    else if (ns % QT_NS_PER_MS == 0)
        r = snprintf(buf, n, "%lldms", (long long)(ns / QT_NS_PER_MS));
    else if (ns % QT_NS_PER_US == 0)
        r = snprintf(buf, n, "%lldus", (long long)(ns / QT_NS_PER_US));
    else
        r = snprintf(buf, n, "%lldns", (long long)ns);
    return r < 0 ? 0 : (size_t)r;
}

int64_t qt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * QT_NS_PER_SEC + ts.tv_nsec;
}

int64_t qt_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * QT_NS_PER_SEC + ts.tv_nsec;
}
