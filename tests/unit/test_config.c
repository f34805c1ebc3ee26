/* Unit tests: Kafka option handling (-b, -X, -F), properties files,
 * secret redaction, positions and durations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/kafka.h"
#include "core/log.h"
#include "core/position.h"
#include "core/qtime.h"
#include "qt_test.h"

struct kvs {
    char out[2048];
    int n;
};

static int collect(const char *k, const char *v, int line, void *ud)
{
    struct kvs *c = ud;
    size_t len = strlen(c->out);
    snprintf(c->out + len, sizeof c->out - len, "%d:%s=%s|", line, k, v);
    c->n++;
    return 0;
}

static void test_props(void)
{
    static const struct {
        const char *text;
        qt_err rc;
        const char *want; /* collected pairs, or the error text */
    } cases[] = {
        {"a=1\nb = 2\n", QT_OK, "1:a=1|2:b=2|"},
        {"# Required connection configs for Kafka producer, consumer, and admin\n"
         "bootstrap.servers=pkc-xxxx.us-east-1.aws.confluent.cloud:9092\n"
         "security.protocol=SASL_SSL\nsasl.mechanisms=PLAIN\n"
         "sasl.username=KEY\nsasl.password=S3CR=T\n\n! bang comment\n"
         "session.timeout.ms=45000\n",
         QT_OK,
         "2:bootstrap.servers=pkc-xxxx.us-east-1.aws.confluent.cloud:9092|3:security.protocol="
         "SASL_SSL|4:sasl.mechanisms=PLAIN|5:sasl.username=KEY|6:sasl.password=S3CR=T|9:session."
         "timeout.ms=45000|"},
        {"  key:  value with spaces  \r\n", QT_OK, "1:key=value with spaces|"},
        {"long=a\\\n   b\\\n   c\nnext=1", QT_OK, "1:long=abc|4:next=1|"},
        {"", QT_OK, ""},
        {"\n\n# only comments\n", QT_OK, ""},
        {"a=1\njust-a-word\n", QT_ECONFIG, "client.properties:2: expected key=value"},
        {"=value\n", QT_ECONFIG, "client.properties:1: expected key=value"},
        {"k=\n", QT_OK, "1:k=|"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct kvs c;
        char err[256] = "";
        memset(&c, 0, sizeof c);
        qt_err rc = qt_props_parse(cases[i].text, strlen(cases[i].text), "client.properties",
                                   collect, &c, err, sizeof err);
        QT_CHECK_EQ_INT(rc, cases[i].rc);
        QT_CHECK_EQ_STR(rc ? err : c.out, cases[i].want);
    }
}

/* Regression (found by fuzz_props): a NUL byte inside a line made an empty
 * key reach the callback. It is now an error naming the line. */
static void test_props_nul(void)
{
    static const char text[] = "bootstrap.servers=h:9092\n\0\1curity.protocol=SSL\n";
    struct kvs c;
    char err[256] = "";
    memset(&c, 0, sizeof c);
    QT_CHECK_EQ_INT(qt_props_parse(text, sizeof text - 1, "c.properties", collect, &c, err,
                                   sizeof err),
                    QT_ECONFIG);
    QT_CHECK_EQ_STR(err, "c.properties:2: NUL byte in line");
    QT_CHECK_EQ_INT(c.n, 1);
}

static void test_kopts(void)
{
    char dir[] = "/tmp/qt_test_cfg_XXXXXX", path[256], err[512];
    qt_kopts o;
    rd_kafka_conf_t *conf;
    FILE *f;
    char val[256];
    size_t vlen = sizeof val;

    QT_CHECK(mkdtemp(dir) != NULL);
    unsetenv("QUOTETAPE_BROKERS");
    qt_kopts_init(&o);
    QT_CHECK(o.brokers == NULL);
    QT_CHECK_EQ_INT(qt_kafka_conf(&o, &conf, err, sizeof err), QT_EUSAGE);
    QT_CHECK(strstr(err, "no Kafka brokers: use -b host:port") != NULL);
    qt_kopts_release(&o);

    setenv("QUOTETAPE_BROKERS", "envhost:9092", 1);
    qt_kopts_init(&o);
    QT_CHECK_EQ_STR(o.brokers, "envhost:9092");
    QT_CHECK_EQ_INT(qt_kafka_conf(&o, &conf, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(rd_kafka_conf_get(conf, "bootstrap.servers", val, &vlen), RD_KAFKA_CONF_OK);
    QT_CHECK_EQ_STR(val, "envhost:9092");
    rd_kafka_conf_destroy(conf);
    qt_kopts_release(&o);
    unsetenv("QUOTETAPE_BROKERS");

    /* -F with a bad property names file:line and the key, never the value */
    snprintf(path, sizeof path, "%s/client.properties", dir);
    f = fopen(path, "w");
    fputs("bootstrap.servers=h1:9092\nsasl.password=hunter2\nno.such.property=1\n", f);
    fclose(f);
    qt_kopts_init(&o);
    QT_CHECK_EQ_INT(qt_kopts_add_file(&o, path, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(o.nprops, 3);
    QT_CHECK_EQ_INT(qt_kafka_conf(&o, &conf, err, sizeof err), QT_ECONFIG);
    QT_CHECK(strstr(err, "client.properties:3: Kafka property 'no.such.property'") != NULL);
    QT_CHECK(strstr(err, "hunter2") == NULL);
    qt_kopts_release(&o);

    /* -b overrides the file's bootstrap.servers; -X adds properties */
    f = fopen(path, "w");
    fputs("bootstrap.servers=h1:9092\nclient.id=fromfile\n", f);
    fclose(f);
    qt_kopts_init(&o);
    QT_CHECK_EQ_INT(qt_kopts_add_file(&o, path, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_kopts_add_kv(&o, "linger.ms=7", err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_kopts_set_brokers(&o, "h2:9093"), QT_OK);
    QT_CHECK_EQ_INT(qt_kafka_conf(&o, &conf, err, sizeof err), QT_OK);
    vlen = sizeof val;
    rd_kafka_conf_get(conf, "bootstrap.servers", val, &vlen);
    QT_CHECK_EQ_STR(val, "h2:9093");
    vlen = sizeof val;
    rd_kafka_conf_get(conf, "linger.ms", val, &vlen);
    QT_CHECK_EQ_STR(val, "7");
    vlen = sizeof val;
    rd_kafka_conf_get(conf, "client.id", val, &vlen);
    QT_CHECK_EQ_STR(val, "fromfile");
    rd_kafka_conf_destroy(conf);
    QT_CHECK_EQ_INT(qt_kopts_add_kv(&o, "novalue", err, sizeof err), QT_EUSAGE);
    QT_CHECK(strstr(err, "-X takes key=value") != NULL);
    qt_kopts_release(&o);

    /* properties each valid but refused together are a configuration error
     * too (exit 78), with librdkafka's reason */
    qt_kopts_init(&o);
    QT_CHECK_EQ_INT(qt_kopts_set_brokers(&o, "127.0.0.1:1"), QT_OK);
    QT_CHECK_EQ_INT(qt_kopts_add_kv(&o, "queue.buffering.backpressure.threshold=10", err,
                                    sizeof err), QT_OK);
    {
        rd_kafka_t *rk = NULL;
        QT_CHECK_EQ_INT(qt_kafka_producer_new(&o, 1, NULL, NULL, &rk, err, sizeof err),
                        QT_ECONFIG);
        QT_CHECK(rk == NULL);
        QT_CHECK(strstr(err, "cannot create Kafka producer: ") != NULL);
        QT_CHECK(strstr(err, "enable.idempotence") != NULL);
        QT_CHECK_EQ_INT(qt_exit_code(QT_ECONFIG), 78);
    }
    qt_kopts_release(&o);

    qt_kopts_init(&o);
    QT_CHECK_EQ_INT(qt_kopts_add_file(&o, "/nonexistent/client.properties", err, sizeof err),
                    QT_ENOTFOUND);
    QT_CHECK(strstr(err, "cannot open config '/nonexistent/client.properties'") != NULL);
    qt_kopts_release(&o);
    unlink(path);
    rmdir(dir);
}

static void test_redact(void)
{
    QT_CHECK(qt_log_is_secret_key("sasl.password"));
    QT_CHECK(qt_log_is_secret_key("sasl.jaas.config"));
    QT_CHECK(qt_log_is_secret_key("ssl.key.password"));
    QT_CHECK(qt_log_is_secret_key("APCA_API_SECRET_KEY"));
    QT_CHECK(!qt_log_is_secret_key("ssl.key.location"));
    QT_CHECK(!qt_log_is_secret_key("bootstrap.servers"));
    QT_CHECK(!qt_log_is_secret_key("sasl.username")); /* a user name is not a secret */
    QT_CHECK_EQ_STR(qt_log_redact("sasl.password", "hunter2"), "[redacted]");
    QT_CHECK_EQ_STR(qt_log_redact("linger.ms", "5"), "5");
}

static void test_positions(void)
{
    static const struct {
        const char *s;
        qt_err rc;
        qt_pos_kind kind;
        int64_t v;
        const char *back; /* qt_pos_format, NULL = same as s */
    } cases[] = {
        {"beginning", QT_OK, QT_POS_BEGINNING, 0, NULL},
        {"end", QT_OK, QT_POS_END, 0, NULL},
        {"seq:1", QT_OK, QT_POS_SEQ, 1, NULL},
        {"seq:12345", QT_OK, QT_POS_SEQ, 12345, NULL},
        {"offset:0", QT_OK, QT_POS_OFFSET, 0, NULL},
        {"+90s", QT_OK, QT_POS_REL, INT64_C(90000000000), "+1m30s"},
        {"+5m", QT_OK, QT_POS_REL, INT64_C(300000000000), NULL},
        {"+1.5s", QT_OK, QT_POS_REL, INT64_C(1500000000), NULL},
        {"+250ms", QT_OK, QT_POS_REL, INT64_C(250000000), NULL},
        {"2026-03-02T14:30:00Z", QT_OK, QT_POS_TIME, INT64_C(1772461800000000000), NULL},
        {"2026-03-02T14:30:00.000000001Z", QT_OK, QT_POS_TIME, INT64_C(1772461800000000001),
         NULL},
        {"seq:0", QT_EINVAL, 0, 0, NULL},
        {"seq:-1", QT_EINVAL, 0, 0, NULL},
        {"seq:abc", QT_EINVAL, 0, 0, NULL},
        {"offset:", QT_EINVAL, 0, 0, NULL},
        {"+5", QT_EINVAL, 0, 0, NULL},
        {"+5parsecs", QT_EINVAL, 0, 0, NULL},
        {"yesterday", QT_EINVAL, 0, 0, NULL},
        {"", QT_EINVAL, 0, 0, NULL},
        {"2026-02-30T00:00:00Z", QT_EINVAL, 0, 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qt_pos p = {0, 0};
        char err[256], buf[64];
        qt_err rc = qt_pos_parse(cases[i].s, &p, err, sizeof err);
        QT_CHECK_EQ_INT(rc, cases[i].rc);
        if (rc) {
            QT_CHECK(strstr(err, "position") != NULL);
            continue;
        }
        QT_CHECK_EQ_INT(p.kind, cases[i].kind);
        QT_CHECK_EQ_INT(p.v, cases[i].v);
        qt_pos_format(&p, buf, sizeof buf);
        QT_CHECK_EQ_STR(buf, cases[i].back ? cases[i].back : cases[i].s);
        /* regression (found by fuzz_position): "+90s" formatted as "+1m30s",
         * which did not parse back. Whatever formats must parse to the same. */
        qt_pos back;
        QT_CHECK_EQ_INT(qt_pos_parse(buf, &back, err, sizeof err), QT_OK);
        QT_CHECK(back.kind == p.kind && back.v == p.v);
    }
}

static void test_durations(void)
{
    static const struct {
        const char *s;
        int64_t ns;
        const char *back;
    } ok[] = {
        {"0", 0, "0s"},          {"5s", 5000000000, "5s"},    {"250ms", 250000000, "250ms"},
        {"1.5m", 90000000000, "1m30s"}, {"2h", INT64_C(7200000000000), "2h"},
        {"10us", 10000, "10us"}, {"7ns", 7, "7ns"},           {"2.5s", 2500000000, "2.5s"},
        {"1m30s", 90000000000, "1m30s"}, {"1h2m", INT64_C(3720000000000), "62m"},
        {"2m500ms", 120500000000, "120.5s"},
        /* regression (found by fuzz_position): the fraction times the unit
         * overflowed int64 */
        {"1.222222222h", INT64_C(4399999999200), "4399.9999992s"}, {"2m0.5s", 120500000000, "120.5s"},
    };
    static const char *bad[] = {"", "s", "5", "-5s", "5 s", "5sec", "1e3s", "99999999999999999999h",
                                "1m30", "1m-30s"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ns = -1;
        char err[128], buf[32];
        QT_CHECK_EQ_INT(qt_dur_parse(ok[i].s, &ns, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(ns, ok[i].ns);
        qt_dur_format(ns, buf, sizeof buf);
        QT_CHECK_EQ_STR(buf, ok[i].back);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ns;
        char err[128];
        QT_CHECK_EQ_INT(qt_dur_parse(bad[i], &ns, err, sizeof err), QT_EINVAL);
    }
}

int main(void)
{
    test_props();
    test_props_nul();
    test_kopts();
    test_redact();
    test_positions();
    test_durations();
    return qt_test_done("test_config");
}
