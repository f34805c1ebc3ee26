/* Tests for viewer/gnuplot.c with the real gnuplot: escaping, hostile
 * titles that must change nothing but the label, real PNG and SVG files,
 * a missing or failing gnuplot, and atomic replacement. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/qt_test.h"
#include "viewer/gnuplot.h"

static char dir[] = "/tmp/qt_gnuplot_XXXXXX";

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        *len = (size_t)n;
    }
    return b;
}

static int exists(const char *name)
{
    char p[PATH_MAX + 64];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%.60s", dir, name);
    return stat(p, &sb) == 0;
}

static void test_quote(void)
{
    qt_buf b;
    qt_buf_init(&b, 0);
    QT_CHECK_EQ_INT(qt_gp_quote(&b, "a'b\"c\\d\n`x`@y\r\x7f"), QT_OK);
    qt_buf_append(&b, "", 1);
    QT_CHECK_EQ_STR(b.data, "'a''b\"c\\d `x`@y  '");
    qt_buf_reset(&b);
    QT_CHECK_EQ_INT(qt_gp_quote(&b, ""), QT_OK);
    qt_buf_append(&b, "", 1);
    QT_CHECK_EQ_STR(b.data, "''");
    qt_buf_release(&b);
}

/* A chart of n points around 500 with optional detail. */
static int64_t T[100];
static double P[100], A[100], O[100], H[100], L[100], C[100];

static void fill(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        T[i] = 1709649000000 + (int64_t)i * 5000;
        P[i] = 500 + (double)(i % 7) * 0.25;
        A[i] = P[i] + 0.05;
        O[i] = P[i] - 0.1;
        C[i] = P[i] + 0.1;
        H[i] = P[i] + 0.3;
        L[i] = P[i] - 0.3;
    }
}

static void test_hostile(void)
{
    char title[512], svg[PATH_MAX], err[512];
    char *text;
    size_t len;
    qt_gp_panel p[2];
    qt_gp_chart c;
    qt_buf s;

    /* Every way a label could try to run a command, incl. gnuplot's own
     * `!cmd` and system(), and a newline that would start a new command. */
    snprintf(title, sizeof title,
             "S'P\"Y\\ `touch %s/pwn1` $(touch %s/pwn2) @m\n!touch %s/pwn3\nsystem('touch "
             "%s/pwn4'); print system(\"touch %s/pwn5\") \\",
             dir, dir, dir, dir, dir);
    fill(30);
    memset(p, 0, sizeof p);
    p[0].title = title;
    p[0].n = 30;
    p[0].t_ms = T;
    p[0].price = P;
    p[1] = p[0];
    p[1].title = "end\\";
    p[1].ask = A;
    p[1].o = O;
    p[1].h = H;
    p[1].l = L;
    p[1].c = C;
    memset(&c, 0, sizeof c);
    c.title = title;
    c.line_label = "@m `touch x`";
    c.panels = p;
    c.npanels = 2;
    c.candle_ms = 5000;

    /* The script has exactly one line per title: no newline got through. */
    qt_buf_init(&s, 0);
    QT_CHECK_EQ_INT(qt_gp_script(&c, QT_GP_SVG, "out.svg", &s), QT_OK);
    qt_buf_append(&s, "", 1);
    QT_CHECK(strstr(s.data, "\n!") == NULL);
    QT_CHECK(strstr(s.data, "\nsystem") == NULL);
    qt_buf_release(&s);

    snprintf(svg, sizeof svg, "%s/hostile.svg", dir);
    QT_CHECK_EQ_INT(qt_gp_render(&c, QT_GP_SVG, svg, err, sizeof err), QT_OK);
    for (int i = 1; i <= 5; i++) {
        char n[16];
        snprintf(n, sizeof n, "pwn%d", i);
        QT_CHECK(!exists(n));
    }
    text = slurp(svg, &len);
    QT_CHECK(text != NULL);
    if (text) {
        /* The label is the title, newlines shown as spaces, XML-escaped by
         * gnuplot's svg terminal. */
        char want[600];
        snprintf(want, sizeof want,
                 "S&apos;P&quot;Y\\ `touch %s/pwn1` $(touch %s/pwn2) @m !touch %s/pwn3 "
                 "system(&apos;touch %s/pwn4&apos;); print system(&quot;touch %s/pwn5&quot;) \\",
                 dir, dir, dir, dir, dir);
        char want_raw[600];
        snprintf(want_raw, sizeof want_raw,
                 "S'P\"Y\\ `touch %s/pwn1` $(touch %s/pwn2) @m !touch %s/pwn3 "
                 "system('touch %s/pwn4'); print system(\"touch %s/pwn5\") \\",
                 dir, dir, dir, dir, dir);
        QT_CHECK(strstr(text, want) != NULL || strstr(text, want_raw) != NULL);
        QT_CHECK(strstr(text, ">end\\<") != NULL);
        QT_CHECK(strstr(text, "@m `touch x`") != NULL);
        QT_CHECK(strstr(text, "</svg>") != NULL);
        /* candlesticks and the band drew something in panel 2 */
        QT_CHECK(strstr(text, "bid open/low/high/close") != NULL);
        free(text);
    }
}

static void test_png(void)
{
    char png[PATH_MAX], err[512];
    unsigned char *b;
    size_t len = 0;
    qt_gp_panel p;
    qt_gp_chart c;

    fill(100);
    memset(&p, 0, sizeof p);
    p.title = "SPY";
    p.n = 100;
    p.t_ms = T;
    p.price = P;
    memset(&c, 0, sizeof c);
    c.panels = &p;
    c.npanels = 1;
    c.width = 800;
    c.height = 400;
    snprintf(png, sizeof png, "%s/x.png", dir);
    QT_CHECK_EQ_INT(qt_gp_render(&c, QT_GP_PNG, png, err, sizeof err), QT_OK);
    b = (unsigned char *)slurp(png, &len);
    QT_CHECK(b != NULL && len > 5000);
    if (b && len > 24) {
        QT_CHECK(memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0);
        QT_CHECK(memcmp(b + 12, "IHDR", 4) == 0);
        QT_CHECK_EQ_INT(((uint32_t)b[16] << 24) | ((uint32_t)b[17] << 16) | ((uint32_t)b[18] << 8) | b[19], 800);
        QT_CHECK_EQ_INT(((uint32_t)b[20] << 24) | ((uint32_t)b[21] << 16) | ((uint32_t)b[22] << 8) | b[23], 400);
    }
    free(b);
    /* no temporary file left behind */
    char tmp[64];
    snprintf(tmp, sizeof tmp, "x.png.tmp.%ld", (long)getpid());
    QT_CHECK(!exists(tmp));

    /* An empty panel is refused before gnuplot runs. */
    p.n = 0;
    QT_CHECK_EQ_INT(qt_gp_render(&c, QT_GP_PNG, png, err, sizeof err), QT_ERANGE);
    QT_CHECK(strstr(err, "no windows") != NULL);
    p.n = 100;

    /* A missing gnuplot is a clear error, and the old file stays. */
    FILE *f = fopen(png, "w");
    fputs("old", f);
    fclose(f);
    setenv("QUOTETAPE_GNUPLOT", "/nonexistent/gnuplot", 1);
    err[0] = '\0';
    QT_CHECK_EQ_INT(qt_gp_render(&c, QT_GP_PNG, png, err, sizeof err), QT_EGNUPLOT);
    QT_CHECK(strstr(err, "cannot run gnuplot '/nonexistent/gnuplot': No such file or directory") !=
             NULL);
    QT_CHECK(strstr(err, "gnuplot-nox") != NULL);
    /* A gnuplot that fails: an error, and the old file is untouched. */
    setenv("QUOTETAPE_GNUPLOT", "false", 1);
    QT_CHECK_EQ_INT(qt_gp_render(&c, QT_GP_PNG, png, err, sizeof err), QT_EGNUPLOT);
    QT_CHECK(strstr(err, "failed (exit 1)") != NULL);
    unsetenv("QUOTETAPE_GNUPLOT");
    b = (unsigned char *)slurp(png, &len);
    QT_CHECK(b && len == 3 && memcmp(b, "old", 3) == 0);
    free(b);

    /* gnuplot's own error text reaches the message. */
    const char bad[] = "plot $nosuch using 1:2\n";
    QT_CHECK_EQ_INT(qt_gp_run(bad, sizeof bad - 1, 0, err, sizeof err), QT_EGNUPLOT);
    QT_CHECK(strstr(err, "nosuch") != NULL || strstr(err, "datablock") != NULL ||
             strstr(err, "undefined") != NULL);
    /* A directory that does not exist: no file, an error. */
    char nodir[PATH_MAX];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.png", dir);
    QT_CHECK(qt_gp_render(&c, QT_GP_PNG, nodir, err, sizeof err) != QT_OK);
    QT_CHECK_EQ_INT(qt_gp_format_of("a.PNG"), QT_GP_PNG);
    QT_CHECK_EQ_INT(qt_gp_format_of("a.svg"), QT_GP_SVG);
    QT_CHECK_EQ_INT(qt_gp_format_of("a.jpg"), -1);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_quote();
    test_hostile();
    test_png();
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return qt_test_done("test_gnuplot");
}
