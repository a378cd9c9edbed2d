/*
 * Test harness for the end-to-end tests: runs a real shegongd as a child
 * process, and runs the command-line tools with captured output.
 *
 * No shell is involved anywhere: every child is fork()+execve() with an argv.
 * Every wait is bounded, so a hung server or tool fails the test instead of
 * hanging it.
 */
#ifndef SG_TEST_HARNESS_H
#define SG_TEST_HARNESS_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#define HS_START_TIMEOUT_MS 10000
#define HS_STOP_TIMEOUT_MS 10000
#define HS_RUN_TIMEOUT_MS 60000

typedef struct hs_server {
  pid_t pid;                 /* 0 when not running */
  char tmp[PATH_MAX];        /* this server's temp dir: port file, log (and data if owned) */
  char data[PATH_MAX];       /* data directory */
  char port_file[PATH_MAX];
  char log_path[PATH_MAX];
  int owns_data;             /* data lives inside tmp and goes with it */
  int port;
  char addr[64];             /* "127.0.0.1:PORT" */
  char token_file[PATH_MAX + 16]; /* DATA/admin.token, the first admin token */
} hs_server;

/*
 * The token file that calls from this process (through $SHEGONG_TOKEN_FILE,
 * which libshegong reads at connect) and tools run by hs_run use; NULL
 * for none. hs_server_start sets it to the started server's admin token.
 */
void hs_use_token_file(const char *path);

/*
 * Starts shegongd (SHEGONGD_PATH) on 127.0.0.1 with a free port. data_dir
 * NULL makes a fresh one inside a new temp dir; otherwise that directory is
 * used (and not removed by hs_server_cleanup). extra_args (may be NULL) is a
 * NULL-terminated list of further arguments. Waits up to 10 s for the port
 * file. Returns 0, or -1 after printing why (and the log tail).
 */
int hs_server_start(hs_server *s, const char *data_dir, const char *const *extra_args);

/*
 * Sends SIGTERM and waits up to 10 s. Returns the exit status (0-255) when
 * the server exited, 128+signal when a signal ended it, or -1 when it had to
 * be killed with SIGKILL after the timeout (or was not running).
 */
int hs_server_stop(hs_server *s);

/* Sends sig to the server (0 when sent). */
int hs_server_signal(hs_server *s, int sig);

/*
 * Waits up to timeout_ms for the server to exit by itself. Returns its exit
 * status as hs_server_stop does, or -1 (after SIGKILL) on timeout.
 */
int hs_server_wait(hs_server *s, int timeout_ms);

/* SIGKILL and reap. Returns 0 when the process was reaped. */
int hs_server_kill9(hs_server *s);

/* True while the child has not exited (reaps it if it has). */
int hs_server_alive(hs_server *s);

/* Kills the server if it still runs and removes its temp dir recursively. */
void hs_server_cleanup(hs_server *s);

/* Prints the last `lines` lines of the server's log to stderr. */
void hs_server_print_log(const hs_server *s, size_t lines);

/* Reads the whole server log into a malloc'd string (NULL on failure). */
char *hs_server_read_log(const hs_server *s);

/* Removes a directory tree (nftw, depth first, no symlinks followed). */
int hs_rmtree(const char *path);

/* A port on 127.0.0.1 that nothing listens on (bound, then closed). */
int hs_free_port(void);

/*
 * Runs argv[0] with argv, SHEGONG_SERVER=server in its environment (unset
 * when server is NULL; SHEGONG_TOKEN is removed, and SHEGONG_TOKEN_FILE is
 * the one hs_use_token_file chose, or unset), stdin from /dev/null. Collects stdout and stderr into malloc'd
 * NUL-terminated strings (*out, *err may be NULL to discard). Waits at most
 * timeout_ms (0 = HS_RUN_TIMEOUT_MS), then SIGKILLs. Returns the exit code
 * (0-255), 128+signal when killed by a signal, or -1 on timeout or failure.
 */
int hs_run(const char *const *argv, const char *server, char **out, char **err, int timeout_ms);

/* Monotonic milliseconds. */
unsigned long long hs_now_ms(void);

/* Sleeps ms milliseconds. */
void hs_sleep_ms(unsigned ms);

/* The number of lines in s (a last line without '\n' counts). */
size_t hs_count_lines(const char *s);

/* The number of non-overlapping occurrences of needle in s. */
size_t hs_count_substr(const char *s, const char *needle);

#endif
