/* Clocks and calendar dates. */
#ifndef SG_TIMEUTIL_H
#define SG_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic milliseconds, for deadlines. */
uint64_t sg_now_ms(void);
/* Monotonic microseconds, for latencies. */
uint64_t sg_now_us(void);
/* Writes the current UTC time as RFC 3339 ("2026-11-25T11:07:55Z"); out >= 21. */
void sg_now_rfc3339(char *out, size_t n);
/* Today's date in UTC+8 (China Standard Time) as YYYY-MM-DD; out >= 11. */
void sg_today(char *out, size_t n);
/*
 * Makes sg_today answer `days` later than the calendar (0: the calendar).
 * For drills and tests of things that happen on a date (a transfer's
 * effective day): shegongd --days-ahead N. Timestamps are not affected.
 */
void sg_set_days_ahead(int days);

#endif
