/* test_specimport.c: the spec parser on each seed revision page, the outcome
 * assignment rule, canonical JSON, the shipped demo JSON, and malformed input */
#include <dirent.h>
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
    EXPECT("prose.txt", "Dear centre,\nplease find attached.\n", 1, "fits none of the layouts");
    EXPECT("prose2.txt", "\n\nDear centre,\nplease find attached.\n", 3, "unit handbook text (a title line 'Unit 201");
    EXPECT("prose3.txt", "Dear centre,\nplease find attached.\n", 1, "Found 'Dear centre,'");
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

/* Parses path and compares its canonical JSON (without "source") with
 * tests/specs/expected/<expected>.json; a second parse of the output gives the same. */
static json_t *expect_tree(const char *path, const char *expected, const char *format)
{
    specimport_error_t err;
    json_t *r = specimport_parse_file(path, &err);
    if (!r) {
        fprintf(stderr, "%s: %s:%d: %s\n", path, err.file, err.line, err.reason);
        CHECK(0);
        return NULL;
    }
    CHECK_STR(json_string_value(json_object_get(r, "format")), format);
    char ep[1024];
    snprintf(ep, sizeof ep, "%s/tests/specs/expected/%s.json", source_dir(), expected);
    json_error_t je;
    json_t *want = json_load_file(ep, 0, &je);
    if (!want)
        fprintf(stderr, "no expected tree %s: %s\n", ep, je.text);
    CHECK(want != NULL);
    json_object_del(want, "source");
    json_t *got = json_object_get(r, "spec");
    json_object_del(got, "source");
    if (want && !json_equal(want, got)) {
        char *t = json_dumps(got, JSON_INDENT(1) | JSON_SORT_KEYS);
        fprintf(stderr, "%s: the tree differs from %s:\n%s\n", path, ep, t);
        free(t);
        CHECK(0);
    }
    char *text = json_dumps(got, 0);
    json_t *again = specimport_parse("again.json", text, strlen(text), &err);
    CHECK(again != NULL);
    if (again)
        CHECK(json_equal(json_object_get(again, "spec"), got));
    json_decref(again);
    free(text);
    json_decref(want);
    return r;
}

/* Every file in ../shared/spec-examples is a test: each imports to its expected tree. */
static void test_spec_examples(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/spec-examples", shared_dir());
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[2048], base[256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(base, sizeof base, "%s", e->d_name);
        char *dot = strrchr(base, '.');
        if (dot)
            *dot = '\0';
        specimport_error_t err;
        json_t *r = specimport_parse_file(path, &err);
        if (!r)
            fprintf(stderr, "%s:%d: %s\n", err.file, err.line, err.reason);
        CHECK(r != NULL);
        char fmt[64];
        snprintf(fmt, sizeof fmt, "%s", r ? json_string_value(json_object_get(r, "format")) : "");
        json_decref(r);
        json_decref(expect_tree(path, base, fmt));
        n++;
    }
    if (d)
        closedir(d);
    CHECK(n >= 1);
}

static void test_unit_page(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/spec-examples/unit_page_per_outcome.txt", shared_dir());
    json_t *r = expect_tree(path, "unit_page_per_outcome", "unit-page");
    json_t *u = unit0(r);
    CHECK_STR(json_string_value(json_object_get(u, "urn")), "X/000/0001");
    CHECK_INT(json_integer_value(json_object_get(u, "credit_value")), 3);
    CHECK_INT(json_integer_value(json_object_get(u, "glh")), 24);
    CHECK_STR(json_string_value(json_object_get(u, "level")), "2");
    CHECK_INT(n_of(u, "outcomes"), 2);
    CHECK_INT(n_of(u, "criteria"), 5);
    CHECK_STR(crit(u, 1, "ref"), "1.2");
    CHECK_STR(crit(u, 1, "text"), "Describe the limits of own authority when handling:\na) refunds\n"
                                  "b) replacements & exchanges\nc) \"goodwill\" gestures.");
    json_t *parts = specimport_text_items(crit(u, 1, "text"));
    CHECK_STR(json_string_value(json_object_get(parts, "lead")), "Describe the limits of own authority when handling:");
    CHECK_INT(json_array_size(json_object_get(parts, "items")), 3);
    json_decref(parts);
    json_decref(r);
}

static void test_unit_handbook(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/specs/unit_handbook.txt", source_dir());
    json_t *r = expect_tree(path, "unit_handbook", "unit-handbook");
    json_t *units = json_object_get(json_object_get(r, "spec"), "units");
    CHECK_INT(json_array_size(units), 2); /* two units, running headers and page numbers ignored */
    json_t *u = json_array_get(units, 0);
    CHECK_STR(json_string_value(json_object_get(u, "number")), "201");
    CHECK_STR(json_string_value(json_object_get(u, "ref")), "201");
    CHECK_INT(n_of(u, "criteria"), 5); /* the Range section's "1.1" is not a criterion */
    CHECK_STR(crit(u, 0, "text"), "Summarise the stages of the organisation's complaints procedure.");
    CHECK(strstr(crit(u, 1, "text"), ":\na) refunds\nb) ") != NULL); /* run together on one line, split */
    CHECK_STR(q_field(r, "qan"), "603/9999/1");
    u = json_array_get(units, 1);
    CHECK_STR(crit(u, 0, "text"), "Describe how a loyalty scheme rewards customers."); /* table row split */
    CHECK_INT(n_of(u, "outcomes"), 2);
    int noted = 0;
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(r, "warnings"), i, w) noted |= strstr(json_string_value(w), "running header") != NULL;
    CHECK(noted);
    json_decref(r);

    snprintf(path, sizeof path, "%s/tests/specs/structure.json", source_dir());
    r = expect_tree(path, "structure", "json");
    json_t *q = json_object_get(json_object_get(r, "spec"), "qualification");
    CHECK_INT(json_array_size(json_object_get(q, "groups")), 2);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(q, "rules"), "min_credits")), 9);
    json_decref(r);

    /* furniture: a page number between a criterion and its continuation, a copyright line */
    static const char page[] = "Unit 7 Things\nLevel 1\nCredit value 2\nLearning outcomes\nThe learner will:\n"
                               "1. Know things\nThe learner can:\n1.1 Name the\n12\nthings.\n\xC2\xA9 Body 2026\n";
    specimport_error_t err;
    r = specimport_parse("page.txt", page, sizeof page - 1, &err);
    CHECK(r != NULL);
    u = unit0(r);
    CHECK_STR(crit(u, 0, "text"), "Name the things.");
    CHECK_INT(json_integer_value(json_object_get(u, "credit_value")), 2);
    CHECK_STR(json_string_value(json_object_get(u, "level")), "1");
    json_decref(r);
}

static void test_unit_errors(void)
{
    EXPECT("nolo.txt", "Unit 201 Things\nThe learner will:\n1. Know a\nThe learner can:\n1.1 Do a\n2.1 Do b\n", 6,
           "no outcome 2: expected a line such as '2. Understand");
    EXPECT("noac.txt", "Unit 201 Things\nLearning outcomes\n1. Know a\n", 3, "no assessment criteria");
    EXPECT("credits.txt", "Unit 201 Things\nCredit value: three\nLearning outcomes\n1. Know a\n1.1 Do\n", 2,
           "expected a whole number");
    EXPECT("twice.txt", "Unit 201 Things\nLearning outcomes\n1. Know a\n1.1 Do a\n1.1 Do b\n", 5, "appears twice");
    EXPECT("dupunit2.txt", "Unit 201 Things\nLearning outcomes\n1. Know a\n1.1 Do a\nUnit 202 Other\nLearning outcomes\n"
                           "1. Know b\n1.1 Do b\nUnit 201 Things again\nLearning outcomes\n1. Know c\n1.1 Do c\n", 9,
           "unit 201 appears twice");
    EXPECT("notitle.txt", "The learner will:\n1. Know a\nThe learner can:\n1.1 Do a\n", 1, "no unit title");
    EXPECT("groups.json", "{\"evitrack_spec\": 1, \"qualification\": {\"title\": \"Q\", \"groups\": [\n"
                          "{\"name\": \"A\", \"units\": [\"1\"]},\n{\"name\": \"B\", \"units\": [\"1\"]}]},\n"
                          "\"units\": [{\"title\": \"T\", \"outcomes\": [{\"text\": \"O\"}], \"criteria\": [{\"text\": \"a\"}]}]}",
           3, "already in group 0");
    EXPECT("rules.json", "{\"evitrack_spec\": 1, \"qualification\": {\"title\": \"Q\", \"rules\": {\n"
                         "\"at_or_above_level\": [{\"level\": 12, \"min_credits\": 3}]}},\n"
                         "\"units\": [{\"title\": \"T\", \"outcomes\": [{\"text\": \"O\"}], \"criteria\": [{\"text\": \"a\"}]}]}",
           2, "level from 0");
    EXPECT("credit.json", "{\"evitrack_spec\": 1, \"units\": [{\"title\": \"T\",\n\"credit_value\": \"3\", "
                          "\"outcomes\": [{\"text\": \"O\"}], \"criteria\": [{\"text\": \"a\"}]}]}",
           2, "whole number");
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
    test_spec_examples();
    test_unit_page();
    test_unit_handbook();
    test_unit_errors();
    TEST_DONE();
}
