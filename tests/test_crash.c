/*
 * Crash safety: cycles of start shegongd, write from several connections
 * at once, kill -9 at a random moment, check the database with
 * `shegongd --check`, restart, and verify that every write whose success
 * answer was received is there and intact.
 *
 * SHEGONG_CRASH_CYCLES sets the number of cycles (default 4, for CI; the
 * long run is e.g. SHEGONG_CRASH_CYCLES=200). SHEGONG_CRASH_SEED fixes the
 * random moments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "shegong.h"
#include "shegong/v1/admin.pb-c.h"
#include "shegong/v1/units.pb-c.h"
#include "shegong/v1/workers.pb-c.h"
#include "validate.h"

#define WRITERS 4
#define DEPTH 16
#define MAX_WORKERS 400000

/* What the writers were told was done: the newest acknowledged state per worker. */
typedef struct acked {
  uint32_t version;  /* 0: not acknowledged */
  char phone[12];
  char idno[19];
} acked;

static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static void idno_for(unsigned cycle, unsigned writer, unsigned k, char out[19]) {
  char first[18];
  /* area 3206cc, a birth date from k, a sequence from the writer: unique per (cycle, writer, k) */
  snprintf(first, sizeof first, "32%02u%02u%04u%02u%02u%03u", 1 + cycle % 99, 1 + writer,
           1970 + k % 30, 1 + k / 30 % 12, 1 + k / 360 % 28, k / 10080 % 1000);
  memcpy(out, first, 17);
  out[17] = sg_idno_check_char(first);
  out[18] = '\0';
}

/*
 * One writer process: creates workers and updates its own, DEPTH calls in
 * flight, and appends a line per success answer to its log: "C id idno" or
 * "U id version phone". It stops when the server goes.
 */
static void writer_main(const char *addr, const char *log_path, unsigned cycle, unsigned w,
                        uint64_t seed) {
  int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  sg_client *c;
  sg_status st;
  if (fd < 0 || sg_client_connect(&c, addr, 5000, &st) != 0) _exit(2);
  struct {
    uint32_t call;
    int update;
    uint64_t id;
    char phone[12];
  } fl[DEPTH];
  int n = 0;
  uint64_t mine[4096];
  uint32_t mine_ver[4096];
  size_t n_mine = 0;
  unsigned k = 0;
  uint64_t s = seed;
  for (;;) {
    while (n < DEPTH) {
      int update = n_mine > 4 && rng_next(&s) % 3 == 0;
      uint32_t call;
      int rc;
      if (update) {
        size_t i = rng_next(&s) % n_mine;
        /* an update may race another in flight for the same worker: that one answers ABORTED */
        Shegong__V1__Worker p = SHEGONG__V1__WORKER__INIT;
        snprintf(fl[n].phone, sizeof fl[n].phone, "139%08u", (unsigned)(rng_next(&s) % 100000000));
        p.phone = fl[n].phone;
        char *mask[] = {"phone"};
        Shegong__V1__UpdateWorkerRequest u = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
        u.id = mine[i];
        u.expected_version = mine_ver[i];
        u.worker = &p;
        u.n_update_mask = 1;
        u.update_mask = mask;
        rc = sg_call_send(c, "Workers/Update", &u.base, 10000, &call, &st);
        fl[n].id = mine[i];
      } else {
        char idno[19], name[32];
        idno_for(cycle, w, k++, idno);
        snprintf(name, sizeof name, "崩溃%u号", k);
        Shegong__V1__Worker wk = SHEGONG__V1__WORKER__INIT;
        wk.name = name;
        wk.id_number = idno;
        wk.unit_code = "320602001001";
        wk.category = SHEGONG__V1__CATEGORY__COMMUNITY_BASED;
        wk.role = SHEGONG__V1__ROLE__GENERALIST;
        wk.hire_date = "2022-07-01";
        Shegong__V1__CreateWorkerRequest r = SHEGONG__V1__CREATE_WORKER_REQUEST__INIT;
        r.worker = &wk;
        rc = sg_call_send(c, "Workers/Create", &r.base, 10000, &call, &st);
      }
      if (rc) _exit(0);
      fl[n].call = call;
      fl[n].update = update;
      n++;
    }
    uint32_t got;
    ProtobufCMessage *resp;
    int rc = sg_call_recv_any(c, &got, &resp, 10000, &st);
    int i = 0;
    while (i < n && fl[i].call != got) i++;
    if (rc == SG_EUNAVAIL || rc == SG_ETIMEDOUT || i == n) _exit(0);
    if (rc == 0) {
      Shegong__V1__Worker *wr = (Shegong__V1__Worker *)resp;
      char line[128];
      int len;
      if (fl[i].update)
        len = snprintf(line, sizeof line, "U %llu %llu %s\n", (unsigned long long)wr->id,
                       (unsigned long long)wr->version, wr->phone);
      else
        len = snprintf(line, sizeof line, "C %llu %llu %s\n", (unsigned long long)wr->id,
                       (unsigned long long)wr->version, wr->id_number);
      /* the answer is in hand: from here on, it must survive */
      if (write(fd, line, (size_t)len) != len) _exit(3);
      size_t m = 0;
      while (m < n_mine && mine[m] != wr->id) m++;
      if (m == n_mine && n_mine < 4096) mine[n_mine++] = wr->id;
      if (m < 4096) mine_ver[m] = (uint32_t)wr->version;
      protobuf_c_message_free_unpacked(resp, NULL);
    }
    fl[i] = fl[--n];
  }
}

static int make_tree(const char *addr) {
  sg_client *c;
  sg_status st;
  if (sg_client_connect(&c, addr, 5000, &st)) return -1;
  static const struct {
    int kind;
    const char *code, *name;
  } units[] = {{SHEGONG__V1__UNIT_KIND__DISTRICT, "320602", "崇川区"},
               {SHEGONG__V1__UNIT_KIND__TOWN, "320602001", "和平桥街道"},
               {SHEGONG__V1__UNIT_KIND__COMMUNITY, "320602001001", "桃坞社区"}};
  for (size_t i = 0; i < 3; i++) {
    Shegong__V1__Unit u = SHEGONG__V1__UNIT__INIT;
    u.kind = units[i].kind;
    u.code = (char *)units[i].code;
    u.name = (char *)units[i].name;
    Shegong__V1__CreateUnitRequest r = SHEGONG__V1__CREATE_UNIT_REQUEST__INIT;
    r.unit = &u;
    ProtobufCMessage *resp;
    if (sg_call(c, "Units/Create", &r.base, &resp, 5000, &st)) return -1;
    protobuf_c_message_free_unpacked(resp, NULL);
  }
  sg_client_close(c);
  return 0;
}

/* Reads a writer's log into the acknowledged states. Returns the lines read. */
static size_t read_log(const char *path, acked *a) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char kind, text[32];
  unsigned long long id, version;
  size_t n = 0;
  while (fscanf(f, " %c %llu %llu %31s", &kind, &id, &version, text) == 4) {
    assert_true(id < MAX_WORKERS);
    n++;
    if (version < a[id].version) continue; /* an older answer, read later */
    a[id].version = (uint32_t)version;
    if (kind == 'C') snprintf(a[id].idno, sizeof a[id].idno, "%.18s", text);
    else snprintf(a[id].phone, sizeof a[id].phone, "%.11s", text);
  }
  fclose(f);
  return n;
}

static void test_kill9_cycles(void **state) {
  (void)state;
  const char *env = getenv("SHEGONG_CRASH_CYCLES");
  unsigned cycles = env && atoi(env) > 0 ? (unsigned)atoi(env) : 4;
  const char *seed_env = getenv("SHEGONG_CRASH_SEED");
  uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : (uint64_t)getpid() * 2654435761u;
  print_message("crash seed %llu (set SHEGONG_CRASH_SEED to repeat)\n", (unsigned long long)seed);

  hs_server srv;
  assert_int_equal(hs_server_start(&srv, NULL, NULL), 0);
  char data[PATH_MAX], first_tmp[sizeof srv.tmp];
  snprintf(data, sizeof data, "%s", srv.data);
  /* the first server's directory holds the data; each restart makes its own, removed once done */
  snprintf(first_tmp, sizeof first_tmp, "%s", srv.tmp);
  assert_int_equal(make_tree(srv.addr), 0);
  acked *a = calloc(MAX_WORKERS, sizeof *a);
  assert_non_null(a);
  size_t total_acks = 0, checked = 0;
  for (unsigned cycle = 0; cycle < cycles; cycle++) {
    if (cycle > 0) assert_int_equal(hs_server_start(&srv, data, NULL), 0);
    char logs[WRITERS][PATH_MAX + 32];
    pid_t kids[WRITERS];
    for (unsigned w = 0; w < WRITERS; w++) {
      snprintf(logs[w], sizeof logs[w], "%s/acks-%u-%u", srv.tmp, cycle, w);
      kids[w] = fork();
      if (kids[w] == 0) writer_main(srv.addr, logs[w], cycle, w, rng_next(&seed));
    }
    /* a random moment: 50 to 800 ms into the writes */
    hs_sleep_ms(50 + (unsigned)(rng_next(&seed) % 750));
    assert_int_equal(hs_server_kill9(&srv), 0);
    for (unsigned w = 0; w < WRITERS; w++) {
      int status;
      waitpid(kids[w], &status, 0);
      assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      total_acks += read_log(logs[w], a);
    }
    if (strcmp(srv.tmp, first_tmp) != 0) hs_server_cleanup(&srv); /* its logs are read */
    /* the database as the crash left it: sound */
    const char *check[] = {SHEGONGD_PATH, "--check", "--data", data, NULL};
    char *out = NULL;
    int code = hs_run(check, NULL, &out, NULL, 0);
    if (code) print_message("cycle %u: --check found problems:\n%s", cycle, out ? out : "");
    assert_int_equal(code, 0);
    free(out);
    /* every acknowledged write, as it was acknowledged (or newer, if a later answer was lost) */
    assert_int_equal(hs_server_start(&srv, data, NULL), 0);
    sg_client *c;
    sg_status st;
    assert_int_equal(sg_client_connect(&c, srv.addr, 5000, &st), 0);
    for (uint64_t id = 1; id < MAX_WORKERS; id++) {
      if (!a[id].version) continue;
      Shegong__V1__GetWorkerRequest g = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
      g.id = id;
      ProtobufCMessage *resp;
      int rc = sg_call(c, "Workers/Get", &g.base, &resp, 10000, &st);
      if (rc) fail_msg("cycle %u: acknowledged worker %llu is gone: %s", cycle,
                       (unsigned long long)id, st.message);
      Shegong__V1__Worker *w = (Shegong__V1__Worker *)resp;
      assert_string_equal(w->id_number, a[id].idno);
      assert_true(w->version >= a[id].version);
      if (w->version == a[id].version && a[id].phone[0]) assert_string_equal(w->phone, a[id].phone);
      protobuf_c_message_free_unpacked(resp, NULL);
      checked++;
    }
    sg_client_close(c);
    assert_int_equal(hs_server_stop(&srv), 0);
    hs_server_cleanup(&srv); /* a restart's directory: the data is in first_tmp */
  }
  print_message("%u crash cycles: %zu acknowledged writes, %zu worker records checked\n",
                cycles, total_acks, checked);
  assert_true(total_acks > 0);
  free(a);
  hs_server_cleanup(&srv);
  hs_rmtree(first_tmp);
}

/* Verifies every acknowledged state in a against the server at addr. Returns the count. */
static size_t verify_acked(const char *addr, const acked *a) {
  sg_client *c;
  sg_status st;
  assert_int_equal(sg_client_connect(&c, addr, 5000, &st), 0);
  size_t n = 0;
  for (uint64_t id = 1; id < MAX_WORKERS; id++) {
    if (!a[id].version) continue;
    Shegong__V1__GetWorkerRequest g = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
    g.id = id;
    ProtobufCMessage *resp;
    if (sg_call(c, "Workers/Get", &g.base, &resp, 10000, &st))
      fail_msg("acknowledged worker %llu is not in the copy: %s", (unsigned long long)id, st.message);
    Shegong__V1__Worker *w = (Shegong__V1__Worker *)resp;
    assert_string_equal(w->id_number, a[id].idno);
    assert_true(w->version >= a[id].version);
    protobuf_c_message_free_unpacked(resp, NULL);
    n++;
  }
  sg_client_close(c);
  return n;
}

/*
 * A hot backup taken while four processes write: the copy passes the
 * integrity check, and a server started on it holds every write
 * acknowledged before the backup began.
 */
static void test_backup_under_load(void **state) {
  (void)state;
  hs_server srv, restored;
  assert_int_equal(hs_server_start(&srv, NULL, NULL), 0);
  assert_int_equal(make_tree(srv.addr), 0);
  char logs[WRITERS][PATH_MAX + 32];
  pid_t kids[WRITERS];
  uint64_t seed = 12345;
  for (unsigned w = 0; w < WRITERS; w++) {
    snprintf(logs[w], sizeof logs[w], "%s/acks-backup-%u", srv.tmp, w);
    kids[w] = fork();
    if (kids[w] == 0) writer_main(srv.addr, logs[w], 90, w, rng_next(&seed));
  }
  hs_sleep_ms(300);
  /* everything acknowledged up to now must be in the copy */
  acked *before = calloc(MAX_WORKERS, sizeof *before);
  size_t n_before = 0;
  for (unsigned w = 0; w < WRITERS; w++) n_before += read_log(logs[w], before);
  char copy[PATH_MAX + 32];
  snprintf(copy, sizeof copy, "%s/backup", srv.tmp);
  assert_int_equal(mkdir(copy, 0700), 0);
  sg_client *c;
  sg_status st;
  assert_int_equal(sg_client_connect(&c, srv.addr, 5000, &st), 0);
  Shegong__V1__BackupRequest req = SHEGONG__V1__BACKUP_REQUEST__INIT;
  req.directory = copy;
  ProtobufCMessage *resp;
  int rc = sg_call(c, "Admin/Backup", &req.base, &resp, 60000, &st);
  if (rc) fail_msg("backup: %s", st.message);
  Shegong__V1__BackupResponse *b = (Shegong__V1__BackupResponse *)resp;
  assert_true(b->bytes > 0);
  assert_true(b->head_revision > 3);
  print_message("backup of %llu bytes at revision %llu in %.3f s, %zu writes acknowledged before it\n",
                (unsigned long long)b->bytes, (unsigned long long)b->head_revision, b->seconds,
                n_before);
  protobuf_c_message_free_unpacked(resp, NULL);
  /* a second backup into the same directory is refused: nothing is overwritten */
  assert_int_equal(sg_call(c, "Admin/Backup", &req.base, &resp, 60000, &st), SG_EINVAL);
  sg_client_close(c);
  hs_sleep_ms(100); /* the writers go on past the backup */
  assert_int_equal(hs_server_stop(&srv), 0);
  for (unsigned w = 0; w < WRITERS; w++) {
    int status;
    waitpid(kids[w], &status, 0);
  }
  const char *check[] = {SHEGONGD_PATH, "--check", "--data", copy, NULL};
  char *out = NULL;
  int code = hs_run(check, NULL, &out, NULL, 0);
  if (code) print_message("%s", out ? out : "");
  assert_int_equal(code, 0);
  free(out);
  /* the admin token is kept apart from backups; bring it along */
  char token_copy[PATH_MAX + 48];
  snprintf(token_copy, sizeof token_copy, "%s/admin.token", copy);
  char secret[160];
  assert_int_equal(sg_read_token_file(srv.token_file, secret, sizeof secret, &st), 0);
  FILE *tf = fopen(token_copy, "w");
  assert_non_null(tf);
  fprintf(tf, "%s\n", secret);
  fclose(tf);
  assert_int_equal(hs_server_start(&restored, copy, NULL), 0);
  assert_true(verify_acked(restored.addr, before) > 0);
  assert_int_equal(hs_server_stop(&restored), 0);
  hs_server_cleanup(&restored);
  free(before);
  hs_server_cleanup(&srv);
}

static int create_one(sg_client *c, unsigned k, sg_status *st) {
  char idno[19], name[32];
  idno_for(77, 9, k, idno);
  snprintf(name, sizeof name, "满盘%u", k);
  Shegong__V1__Worker wk = SHEGONG__V1__WORKER__INIT;
  wk.name = name;
  wk.id_number = idno;
  wk.unit_code = "320602001001";
  wk.category = SHEGONG__V1__CATEGORY__COMMUNITY_BASED;
  wk.role = SHEGONG__V1__ROLE__GENERALIST;
  wk.hire_date = "2022-07-01";
  Shegong__V1__CreateWorkerRequest r = SHEGONG__V1__CREATE_WORKER_REQUEST__INIT;
  r.worker = &wk;
  ProtobufCMessage *resp = NULL;
  int rc = sg_call(c, "Workers/Create", &r.base, &resp, 10000, st);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  return rc;
}

/*
 * A full disk: the data directory on a 3 MiB tmpfs, filled up. Writes fail
 * with RESOURCE_EXHAUSTED, reads go on, writes work again once there is
 * room, and the database is sound. Needs root to mount (skipped otherwise).
 */
static void test_disk_full(void **state) {
  (void)state;
  char mnt[] = "/tmp/shegong-diskfull-XXXXXX";
  assert_non_null(mkdtemp(mnt));
  char data[128], filler[128];
  const char *mount_argv[] = {"/bin/mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt, NULL};
  if (hs_run(mount_argv, NULL, NULL, NULL, 0) != 0) {
    rmdir(mnt);
    print_message("cannot mount a tmpfs here (not root?): skipped\n");
    skip();
  }
  snprintf(data, sizeof data, "%s/db", mnt);
  snprintf(filler, sizeof filler, "%s/filler", mnt);
  hs_server srv;
  const char *args[] = {"--map-size", "64", NULL};
  assert_int_equal(hs_server_start(&srv, data, args), 0);
  assert_int_equal(make_tree(srv.addr), 0);
  sg_client *c;
  sg_status st;
  assert_int_equal(sg_client_connect(&c, srv.addr, 5000, &st), 0);
  unsigned k = 0;
  for (; k < 50; k++) assert_int_equal(create_one(c, k, &st), 0);
  /* take every free byte */
  FILE *f = fopen(filler, "w");
  assert_non_null(f);
  static char block[65536];
  while (fwrite(block, 1, sizeof block, f) == sizeof block) {
  }
  fclose(f);
  int rc = 0;
  for (unsigned tries = 0; tries < 20000 && rc == 0; tries++) rc = create_one(c, k++, &st);
  if (rc != SG_ENOMEM) {
    print_message("disk full answered %s: %s\n", sg_code_name(st.code), st.message);
    hs_server_print_log(&srv, 30);
  }
  assert_int_equal(rc, SG_ENOMEM); /* RESOURCE_EXHAUSTED */
  assert_int_equal(st.code, 8); /* RESOURCE_EXHAUSTED */
  print_message("disk full after %u creates: %s\n", k, st.message);
  /* reads go on */
  Shegong__V1__GetWorkerRequest g = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
  g.id = 1;
  ProtobufCMessage *resp;
  assert_int_equal(sg_call(c, "Workers/Get", &g.base, &resp, 10000, &st), 0);
  protobuf_c_message_free_unpacked(resp, NULL);
  /* room again: writes again */
  assert_int_equal(unlink(filler), 0);
  assert_int_equal(create_one(c, k++, &st), 0);
  sg_client_close(c);
  assert_int_equal(hs_server_stop(&srv), 0);
  const char *check[] = {SHEGONGD_PATH, "--check", "--data", data, NULL};
  assert_int_equal(hs_run(check, NULL, NULL, NULL, 0), 0);
  const char *umount_argv[] = {"/bin/umount", mnt, NULL};
  assert_int_equal(hs_run(umount_argv, NULL, NULL, NULL, 0), 0);
  rmdir(mnt);
  hs_server_cleanup(&srv);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_kill9_cycles),
                                     cmocka_unit_test(test_backup_under_load),
                                     cmocka_unit_test(test_disk_full)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
