/*
 * Validation of the register's fields. Every function takes untrusted input
 * (any bytes, NUL-terminated) and returns 0 or SG_EINVAL; where a `why`
 * buffer is given it receives a short English reason fit for a
 * FieldViolation description ("check digit should be 7").
 */
#ifndef SG_VALIDATE_H
#define SG_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#define SG_WHY_MAX 128

/* A civil date. */
typedef struct sg_date {
  int year, month, day;
} sg_date;

/* "YYYY-MM-DD", a real calendar date between 1900-01-01 and 2199-12-31. */
int sg_validate_date(const char *s, sg_date *out, char *why, size_t whylen);
/* <0, 0, >0 like strcmp. */
int sg_date_cmp(const sg_date *a, const sg_date *b);
/* Whole years from birth to on (age on that day). */
int sg_date_years_between(const sg_date *birth, const sg_date *on);
/* Days since 1970-01-01 (negative before), and back. */
long sg_date_days(const sg_date *d);
void sg_date_from_days(long days, sg_date *out);
/* "YYYY-MM-DD" of d into out (at least 11 bytes). */
void sg_date_format(const sg_date *d, char *out, size_t n);

/*
 * An 18-character resident ID number (GB 11643-1999): 6-digit area code with
 * a known province prefix, 8-digit birth date (a real date, not in the
 * future relative to `today`, which may be NULL to skip that check), 3-digit
 * sequence, and the ISO 7064 MOD 11-2 check character (0-9 or X). A
 * lower-case x is accepted; `normalized` (19 bytes, may be NULL) receives
 * the canonical upper-case form. `birth` (may be NULL) receives the date,
 * `female` (may be NULL) is set from the sequence's parity (even = female).
 */
int sg_validate_idno(const char *s, const sg_date *today, char *normalized, sg_date *birth,
                     int *female, char *why, size_t whylen);
/* The check character for the first 17 digits (which must be digits). */
char sg_idno_check_char(const char *first17);

/*
 * A division code of `digits` digits (6 district, 9 town, 12 community or
 * village, 15 grid). A 6-digit district code must have a known province
 * prefix and must not end in 00 (that is a province or prefecture).
 */
int sg_validate_division_code(const char *s, size_t digits, char *why, size_t whylen);

/*
 * A person's or unit's name: valid UTF-8 (no overlongs, no surrogates), no
 * control characters, no leading or trailing space, 1 to max_chars code
 * points.
 */
int sg_validate_name(const char *s, size_t max_chars, char *why, size_t whylen);

/* Valid UTF-8 of at most max_bytes bytes, no control characters but \t. */
int sg_validate_text(const char *s, size_t max_bytes, char *why, size_t whylen);

/*
 * A phone number: a mainland mobile number (11 digits starting 13-19) or a
 * landline of 7 to 20 characters of digits with one optional '-' after an
 * area code starting with 0 ("0513-85012345").
 */
int sg_validate_phone(const char *s, char *why, size_t whylen);

/* Number of code points in valid UTF-8 s; -1 if s is not valid UTF-8. */
long sg_utf8_length(const char *s);

#endif
