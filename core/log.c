/* quotetape — logging. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int qt_level = QT_LOG_INFO;

void qt_log_set_level(int level) { qt_level = level; }
int qt_log_get_level(void) { return qt_level; }

void qt_log(int level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    char line[2048];
    va_list ap;
    int n;

    if (level > qt_level)
        return;
    if (level < 0)
        level = 0;
    if (level > 3)
        level = 3;
    n = snprintf(line, sizeof line, "quotetape: %s: ", names[level]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* One write per line so lines from threads do not interleave. */
    fprintf(stderr, "%s\n", line);
}

int qt_log_is_secret_key(const char *key)
{
    static const char *words[] = {"password", "secret", "jaas", "token",
                                  "key",      "credential", "auth"};
    char low[256];
    size_t i;

    if (!key)
        return 0;
    for (i = 0; key[i] && i < sizeof low - 1; i++)
        low[i] = (char)((key[i] >= 'A' && key[i] <= 'Z') ? key[i] + 32 : key[i]);
    low[i] = '\0';
    /* ssl.key.location is a path, not a secret; ssl.key.password is. */
    if (strstr(low, "location"))
        return 0;
    for (i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(low, words[i]))
            return 1;
    return 0;
}

const char *qt_log_redact(const char *key, const char *value)
{
    return qt_log_is_secret_key(key) ? "[redacted]" : value;
}
