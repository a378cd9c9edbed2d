#include "validate.h"

#include "error.h"

#include <stdarg.h>
#include <stdio.h>

/* ---- reasons ----------------------------------------------------------- */

static int fail(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t whylen, const char *fmt, ...) {
  if (why && whylen > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
  }
  return SG_EINVAL;
}

/* A caller that reuses one buffer must not see the previous field's reason. */
static int ok(char *why, size_t whylen) {
  if (why && whylen > 0) why[0] = '\0';
  return 0;
}

/* ---- small helpers ----------------------------------------------------- */

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Callers have already checked that the n bytes are digits. */
static int digits_value(const char *s, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
  return v;
}

/* strlen that stops looking at limit, so a huge input costs nothing extra. */
static size_t bounded_len(const char *s, size_t limit) {
  size_t n = 0;
  while (n < limit && s[n]) n++;
  return n;
}

static int province_known(int p) {
  return (p >= 11 && p <= 15) || (p >= 21 && p <= 23) || (p >= 31 && p <= 37) ||
         (p >= 41 && p <= 46) || (p >= 50 && p <= 54) || (p >= 61 && p <= 65) || p == 71 ||
         p == 81 || p == 82;
}

/* ---- dates ------------------------------------------------------------- */

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static int real_date(int y, int m, int d) {
  return m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

int sg_validate_date(const char *s, sg_date *out, char *why, size_t whylen) {
  if (!s) return fail(why, whylen, "must be a date YYYY-MM-DD");
  size_t n = bounded_len(s, 11);
  int shape = n == 10 && s[4] == '-' && s[7] == '-';
  for (size_t i = 0; shape && i < 10; i++)
    if (i != 4 && i != 7 && !is_digit(s[i])) shape = 0;
  if (!shape) return fail(why, whylen, "must be a date YYYY-MM-DD");

  sg_date d = {digits_value(s, 4), digits_value(s + 5, 2), digits_value(s + 8, 2)};
  if (d.year < 1900 || d.year > 2199)
    return fail(why, whylen, "year %d is outside 1900-2199", d.year);
  if (d.month < 1 || d.month > 12) return fail(why, whylen, "month %02d is not 01-12", d.month);
  if (!real_date(d.year, d.month, d.day))
    return fail(why, whylen, "%.10s is not a real date", s);
  if (out) *out = d;
  return ok(why, whylen);
}

int sg_date_cmp(const sg_date *a, const sg_date *b) {
  if (a->year != b->year) return a->year < b->year ? -1 : 1;
  if (a->month != b->month) return a->month < b->month ? -1 : 1;
  if (a->day != b->day) return a->day < b->day ? -1 : 1;
  return 0;
}

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar. */
long sg_date_days(const sg_date *d) {
  long y = d->year - (d->month <= 2);
  long era = (y >= 0 ? y : y - 399) / 400;
  long yoe = y - era * 400;
  long mp = (d->month + 9) % 12;
  long doy = (153 * mp + 2) / 5 + d->day - 1;
  long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void sg_date_from_days(long z, sg_date *out) {
  z += 719468;
  long era = (z >= 0 ? z : z - 146096) / 146097;
  long doe = z - era * 146097;
  long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long mp = (5 * doy + 2) / 153;
  out->day = (int)(doy - (153 * mp + 2) / 5 + 1);
  out->month = (int)(mp < 10 ? mp + 3 : mp - 9);
  out->year = (int)(yoe + era * 400 + (out->month <= 2));
}

void sg_date_format(const sg_date *d, char *out, size_t n) {
  snprintf(out, n, "%04d-%02d-%02d", d->year, d->month, d->day);
}

int sg_date_years_between(const sg_date *birth, const sg_date *on) {
  /* Truncate toward zero, so a date before birth gives 0 or a negative age
   * rather than an age that rounds the wrong way. */
  if (sg_date_cmp(on, birth) < 0) return -sg_date_years_between(on, birth);
  int years = on->year - birth->year;
  int bm = birth->month, bd = birth->day;
  /* Someone born on Feb 29 comes of age on Mar 1 in common years, as in
   * Chinese civil practice: the day after Feb 28 is the first day they have
   * lived the full number of years. */
  if (bm == 2 && bd == 29 && !is_leap(on->year)) {
    bm = 3;
    bd = 1;
  }
  if (on->month < bm || (on->month == bm && on->day < bd)) years--;
  return years;
}

/* ---- resident ID ------------------------------------------------------- */

char sg_idno_check_char(const char *first17) {
  static const int weight[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  if (!first17) return '?';
  int sum = 0;
  for (int i = 0; i < 17; i++) {
    /* The NUL terminator is not a digit, so a short string stops here. */
    if (!is_digit(first17[i])) return '?';
    sum += (first17[i] - '0') * weight[i];
  }
  return "10X98765432"[sum % 11];
}

int sg_validate_idno(const char *s, const sg_date *today, char *normalized, sg_date *birth,
                     int *female, char *why, size_t whylen) {
  if (!s || bounded_len(s, 19) != 18) return fail(why, whylen, "must be 18 characters");
  for (int i = 0; i < 17; i++) {
    if (is_digit(s[i])) continue;
    if (s[i] == 'X' || s[i] == 'x')
      return fail(why, whylen, "X may only be the last character, found at position %d", i + 1);
    return fail(why, whylen, "character %d must be a digit", i + 1);
  }
  char last = s[17] == 'x' ? 'X' : s[17];
  if (!is_digit(last) && last != 'X')
    return fail(why, whylen, "last character must be a digit or X");

  int province = digits_value(s, 2);
  if (!province_known(province)) return fail(why, whylen, "unknown province code %02d", province);

  sg_date b = {digits_value(s + 6, 4), digits_value(s + 10, 2), digits_value(s + 12, 2)};
  if (!real_date(b.year, b.month, b.day))
    return fail(why, whylen, "birth date %.8s is not a real date", s + 6);
  if (b.year < 1900) return fail(why, whylen, "birth year %d is before 1900", b.year);
  if (today && sg_date_cmp(&b, today) > 0)
    return fail(why, whylen, "birth date %.8s is in the future", s + 6);

  char want = sg_idno_check_char(s);
  if (last != want) return fail(why, whylen, "check digit should be %c", want);

  if (normalized) {
    for (int i = 0; i < 17; i++) normalized[i] = s[i];
    normalized[17] = last;
    normalized[18] = '\0';
  }
  if (birth) *birth = b;
  if (female) *female = (s[16] - '0') % 2 == 0;
  return ok(why, whylen);
}

/* ---- division codes ---------------------------------------------------- */

/*
 * Prefecture-level cities that have no districts: their code (ending in 00)
 * is also the county-level unit that towns hang from, e.g. 441900003.
 */
static int district_exception(int code) {
  return code == 441900 /* Dongguan */ || code == 442000 /* Zhongshan */ ||
         code == 460400 /* Danzhou */ || code == 620200 /* Jiayuguan */;
}

int sg_validate_division_code(const char *s, size_t digits, char *why, size_t whylen) {
  if (digits != 6 && digits != 9 && digits != 12 && digits != 15)
    return fail(why, whylen, "unsupported division code length %zu", digits);
  if (!s || bounded_len(s, digits + 1) != digits)
    return fail(why, whylen, "must be %zu digits", digits);
  for (size_t i = 0; i < digits; i++)
    if (!is_digit(s[i])) return fail(why, whylen, "must be %zu digits", digits);

  int province = digits_value(s, 2);
  if (!province_known(province)) return fail(why, whylen, "unknown province code %02d", province);
  int district = digits_value(s, 6);
  if (district % 100 == 0 && !district_exception(district))
    return fail(why, whylen, "%06d is a province or prefecture, not a district", district);
  return ok(why, whylen);
}

/* ---- UTF-8 ------------------------------------------------------------- */

/*
 * Decodes one code point at p: returns its byte length, 0 at the
 * terminating NUL, or -1 if the bytes are not shortest-form UTF-8 of a
 * scalar value. A NUL is never a continuation byte, so it never reads past
 * the end of the string.
 */
static int utf8_next(const unsigned char *p, uint32_t *cp) {
  unsigned char c = p[0];
  int n;
  uint32_t v, min;
  if (c < 0x80) {
    *cp = c;
    return c ? 1 : 0;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, v = c & 0x1Fu, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, v = c & 0x0Fu, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, v = c & 0x07u, min = 0x10000;
  } else {
    return -1; /* stray continuation byte, C0/C1 overlong lead, or beyond U+10FFFF */
  }
  for (int i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80) return -1;
    v = (v << 6) | (p[i] & 0x3Fu);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return -1;
  *cp = v;
  return n;
}

static int is_control(uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

static int is_edge_space(uint32_t cp) { return cp == ' ' || cp == 0x3000; }

int sg_validate_name(const char *s, size_t max_chars, char *why, size_t whylen) {
  if (!s || !s[0]) return fail(why, whylen, "must not be empty");
  const unsigned char *p = (const unsigned char *)s;
  size_t count = 0, off = 0;
  uint32_t cp = 0, last = 0;
  int len;
  while ((len = utf8_next(p + off, &cp)) > 0) {
    if (is_control(cp))
      return fail(why, whylen, "control character U+%04X at byte %zu", (unsigned)cp, off);
    if (count == 0 && is_edge_space(cp)) return fail(why, whylen, "must not begin with a space");
    /* Stop early so an enormous input costs no more than max_chars + 1. */
    if (++count > max_chars) return fail(why, whylen, "must be at most %zu characters", max_chars);
    last = cp;
    off += (size_t)len;
  }
  if (len < 0) return fail(why, whylen, "invalid UTF-8 at byte %zu", off);
  if (is_edge_space(last)) return fail(why, whylen, "must not end with a space");
  return ok(why, whylen);
}

int sg_validate_text(const char *s, size_t max_bytes, char *why, size_t whylen) {
  if (!s) return fail(why, whylen, "is missing");
  const unsigned char *p = (const unsigned char *)s;
  size_t off = 0;
  uint32_t cp;
  int len;
  while ((len = utf8_next(p + off, &cp)) > 0) {
    if (off + (size_t)len > max_bytes)
      return fail(why, whylen, "must be at most %zu bytes", max_bytes);
    if (is_control(cp) && cp != '\t')
      return fail(why, whylen, "control character U+%04X at byte %zu", (unsigned)cp, off);
    off += (size_t)len;
  }
  if (len < 0) {
    /* A text cut off by the limit is too long before it is malformed. */
    if (off >= max_bytes) return fail(why, whylen, "must be at most %zu bytes", max_bytes);
    return fail(why, whylen, "invalid UTF-8 at byte %zu", off);
  }
  return ok(why, whylen);
}

long sg_utf8_length(const char *s) {
  if (!s) return -1;
  const unsigned char *p = (const unsigned char *)s;
  long count = 0;
  size_t off = 0;
  uint32_t cp;
  int len;
  while ((len = utf8_next(p + off, &cp)) > 0) {
    off += (size_t)len;
    count++;
  }
  return len < 0 ? -1 : count;
}

/* ---- phone numbers ----------------------------------------------------- */

int sg_validate_phone(const char *s, char *why, size_t whylen) {
  static const char shape[] =
      "must be an 11-digit mobile number or a landline such as 0513-85012345";
  if (!s || !s[0]) return fail(why, whylen, "%s", shape);
  size_t n = bounded_len(s, 21);

  if (s[0] == '1') {
    int all_digits = 1;
    for (size_t i = 0; i < n; i++)
      if (!is_digit(s[i])) all_digits = 0;
    if (n != 11 || !all_digits) return fail(why, whylen, "mobile number must be 11 digits");
    if (s[1] < '3') return fail(why, whylen, "mobile number must start with 13-19");
    return ok(why, whylen);
  }
  if (s[0] != '0') return fail(why, whylen, "%s", shape);

  if (n < 7 || n > 20) return fail(why, whylen, "landline must be 7 to 20 characters");
  size_t dash = 0, ndigits = 0;
  for (size_t i = 0; i < n; i++) {
    if (is_digit(s[i])) {
      ndigits++;
    } else if (s[i] == '-' && !dash) {
      dash = i;
    } else {
      return fail(why, whylen, "landline may hold only digits and one '-'");
    }
  }
  /* Mainland area codes are 3 (010, 02x) or 4 digits. */
  if (dash && (dash < 3 || dash > 4 || dash == n - 1))
    return fail(why, whylen, "'-' must follow a 3- or 4-digit area code");
  if (ndigits < 7) return fail(why, whylen, "landline must have at least 7 digits");
  return ok(why, whylen);
}
