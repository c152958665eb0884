/* specimport.h: reading qualification specs (revision-page text or canonical JSON) into canonical JSON */
#ifndef EVITRACK_SPECIMPORT_H
#define EVITRACK_SPECIMPORT_H

#include <jansson.h>
#include <stddef.h>

#include "util.h"

/* The version of the canonical format this program writes and reads
 * (the value of the top-level "evitrack_spec" key). */
#define SPECIMPORT_VERSION 1

/* Largest spec document accepted, in bytes. */
#define SPECIMPORT_MAX_BYTES (4 * 1024 * 1024)

/* Limits per unit and document (real units have a few dozen criteria). */
#define SPECIMPORT_MAX_CRITERIA 2000
#define SPECIMPORT_MAX_OUTCOMES 999
#define SPECIMPORT_MAX_UNITS 500

/* Why a document was refused: the file name, the 1-based line the problem is
 * on (0 when it concerns the whole file) and a one-sentence reason. */
typedef struct specimport_error {
    char file[256];
    int line;
    char reason[1024];
} specimport_error_t;

/* Parses one spec document, in either format (a document whose first
 * non-blank character is '{' is canonical JSON; anything else is read as an
 * awarding-body revision page). name is the file name used in messages.
 *
 * On success returns a new object the caller owns:
 *   {"format": "json" | "revision-page" | "revision-page-short" | "unit-page" | "unit-handbook",
 *    "spec": {canonical spec, see docs/spec-format.md},
 *    "warnings": ["line 12: ...", ...]}
 * Criteria of units that have outcomes carry "outcome", "ref" and
 * "assigned_by" (see specimport_assign_outcomes). On failure returns NULL and
 * fills *err (err may not be NULL). */
json_t *specimport_parse(const char *name, const char *data, size_t len, specimport_error_t *err);

/* Reads the file at path and parses it with specimport_parse (the name in
 * messages is the path's last component). NULL and *err on failure. */
json_t *specimport_parse_file(const char *path, specimport_error_t *err);

/* Gives every criterion of a canonical unit object that lacks an "outcome"
 * one, and a "ref" ("n.m") to any that lacks one, by the documented rule:
 *   1. document: a criterion that already names its outcome (or whose ref
 *      starts with an outcome number) keeps it;
 *   2. content: otherwise it goes to the outcome sharing the most distinctive
 *      words with it (weights: log(outcomes / outcomes containing the word);
 *      assessment boilerplate and words found in every outcome weigh nothing),
 *      when one outcome scores strictly highest;
 *   3. order: the rest follow document order: a run of unplaced criteria
 *      between two placed ones is spread, in order, over the outcomes between
 *      those two that have no criterion yet; when there are none it joins
 *      the outcome of the criterion before it (or after it, at the start).
 * Sets "assigned_by" ("document", "content", "order", or keeps "existing")
 * and, for content matches, "matched" (the shared words). Does nothing when
 * the unit has no outcomes. */
void specimport_assign_outcomes(json_t *unit);

/* Splits one learning-outcome bullet into its outcomes: at each ", " followed
 * by a capitalised outcome verb (Understand, Be able to, Know, ...). Returns a
 * new array of strings (caller owns). */
json_t *specimport_split_outcomes(const char *text);

/* A qualification code derived from its title and framework, e.g.
 * "iCQ Level 3 Diploma in Customer Service (RQF)" -> "ICQ-L3-DIPLOMA-CUSTOMER-SERVICE-RQF".
 * Returns a new string (caller frees). */
char *specimport_code_for(const char *title, const char *framework);

/* Text normalised for comparisons: trimmed, runs of white space made one
 * space. Returns a new string (caller frees). */
char *specimport_norm(const char *s);

/* A criterion's text normalised like specimport_norm, except that a line
 * starting with a sub-item marker ("a) ", "(b) ", "iv) ", "• ") stays on a
 * line of its own: "Describe:\na) refunds\nb) replacements". Caller frees. */
char *specimport_norm_items(const char *s);

/* Splits a criterion's text into its lead and sub-items (the lines after the
 * first): a new object {"lead": "...", "items": ["a) refunds", ...]}, items
 * empty when there are none. For pages that show the sub-items as a list. */
json_t *specimport_text_items(const char *text);

/* The 1-based line where the value at path (JSON-pointer style, e.g.
 * "/units/0/criteria/2") starts in valid JSON text; 0 when not found. */
int specimport_json_line(const char *text, size_t len, const char *path);

/* A new copy of a canonical spec with its keys in the documented order
 * (for writing it out: evitrack_spec, source, qualification, units...). */
json_t *specimport_ordered(json_t *spec);

/* A level ("2", "Level 2", "Entry 3", "Entry") as a number for the rules of
 * combination's "at or above level" (Entry = 0); -1 when it names none. */
int specimport_level_number(const char *level);

/* The qualification-shaped spec an apprenticeship standard imports as (the
 * "standard" object of a parsed document, see docs/spec-format.md): the
 * qualification's code is the standard's reference, framework "Apprenticeship
 * standard"; three units K, S and B (kind "knowledge", "skills", "behaviours"),
 * each with one outcome, whose criteria are the KSBs with their codes as refs.
 * Returns a new object the caller owns: {"evitrack_spec", "qualification", "units"}. */
json_t *specimport_standard_units(json_t *standard);

/* The guidance kinds, in display order, ending with NULL. */
extern const char *const specimport_guidance_kinds[];

#endif
