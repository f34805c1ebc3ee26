/* quotetape — the one tiny assert macro for unit tests.
 *
 * QT_CHECK(cond) records a failure with file:line and the condition and goes
 * on; QT_CHECK_EQ_INT / QT_CHECK_EQ_STR print both values. A test main ends
 * with `return qt_test_done("name");`, which prints "N passed, N failed" and
 * returns non-zero if anything failed. */
#ifndef QT_TEST_H
#define QT_TEST_H

#include <stdio.h>
#include <string.h>

static int qt_test_pass, qt_test_fail;

#define QT_CHECK(cond)                                                                          \
    do {                                                                                        \
        if (cond) {                                                                             \
            qt_test_pass++;                                                                     \
        } else {                                                                                \
            qt_test_fail++;                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);           \
        }                                                                                       \
    } while (0)

#define QT_CHECK_EQ_INT(a, b)                                                                   \
    do {                                                                                        \
        long long qt_a_ = (long long)(a), qt_b_ = (long long)(b);                               \
        if (qt_a_ == qt_b_) {                                                                   \
            qt_test_pass++;                                                                     \
        } else {                                                                                \
            qt_test_fail++;                                                                     \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a,  \
                    #b, qt_a_, qt_b_);                                                          \
        }                                                                                       \
    } while (0)

#define QT_CHECK_EQ_STR(a, b)                                                                   \
    do {                                                                                        \
        const char *qt_a_ = (a), *qt_b_ = (b);                                                  \
        if (qt_a_ && qt_b_ && strcmp(qt_a_, qt_b_) == 0) {                                      \
            qt_test_pass++;                                                                     \
        } else {                                                                                \
            qt_test_fail++;                                                                     \
            fprintf(stderr, "%s:%d: %s == %s failed: '%s' != '%s'\n", __FILE__, __LINE__, #a,  \
                    #b, qt_a_ ? qt_a_ : "(null)", qt_b_ ? qt_b_ : "(null)");                    \
        }                                                                                       \
    } while (0)

static inline int qt_test_done(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, qt_test_pass, qt_test_fail);
    return qt_test_fail ? 1 : 0;
}

#endif
