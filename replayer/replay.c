/* quotetape — the replay loop: source -> pacer -> sink (see replay.h). */
#include "replayer/replay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/pacer.h"
#include "core/qtime.h"

#define QT_PROGRESS_EVERY_NS INT64_C(500000000)
#define QT_IDLE_EVERY_NS INT64_C(1000000000)  /* the sink's housekeeping in a long wait */
#define QT_SHARE_EVERY_NS INT64_C(1000000000) /* how often CPU sharing is reconsidered */
#define QT_FLUSH_DEFAULT_MS 35000

/* Floor division of ns by 1e6, for Kafka millisecond timestamps. */
static int64_t qt_ns_to_ms(int64_t ns)
{
    int64_t q = ns / QT_NS_PER_MS;
    if (ns % QT_NS_PER_MS < 0)
        q--;
    return q;
}

static void qt_fmt_lat(int64_t ns, char *buf, size_t n)
{
    if (ns < 10 * QT_NS_PER_MS)
        snprintf(buf, n, "%.1fus", (double)ns / 1e3);
    else
        snprintf(buf, n, "%.1fms", (double)ns / 1e6);
}

int qt_replay_parse_speed(const char *s, double *v)
{
    char *end;
    if (strcmp(s, "max") == 0) {
        *v = 0;
        return 0;
    }
    errno = 0;
    *v = strtod(s, &end);
    if (end != s && (*end == 'x' || *end == 'X'))
        end++;
    if (errno || end == s || *end || !(*v > 0) || *v > 1e6)
        return -1;
    return 0;
}

size_t qt_replay_summary(const qt_replay_stats *st, char *buf, size_t n)
{
    char p50[32], p99[32], mx[32], lat[160] = "", passes[48] = "";
    int r;
    if (st->paced) {
        qt_fmt_lat(st->p50_ns, p50, sizeof p50);
        qt_fmt_lat(st->p99_ns, p99, sizeof p99);
        qt_fmt_lat(st->max_ns, mx, sizeof mx);
        snprintf(lat, sizeof lat, ", late %" PRIu64 ", lateness p50 %s p99 %s max %s", st->late,
                 p50, p99, mx);
    }
    if (st->passes > 1)
        snprintf(passes, sizeof passes, ", %" PRIu64 " passes", st->passes);
    r = snprintf(buf, n, "sent %" PRIu64 ", delivered %" PRIu64 ", failed %" PRIu64 "%s%s in %.3fs",
                 st->sent, st->delivered, st->failed, lat, passes, (double)st->elapsed_ns / 1e9);
    return r < 0 ? 0 : (size_t)r;
}

/* Redraws the progress line: position, sent, rate, lateness, ETA. */
static void qt_progress(const qt_replay_msg *m, qt_source *src, const qt_replay_stats *st,
                        uint64_t sent_in_pass, const qt_pacer *p, int64_t elapsed)
{
    char pos[64] = "", p99[32], eta[32] = "?";
    double rate = elapsed > 0 ? (double)st->sent * 1e9 / (double)elapsed : 0;
    if (!src->resume(src, m->pos, m->partition, pos, sizeof pos))
        snprintf(pos, sizeof pos, "offset %" PRId64 " [%d]", m->pos, (int)m->partition);
    qt_fmt_lat(qt_lat_hist_quantile(&p->lat, 0.99), p99, sizeof p99);
    if (src->total > 0 && rate > 0) {
        int64_t left = src->total - (int64_t)sent_in_pass;
        qt_dur_format((int64_t)((double)(left > 0 ? left : 0) / rate + 0.999) * QT_NS_PER_SEC,
                      eta, sizeof eta);
    }
    fprintf(stderr, "\r\033[K%s  sent %" PRIu64 "  %.0f/s  late %" PRIu64 "  p99 %s  ETA %s", pos,
            st->sent, rate, p->late, p99, eta);
    fflush(stderr);
}

/* Once a second, while the next message is not yet due: lets a real-time
 * pacing thread share its CPU with the sink's threads while it sleeps most
 * of the time, and stop when it does not (qt_pacer_share_want). A process
 * that cannot share is not asked again. */
static void qt_replay_share(const qt_pacer *p, int *sharing, int *can_share, int64_t *t0,
                            int64_t *slept0)
{
    int64_t now = qt_mono_ns();
    int want;
    if (now - *t0 < QT_SHARE_EVERY_NS)
        return;
    want = qt_pacer_share_want(*sharing, p->slept_ns - *slept0, now - *t0);
    *t0 = now;
    *slept0 = p->slept_ns;
    if (want == *sharing)
        return;
    if (qt_pacer_share_cpu(want) != 0) {
        qt_debug("pacing thread: cannot share its CPU with the sink's threads");
        *can_share = 0;
        return;
    }
    *sharing = want;
    qt_debug("pacing thread: %s", want ? "shares its CPU with the sink's threads (mostly asleep)"
                                       : "no longer shares its CPU (mostly busy)");
}

/* The message a paced replay waits to send, for the sink's warm(). */
typedef struct qt_replay_warm_ctx {
    qt_sink *sink;
    const qt_replay_msg *m;
} qt_replay_warm_ctx;

static void qt_replay_warm(void *ud)
{
    qt_replay_warm_ctx *w = ud;
    w->sink->warm(w->sink, w->m);
}

qt_err qt_replay_run(const qt_replay_cfg *cfg, qt_source *src, qt_sink *sink,
                     qt_replay_stats *st, char *err, size_t errsz)
{
    qt_pacer_cfg pc = {cfg->speed, cfg->max_gap_ns, -1, 0};
    qt_pacer p;
    qt_replay_msg m;
    qt_err rc = QT_OK, frc;
    int pace_recv, r, have_last = 0, have_unsent = 0;
    int64_t t0, last_progress, wall0, shift = 0, first_ev = 0, pass_min = 0, pass_max = 0;
    int64_t last_pos = 0, unsent_pos = 0, due;
    int32_t last_part = -1, unsent_part = -1;
    uint64_t in_pass = 0;
    char e2[512];
    /* CPU sharing of a real-time pacing thread (see qt_pacer_share_cpu) */
    int sharing = 0, can_share = 0;
    int64_t share_t0 = 0, share_slept0 = 0;
    int64_t idle_every = cfg->idle_every_ns > 0 ? cfg->idle_every_ns : QT_IDLE_EVERY_NS;
    qt_sched sched;
    int rt = 0;
    qt_replay_warm_ctx warm = {sink, &m};

    memset(st, 0, sizeof *st);
    st->paced = cfg->speed > 0;
    pace_recv = cfg->pace_by == QT_PACE_RECV || (cfg->pace_by == QT_PACE_AUTO && src->has_recv);
    qt_pacer_tune_thread();
    if (st->paced && cfg->realtime) {
        rt = qt_pacer_realtime(&sched) == 0;
        qt_debug("pacing thread: %s", rt ? "real-time scheduling (SCHED_FIFO)"
                                         : "ordinary scheduling (real-time refused)");
    }
    qt_pacer_init(&p, &pc, NULL);
    if (st->paced && sink->warm)
        qt_pacer_set_warm(&p, qt_replay_warm, &warm, QT_PACER_KEEP_WARM_NS);
    t0 = last_progress = share_t0 = qt_mono_ns();
    can_share = rt;
    wall0 = qt_now_ns();

    for (;;) {
        if (cfg->stop && *cfg->stop) {
            st->stopped = 1;
            rc = QT_EINTR;
            break;
        }
        r = src->next(src, &m, e2, sizeof e2);
        if (r < 0) {
            rc = qt_fail(src->last_err ? src->last_err : QT_EIO, err, errsz, "%s", e2);
            st->stopped = 1;
            break;
        }
        if (r == 0) {
            st->passes++;
            if (in_pass == 0) {
                if (st->sent == 0)
                    rc = qt_fail(QT_ERANGE, err, errsz, "nothing to replay: the selection is empty");
                break;
            }
            if (cfg->loops && st->passes >= (uint64_t)cfg->loops)
                break;
            if ((rc = src->rewind(src, err, errsz))) {
                st->stopped = 1;
                break;
            }
            /* Event time keeps increasing across passes: the next pass is
             * shifted past this one by its span plus the pass gap. */
            shift += pass_max - pass_min + QT_REPLAY_PASS_GAP_NS;
            qt_pacer_new_pass(&p, QT_REPLAY_PASS_GAP_NS);
            in_pass = 0;
            continue;
        }
        if (in_pass == 0)
            pass_min = pass_max = m.event_ns;
        if (st->sent == 0)
            first_ev = m.event_ns;
        due = qt_pacer_due(&p, pace_recv && m.recv_ns ? m.recv_ns : m.event_ns);
        /* the sink's housekeeping, only while there is time for it (a
         * message already due, the rest of a burst, goes without it), and
         * again every idle_every while a long wait lasts, so a broker that
         * went away is noticed within a bound on a sparse tape */
        if ((sink->idle || can_share) && qt_pacer_has_time(&p, due)) {
            do {
                if (sink->idle && (rc = sink->idle(sink, err, errsz)))
                    break;
                if (can_share)
                    qt_replay_share(&p, &sharing, &can_share, &share_t0, &share_slept0);
            } while (qt_pacer_nap(&p, due, idle_every, cfg->stop) > 0);
            if (rc) {
                have_unsent = 1;
                unsent_pos = m.pos;
                unsent_part = m.partition;
                st->stopped = 1;
                break;
            }
        }
        if (qt_pacer_wait_due(&p, due, cfg->stop) < 0) {
            have_unsent = 1;
            unsent_pos = m.pos;
            unsent_part = m.partition;
            st->stopped = 1;
            rc = QT_EINTR;
            break;
        }
        {
            int64_t ts_ms;
            switch (cfg->ts_mode) {
            case QT_TS_SHIFT: m.stamp_ns = wall0 + (m.event_ns - first_ev) + shift; break;
            case QT_TS_WALL: m.stamp_ns = qt_now_ns(); break;
            default: m.stamp_ns = m.event_ns + shift; break;
            }
            ts_ms = qt_ns_to_ms(m.stamp_ns);
            if ((rc = sink->send(sink, &m, ts_ms, err, errsz))) {
                have_unsent = 1;
                unsent_pos = m.pos;
                unsent_part = m.partition;
                st->stopped = 1;
                break;
            }
        }
        if (m.event_ns < pass_min)
            pass_min = m.event_ns;
        if (m.event_ns > pass_max)
            pass_max = m.event_ns;
        st->sent++;
        in_pass++;
        have_last = 1;
        last_pos = m.pos;
        last_part = m.partition;
        if (cfg->progress) {
            int64_t now = qt_mono_ns();
            if (now - last_progress >= QT_PROGRESS_EVERY_NS) {
                last_progress = now;
                qt_progress(&m, src, st, in_pass, &p, now - t0);
            }
        }
    }
    if (p.warms)
        qt_debug("pacing: %" PRIu64 " sends rehearsed, %" PRIu64 " while spinning and %" PRIu64
                 " between naps",
                 p.warms, p.warms - p.keeps, p.keeps);
    if (sharing)
        (void)qt_pacer_share_cpu(0);
    if (rt)
        qt_pacer_unrealtime(&sched);
    if (cfg->progress)
        fprintf(stderr, "\r\033[K");

    /* Bounded drain: whatever the sink cannot confirm in time counts as
     * failed and decides where a resumed run starts. */
    frc = sink->flush(sink, cfg->flush_timeout_ms > 0 ? cfg->flush_timeout_ms : QT_FLUSH_DEFAULT_MS,
                      e2, sizeof e2);
    if (frc && (rc == QT_OK || rc == QT_EINTR)) {
        rc = qt_fail(frc, err, errsz, "%s", e2);
        st->stopped = 1;
    }
    st->delivered = sink->delivered;
    st->failed = sink->failed;
    if (sink->failed && rc == QT_OK) {
        rc = qt_fail(QT_EKAFKA, err, errsz, "%" PRIu64 " message(s) not delivered: %s",
                     sink->failed, sink->failure[0] ? sink->failure : "unknown error");
        st->stopped = 1;
    }
    st->late = p.late;
    st->p50_ns = qt_lat_hist_quantile(&p.lat, 0.50);
    st->p99_ns = qt_lat_hist_quantile(&p.lat, 0.99);
    st->max_ns = p.lat.max;
    st->elapsed_ns = qt_mono_ns() - t0;
    if (st->stopped) {
        if (sink->first_failed_pos >= 0)
            src->resume(src, sink->first_failed_pos, sink->first_failed_part, st->resume,
                        sizeof st->resume);
        else if (have_unsent)
            src->resume(src, unsent_pos, unsent_part, st->resume, sizeof st->resume);
        else if (have_last)
            src->resume(src, last_pos + 1, last_part, st->resume, sizeof st->resume);
    }
    return rc;
}
