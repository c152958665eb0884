/* test_specimport.c: the spec parser on each seed revision page, the outcome
 * assignment rule, canonical JSON, the shipped demo JSON, and malformed input */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specimport.h"
#include "test.h"

static const char *shared_dir(void)
{
    const char *d = getenv("SHARED_DIR");
    return d ? d : "../../shared";
}

static const char *source_dir(void)
{
    const char *d = getenv("EVITRACK_SOURCE_DIR");
    return d ? d : EVITRACK_SOURCE_DIR;
}

static json_t *parse_seed(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/seeds/%s", shared_dir(), name);
    specimport_error_t err;
    json_t *r = specimport_parse_file(path, &err);
    if (!r)
        fprintf(stderr, "parse %s: %s:%d: %s\n", path, err.file, err.line, err.reason);
    return r;
}

static json_t *unit0(json_t *r)
{
    return json_array_get(json_object_get(json_object_get(r, "spec"), "units"), 0);
}

static const char *q_field(json_t *r, const char *key)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(r, "spec"), "qualification"), key));
}

static size_t n_of(json_t *unit, const char *key)
{
    return json_array_size(json_object_get(unit, key));
}

static size_t g_of(json_t *unit, const char *kind)
{
    return json_array_size(json_object_get(json_object_get(unit, "guidance"), kind));
}

static const char *crit(json_t *unit, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(unit, "criteria"), i), key));
}

static long long crit_outcome(json_t *unit, size_t i)
{
    return json_integer_value(json_object_get(json_array_get(json_object_get(unit, "criteria"), i), "outcome"));
}

static const char *outcome_text(json_t *unit, size_t i)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(unit, "outcomes"), i), "text"));
}

static void test_seed_000(void)
{
    json_t *r = parse_seed("000_e6cfc9a37bc0cea9.txt");
    CHECK(r != NULL);
    if (!r)
        return;
    json_t *u = unit0(r);
    CHECK_STR(json_string_value(json_object_get(r, "format")), "revision-page");
    CHECK_STR(q_field(r, "title"), "iCQ Level 3 Diploma in Customer Service (RQF)");
    CHECK_STR(q_field(r, "awarding_body"), "iCan Qualifications Limited");
    CHECK_STR(q_field(r, "level"), "3");
    CHECK_STR(q_field(r, "framework"), "RQF");
    CHECK_STR(q_field(r, "subject"), "Business Administration");
    CHECK_STR(q_field(r, "code"), "ICQ-L3-DIPLOMA-CUSTOMER-SERVICE-RQF");
    CHECK(strncmp(q_field(r, "description"), "The iCQ Level 3 Diploma in Customer Service (RQF) is a nationally", 60) == 0);
    CHECK_STR(json_string_value(json_object_get(u, "title")), "Understand the customer service environment");
    CHECK(json_object_get(u, "partial") == NULL);
    CHECK(strncmp(json_string_value(json_object_get(u, "synopsis")),
                  "This element explores the foundational principles", 49) == 0);
    CHECK(strstr(json_string_value(json_object_get(u, "synopsis")), "real-world service environments.") != NULL);
    /* one comma-joined bullet -> four outcomes */
    CHECK_INT(n_of(u, "outcomes"), 4);
    CHECK_STR(outcome_text(u, 0), "Understand the concepts and practices underpinning customer service delivery");
    CHECK_STR(outcome_text(u, 1), "Understand the relationship between customer service and a brand");
    CHECK_STR(outcome_text(u, 2), "Understand the structure of customer service");
    CHECK_STR(outcome_text(u, 3), "Understand the implications of legislation on customer service delivery");
    CHECK_INT(n_of(u, "criteria"), 4);
    /* each criterion goes to its outcome by content */
    const char *refs[] = {"1.1", "2.1", "3.1", "4.1"};
    for (size_t i = 0; i < 4; i++) {
        CHECK_STR(crit(u, i, "ref"), refs[i]);
        CHECK_INT(crit_outcome(u, i), (long long)i + 1);
        CHECK_STR(crit(u, i, "assigned_by"), "content");
    }
    CHECK(strncmp(crit(u, 1, "text"), "Expect evidence of linking organisational brand values", 50) == 0);
    CHECK_INT(g_of(u, "key_concepts"), 5);
    CHECK_INT(g_of(u, "assessment_guidance"), 7);
    CHECK_INT(g_of(u, "common_mistakes"), 7);
    CHECK_INT(g_of(u, "key_terms"), 1);
    CHECK_INT(g_of(u, "prior_knowledge"), 3);
    /* bullet and emoji decoration removed */
    CHECK(strncmp(json_string_value(json_array_get(json_object_get(json_object_get(u, "guidance"), "assessment_guidance"), 0)),
                  "When addressing assessment criteria", 35) == 0);
    CHECK_INT(json_array_size(json_object_get(r, "warnings")), 2);
    json_decref(r);
}

static void test_seed_001(void)
{
    json_t *r = parse_seed("001_b904f578e9cb8f48.txt");
    CHECK(r != NULL);
    if (!r)
        return;
    json_t *u = unit0(r);
    CHECK_STR(json_string_value(json_object_get(u, "title")), "Resolve customers\xE2\x80\x99 problems");
    CHECK_STR(q_field(r, "code"), "ICQ-L3-DIPLOMA-CUSTOMER-SERVICE-RQF");
    CHECK_INT(n_of(u, "outcomes"), 2);
    CHECK_STR(outcome_text(u, 0), "Understand the monitoring and resolution of customers\xE2\x80\x99 problems");
    CHECK_STR(outcome_text(u, 1), "Be able to deal with customers\xE2\x80\x99 problems");
    CHECK_INT(n_of(u, "criteria"), 4);
    /* two by content ("resolution", "monitoring"), two by order into the empty outcome 2 */
    CHECK_STR(crit(u, 0, "ref"), "1.1");
    CHECK_STR(crit(u, 0, "assigned_by"), "content");
    CHECK_STR(crit(u, 1, "ref"), "1.2");
    CHECK_STR(crit(u, 1, "assigned_by"), "content");
    CHECK_STR(crit(u, 2, "ref"), "2.1");
    CHECK_STR(crit(u, 2, "assigned_by"), "order");
    CHECK_STR(crit(u, 3, "ref"), "2.2");
    CHECK_STR(crit(u, 3, "assigned_by"), "order");
    CHECK_INT(crit_outcome(u, 3), 2);
    CHECK_INT(g_of(u, "key_concepts"), 6);
    CHECK_INT(g_of(u, "assessment_guidance"), 7);
    CHECK_INT(g_of(u, "common_mistakes"), 7);
    CHECK_INT(g_of(u, "key_terms"), 1);
    CHECK_INT(g_of(u, "prior_knowledge"), 3);
    json_decref(r);
}

static void test_seed_002(void)
{
    json_t *r = parse_seed("002_8dda24bba8e3972f.txt");
    CHECK(r != NULL);
    if (!r)
        return;
    json_t *u = unit0(r);
    CHECK_STR(q_field(r, "title"), "ProQual Level 3 Diploma in Customer Service");
    CHECK_STR(q_field(r, "awarding_body"), "ProQual Awarding Body");
    CHECK_STR(q_field(r, "framework"), "QCF"); /* from the title line */
    CHECK_STR(q_field(r, "level"), "3");
    CHECK_STR(q_field(r, "code"), "PROQUAL-L3-DIPLOMA-CUSTOMER-SERVICE-QCF");
    CHECK_STR(json_string_value(json_object_get(u, "title")), "Understand the customer service environment");
    CHECK(strncmp(json_string_value(json_object_get(u, "synopsis")), "This element examines", 21) == 0);
    CHECK_INT(n_of(u, "outcomes"), 4);
    CHECK_INT(n_of(u, "criteria"), 4);
    for (size_t i = 0; i < 4; i++) {
        CHECK_INT(crit_outcome(u, i), (long long)i + 1);
        CHECK_STR(crit(u, i, "assigned_by"), "content");
    }
    CHECK_INT(g_of(u, "key_concepts"), 5);
    CHECK_INT(g_of(u, "assessment_guidance"), 7);
    CHECK_INT(g_of(u, "common_mistakes"), 7);
    CHECK_INT(g_of(u, "key_terms"), 1);
    CHECK_INT(g_of(u, "prior_knowledge"), 3);
    json_decref(r);
}

static void test_seed_004(void)
{
    json_t *r = parse_seed("004_52cd226400e6468e.txt");
    CHECK(r != NULL);
    if (!r)
        return;
    json_t *u = unit0(r);
    CHECK_STR(json_string_value(json_object_get(r, "format")), "revision-page-short");
    CHECK(json_object_get(json_object_get(r, "spec"), "qualification") == NULL);
    CHECK(json_is_true(json_object_get(u, "partial")));
    CHECK(json_object_get(u, "title") == NULL);
    CHECK(json_object_get(u, "outcomes") == NULL); /* taken from the unit already loaded */
    CHECK_INT(n_of(u, "criteria"), 4);               /* "Examiner Marking Points" */
    CHECK(crit(u, 0, "ref") == NULL);
    CHECK(strncmp(crit(u, 3, "text"), "Require identification of key legislation", 40) == 0);
    CHECK_INT(g_of(u, "key_concepts"), 5);          /* "Key Concepts & Core Principles" */
    CHECK_INT(g_of(u, "assessment_guidance"), 4);   /* "Exam Tips & Revision Strategies" */
    CHECK_INT(g_of(u, "common_mistakes"), 4);       /* "Common Misconceptions & Mistakes to Avoid" */
    CHECK_INT(g_of(u, "key_terms"), 0);
    CHECK_INT(g_of(u, "prior_knowledge"), 0);
    /* the same synopsis as 000 (how the importer finds its unit) */
    json_t *r0 = parse_seed("000_e6cfc9a37bc0cea9.txt");
    CHECK(r0 && json_equal(json_object_get(u, "synopsis"), json_object_get(unit0(r0), "synopsis")));
    json_decref(r0);
    json_decref(r);
}

static void test_split_and_code(void)
{
    json_t *a = specimport_split_outcomes("Understand A, B and C, Be able to do D, Know E");
    CHECK_INT(json_array_size(a), 3);
    CHECK_STR(json_string_value(json_array_get(a, 0)), "Understand A, B and C");
    CHECK_STR(json_string_value(json_array_get(a, 1)), "Be able to do D");
    CHECK_STR(json_string_value(json_array_get(a, 2)), "Know E");
    json_decref(a);
    a = specimport_split_outcomes("Understand the law, Data Protection and GDPR");
    CHECK_INT(json_array_size(a), 1); /* a capitalised word that is no outcome verb does not split */
    json_decref(a);
    char *c = specimport_code_for("Pearson BTEC Level 2 Certificate in Retail", "RQF");
    CHECK_STR(c, "PEARSON-BTEC-L2-CERTIFICATE-RETAIL-RQF");
    free(c);
}

static json_t *assign(const char *json)
{
    json_t *u = json_loads(json, 0, NULL);
    specimport_assign_outcomes(u);
    return u;
}

static void test_assignment_rule(void)
{
    /* no content signal at all: spread over the outcomes in order */
    json_t *u = assign("{\"outcomes\":[{\"number\":1,\"text\":\"Know apples\"},{\"number\":2,\"text\":\"Know pears\"}],"
                       "\"criteria\":[{\"text\":\"w\"},{\"text\":\"x\"},{\"text\":\"y\"},{\"text\":\"z\"}]}");
    CHECK_STR(crit(u, 0, "ref"), "1.1");
    CHECK_STR(crit(u, 1, "ref"), "1.2");
    CHECK_STR(crit(u, 2, "ref"), "2.1");
    CHECK_STR(crit(u, 3, "ref"), "2.2");
    CHECK_STR(crit(u, 0, "assigned_by"), "order");
    json_decref(u);
    /* content wins over order; a named outcome wins over content */
    u = assign("{\"outcomes\":[{\"number\":1,\"text\":\"Know apples\"},{\"number\":2,\"text\":\"Know pears\"}],"
               "\"criteria\":[{\"text\":\"Describe pears\"},{\"text\":\"List apples\",\"outcome\":2},"
               "{\"text\":\"Name apples\"}]}");
    CHECK_INT(crit_outcome(u, 0), 2);
    CHECK_STR(crit(u, 0, "assigned_by"), "content");
    CHECK_INT(crit_outcome(u, 1), 2);
    CHECK_STR(crit(u, 1, "assigned_by"), "document");
    CHECK_STR(crit(u, 1, "ref"), "2.2");
    CHECK_INT(crit_outcome(u, 2), 1);
    CHECK_STR(crit(u, 2, "ref"), "1.1");
    json_decref(u);
    /* a ref "2.3" names outcome 2 */
    u = assign("{\"outcomes\":[{\"number\":1,\"text\":\"Know a\"},{\"number\":2,\"text\":\"Know b\"}],"
               "\"criteria\":[{\"text\":\"t\",\"ref\":\"2.3\"}]}");
    CHECK_INT(crit_outcome(u, 0), 2);
    CHECK_STR(crit(u, 0, "ref"), "2.3");
    json_decref(u);
}

/* Parses text and expects a refusal at line with reason containing needle. */
static void expect_error(const char *name, const char *text, size_t len, int line, const char *needle)
{
    specimport_error_t err;
    json_t *r = specimport_parse(name, text, len, &err);
    CHECK(r == NULL);
    json_decref(r);
    CHECK_STR(err.file, name);
    CHECK_INT(err.line, line);
    if (!strstr(err.reason, needle)) {
        fprintf(stderr, "reason \"%s\" lacks \"%s\"\n", err.reason, needle);
        CHECK(0);
    }
}

#define EXPECT(name, text, line, needle) expect_error(name, text, sizeof(text) - 1, line, needle)

static void expect_error(const char *name, const char *text, size_t len, int line, const char *needle);

/* A page that numbers its criteria ("1.2 ...") says where each belongs. */
static void test_numbered_criteria(void)
{
    const char *page = "My unitBody Ltd Revision\nTopic Synopsis\nS.\nMy unit\nBODY LTD\nBody Level 2 Award in Things\n"
                       "Learning Objectives\n- Know apples, Know pears\nAssessment Criteria\n"
                       "- 2.1 Name pears\n- AC 1.1: Name apples\n- Peel pears\n";
    specimport_error_t err;
    json_t *r = specimport_parse("numbered.txt", page, strlen(page), &err);
    CHECK(r != NULL);
    if (!r) {
        fprintf(stderr, "%d: %s\n", err.line, err.reason);
        return;
    }
    json_t *u = unit0(r);
    CHECK_STR(q_field(r, "level"), "2");
    CHECK_STR(crit(u, 0, "ref"), "2.1");
    CHECK_STR(crit(u, 0, "text"), "Name pears");
    CHECK_STR(crit(u, 0, "assigned_by"), "document");
    CHECK_STR(crit(u, 1, "ref"), "1.1");
    CHECK_STR(crit(u, 1, "text"), "Name apples");
    CHECK_INT(crit_outcome(u, 2), 2); /* "pears" */
    CHECK_STR(crit(u, 2, "ref"), "2.2");
    json_decref(r);
    const char *bad = "My unitBody Ltd Revision\nTopic Synopsis\nS.\nMy unit\nBODY LTD\nBody Level 2 Award\n"
                      "Learning Objectives\n- Know apples\nAssessment Criteria\n- 1.1 Name apples\n- 3.1 Name plums\n";
    expect_error("bad-ref.txt", bad, strlen(bad), 11, "names learning outcome 3");
}

static void test_malformed(void)
{
    EXPECT("empty.txt", "", 1, "empty");
    EXPECT("blank.txt", "\n  \n\n", 1, "empty");
    EXPECT("nul.txt", "Topic Synopsis\nabc\0def\n", 2, "NUL");
    EXPECT("latin1.txt", "Topic Synopsis\n\nCaf\xE9 au lait\n", 3, "UTF-8");
    EXPECT("prose.txt", "Dear centre,\nplease find attached.\n", 1, "no known section heading");
    EXPECT("nocriteria.txt", "Topic Synopsis\nA unit.\nKey Concepts & Core Principles\n- One\n", 4,
           "no assessment criteria");
    EXPECT("emptyitem.txt", "Topic Synopsis\nA unit.\nExaminer Marking Points\n- One\n-  \n", 5, "");
    EXPECT("twice.txt",
           "Topic Synopsis\nA unit.\nExaminer Marking Points\n- One\nKey Concepts\n- K\nAssessment Criteria\n"
           "Key criteria\n- Two\n",
           9, "a second 'Assessment Criteria' list: the first began at line 3");
    EXPECT("title.txt", "Some unitSome Body Qualification Revision\nTopic Synopsis\nA unit.\n"
                        "Examiner Marking Points\n- One\n", 1, "title line");
    /* full page without outcomes */
    EXPECT("nolo.txt", "My unitBody Ltd Revision\nTopic Synopsis\nS.\nMy unit\nBODY LTD\nvocational\n"
                       "Assessment criteria\nBody Level 2 Award in Things\nAssessment Criteria\nKey\n- One\n",
           4, "no learning outcomes");
    EXPECT("body.txt", "My unitBody Ltd Revision\nTopic Synopsis\nS.\nMy unit\nOTHER LTD\n", 5,
           "awarding body");
    /* canonical JSON */
    EXPECT("syntax.json", "{\n\"evitrack_spec\": 1,\n\"units\": [\n}", 4, "not valid JSON");
    EXPECT("nover.json", "{\"units\": []}", 1, "evitrack_spec");
    EXPECT("ver.json", "{\"evitrack_spec\": 2, \"units\": []}", 1, "unsupported");
    EXPECT("unknown.json", "{\"evitrack_spec\": 1,\n \"units\": [{\"title\": \"T\",\n  \"outcomes\": [{\"text\": \"O\"}],\n"
                           "  \"criterias\": []}]}", 4, "unknown field \"criterias\"");
    EXPECT("outcome.json", "{\"evitrack_spec\": 1,\n \"units\": [{\"title\": \"T\",\n  \"outcomes\": [{\"text\": \"O\"}],\n"
                           "  \"criteria\": [\n   {\"text\": \"C\",\n    \"outcome\": 7}]}]}", 6, "no outcome numbered 7");
    EXPECT("dupref.json", "{\"evitrack_spec\": 1, \"units\": [{\"title\": \"T\", \"outcomes\": [{\"text\": \"O\"}],\n"
                          "\"criteria\": [{\"ref\": \"1.1\", \"text\": \"a\"},\n{\"ref\": \"1.1\", \"text\": \"b\"}]}]}",
           3, "appears twice");
    EXPECT("notitle.json", "{\"evitrack_spec\": 1, \"units\": [\n{\"outcomes\": [{\"text\": \"O\"}], "
                           "\"criteria\": [{\"text\": \"a\"}]}]}", 2, "missing \"title\"");
    EXPECT("guid.json", "{\"evitrack_spec\": 1, \"units\": [{\"title\": \"T\", \"outcomes\": [{\"text\": \"O\"}],\n"
                        "\"criteria\": [{\"text\": \"a\"}], \"guidance\": {\n\"tips\": []}}]}", 3,
           "unknown field \"tips\"");
}

static void test_canonical_roundtrip(void)
{
    /* Each shipped demo file is exactly the importer's conversion of its seed. */
    const char *names[] = {"000_e6cfc9a37bc0cea9", "001_b904f578e9cb8f48", "002_8dda24bba8e3972f",
                           "004_52cd226400e6468e"};
    for (size_t i = 0; i < 4; i++) {
        char seed[64], path[1024];
        snprintf(seed, sizeof seed, "%s.txt", names[i]);
        json_t *r = parse_seed(seed);
        CHECK(r != NULL);
        if (!r)
            continue;
        snprintf(path, sizeof path, "%s/schema/demo/%s.json", source_dir(), names[i]);
        specimport_error_t err;
        json_t *shipped = specimport_parse_file(path, &err);
        if (!shipped)
            fprintf(stderr, "%s:%d: %s\n", err.file, err.line, err.reason);
        CHECK(shipped != NULL);
        if (shipped) {
            json_t *a = json_deep_copy(json_object_get(r, "spec"));
            json_t *b = json_deep_copy(json_object_get(shipped, "spec"));
            json_object_del(b, "source");
            CHECK(json_equal(a, b));
            CHECK_STR(json_string_value(json_object_get(shipped, "format")), "json");
            json_decref(a);
            json_decref(b);
        }
        /* and the canonical form reads back to itself */
        char *text = json_dumps(json_object_get(r, "spec"), 0);
        json_t *again = specimport_parse("again.json", text, strlen(text), &err);
        CHECK(again && json_equal(json_object_get(again, "spec"), json_object_get(r, "spec")));
        free(text);
        json_decref(again);
        json_decref(shipped);
        json_decref(r);
    }
}

int main(void)
{
    test_seed_000();
    test_seed_001();
    test_seed_002();
    test_seed_004();
    test_split_and_code();
    test_assignment_rule();
    test_numbered_criteria();
    test_malformed();
    test_canonical_roundtrip();
    TEST_DONE();
}
