/*
 * test_wtag.c - a replica's memory of tagged peer writes: a resend of a
 * write taken here is answered with its result, not applied again (and
 * waits for one still applying); anything else is applied.
 */
#include <pthread.h>
#include <unistd.h>

#include "proto.h"
#include "unit.h"
#include "wtag.h"

TEST(tags_are_unique_and_never_zero)
{
	uint64_t a = wtag_new(), b = wtag_new();

	CHECK(a != 0 && b != 0 && a != b);
}

TEST(first_copy_applies)
{
	int res = -1;

	CHECK(wtag_begin(wtag_new(), false, &res));
	CHECK(wtag_begin(0, true, &res));	/* an untagged write is always applied */
}

TEST(resend_of_applied_write_is_not_applied)
{
	uint64_t t = wtag_new();
	int res = -1;

	CHECK(wtag_begin(t, false, &res));
	wtag_end(t, SD_RES_SUCCESS);
	CHECK(!wtag_begin(t, true, &res));
	CHECK_EQ(res, SD_RES_SUCCESS);
	/* its result, whatever it was */
	t = wtag_new();
	CHECK(wtag_begin(t, false, &res));
	wtag_end(t, SD_RES_OLD_NODE_VER);
	CHECK(!wtag_begin(t, true, &res));
	CHECK_EQ(res, SD_RES_OLD_NODE_VER);
}

TEST(resend_of_unseen_write_applies)
{
	uint64_t t = wtag_new();
	int res = -1;

	/* the first copy never arrived whole */
	CHECK(wtag_begin(t, true, &res));
	wtag_end(t, SD_RES_SUCCESS);
	/* and a second resend finds that one */
	CHECK(!wtag_begin(t, true, &res));
	CHECK_EQ(res, SD_RES_SUCCESS);
}

TEST(first_copy_again_without_resend_applies)
{
	uint64_t t = wtag_new();
	int res = -1;

	/* a gateway retrying the whole write in a new epoch: applied again */
	CHECK(wtag_begin(t, false, &res));
	wtag_end(t, SD_RES_NEW_NODE_VER);
	CHECK(wtag_begin(t, false, &res));
	wtag_end(t, SD_RES_SUCCESS);
}

static uint64_t slow_tag;

static void *slow_first_copy(void *arg)
{
	(void)arg;
	usleep(300 * 1000);	/* still applying when the resend comes */
	wtag_end(slow_tag, SD_RES_SUCCESS);
	return NULL;
}

TEST(resend_waits_for_the_first_copy)
{
	pthread_t t;
	int res = -1;

	slow_tag = wtag_new();
	CHECK(wtag_begin(slow_tag, false, &res));
	pthread_create(&t, NULL, slow_first_copy, NULL);
	CHECK(!wtag_begin(slow_tag, true, &res));	/* returns once the first ended */
	CHECK_EQ(res, SD_RES_SUCCESS);
	pthread_join(t, NULL);
}

UNIT_MAIN(T(tags_are_unique_and_never_zero), T(first_copy_applies),
	  T(resend_of_applied_write_is_not_applied), T(resend_of_unseen_write_applies),
	  T(first_copy_again_without_resend_applies), T(resend_waits_for_the_first_copy))
