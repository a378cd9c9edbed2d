#include "timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t sg_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sg_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void sg_now_rfc3339(char *out, size_t n) {
  /* the string changes once a second, and every call's authentication asks
   * for it: formatting it each time was 3 % of the server's pipelined reads */
  static __thread time_t cached = (time_t)-1;
  static __thread char text[32];
  time_t t = time(NULL);
  if (t != cached) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cached = t;
  }
  if (n == 0) return;
  size_t len = strlen(text);
  if (len >= n) len = n - 1;
  memcpy(out, text, len);
  out[len] = 0;
}

static int days_ahead;

void sg_set_days_ahead(int days) { days_ahead = days; }

void sg_today(char *out, size_t n) {
  /* The register's dates are Chinese civil dates: China has one time zone. */
  time_t t = time(NULL) + 8 * 3600 + (time_t)days_ahead * 86400;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, n, "%Y-%m-%d", &tm);
}
