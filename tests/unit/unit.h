/*
 * unit.h - a minimal test harness: TEST(name) functions registered in a
 * table, CHECK() records failures with file:line, and main() prints one
 * "ok"/"FAIL" line per test and a closing "N passed, N failed".
 */
#ifndef SHEEP_UNIT_H
#define SHEEP_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failed_checks;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",		\
			__FILE__, __LINE__, #cond);			\
		unit_failed_checks++;					\
	}								\
} while (0)

#define CHECK_EQ(a, b) do {						\
	unsigned long long _a = (unsigned long long)(a);		\
	unsigned long long _b = (unsigned long long)(b);		\
	if (_a != _b) {							\
		fprintf(stderr, "  %s:%d: %s == %s failed: %llu != %llu\n", \
			__FILE__, __LINE__, #a, #b, _a, _b);		\
		unit_failed_checks++;					\
	}								\
} while (0)

struct unit_test {
	const char *name;
	void (*fn)(void);
};

#define TEST(name) static void name(void)

static inline int unit_run(const struct unit_test *tests, size_t n)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < n; i++) {
		int before = unit_failed_checks;

		tests[i].fn();
		if (unit_failed_checks == before) {
			printf("ok %s\n", tests[i].name);
			passed++;
		} else {
			printf("FAIL %s\n", tests[i].name);
			failed++;
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#define UNIT_MAIN(...)							\
	int main(void)							\
	{								\
		static const struct unit_test tests[] = { __VA_ARGS__ }; \
		return unit_run(tests, sizeof(tests) / sizeof(tests[0])); \
	}

#define T(fn) { #fn, fn }

#endif
