/* quotetape — the gnuplot renderer. See gnuplot.h for the safety rules. */
#include "viewer/gnuplot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ======================================================================
 * Script
 * ====================================================================== */

qt_err qt_gp_quote(qt_buf *out, const char *s)
{
    qt_err rc = qt_buf_append(out, "'", 1);
    for (; !rc && s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\'')
            rc = qt_buf_append(out, "''", 2);
        else if (ch < 0x20 || ch == 0x7f)
            rc = qt_buf_append(out, " ", 1);
        else
            rc = qt_buf_append(out, s, 1);
    }
    return rc ? rc : qt_buf_append(out, "'", 1);
}

/* Epoch ms as seconds with three decimals, for timefmt "%s". */
static qt_err qt_gp_time(qt_buf *out, int64_t ms)
{
    int64_t s = ms / 1000, f = ms % 1000;
    if (f < 0) {
        f += 1000;
        s -= 1;
    }
    return qt_buf_printf(out, "%" PRId64 ".%03" PRId64, s, f);
}

static qt_err qt_gp_num(qt_buf *out, double v)
{
    char b[32];
    size_t n = qt_fmt_double(v, b);
    qt_err rc = qt_buf_append(out, " ", 1);
    return rc ? rc : qt_buf_append(out, b, n);
}

/* y range of a panel: min and max of everything drawn, padded 5% (or a
 * little around a flat line). */
static void qt_gp_yrange(const qt_gp_panel *p, double *lo, double *hi)
{
    double a = p->price[0], b = p->price[0], pad;
    for (size_t i = 0; i < p->n; i++) {
        double v[4] = {p->price[i], p->ask ? p->ask[i] : p->price[i],
                       p->l ? p->l[i] : p->price[i], p->h ? p->h[i] : p->price[i]};
        for (int k = 0; k < 4; k++) {
            if (v[k] < a)
                a = v[k];
            if (v[k] > b)
                b = v[k];
        }
    }
    pad = (b - a) * 0.05;
    if (pad <= 0)
        pad = (b != 0 ? (b < 0 ? -b : b) * 0.001 : 0.01);
    *lo = a - pad;
    *hi = b + pad;
}

qt_err qt_gp_script(const qt_gp_chart *c, qt_gp_format fmt, const char *output, qt_buf *out)
{
    int w = c->width, h = c->height;
    qt_err rc = QT_OK;
    const char *label = c->line_label ? c->line_label : "average bid";

    for (size_t i = 0; i < c->npanels; i++)
        if (c->panels[i].n == 0)
            return QT_ERANGE;
    if (c->npanels == 0)
        return QT_ERANGE;
    if (fmt == QT_GP_TERM) {
        if (w <= 0)
            w = 100;
        if (h <= 0)
            h = 30;
        rc = qt_buf_printf(out, "set terminal dumb noenhanced size %d,%d\n", w, h);
    } else {
        if (w <= 0)
            w = 1200;
        if (h <= 0)
            h = (int)(c->npanels > 1 ? 360 * c->npanels : 500);
        if (fmt == QT_GP_PNG)
            rc = qt_buf_printf(out,
                               "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                               "  set terminal pngcairo noenhanced size %d,%d font 'sans,10'\n"
                               "} else {\n"
                               "  set terminal png noenhanced size %d,%d\n"
                               "}\n",
                               w, h, w, h);
        else
            rc = qt_buf_printf(out,
                               "set terminal svg noenhanced size %d,%d font 'sans,10' "
                               "background rgb 'white'\n",
                               w, h);
    }
    if (!rc && output) {
        if (!(rc = qt_buf_append(out, "set output ", 11)) && !(rc = qt_gp_quote(out, output)))
            rc = qt_buf_append(out, "\n", 1);
    }
    /* The data, as inline data blocks: numbers only. */
    for (size_t i = 0; !rc && i < c->npanels; i++) {
        const qt_gp_panel *p = &c->panels[i];
        rc = qt_buf_printf(out, "$d%zu << EOD\n", i);
        for (size_t j = 0; !rc && j < p->n; j++) {
            rc = qt_gp_time(out, p->t_ms[j]);
            if (!rc)
                rc = qt_gp_num(out, p->price[j]);
            if (!rc && p->ask)
                rc = qt_gp_num(out, p->ask[j]);
            else if (!rc && p->o)
                rc = qt_gp_num(out, p->price[j]);
            if (!rc && p->o && p->h && p->l && p->c) {
                if (!(rc = qt_gp_num(out, p->o[j])) && !(rc = qt_gp_num(out, p->h[j])) &&
                    !(rc = qt_gp_num(out, p->l[j])))
                    rc = qt_gp_num(out, p->c[j]);
            }
            if (!rc)
                rc = qt_buf_append(out, "\n", 1);
        }
        if (!rc)
            rc = qt_buf_append(out, "EOD\n", 4);
    }
    if (!rc)
        rc = qt_buf_printf(out, "set xdata time\n"
                                "set timefmt '%%s'\n"
                                "set format x '%%H:%%M:%%S'\n"
                                "set xlabel 'time of day (UTC)'\n"
                                "set ylabel 'price'\n"
                                "set grid\n"
                                "set key below\n"
                                "set style fill solid 0.6 border\n");
    if (!rc && c->candle_ms > 0)
        rc = qt_buf_printf(out, "set boxwidth %g absolute\n", (double)c->candle_ms * 0.7 / 1000.0);
    if (!rc) {
        rc = qt_buf_printf(out, "set multiplot layout %zu,1", c->npanels);
        if (!rc && c->title) {
            if (!(rc = qt_buf_append(out, " title ", 7)))
                rc = qt_gp_quote(out, c->title);
        }
        if (!rc)
            rc = qt_buf_append(out, "\n", 1);
    }
    for (size_t i = 0; !rc && i < c->npanels; i++) {
        const qt_gp_panel *p = &c->panels[i];
        double lo, hi;
        int candles = p->o && p->h && p->l && p->c;
        qt_gp_yrange(p, &lo, &hi);
        if (!(rc = qt_buf_append(out, "set title ", 10)) && !(rc = qt_gp_quote(out, p->title)))
            rc = qt_buf_printf(out, "\nset yrange [%.10g:%.10g]\nplot ", lo, hi);
        if (!rc && p->ask)
            rc = qt_buf_printf(out,
                               "$d%zu using 1:2:3 with filledcurves fc rgb '#c6dbef' "
                               "title 'bid-ask (window averages)', \\\n     ",
                               i);
        if (!rc && candles)
            rc = qt_buf_printf(out,
                               "$d%zu using 1:4:6:5:7 with candlesticks lc rgb '#555555' "
                               "title 'bid open/low/high/close', \\\n     ",
                               i);
        if (!rc)
            rc = qt_buf_printf(out, "$d%zu using 1:2 with lines lw 2 lc rgb '#08519c' title ", i);
        if (!rc)
            rc = qt_gp_quote(out, label);
        if (!rc)
            rc = qt_buf_append(out, "\n", 1);
    }
    if (!rc)
        rc = qt_buf_printf(out, "unset multiplot\n%s", output ? "set output\n" : "");
    return rc;
}

/* ======================================================================
 * Child process
 * ====================================================================== */

const char *qt_gp_program(void)
{
    const char *p = getenv("QUOTETAPE_GNUPLOT");
    return p && *p ? p : "gnuplot";
}

/* gnuplot prints this (to its stderr) after the last line of every script,
 * so a gnuplot that stopped early — cut off, or exiting 0 before the end —
 * is told apart from one that drew everything: without the line, whatever
 * it wrote is discarded. */
#define QT_GP_DONE "quotetape: end of gnuplot script"

/* Writes all of buf to fd; SIGPIPE is blocked by the caller. */
static int qt_gp_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* First line of gnuplot's stderr that says what went wrong, into err. */
static void qt_gp_errtext(FILE *ef, char *msg, size_t n)
{
    char line[512];
    msg[0] = '\0';
    rewind(ef);
    while (fgets(line, sizeof line, ef)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == ' '))
            line[--l] = '\0';
        if (!l || strspn(line, " ^") == l || strcmp(line, QT_GP_DONE) == 0)
            continue;
        snprintf(msg, n, "%s", line);
        if (strstr(line, "rror") || strstr(line, "arning") == NULL)
            break;
    }
}

/* 1 if gnuplot's stderr holds the end-of-script line. */
static int qt_gp_finished(FILE *ef)
{
    char line[512];
    rewind(ef);
    while (fgets(line, sizeof line, ef))
        if (strncmp(line, QT_GP_DONE "\n", sizeof QT_GP_DONE) == 0)
            return 1;
    return 0;
}

qt_err qt_gp_run(const char *script, size_t len, int to_stdout, char *err, size_t errsz)
{
    static const char done[] = "\nprint '" QT_GP_DONE "'\n";
    const char *prog = qt_gp_program();
    int in[2] = {-1, -1}, st[2] = {-1, -1}, status = 0, child_errno = 0;
    FILE *ef = tmpfile();
    sigset_t pipe_set, old_set;
    pid_t pid;
    ssize_t n;
    qt_err rc = QT_OK;
    char msg[512];

    if (!ef)
        return qt_fail(QT_EIO, err, errsz, "cannot create a temporary file: %s", strerror(errno));
    if (pipe(in) || pipe(st) || fcntl(st[0], F_SETFD, FD_CLOEXEC) ||
        fcntl(st[1], F_SETFD, FD_CLOEXEC)) {
        rc = qt_fail(QT_EIO, err, errsz, "cannot create a pipe: %s", strerror(errno));
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        rc = qt_fail(QT_EIO, err, errsz, "cannot start gnuplot: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(in[0], 0);
        dup2(fileno(ef), 2);
        if (!to_stdout && devnull >= 0)
            dup2(devnull, 1);
        close(in[0]);
        close(in[1]);
        close(st[0]);
        execlp(prog, prog, (char *)NULL);
        child_errno = errno;
        n = write(st[1], &child_errno, sizeof child_errno);
        (void)n;
        _exit(127);
    }
    close(in[0]);
    in[0] = -1;
    close(st[1]);
    st[1] = -1;
    /* exec succeeded iff the close-on-exec status pipe closes empty */
    do
        n = read(st[0], &child_errno, sizeof child_errno);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof child_errno) {
        waitpid(pid, &status, 0);
        rc = qt_fail(QT_EGNUPLOT, err, errsz,
                     "cannot run gnuplot '%s': %s; install gnuplot (Debian: apt-get install "
                     "gnuplot-nox) or set QUOTETAPE_GNUPLOT to its path",
                     prog, strerror(child_errno));
        goto out;
    }
    /* A gnuplot that dies early must not kill us with SIGPIPE. */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    int wfail = qt_gp_write_all(in[1], script, len);
    if (!wfail)
        wfail = qt_gp_write_all(in[1], done, sizeof done - 1);
    int werr = errno;
    close(in[1]);
    in[1] = -1;
    if (wfail && werr == EPIPE) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    fflush(ef);
    qt_gp_errtext(ef, msg, sizeof msg);
    if (WIFSIGNALED(status))
        rc = qt_fail(QT_EGNUPLOT, err, errsz, "gnuplot '%s' was killed by signal %d", prog,
                     WTERMSIG(status));
    else if (WEXITSTATUS(status) != 0 || (wfail && werr != EPIPE))
        rc = qt_fail(QT_EGNUPLOT, err, errsz, "gnuplot '%s' failed (exit %d): %s", prog,
                     WEXITSTATUS(status), msg[0] ? msg : "no message");
    else if (!qt_gp_finished(ef))
        rc = qt_fail(QT_EGNUPLOT, err, errsz,
                     "gnuplot '%s' exited before the end of the script%s%s", prog,
                     msg[0] ? ": " : "", msg);
out:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (st[i] >= 0)
            close(st[i]);
    }
    fclose(ef);
    return rc;
}

/* ======================================================================
 * Rendering
 * ====================================================================== */

int qt_gp_format_of(const char *path)
{
    size_t l = strlen(path);
    if (l >= 4 && strcasecmp(path + l - 4, ".png") == 0)
        return QT_GP_PNG;
    if (l >= 4 && strcasecmp(path + l - 4, ".svg") == 0)
        return QT_GP_SVG;
    return -1;
}

qt_err qt_gp_render(const qt_gp_chart *c, qt_gp_format fmt, const char *path, char *err,
                    size_t errsz)
{
    char tmp[PATH_MAX];
    qt_buf s;
    qt_err rc;
    int to_file = fmt != QT_GP_TERM;

    if (to_file &&
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return qt_fail(QT_EUSAGE, err, errsz, "path '%s' is too long", path);
    qt_buf_init(&s, 256u * 1024u * 1024u);
    rc = qt_gp_script(c, fmt, to_file ? tmp : NULL, &s);
    if (rc == QT_ERANGE) {
        qt_buf_release(&s);
        return qt_fail(rc, err, errsz, "nothing to chart: no windows");
    }
    if (rc) {
        qt_buf_release(&s);
        return qt_fail(rc, err, errsz, "cannot build the gnuplot script: %s", qt_strerror(rc));
    }
    if (!to_file)
        fflush(stdout);
    rc = qt_gp_run(s.data, s.len, !to_file, err, errsz);
    qt_buf_release(&s);
    if (!to_file)
        return rc;
    if (rc) {
        unlink(tmp);
        return rc;
    }
    if (rename(tmp, path) != 0) {
        int en = errno;
        unlink(tmp);
        if (en == ENOENT && access(tmp, F_OK) != 0)
            return qt_fail(QT_EGNUPLOT, err, errsz, "gnuplot '%s' wrote no image for '%s'",
                           qt_gp_program(), path);
        return qt_fail(QT_EIO, err, errsz, "cannot write '%s': %s", path, strerror(en));
    }
    return QT_OK;
}
