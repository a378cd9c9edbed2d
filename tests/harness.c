/* Test harness: a real shegongd as a child process, and the CLI tools. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* nftw's FTW_DEPTH and FTW_PHYS */
#endif
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SHEGONGD_PATH
#error "SHEGONGD_PATH must be defined by the build"
#endif

extern char **environ;

unsigned long long hs_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
}

void hs_sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

size_t hs_count_lines(const char *s) {
  size_t n = 0;
  if (!s) return 0;
  for (const char *p = s; *p; p++)
    if (*p == '\n') n++;
  size_t len = strlen(s);
  if (len && s[len - 1] != '\n') n++;
  return n;
}

size_t hs_count_substr(const char *s, const char *needle) {
  size_t n = 0, nl = strlen(needle);
  if (!s || nl == 0) return 0;
  for (const char *p = strstr(s, needle); p; p = strstr(p + nl, needle)) n++;
  return n;
}

static int path_join(char *out, size_t len, const char *a, const char *b) {
  int n = snprintf(out, len, "%s/%s", a, b);
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* In a forked child whose exec failed: says why on its stderr, exits 127. */
static void exec_failed(const char *path) __attribute__((noreturn));
static void exec_failed(const char *path) {
  char msg[512];
  int n = snprintf(msg, sizeof msg, "[harness] cannot execute %s: %s\n", path, strerror(errno));
  if (n > 0) {
    ssize_t w = write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    (void)w;
  }
  _exit(127);
}

/* ---- waiting for children --------------------------------------------- */

static int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

/* Waits for pid up to timeout_ms. Returns 1 and *status when reaped, 0 on timeout, -1 on error. */
static int wait_bounded(pid_t pid, int timeout_ms, int *status) {
  unsigned long long deadline = hs_now_ms() + (unsigned long long)timeout_ms;
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return 1;
    if (r < 0 && errno != EINTR) return -1;
    if (hs_now_ms() >= deadline) return 0;
    hs_sleep_ms(5);
  }
}

/* ---- server ------------------------------------------------------------ */

static char *read_file(const char *path, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    if (len + 1 >= cap) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t n = fread(buf + len, 1, cap - len - 1, f);
    if (n == 0) break;
    len += n;
  }
  fclose(f);
  if (buf) buf[len] = '\0';
  if (len_out) *len_out = len;
  return buf;
}

char *hs_server_read_log(const hs_server *s) {
  if (!s->log_path[0]) return NULL;
  return read_file(s->log_path, NULL);
}

void hs_server_print_log(const hs_server *s, size_t lines) {
  size_t len = 0;
  char *log = s->log_path[0] ? read_file(s->log_path, &len) : NULL;
  if (!log) {
    fprintf(stderr, "[harness] no server log at %s\n", s->log_path);
    return;
  }
  const char *start = log + len;
  size_t seen = 0;
  if (start > log && start[-1] == '\n') start--;
  while (start > log) {
    if (start[-1] == '\n' && ++seen == lines) break;
    start--;
  }
  fprintf(stderr, "[harness] ---- last %zu lines of %s ----\n%s%s[harness] ---- end of log ----\n",
          lines, s->log_path, start, len && log[len - 1] != '\n' ? "\n" : "");
  free(log);
}

static char current_token_file[PATH_MAX];

/* Servers this process started: hs_run gives a tool the token of the server it talks to. */
#define HS_SERVERS_MAX 32
static struct {
  char addr[64];
  char token_file[PATH_MAX + 16];
} started[HS_SERVERS_MAX];
static size_t n_started;

static void remember_server(const hs_server *s) {
  size_t i = 0;
  while (i < n_started && strcmp(started[i].addr, s->addr) != 0) i++;
  if (i == HS_SERVERS_MAX) i = n_started = 0; /* a test that starts that many: start over */
  snprintf(started[i].addr, sizeof started[i].addr, "%s", s->addr);
  snprintf(started[i].token_file, sizeof started[i].token_file, "%s", s->token_file);
  if (i == n_started) n_started++;
}

static const char *token_file_for(const char *server) {
  for (size_t i = 0; server && i < n_started; i++)
    if (strcmp(started[i].addr, server) == 0) return started[i].token_file;
  return current_token_file;
}

void hs_use_token_file(const char *path) {
  if (path && path[0]) {
    snprintf(current_token_file, sizeof current_token_file, "%s", path);
    setenv("SHEGONG_TOKEN_FILE", path, 1);
  } else {
    current_token_file[0] = '\0';
    unsetenv("SHEGONG_TOKEN_FILE");
  }
  unsetenv("SHEGONG_TOKEN");
}

static int read_port(const char *path) {
  char *txt = read_file(path, NULL);
  if (!txt) return 0;
  char *end;
  long p = strtol(txt, &end, 10);
  int ok = end != txt && (*end == '\n' || *end == '\0') && p > 0 && p < 65536;
  free(txt);
  return ok ? (int)p : 0;
}

int hs_server_start(hs_server *s, const char *data_dir, const char *const *extra_args) {
  memset(s, 0, sizeof *s);
  snprintf(s->tmp, sizeof s->tmp, "/tmp/shegong-e2e-XXXXXX");
  if (!mkdtemp(s->tmp)) {
    fprintf(stderr, "[harness] mkdtemp: %s\n", strerror(errno));
    s->tmp[0] = '\0';
    return -1;
  }
  if (data_dir) {
    if (snprintf(s->data, sizeof s->data, "%s", data_dir) >= (int)sizeof s->data) return -1;
  } else {
    if (path_join(s->data, sizeof s->data, s->tmp, "data")) return -1;
    if (mkdir(s->data, 0700) != 0) {
      fprintf(stderr, "[harness] mkdir %s: %s\n", s->data, strerror(errno));
      return -1;
    }
    s->owns_data = 1;
  }
  if (path_join(s->port_file, sizeof s->port_file, s->tmp, "port") ||
      path_join(s->log_path, sizeof s->log_path, s->tmp, "server.log"))
    return -1;

  const char *argv[64];
  size_t n = 0;
  argv[n++] = SHEGONGD_PATH;
  argv[n++] = "--data";
  argv[n++] = s->data;
  argv[n++] = "--listen";
  argv[n++] = "127.0.0.1:0";
  argv[n++] = "--port-file";
  argv[n++] = s->port_file;
  argv[n++] = "--log-level";
  argv[n++] = "debug";
  for (size_t i = 0; extra_args && extra_args[i] && n < 63; i++) argv[n++] = extra_args[i];
  argv[n] = NULL;

  int logfd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (logfd < 0) {
    fprintf(stderr, "[harness] open %s: %s\n", s->log_path, strerror(errno));
    return -1;
  }
  int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "[harness] fork: %s\n", strerror(errno));
    close(logfd);
    if (nullfd >= 0) close(nullfd);
    return -1;
  }
  if (pid == 0) {
    if (nullfd >= 0) dup2(nullfd, 0);
    dup2(logfd, 1);
    dup2(logfd, 2);
    execv(argv[0], (char *const *)argv);
    exec_failed(argv[0]);
  }
  close(logfd);
  if (nullfd >= 0) close(nullfd);
  s->pid = pid;

  unsigned long long deadline = hs_now_ms() + HS_START_TIMEOUT_MS;
  for (;;) {
    int port = read_port(s->port_file);
    if (port) {
      s->port = port;
      snprintf(s->addr, sizeof s->addr, "127.0.0.1:%d", port);
      /* the admin token the server wrote at its first start: the library
       * and the tools take it from the environment, as in production */
      if (path_join(s->token_file, sizeof s->token_file, s->data, "admin.token") == 0) {
        hs_use_token_file(s->token_file);
        remember_server(s);
      }
      return 0;
    }
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      s->pid = 0;
      fprintf(stderr, "[harness] shegongd exited with status %d before writing its port\n",
              decode_status(status));
      hs_server_print_log(s, 40);
      return -1;
    }
    if (hs_now_ms() >= deadline) {
      fprintf(stderr, "[harness] shegongd wrote no port file within %d ms\n",
              HS_START_TIMEOUT_MS);
      hs_server_kill9(s);
      hs_server_print_log(s, 40);
      return -1;
    }
    hs_sleep_ms(5);
  }
}

int hs_server_signal(hs_server *s, int sig) {
  if (s->pid <= 0) return -1;
  if (kill(s->pid, sig) != 0) {
    fprintf(stderr, "[harness] kill(%d): %s\n", sig, strerror(errno));
    return -1;
  }
  return 0;
}

int hs_server_wait(hs_server *s, int timeout_ms) {
  if (s->pid <= 0) return -1;
  int status = 0;
  int r = wait_bounded(s->pid, timeout_ms, &status);
  if (r == 1) {
    s->pid = 0;
    return decode_status(status);
  }
  fprintf(stderr, "[harness] shegongd did not exit within %d ms: killing it\n", timeout_ms);
  hs_server_kill9(s);
  return -1;
}

int hs_server_stop(hs_server *s) {
  if (s->pid <= 0) return -1;
  hs_server_signal(s, SIGTERM);
  return hs_server_wait(s, HS_STOP_TIMEOUT_MS);
}

int hs_server_kill9(hs_server *s) {
  if (s->pid <= 0) return -1;
  kill(s->pid, SIGKILL);
  int status;
  int r = wait_bounded(s->pid, HS_STOP_TIMEOUT_MS, &status);
  s->pid = 0;
  return r == 1 ? 0 : -1;
}

int hs_server_alive(hs_server *s) {
  if (s->pid <= 0) return 0;
  int status;
  pid_t r = waitpid(s->pid, &status, WNOHANG);
  if (r == s->pid) {
    fprintf(stderr, "[harness] shegongd exited unexpectedly with status %d\n",
            decode_status(status));
    s->pid = 0;
    return 0;
  }
  return 1;
}

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  int rc = type == FTW_DP ? rmdir(path) : unlink(path);
  if (rc != 0 && errno != ENOENT) fprintf(stderr, "[harness] remove %s: %s\n", path, strerror(errno));
  return 0;
}

int hs_rmtree(const char *path) {
  if (!path || !path[0] || strcmp(path, "/") == 0) return -1;
  return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void hs_server_cleanup(hs_server *s) {
  if (s->pid > 0) hs_server_kill9(s);
  if (s->tmp[0]) hs_rmtree(s->tmp);
  s->tmp[0] = '\0';
}

int hs_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

/* ---- running the tools ------------------------------------------------- */

typedef struct buf {
  char *p;
  size_t len, cap;
} buf;

static int buf_add(buf *b, const char *data, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) return -1;
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = '\0';
  return 0;
}

static char *buf_take(buf *b) {
  if (!b->p) {
    b->p = malloc(1);
    if (b->p) b->p[0] = '\0';
  }
  char *p = b->p;
  b->p = NULL;
  return p;
}

static int starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

int hs_run(const char *const *argv, const char *server, char **out, char **err, int timeout_ms) {
  if (out) *out = NULL;
  if (err) *err = NULL;
  if (timeout_ms <= 0) timeout_ms = HS_RUN_TIMEOUT_MS;

  /* the environment, built before fork */
  size_t n_env = 0;
  while (environ[n_env]) n_env++;
  char **envp = calloc(n_env + 3, sizeof *envp);
  char server_var[128], token_var[PATH_MAX + 32];
  if (!envp) return -1;
  size_t k = 0;
  for (size_t i = 0; i < n_env; i++) {
    if (starts_with(environ[i], "SHEGONG_SERVER=") || starts_with(environ[i], "SHEGONG_TOKEN=") ||
        starts_with(environ[i], "SHEGONG_TOKEN_FILE="))
      continue;
    envp[k++] = environ[i];
  }
  if (server) {
    snprintf(server_var, sizeof server_var, "SHEGONG_SERVER=%s", server);
    envp[k++] = server_var;
  }
  const char *tf = token_file_for(server);
  if (tf[0]) {
    snprintf(token_var, sizeof token_var, "SHEGONG_TOKEN_FILE=%s", tf);
    envp[k++] = token_var;
  }
  envp[k] = NULL;

  int po[2], pe[2];
  if (pipe(po) != 0) {
    free(envp);
    return -1;
  }
  if (pipe(pe) != 0) {
    close(po[0]);
    close(po[1]);
    free(envp);
    return -1;
  }
  for (int i = 0; i < 2; i++) {
    fcntl(po[i], F_SETFD, FD_CLOEXEC);
    fcntl(pe[i], F_SETFD, FD_CLOEXEC);
  }
  int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    close(po[0]);
    close(po[1]);
    close(pe[0]);
    close(pe[1]);
    if (nullfd >= 0) close(nullfd);
    free(envp);
    return -1;
  }
  if (pid == 0) {
    if (nullfd >= 0) dup2(nullfd, 0);
    dup2(po[1], 1);
    dup2(pe[1], 2);
    execve(argv[0], (char *const *)argv, envp);
    exec_failed(argv[0]);
  }
  free(envp);
  if (nullfd >= 0) close(nullfd);
  close(po[1]);
  close(pe[1]);
  fcntl(po[0], F_SETFL, O_NONBLOCK);
  fcntl(pe[0], F_SETFL, O_NONBLOCK);

  buf bo = {0}, be = {0};
  int open_fds = 2, timed_out = 0;
  struct pollfd pf[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
  buf *bufs[2] = {&bo, &be};
  unsigned long long deadline = hs_now_ms() + (unsigned long long)timeout_ms;
  while (open_fds > 0) {
    unsigned long long now = hs_now_ms();
    if (now >= deadline) {
      timed_out = 1;
      break;
    }
    int rc = poll(pf, 2, (int)(deadline - now));
    if (rc < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; i++) {
      if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char tmp[8192];
      ssize_t n = read(pf[i].fd, tmp, sizeof tmp);
      if (n > 0) {
        buf_add(bufs[i], tmp, (size_t)n);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(pf[i].fd);
        pf[i].fd = -1;
        open_fds--;
      }
    }
  }
  for (int i = 0; i < 2; i++)
    if (pf[i].fd >= 0) close(pf[i].fd);

  int status = 0, code = -1;
  if (timed_out) {
    fprintf(stderr, "[harness] %s did not finish within %d ms: killing it\n", argv[0], timeout_ms);
    kill(pid, SIGKILL);
    wait_bounded(pid, 5000, &status);
  } else {
    unsigned long long now = hs_now_ms();
    int left = now < deadline ? (int)(deadline - now) : 0;
    int r = wait_bounded(pid, left > 1000 ? left : 1000, &status);
    if (r == 1) {
      code = decode_status(status);
    } else {
      fprintf(stderr, "[harness] %s closed its output but did not exit: killing it\n", argv[0]);
      kill(pid, SIGKILL);
      wait_bounded(pid, 5000, &status);
    }
  }
  if (out) *out = buf_take(&bo);
  if (err) *err = buf_take(&be);
  free(bo.p);
  free(be.p);
  return code;
}
