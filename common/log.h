/*
 * Logging to stderr, one line per event: time, level, message.
 * Never log an ID number or phone number: log record ids instead.
 */
#ifndef SG_LOG_H
#define SG_LOG_H

enum { SG_LOG_DEBUG = 0, SG_LOG_INFO, SG_LOG_WARN, SG_LOG_ERROR };

void sg_log_set_level(int level);
int sg_log_level(void);
/* "debug", "info", "warn", "error" -> level; -1 if unknown. */
int sg_log_level_from_name(const char *name);
void sg_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sg_debug(...) do { if (sg_log_level() <= SG_LOG_DEBUG) sg_log(SG_LOG_DEBUG, __VA_ARGS__); } while (0)
#define sg_info(...) sg_log(SG_LOG_INFO, __VA_ARGS__)
#define sg_warn(...) sg_log(SG_LOG_WARN, __VA_ARGS__)
#define sg_error(...) sg_log(SG_LOG_ERROR, __VA_ARGS__)

#endif
