/* quotetape — logging to stderr with levels.
 *
 * stdout is for data; every log line goes to stderr as
 * "quotetape: <level>: <message>". The level is set once by main (from -v/-q)
 * before any thread starts; that one process-wide setting is the single
 * exception to "no global mutable state", since threading a logger through
 * every call would buy nothing. Never log a secret: use qt_log_redact(). */
#ifndef QT_LOG_H
#define QT_LOG_H

typedef enum qt_log_level {
    QT_LOG_QUIET = 0, /* -q: errors only */
    QT_LOG_ERROR = 0,
    QT_LOG_WARN = 1,
    QT_LOG_INFO = 2,  /* default */
    QT_LOG_DEBUG = 3  /* -v */
} qt_log_level;

void qt_log_set_level(int level);
int qt_log_get_level(void);

void qt_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define qt_error(...) qt_log(QT_LOG_ERROR, __VA_ARGS__)
#define qt_warn(...) qt_log(QT_LOG_WARN, __VA_ARGS__)
#define qt_info(...) qt_log(QT_LOG_INFO, __VA_ARGS__)
#define qt_debug(...) qt_log(QT_LOG_DEBUG, __VA_ARGS__)

/* Nonzero if a configuration key names a secret (password, secret, key,
 * token, jaas config); its value must then be printed as "[redacted]". */
int qt_log_is_secret_key(const char *key);

/* Returns value, or "[redacted]" if key names a secret. */
const char *qt_log_redact(const char *key, const char *value);

#endif
