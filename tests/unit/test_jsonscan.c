/* Unit tests for the JSON value scanner (core/jsonscan.h): exact spans of
 * values and object members, and the errors for broken
 * input. */
#include <stdlib.h>
#include <string.h>

#include "core/jsonscan.h"
#include "tests/unit/qt_test.h"

/* Runs qt_json_skip on an exact-size heap copy (so ASan sees over-reads)
 * and returns the value's text in out ("" on error). */
static qt_err skip(const char *text, size_t from, char *out, size_t outsz, char *err, size_t errsz)
{
    size_t len = strlen(text), s = 0, e = 0;
    char *copy = malloc(len ? len : 1);
    qt_err rc;

    memcpy(copy, text, len);
    err[0] = '\0';
    out[0] = '\0';
    rc = qt_json_skip(copy, len, from, &s, &e, err, errsz);
    if (!rc && e - s < outsz) {
        memcpy(out, copy + s, e - s);
        out[e - s] = '\0';
    }
    free(copy);
    return rc;
}

static void test_ws(void)
{
    QT_CHECK_EQ_INT(qt_json_ws(" \t\r\nx", 5, 0), 4);
    QT_CHECK_EQ_INT(qt_json_ws("x  ", 3, 0), 0);
    QT_CHECK_EQ_INT(qt_json_ws("x  ", 3, 1), 3);
    QT_CHECK_EQ_INT(qt_json_ws("\v", 1, 0), 0); /* not JSON whitespace */
    QT_CHECK_EQ_INT(qt_json_ws("", 0, 0), 0);
}

static void test_skip(void)
{
    static const struct {
        const char *text;
        const char *value; /* the span found */
    } ok[] = {
        {"{\"a\":1}", "{\"a\":1}"},
        {"  {\"a\":[1,2,{\"b\":\"}\"}]}  ,x", "{\"a\":[1,2,{\"b\":\"}\"}]}"},
        {"\"str\\\"ing\"rest", "\"str\\\"ing\""},
        {"\"\\\\\"x", "\"\\\\\""},
        {"[\"]\",\"[\",\"{\"]", "[\"]\",\"[\",\"{\"]"},
        {"12.5e3,", "12.5e3"},
        {"true}", "true"},
        {"null", "null"},
        {"-0.25 ", "-0.25"},
        {"[]", "[]"},
        {"{}", "{}"},
        {"\"\\u00e9\xc3\xa9\"", "\"\\u00e9\xc3\xa9\""}, /* UTF-8 passes through */
    };
    static const struct {
        const char *text;
        const char *err;
    } bad[] = {
        {"", "expected a JSON value, found end of input"},
        {"   ", "expected a JSON value, found end of input"},
        {"\"abc", "unterminated or broken string at byte 0"},
        {"\"ab\\", "unterminated or broken string at byte 0"},
        {"\"a\nb\"", "unterminated or broken string at byte 0"},
        {"[1,2", "unexpected end of input inside JSON value"},
        {"{\"a\":[1}", "unbalanced '}' at byte 7"},
        {"]", "unbalanced ']' at byte 0"},
        {",", "unexpected ',' at byte 0"},
        {"[\"x]", "unterminated or broken string at byte 1"},
    };
    char out[256], err[160];

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        QT_CHECK_EQ_INT(skip(ok[i].text, 0, out, sizeof out, err, sizeof err), QT_OK);
        QT_CHECK_EQ_STR(out, ok[i].value);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        QT_CHECK_EQ_INT(skip(bad[i].text, 0, out, sizeof out, err, sizeof err), QT_EINVAL);
        QT_CHECK_EQ_STR(err, bad[i].err);
    }
    /* starting inside the text */
    QT_CHECK_EQ_INT(skip("[1, {\"k\":2} ]", 3, out, sizeof out, err, sizeof err), QT_OK);
    QT_CHECK_EQ_STR(out, "{\"k\":2}");

    /* nesting: QT_JSON_DEPTH_MAX levels are fine, one more is refused */
    {
        char deep[2 * QT_JSON_DEPTH_MAX + 8];
        size_t o = 0;
        for (int i = 0; i < QT_JSON_DEPTH_MAX; i++)
            deep[o++] = '[';
        for (int i = 0; i < QT_JSON_DEPTH_MAX; i++)
            deep[o++] = ']';
        deep[o] = '\0';
        QT_CHECK_EQ_INT(skip(deep, 0, out, sizeof out, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(strlen(out), 2 * QT_JSON_DEPTH_MAX);
        memmove(deep + 1, deep, o + 1);
        deep[0] = '{'; /* mixed kinds count the same */
        QT_CHECK_EQ_INT(skip(deep, 0, out, sizeof out, err, sizeof err), QT_EINVAL);
        QT_CHECK_EQ_STR(err, "JSON nested deeper than 64");
    }
}

static void test_member(void)
{
    const char *obj = " { \"T\" : \"q\", \"S\":\"A\\\"B\", \"c\":[\"x\",{\"t\":1}], \"t\": "
                      "\"2024-01-01T00:00:00Z\" } ";
    const char *v = NULL;
    size_t vl = 0;
    char err[160];

    QT_CHECK_EQ_INT(qt_json_member(obj, strlen(obj), "T", &v, &vl, err, sizeof err), QT_OK);
    QT_CHECK(vl == 3 && memcmp(v, "\"q\"", 3) == 0);
    QT_CHECK_EQ_INT(qt_json_member(obj, strlen(obj), "S", &v, &vl, err, sizeof err), QT_OK);
    QT_CHECK(vl == 6 && memcmp(v, "\"A\\\"B\"", 6) == 0);
    QT_CHECK_EQ_INT(qt_json_member(obj, strlen(obj), "c", &v, &vl, err, sizeof err), QT_OK);
    QT_CHECK(vl == 13 && memcmp(v, "[\"x\",{\"t\":1}]", 13) == 0);
    /* a top-level "t" is found, not the one nested in "c" */
    QT_CHECK_EQ_INT(qt_json_member(obj, strlen(obj), "t", &v, &vl, err, sizeof err), QT_OK);
    QT_CHECK(vl == 22 && memcmp(v, "\"2024-01-01T00:00:00Z\"", 22) == 0);
    QT_CHECK_EQ_INT(qt_json_member(obj, strlen(obj), "x", &v, &vl, err, sizeof err), QT_ENOTFOUND);
    QT_CHECK_EQ_INT(qt_json_member(obj, strlen(obj), "", &v, &vl, err, sizeof err), QT_ENOTFOUND);
    QT_CHECK_EQ_INT(qt_json_member("{}", 2, "a", &v, &vl, err, sizeof err), QT_ENOTFOUND);

    QT_CHECK_EQ_INT(qt_json_member("[1]", 3, "a", &v, &vl, err, sizeof err), QT_EINVAL);
    QT_CHECK_EQ_STR(err, "expected a JSON object");
    QT_CHECK_EQ_INT(qt_json_member("{1:2}", 5, "a", &v, &vl, err, sizeof err), QT_EINVAL);
    QT_CHECK_EQ_STR(err, "expected a member name at byte 1");
    QT_CHECK_EQ_INT(qt_json_member("{\"a\" 2}", 7, "a", &v, &vl, err, sizeof err), QT_EINVAL);
    QT_CHECK_EQ_STR(err, "expected ':' at byte 5");
    QT_CHECK_EQ_INT(qt_json_member("{\"a\":1 \"b\":2}", 13, "b", &v, &vl, err, sizeof err),
                    QT_EINVAL);
    QT_CHECK_EQ_STR(err, "expected ',' or '}' at byte 7");
    QT_CHECK_EQ_INT(qt_json_member("{\"a\":1", 6, "b", &v, &vl, err, sizeof err), QT_EINVAL);
    QT_CHECK_EQ_STR(err, "expected ',' or '}' at byte 6");
}

int main(void)
{
    test_ws();
    test_skip();
    test_member();
    return qt_test_done("test_jsonscan");
}
