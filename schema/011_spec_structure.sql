-- 011_spec_structure.sql: what identifies and structures a qualification (QAN, unit reference
-- numbers, level, credit value, GLH, TQT), its unit groups and rules of combination, and
-- the optional units each learner has chosen.
ALTER TABLE qualifications ADD COLUMN qan TEXT NOT NULL DEFAULT '';
ALTER TABLE qualifications ADD COLUMN glh INTEGER;
ALTER TABLE qualifications ADD COLUMN tqt INTEGER;
ALTER TABLE qualifications ADD COLUMN credit_value INTEGER;
-- rules of combination: minimum credits overall (NULL: the credit value, else every unit)
ALTER TABLE qualifications ADD COLUMN min_credits INTEGER;

ALTER TABLE units ADD COLUMN number TEXT NOT NULL DEFAULT '';   -- the awarding body's unit number (201)
ALTER TABLE units ADD COLUMN urn TEXT NOT NULL DEFAULT '';      -- unit reference number / Ofqual unit code
ALTER TABLE units ADD COLUMN level TEXT NOT NULL DEFAULT '';
ALTER TABLE units ADD COLUMN credit_value INTEGER;
ALTER TABLE units ADD COLUMN glh INTEGER;
ALTER TABLE units ADD COLUMN tqt INTEGER;

-- Mandatory and optional unit groups, in order. Members name units by ref,
-- number or unit reference number, so a group may name a unit loaded later.
CREATE TABLE unit_groups (
    id               INTEGER PRIMARY KEY,
    qualification_id INTEGER NOT NULL REFERENCES qualifications(id),
    position         INTEGER NOT NULL,
    name             TEXT NOT NULL,
    mandatory        INTEGER NOT NULL DEFAULT 0 CHECK (mandatory IN (0, 1)),
    min_credits      INTEGER,
    min_units        INTEGER,
    UNIQUE (qualification_id, position)
);

CREATE TABLE unit_group_members (
    group_id  INTEGER NOT NULL REFERENCES unit_groups(id),
    position  INTEGER NOT NULL,
    unit_ref  TEXT NOT NULL,
    PRIMARY KEY (group_id, position)
);

-- "at least N credits at or above level L"
CREATE TABLE qualification_level_rules (
    id               INTEGER PRIMARY KEY,
    qualification_id INTEGER NOT NULL REFERENCES qualifications(id),
    level            INTEGER NOT NULL,
    min_credits      INTEGER NOT NULL,
    UNIQUE (qualification_id, level)
);

-- The optional units a learner has chosen for an enrolment (mandatory units need no row).
CREATE TABLE enrolment_units (
    enrolment_id INTEGER NOT NULL REFERENCES enrolments(id),
    unit_id      INTEGER NOT NULL REFERENCES units(id),
    chosen_by    INTEGER REFERENCES users(id),
    chosen_at    TEXT NOT NULL,
    PRIMARY KEY (enrolment_id, unit_id)
);
CREATE INDEX enrolment_units_unit ON enrolment_units(unit_id);
