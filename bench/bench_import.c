/* Benchmark: import rate of tape JSON lines against a bare prepared-statement
 * insert loop of the same rows into the same schema, measured in one run.
 *
 * usage: bench_import FILE.jsonl WORKDIR [--ref-only]
 * Prints one table row: | import | N quotes/s | M quotes/s (bare insert) | ratio | >= 0.5 |
 * With --ref-only it prints just the bare insert rate (quotes/s), the
 * reference other benchmarks (the recorder's) measure against.
 * The reference gets its rows pre-parsed in memory and does nothing but bind
 * and step in one transaction: the ceiling SQLite allows for this schema. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/codec.h"
#include "core/jsonl.h"
#include "core/qtime.h"
#include "core/tape.h"
#include "core/tapeio.h"

typedef struct row {
    qt_quote q;
    char *raw;
    size_t raw_len;
} row;

typedef struct rows {
    row *v;
    size_t n, cap;
} rows;

static int collect(const qt_msg *m, void *ud)
{
    rows *r = ud;
    if (m->type != QT_MSG_QUOTE)
        return 0;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
        if (!r->v)
            abort();
    }
    r->v[r->n].q = m->u.quote;
    r->v[r->n].raw = strndup(m->raw, m->raw_len);
    r->v[r->n].raw_len = m->raw_len;
    r->n++;
    return 0;
}

static double run_ref(const rows *r, const char *path)
{
    char err[512];
    qt_tape *t;
    int64_t session, t0;
    unlink(path);
    if (qt_tape_open(path, QT_TAPE_WRITE, &t, err, sizeof err) ||
        qt_tape_session_begin(t, NULL, &session, err, sizeof err)) {
        fprintf(stderr, "bench_import: %s\n", err);
        exit(1);
    }
    sqlite3 *db = qt_tape_db(t);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db,
                       "INSERT INTO quotes(session,symbol,t_ns,recv_ns,bid_px,bid_sz,bid_ex,ask_px,"
                       "ask_sz,ask_ex,cond,tape,raw) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       -1, &st, NULL);
    t0 = qt_mono_ns();
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (size_t i = 0; i < r->n; i++) {
        const qt_quote *q = &r->v[i].q;
        sqlite3_bind_int64(st, 1, session);
        sqlite3_bind_text(st, 2, q->symbol, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, q->t_ns);
        sqlite3_bind_int64(st, 4, q->recv_ns);
        sqlite3_bind_double(st, 5, q->bid_px);
        sqlite3_bind_int64(st, 6, q->bid_sz);
        sqlite3_bind_text(st, 7, q->bid_ex, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 8, q->ask_px);
        sqlite3_bind_int64(st, 9, q->ask_sz);
        sqlite3_bind_text(st, 10, q->ask_ex, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 11, q->cond, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 12, q->tape, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 13, r->v[i].raw, (int)r->v[i].raw_len, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    double secs = (double)(qt_mono_ns() - t0) / 1e9;
    sqlite3_finalize(st);
    qt_tape_free(t);
    return (double)r->n / secs;
}

static double run_import(const char *file, const char *path, int64_t *n)
{
    char err[512];
    qt_tape *t;
    int64_t session, t0;
    qt_import_stats st = {0};
    FILE *f = fopen(file, "rb");
    unlink(path);
    if (!f || qt_tape_open(path, QT_TAPE_WRITE, &t, err, sizeof err) ||
        qt_tape_session_begin(t, NULL, &session, err, sizeof err)) {
        fprintf(stderr, "bench_import: cannot start\n");
        exit(1);
    }
    t0 = qt_mono_ns();
    if (qt_import_stream(t, session, f, file, 0, NULL, &st, err, sizeof err)) {
        fprintf(stderr, "bench_import: %s\n", err);
        exit(1);
    }
    double secs = (double)(qt_mono_ns() - t0) / 1e9;
    fclose(f);
    qt_tape_free(t);
    *n = st.quotes;
    return (double)st.quotes / secs;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    char path[1024], err[512];
    rows r = {0};
    double ref[5], imp[5], ratio[5];
    int64_t n = 0;
    FILE *f;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    if (argc != 3 && !(argc == 4 && strcmp(argv[3], "--ref-only") == 0)) {
        fprintf(stderr, "usage: bench_import FILE.jsonl WORKDIR [--ref-only]\n");
        return 64;
    }
    f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 66;
    }
    while ((len = getline(&line, &cap, f)) > 0)
        if (qt_jsonl_parse_line(line, (size_t)len - (line[len - 1] == '\n'), collect, &r, NULL,
                                err, sizeof err)) {
            fprintf(stderr, "bench_import: %s\n", err);
            return 65;
        }
    free(line);
    fclose(f);
    snprintf(path, sizeof path, "%s/bench_import.db", argv[2]);
    if (argc == 4) {
        for (int i = 0; i < 3; i++)
            ref[i] = run_ref(&r, path);
        qsort(ref, 3, sizeof *ref, cmpd);
        printf("%.0f\n", ref[1]);
        unlink(path);
        for (size_t i = 0; i < r.n; i++)
            free(r.v[i].raw);
        free(r.v);
        return 0;
    }
    /* alternate A B A B so drift on a shared machine hits both alike */
    for (int i = 0; i < 5; i++) {
        ref[i] = run_ref(&r, path);
        imp[i] = run_import(argv[1], path, &n);
        ratio[i] = imp[i] / ref[i];
    }
    qsort(ref, 5, sizeof *ref, cmpd);
    qsort(imp, 5, sizeof *imp, cmpd);
    qsort(ratio, 5, sizeof *ratio, cmpd);
    printf("| import (%lld quotes) | %.0f quotes/s | %.0f quotes/s (bare prepared insert) | %.2f "
           "| >= 0.50 %s |\n",
           (long long)n, imp[2], ref[2], ratio[2], ratio[2] >= 0.5 ? "ok" : "MISSED");
    unlink(path);
    for (size_t i = 0; i < r.n; i++)
        free(r.v[i].raw);
    free(r.v);
    return 0;
}
