/* quotetape broker — the embedded Kafka broker on loopback. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/broker.h"
#include "core/log.h"

static const char qt_broker_help[] =
    "usage: quotetape broker [--partitions N] [--brokers N] [--topic NAME[:N]]...\n"
    "                        [--bootstrap-file F]\n"
    "\n"
    "Runs librdkafka's mock cluster on loopback until SIGINT or SIGTERM, and\n"
    "prints its bootstrap address on stdout (one line). Any Kafka client can\n"
    "use it: kcat -b ADDRESS -L.\n"
    "\n"
    "  --partitions N      partitions of the topics created up front (default 1)\n"
    "  --brokers N         brokers in the cluster (default 1)\n"
    "  --topic NAME[:N]    create a topic up front (repeatable); without any,\n"
    "                      'quotes' and 'quotes.w5s' are. Other topics are created\n"
    "                      on first use with 4 partitions (the mock cluster's fixed\n"
    "                      default)\n"
    "  --bootstrap-file F  also write the address to F (atomically), for scripts\n"
    "\n"
    "Limits: an ephemeral port, about 5 MiB kept per partition, no offset\n"
    "look-up by timestamp, a slow first consumer-group join. The tape is the\n"
    "store of record, not this broker.\n"
    "\n"
    "example: quotetape broker --bootstrap-file /tmp/qt.boot &\n"
    "         quotetape replay --db spy.db -b $(cat /tmp/qt.boot) --topic quotes\n";

static int qt_parse_count(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* Writes text to path through a temporary file and rename, so a reader
 * polling for the file never sees half of it. */
static qt_err qt_write_atomic(const char *path, const char *text, char *err, size_t errsz)
{
    char tmp[PATH_MAX];
    FILE *f;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return qt_fail(QT_EUSAGE, err, errsz, "path '%s' is too long", path);
    if (!(f = fopen(tmp, "w")))
        return qt_fail(QT_EIO, err, errsz, "cannot create '%s': %s", tmp, strerror(errno));
    if (fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        int en = errno;
        unlink(tmp);
        return qt_fail(QT_EIO, err, errsz, "cannot write '%s': %s", path, strerror(en));
    }
    return QT_OK;
}

int qt_cmd_broker(int argc, char **argv)
{
    static const struct option lo[] = {{"partitions", required_argument, 0, 'p'},
                                       {"brokers", required_argument, 0, 'n'},
                                       {"topic", required_argument, 0, 't'},
                                       {"bootstrap-file", required_argument, 0, 'f'},
                                       {"verbose", no_argument, 0, 'v'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    volatile sig_atomic_t *stop = qt_cli_stop_flag();
    int partitions = 1, nbrokers = 1, c;
    const char *bootfile = NULL, *topics[64];
    size_t ntopics = 0;
    qt_broker *b;
    char err[512], line[1024];
    qt_err e;

    optind = 1;
    while ((c = getopt_long(argc, argv, "vqh", lo, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (qt_parse_count(optarg, 1, 1000, &partitions))
                return qt_cli_usage_error("broker", "--partitions takes 1..1000, not '%s'",
                                          optarg);
            break;
        case 'n':
            if (qt_parse_count(optarg, 1, 16, &nbrokers))
                return qt_cli_usage_error("broker", "--brokers takes 1..16, not '%s'", optarg);
            break;
        case 't':
            if (ntopics == sizeof topics / sizeof topics[0])
                return qt_cli_usage_error("broker", "too many --topic options");
            topics[ntopics++] = optarg;
            break;
        case 'f': bootfile = optarg; break;
        case 'v': qt_log_set_level(qt_log_get_level() + 1); break;
        case 'q': qt_log_set_level(QT_LOG_QUIET); break;
        case 'h': fputs(qt_broker_help, stdout); return 0;
        default: return qt_cli_usage_error("broker", "bad option");
        }
    }
    if (optind < argc)
        return qt_cli_usage_error("broker", "unexpected argument '%s'", argv[optind]);
    if (ntopics == 0) {
        topics[ntopics++] = "quotes";
        topics[ntopics++] = "quotes.w5s";
    }
    if ((e = qt_broker_start(nbrokers, partitions, &b, err, sizeof err)))
        return qt_cli_fail(e, err);
    for (size_t i = 0; i < ntopics && !e; i++) {
        char name[256];
        const char *colon = strrchr(topics[i], ':');
        int np = partitions;
        snprintf(name, sizeof name, "%.*s", (int)(colon ? colon - topics[i] : (long)strlen(topics[i])),
                 topics[i]);
        if (colon && qt_parse_count(colon + 1, 1, 1000, &np)) {
            qt_broker_free(b);
            return qt_cli_usage_error("broker", "--topic '%s': partitions must be 1..1000",
                                      topics[i]);
        }
        e = qt_broker_create_topic(b, name, np, err, sizeof err);
    }
    snprintf(line, sizeof line, "%s\n", qt_broker_bootstraps(b));
    if (!e && bootfile)
        e = qt_write_atomic(bootfile, line, err, sizeof err);
    if (e) {
        qt_broker_free(b);
        return qt_cli_fail(e, err);
    }
    fputs(line, stdout);
    fflush(stdout);
    qt_info("embedded broker listening on %s (Ctrl-C to stop)", qt_broker_bootstraps(b));
    while (!*stop)
        usleep(100 * 1000); /* a signal between check and sleep is seen next turn */
    qt_info("embedded broker stopping");
    qt_broker_free(b);
    if (bootfile)
        unlink(bootfile);
    return 0;
}
