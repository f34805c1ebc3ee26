/* quotetape record — wires options to the recorder stage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/aserver.h"
#include "core/log.h"
#include "core/qtime.h"
#include "recorder/recorder.h"

static const char qt_record_help[] =
    "usage: quotetape record --symbols SYM[,..] --db TAPE [--feed FEED | --url URL]\n"
    "                        [-b BROKERS] [-X KEY=VALUE] [-F FILE] [--topic TOPIC]\n"
    "                        [--trades] [--bars] [--serve ADDR [--auth]] [options]\n"
    "\n"
    "Holds the one Alpaca market-data connection a key allows and writes every quote\n"
    "into the tape (SQLite, the store of record) and, with Kafka options, to a topic\n"
    "(key = symbol, timestamp = event time, value = the quote JSON as received).\n"
    "Keys come from APCA_API_KEY_ID and APCA_API_SECRET_KEY; they are never logged.\n"
    "Stop with Ctrl-C (SIGINT) or SIGTERM: both sinks are flushed and the session ended.\n"
    "\n"
    "options:\n"
    "  -s, --symbols LIST       comma-separated symbols to subscribe to (required)\n"
    "  -d, --db TAPE            the tape to append to; created if missing (required)\n"
    "      --feed FEED          iex (default), sip, delayed_sip or test:\n"
    "                           wss://stream.data.alpaca.markets/v2/FEED\n"
    "      --url URL            any ws:// or wss:// URL instead of --feed\n"
    "      --ca-file FILE       verify the wss peer against the CAs in FILE (PEM)\n"
    "                           instead of the system's (a TLS-inspecting proxy)\n"
    "      --insecure           do not verify the wss peer (local test servers only)\n"
    "  -t, --topic TOPIC        Kafka topic for quotes (default quotes)\n"
    "      --trades             also record trades (tape, and topic --trades-topic)\n"
    "      --trades-topic T     default trades\n"
    "      --bars               also record minute bars (tape, and topic --bars-topic)\n"
    "      --bars-topic T       default bars\n"
    "  -b, --brokers HOST:PORT  Kafka bootstrap servers (default $QUOTETAPE_BROKERS);\n"
    "                           without any, quotes go to the tape only\n"
    "  -X, --property K=V       any librdkafka property\n"
    "  -F, --config FILE        client.properties (Confluent Cloud style)\n"
    "      --backoff-min DUR    first reconnect delay (default 500ms); doubles per try\n"
    "      --backoff-max DUR    longest reconnect delay (default 30s); 30%% jitter\n"
    "      --limit-backoff DUR  wait after 406 connection limit exceeded (default 60s)\n"
    "      --idle-timeout DUR   reconnect when no data and no pong for DUR (default 30s)\n"
    "      --commit-interval DUR  longest time between tape commits (default 200ms)\n"
    "      --flush-timeout DUR  wait at most DUR for Kafka at shutdown (default 10s)\n"
    "      --frame-max BYTES    largest frame accepted (default 4194304)\n"
    "      --max-quotes N       stop after N quotes\n"
    "      --serve ADDR         also serve the live stream to any number of local clients\n"
    "                           on an Alpaca-compatible websocket at HOST:PORT\n"
    "                           (ws://ADDR/v2/iex ...; port 0 picks one); see docs/serve.md\n"
    "      --serve-any-address  allow a --serve address that is not loopback\n"
    "      --auth               serve clients only with QUOTETAPE_SERVE_KEY and\n"
    "                           QUOTETAPE_SERVE_SECRET (also on when both are set);\n"
    "                           without, any key is accepted\n"
    "  -v, --verbose / -q, --quiet\n"
    "  -h, --help\n"
    "\n"
    "example:\n"
    "  APCA_API_KEY_ID=... APCA_API_SECRET_KEY=... \\\n"
    "    quotetape record --symbols SPY,QQQ --feed iex --db spy.db -b 127.0.0.1:9092\n"
    "  # tape only, and a live feed for local clients at ws://127.0.0.1:8765/v2/iex\n"
    "  quotetape record --symbols SPY,QQQ --db spy.db --serve 127.0.0.1:8765\n"
    "\n"
    "exit codes: 0 stopped cleanly, 77 auth failed (402, 409, missing keys),\n"
    "64 usage (or 405 symbol limit), 76 protocol error (400, 410), see docs/record.md\n";

static int qt_record_dur(const char *opt, const char *arg, int64_t *ns)
{
    char err[256];
    if (qt_dur_parse(arg, ns, err, sizeof err) || *ns <= 0)
        return qt_cli_usage_error("record", "%s takes a duration like 500ms or 30s, not '%s'",
                                  opt, arg);
    return 0;
}

static int qt_record_num(const char *opt, const char *arg, long long lo, long long hi,
                         long long *v)
{
    char *end;
    *v = strtoll(arg, &end, 10);
    if (!*arg || *end || *v < lo || *v > hi)
        return qt_cli_usage_error("record", "%s takes a number %lld..%lld, not '%s'", opt, lo, hi,
                                  arg);
    return 0;
}

static int qt_record_symbol_ok(const char *s)
{
    if (!*s || strlen(s) >= 32)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '/' || *s == '-' || *s == '*'))
            return 0;
    return 1;
}

/* The recorder's fanout hook: every recorded message to the local server.
 * A failure (the server stopping) must not stop the recording. */
static void qt_record_fanout(const qt_msg *m, void *ud)
{
    (void)qt_aserver_publish_msg(ud, m);
}

/* Starts the local Alpaca-compatible server for --serve. The key pair comes
 * from QUOTETAPE_SERVE_KEY / QUOTETAPE_SERVE_SECRET only (never from the
 * command line, where ps would show it) and is never logged. Returns an
 * exit code (0 = started). */
static int qt_record_serve(const char *bind, int any_address, int auth, qt_aserver **out)
{
    const char *key, *secret;
    qt_aserver_cfg cfg;
    char err[512];
    qt_err e;
    int rc = qt_cli_serve_keys("record", auth, &key, &secret);

    if (rc)
        return rc;
    memset(&cfg, 0, sizeof cfg);
    cfg.bind = bind;
    cfg.allow_remote = any_address;
    cfg.key = key;
    cfg.secret = secret;
    if ((e = qt_aserver_start(&cfg, out, err, sizeof err)))
        return qt_cli_fail(e, err);
    qt_info("serve: clients %s", key ? "must authenticate with QUOTETAPE_SERVE_KEY/_SECRET"
                                     : "may use any key");
    return 0;
}

/* A --ca-file must be a readable PEM file with at least one certificate:
 * libwebsockets would only log a bad one and then refuse every server. */
static qt_err qt_record_check_ca(const char *path, char *err, size_t errsz)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    char buf[4096];
    size_t n, keep = 0;
    int found = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return qt_fail(errno == ENOENT ? QT_ENOTFOUND : QT_EIO, err, errsz,
                       "cannot read --ca-file '%s': %s", path, strerror(errno));
    /* scan in blocks, keeping the tail of each so a marker split between
     * two reads is still seen */
    while (!found && (n = fread(buf + keep, 1, sizeof buf - keep, f)) > 0) {
        size_t total = keep + n, m = sizeof begin - 1;
        for (size_t i = 0; !found && i + m <= total; i++)
            found = memcmp(buf + i, begin, m) == 0;
        keep = total < m ? total : m - 1;
        memmove(buf, buf + total - keep, keep);
    }
    if (ferror(f)) {
        int en = errno;
        fclose(f);
        return qt_fail(QT_EIO, err, errsz, "cannot read --ca-file '%s': %s", path, strerror(en));
    }
    fclose(f);
    if (!found)
        return qt_fail(QT_ECONFIG, err, errsz,
                       "--ca-file '%s' holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                       path);
    return QT_OK;
}

int qt_cmd_record(int argc, char **argv)
{
    static const struct option lo[] = {QT_CLI_COMMON_LONG,
                                       {"symbols", required_argument, 0, 's'},
                                       {"db", required_argument, 0, 'd'},
                                       {"topic", required_argument, 0, 't'},
                                       {"feed", required_argument, 0, 1},
                                       {"url", required_argument, 0, 2},
                                       {"insecure", no_argument, 0, 3},
                                       {"trades", no_argument, 0, 4},
                                       {"bars", no_argument, 0, 5},
                                       {"trades-topic", required_argument, 0, 6},
                                       {"bars-topic", required_argument, 0, 7},
                                       {"backoff-min", required_argument, 0, 8},
                                       {"backoff-max", required_argument, 0, 9},
                                       {"limit-backoff", required_argument, 0, 10},
                                       {"idle-timeout", required_argument, 0, 11},
                                       {"commit-interval", required_argument, 0, 12},
                                       {"flush-timeout", required_argument, 0, 13},
                                       {"frame-max", required_argument, 0, 14},
                                       {"max-quotes", required_argument, 0, 15},
                                       {"serve", required_argument, 0, 16},
                                       {"serve-any-address", no_argument, 0, 17},
                                       {"auth", no_argument, 0, 18},
                                       {"ca-file", required_argument, 0, 19},
                                       {0, 0, 0, 0}};
    qt_rec_opts o;
    qt_rec_stats st;
    qt_kopts k;
    const char *symbols = NULL, *feed = NULL, *url = NULL, *serve = NULL;
    qt_aserver *srv = NULL;
    int serve_any = 0, serve_auth = 0;
    char urlbuf[256], source[128], err[1024];
    char **syms = NULL;
    size_t nsyms = 0;
    long long v;
    int64_t flush_ns = 0;
    int c, rc;
    qt_err e = QT_OK;

    memset(&o, 0, sizeof o);
    o.topic = "quotes";
    o.trades_topic = "trades";
    o.bars_topic = "bars";
    qt_kopts_init(&k);
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:d:t:" QT_CLI_KAFKA_SHORT QT_CLI_LOG_SHORT "h", lo,
                            NULL)) != -1) {
        int r = qt_cli_common(c, optarg, &k, &e);
        if (r < 0) {
            qt_kopts_release(&k);
            return qt_exit_code(e);
        }
        if (r > 0)
            continue;
        rc = 0;
        switch (c) {
        case 's': symbols = optarg; break;
        case 'd': o.db = optarg; break;
        case 't': o.topic = optarg; break;
        case 1: feed = optarg; break;
        case 2: url = optarg; break;
        case 3: o.insecure = 1; break;
        case 4: o.trades = 1; break;
        case 5: o.bars = 1; break;
        case 6: o.trades_topic = optarg; break;
        case 7: o.bars_topic = optarg; break;
        case 8: rc = qt_record_dur("--backoff-min", optarg, &o.backoff_min_ns); break;
        case 9: rc = qt_record_dur("--backoff-max", optarg, &o.backoff_max_ns); break;
        case 10: rc = qt_record_dur("--limit-backoff", optarg, &o.limit_backoff_ns); break;
        case 11: rc = qt_record_dur("--idle-timeout", optarg, &o.idle_timeout_ns); break;
        case 12: rc = qt_record_dur("--commit-interval", optarg, &o.commit_interval_ns); break;
        case 13: rc = qt_record_dur("--flush-timeout", optarg, &flush_ns); break;
        case 14:
            rc = qt_record_num("--frame-max", optarg, 1024, QT_FRAME_MAX, &v);
            o.frame_max = (size_t)v;
            break;
        case 15:
            rc = qt_record_num("--max-quotes", optarg, 1, INT64_MAX, &v);
            o.max_quotes = v;
            break;
        case 16: serve = optarg; break;
        case 17: serve_any = 1; break;
        case 18: serve_auth = 1; break;
        case 19: o.ca_file = optarg; break;
        case 'h':
            fputs(qt_record_help, stdout);
            qt_kopts_release(&k);
            return 0;
        default:
            rc = qt_cli_usage_error("record", "unknown option");
            break;
        }
        if (rc) {
            qt_kopts_release(&k);
            return rc;
        }
    }
    rc = 0;
    if (optind < argc)
        rc = qt_cli_usage_error("record", "unexpected argument '%s'", argv[optind]);
    else if (!symbols)
        rc = qt_cli_usage_error("record", "--symbols is required");
    else if (!o.db)
        rc = qt_cli_usage_error("record", "--db is required");
    else if (feed && url)
        rc = qt_cli_usage_error("record", "give --feed or --url, not both");
    else if (feed && strcmp(feed, "iex") && strcmp(feed, "sip") && strcmp(feed, "delayed_sip") &&
             strcmp(feed, "test"))
        rc = qt_cli_usage_error("record", "--feed takes iex, sip, delayed_sip or test, not '%s'",
                                feed);
    else if (url && strncmp(url, "ws://", 5) && strncmp(url, "wss://", 6))
        rc = qt_cli_usage_error("record", "--url must start with ws:// or wss://, not '%s'", url);
    else if (!serve && (serve_any || serve_auth))
        rc = qt_cli_usage_error("record", "--serve-any-address and --auth go with --serve");
    else if (o.ca_file && o.insecure)
        rc = qt_cli_usage_error("record", "--ca-file verifies the peer, --insecure does not: "
                                          "give one");
    else if (o.ca_file && (e = qt_record_check_ca(o.ca_file, err, sizeof err)))
        rc = qt_cli_fail(e, err);
    else if (!(syms = qt_cli_split_list(symbols, &nsyms)))
        rc = qt_cli_usage_error("record", "--symbols: empty symbol in '%s'", symbols);
    for (size_t i = 0; !rc && i < nsyms; i++)
        if (!qt_record_symbol_ok(syms[i]))
            rc = qt_cli_usage_error("record", "--symbols: '%s' is not a symbol", syms[i]);
    if (rc) {
        free(syms);
        qt_kopts_release(&k);
        return rc;
    }
    if (!url) {
        snprintf(urlbuf, sizeof urlbuf, "wss://stream.data.alpaca.markets/v2/%s",
                 feed ? feed : "iex");
        url = urlbuf;
        snprintf(source, sizeof source, "alpaca:%s", feed ? feed : "iex");
    } else {
        snprintf(source, sizeof source, "%s", url);
    }
    int has_kafka = k.brokers != NULL;
    for (size_t i = 0; i < k.nprops; i++)
        has_kafka |= strcmp(k.props[i].key, "bootstrap.servers") == 0;
    if (!has_kafka)
        qt_info("no Kafka brokers given; recording into the tape only");

    o.url = url;
    o.source = source;
    o.symbols = (const char *const *)syms;
    o.nsymbols = nsyms;
    o.key_id = getenv("APCA_API_KEY_ID");
    o.secret = getenv("APCA_API_SECRET_KEY");
    o.kopts = has_kafka ? &k : NULL;
    o.flush_timeout_ms = (int)(flush_ns / QT_NS_PER_MS);
    if (flush_ns && !o.flush_timeout_ms)
        o.flush_timeout_ms = 1;
    o.stop = qt_cli_stop_flag();
    if (serve) {
        if ((rc = qt_record_serve(serve, serve_any, serve_auth, &srv))) {
            free(syms);
            qt_kopts_release(&k);
            return rc;
        }
        o.fanout = qt_record_fanout;
        o.fanout_ud = srv;
    }

    e = qt_rec_run(&o, &st, err, sizeof err);
    if (srv) {
        qt_aserver_stats as;
        /* let clients that keep up have the last quotes before closing */
        (void)qt_aserver_drain(srv, 1000);
        qt_aserver_get_stats(srv, &as);
        qt_info("serve: %llu client(s) in all, %llu message(s) delivered, %llu slow client(s) "
                "dropped",
                (unsigned long long)as.clients_total, (unsigned long long)as.delivered,
                (unsigned long long)as.slow);
        qt_aserver_free(srv);
    }
    qt_info("recorded %lld quote(s), %lld trade(s), %lld bar(s); %lld gap(s), %lld bad frame(s); "
            "kafka: %lld produced, %lld confirmed, acked seq %lld",
            (long long)st.quotes, (long long)st.trades, (long long)st.bars, (long long)st.gaps,
            (long long)st.bad_frames, (long long)st.kafka_produced,
            (long long)st.kafka_delivered, (long long)st.kafka_acked);
    free(syms);
    qt_kopts_release(&k);
    if (e)
        return qt_cli_fail(e, err);
    return 0;
}
