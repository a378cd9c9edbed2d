#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int current_level = SG_LOG_INFO;

void sg_log_set_level(int level) { current_level = level; }
int sg_log_level(void) { return current_level; }

int sg_log_level_from_name(const char *name) {
  static const char *const names[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++)
    if (strcmp(name, names[i]) == 0) return i;
  return -1;
}

void sg_log(int level, const char *fmt, ...) {
  static const char *const tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  if (level < current_level) return;
  if (level < 0 || level > SG_LOG_ERROR) level = SG_LOG_ERROR;
  char line[1024];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int off = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
  off += snprintf(line + off, sizeof line - (size_t)off, ".%03ldZ %-5s ", ts.tv_nsec / 1000000L,
                  tags[level]);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + off, sizeof line - (size_t)off, fmt, ap);
  va_end(ap);
  /* one write per line so that lines from threads do not interleave */
  fprintf(stderr, "%s\n", line);
}
