/* spectext.h: reading unit text as awarding bodies publish it (unit pages and unit handbook text) into canonical JSON */
#ifndef EVITRACK_SPECTEXT_H
#define EVITRACK_SPECTEXT_H

#include <jansson.h>
#include <stddef.h>

#include "specimport.h"

/* 1 when the text looks like a unit page or unit handbook text (it has a
 * learning-outcome or assessment-criteria heading such as "The learner will:",
 * "Unit Learning Outcomes", or a title line "Unit 201 Title" with numbered
 * outcomes and criteria); 0 otherwise. data is valid UTF-8 without NUL bytes. */
int spectext_detect(const char *data, size_t len);

/* Reads a unit page ("Unit Learning Outcomes", then per outcome an "Assessment
 * Criteria" list of "• 1.1" items) or unit handbook text ("Unit 201 Title",
 * Level, Credit value, GLH, "The learner will:" 1. ..., "The learner can:"
 * 1.1 ...), several units per file allowed, ignoring page furniture (page
 * numbers, repeated running headers, copyright lines) and joining wrapped
 * lines. Lettered or bulleted sub-items of a criterion are kept as lines of
 * its text ("lead\na) one\nb) two"). See docs/spec-format.md.
 *
 * Returns the canonical spec (caller owns), sets *format to "unit-page" or
 * "unit-handbook" and appends notes to warnings; NULL with *err (line and
 * reason, saying what line was expected) when the text cannot be read. */
json_t *spectext_parse(const char *data, size_t len, json_t *warnings, const char **format,
                       specimport_error_t *err);

/* The message for a document that fits no known layout: lists the layouts and
 * what their first lines look like, then what was found (first, a line of the
 * document, may be NULL). Written into err with the given line. */
void spectext_no_layout(specimport_error_t *err, int line, const char *first);

#endif
