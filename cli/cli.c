/* quotetape — shared command-line helpers. */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/position.h"

static volatile sig_atomic_t qt_stop;

static void qt_on_signal(int sig)
{
    qt_stop = sig;
}

volatile sig_atomic_t *qt_cli_stop_flag(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = qt_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return &qt_stop;
}

int qt_cli_common(int c, const char *arg, qt_kopts *k, qt_err *rc)
{
    char err[512];
    switch (c) {
    case 'b':
        *rc = qt_kopts_set_brokers(k, arg);
        break;
    case 'X':
        *rc = qt_kopts_add_kv(k, arg, err, sizeof err);
        break;
    case 'F':
        *rc = qt_kopts_add_file(k, arg, err, sizeof err);
        break;
    case 'v':
        qt_log_set_level(qt_log_get_level() + 1);
        *rc = QT_OK;
        return 1;
    case 'q':
        qt_log_set_level(QT_LOG_QUIET);
        *rc = QT_OK;
        return 1;
    default:
        return 0;
    }
    if (*rc) {
        if (c == 'b')
            snprintf(err, sizeof err, "out of memory");
        qt_error("%s", err);
        return -1;
    }
    return 1;
}

int qt_cli_fail(qt_err rc, const char *err)
{
    qt_error("%s", err && *err ? err : qt_strerror(rc));
    return qt_exit_code(rc);
}

int qt_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "quotetape %s: %s; see 'quotetape %s --help'\n", cmd, msg, cmd);
    return qt_exit_code(QT_EUSAGE);
}

char **qt_cli_split_list(const char *s, size_t *n)
{
    size_t len = strlen(s), count = 1, i, k = 0;
    char **v, *copy;

    for (i = 0; i < len; i++)
        count += s[i] == ',';
    v = malloc((count + 1) * sizeof *v + len + 1);
    if (!v)
        return NULL;
    copy = (char *)(v + count + 1);
    memcpy(copy, s, len + 1);
    v[k++] = copy;
    for (i = 0; i < len; i++)
        if (copy[i] == ',') {
            copy[i] = '\0';
            v[k++] = copy + i + 1;
        }
    v[k] = NULL;
    for (i = 0; i < k; i++)
        if (!*v[i]) {
            free(v);
            return NULL;
        }
    *n = k;
    return v;
}

/* Parses --symbols/--from/--to into a selection of t. The caller frees
 * *syms. */
qt_err qt_cli_tape_selection(qt_tape *t, const char *symbols, const char *from, const char *to,
                               qt_tape_sel *sel, char ***syms, char *err, size_t errsz)
{
    qt_pos p;
    qt_err e;
    size_t n = 0;

    memset(sel, 0, sizeof *sel);
    *syms = NULL;
    if (symbols) {
        *syms = qt_cli_split_list(symbols, &n);
        if (!*syms)
            return qt_fail(QT_EUSAGE, err, errsz, "--symbols '%s' has an empty name", symbols);
        sel->symbols = (const char *const *)*syms;
        sel->nsymbols = n;
    }
    if (from) {
        if (qt_pos_parse(from, &p, err, errsz))
            return QT_EUSAGE;
        if ((e = qt_tape_resolve(t, sel, &p, &sel->from_seq, err, errsz)))
            return e == QT_EINVAL ? QT_EUSAGE : e;
    }
    if (to) {
        if (qt_pos_parse(to, &p, err, errsz))
            return QT_EUSAGE;
        if ((e = qt_tape_resolve(t, sel, &p, &sel->to_seq, err, errsz)))
            return e == QT_EINVAL ? QT_EUSAGE : e;
        if (sel->to_seq < sel->from_seq)
            return qt_fail(QT_EUSAGE, err, errsz, "--to '%s' is before --from '%s'", to,
                           from ? from : "beginning");
    }
    return QT_OK;
}

/* The --serve key pair, from QUOTETAPE_SERVE_KEY / _SECRET only (never the
 * command line, where ps would show it). Returns an exit code, 0 = fine. */
int qt_cli_serve_keys(const char *cmd, int auth, const char **key, const char **secret)
{
    *key = getenv("QUOTETAPE_SERVE_KEY");
    *secret = getenv("QUOTETAPE_SERVE_SECRET");
    if (*key && !**key)
        *key = NULL;
    if (*secret && !**secret)
        *secret = NULL;
    if (!*key != !*secret)
        return qt_cli_usage_error(cmd, "set both QUOTETAPE_SERVE_KEY and "
                                            "QUOTETAPE_SERVE_SECRET, or neither");
    if (auth && !*key)
        return qt_cli_usage_error(cmd, "--auth needs QUOTETAPE_SERVE_KEY and "
                                            "QUOTETAPE_SERVE_SECRET in the environment");
    return 0;
}
