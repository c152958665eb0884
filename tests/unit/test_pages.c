/* test_pages.c: local times across the BST/GMT changes, relative ages, plurals, dates, banners, shortened names */
#include <stdlib.h>
#include <string.h>

#include "pages.h"
#include "sniff.h"
#include "test.h"
#include "util.h"

static const char *local(const char *iso)
{
    static char out[48];
    pages_local_time_iso(iso, out, sizeof out);
    return out;
}

static const char *ago(int64_t secs)
{
    static char out[48];
    pages_ago(1000000, 1000000 + secs, out, sizeof out);
    return out;
}

int main(void)
{
    char out[64];

    /* ---- zones ---- */
    CHECK_INT(pages_set_timezone("../etc/passwd"), EV_ERR);
    CHECK_INT(pages_set_timezone(""), EV_ERR);
    CHECK_INT(pages_set_timezone("Not/AZone"), EV_ERR);
    CHECK_INT(pages_set_timezone("Europe/London"), EV_OK);
    CHECK_STR(pages_timezone(), "Europe/London");

    /* GMT in winter: the same clock as UTC. */
    CHECK_STR(local("2026-11-29T14:05:00Z"), "29 Nov 2026, 14:05");
    CHECK_STR(local("2026-01-01T00:00:00Z"), "1 Jan 2026, 00:00");
    /* BST starts at 01:00 UTC on Sunday 29 March 2026: clocks go 01:00 -> 02:00. */
    CHECK_STR(local("2026-03-29T00:59:59Z"), "29 Mar 2026, 00:59");
    CHECK_STR(local("2026-03-29T01:00:00Z"), "29 Mar 2026, 02:00");
    CHECK_STR(local("2026-03-28T23:30:00Z"), "28 Mar 2026, 23:30");
    /* In summer a late-evening UTC time is already tomorrow's date locally. */
    CHECK_STR(local("2026-06-30T23:30:00Z"), "1 Jul 2026, 00:30");
    /* BST ends at 01:00 UTC on Sunday 25 October 2026: clocks go 02:00 -> 01:00. */
    CHECK_STR(local("2026-10-25T00:59:00Z"), "25 Oct 2026, 01:59");
    CHECK_STR(local("2026-10-25T01:00:00Z"), "25 Oct 2026, 01:00");
    CHECK_STR(local("2026-10-24T23:00:00Z"), "25 Oct 2026, 00:00");
    /* Fractions of a second and no seconds parse too; junk gives "". */
    CHECK_STR(local("2026-07-01T12:00:00.123Z"), "1 Jul 2026, 13:00");
    CHECK_STR(local("2026-07-01T12:00Z"), "1 Jul 2026, 13:00");
    CHECK_STR(local("yesterday"), "");
    CHECK_STR(local("2026-13-01T00:00:00Z"), "");
    CHECK_STR(local(NULL), "");

    /* Another zone, and back. */
    CHECK_INT(pages_set_timezone("America/New_York"), EV_OK);
    CHECK_STR(local("2026-11-29T14:05:00Z"), "29 Nov 2026, 09:05");
    CHECK_INT(pages_set_timezone("UTC"), EV_OK);
    CHECK_STR(local("2026-07-01T12:00:00Z"), "1 Jul 2026, 12:00");
    CHECK_INT(pages_set_timezone("Europe/London"), EV_OK);

    /* ---- relative ages: a whole phrase, never "just now ago" ---- */
    CHECK_STR(ago(0), "just now");
    CHECK_STR(ago(59), "just now");
    CHECK_STR(ago(-3600), "just now"); /* a clock a little ahead */
    CHECK_STR(ago(60), "1 minute ago");
    CHECK_STR(ago(119), "1 minute ago");
    CHECK_STR(ago(120), "2 minutes ago");
    CHECK_STR(ago(3600), "1 hour ago");
    CHECK_STR(ago(5 * 3600 + 59), "5 hours ago");
    CHECK_STR(ago(86400), "1 day ago");
    CHECK_STR(ago(3 * 86400 + 100), "3 days ago");

    /* ---- plurals and dates ---- */
    pages_count(1, "learner enrolment", "learner enrolments", out, sizeof out);
    CHECK_STR(out, "1 learner enrolment");
    pages_count(0, "item", "items", out, sizeof out);
    CHECK_STR(out, "0 items");
    pages_count(2, "file", "files", out, sizeof out);
    CHECK_STR(out, "2 files");
    pages_date_text("2026-11-29", out, sizeof out);
    CHECK_STR(out, "29 Nov 2026");
    pages_date_text("2026-02-30", out, sizeof out);
    CHECK_STR(out, "");

    /* ---- humanize: _at gets local _text and _ago; dates get _text; API untouched ---- */
    json_t *v = json_pack("{s:s, s:[{s:s}], s:s, s:s, s:s, s:i}", "created_at", "2026-07-01T12:00:00Z", "items",
                          "submitted_at", "2026-12-01T09:00:00Z", "occurred_on", "2026-11-29", "title",
                          "Not a time", "at", "nonsense", "updated_at", 5);
    pages_humanize(v, 1782907200 + 3 * 86400); /* 2026-07-01T12:00:00Z + 3 days */
    CHECK_STR(json_string_value(json_object_get(v, "created_at")), "2026-07-01T12:00:00Z");
    CHECK_STR(json_string_value(json_object_get(v, "created_at_text")), "1 Jul 2026, 13:00");
    CHECK_STR(json_string_value(json_object_get(v, "created_at_ago")), "3 days ago");
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(v, "items"), 0),
                                                "submitted_at_text")), "1 Dec 2026, 09:00");
    CHECK_STR(json_string_value(json_object_get(v, "occurred_on_text")), "29 Nov 2026");
    CHECK(json_object_get(v, "title_text") == NULL);
    CHECK(json_object_get(v, "at_text") == NULL);
    CHECK(json_object_get(v, "updated_at_text") == NULL);
    json_decref(v);

    /* ---- a criterion's sub-items become a list; one-line texts are left alone ---- */
    v = json_pack("{s:[{s:s, s:s}, {s:s, s:s}], s:s}", "criteria", "ref", "1.2", "text",
                  "Describe handling:\na) refunds\n\xE2\x80\xA2 exchanges", "ref", "1.3", "text", "One line.",
                  "criterion_text", "Lead:\nb) item");
    pages_humanize(v, 1782907200);
    json_t *parts = json_object_get(json_array_get(json_object_get(v, "criteria"), 0), "text_parts");
    CHECK_STR(json_string_value(json_object_get(parts, "lead")), "Describe handling:");
    CHECK(json_array_size(json_object_get(parts, "items")) == 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(parts, "items"), 0), "text")),
              "a) refunds");
    CHECK(json_is_false(json_object_get(json_array_get(json_object_get(parts, "items"), 0), "bullet")));
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(parts, "items"), 1), "text")),
              "exchanges");
    CHECK(json_is_true(json_object_get(json_array_get(json_object_get(parts, "items"), 1), "bullet")));
    CHECK(json_object_get(json_array_get(json_object_get(v, "criteria"), 1), "text_parts") == NULL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(v, "criterion_text_parts"), "lead")), "Lead:");
    json_decref(v);

    /* ---- banners: only known codes ---- */
    CHECK(pages_done_text("decisions") != NULL);
    CHECK(pages_done_text("sampled") != NULL);
    CHECK(pages_done_text("evidence_deleted") != NULL);
    CHECK(pages_done_text("<script>") == NULL);
    CHECK(pages_done_text(NULL) == NULL);

    TEST_DONE();
}
