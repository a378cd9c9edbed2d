#include "store/check.h"

#include <stdarg.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "store/changes.h"
#include "store/records.h"
#include "store/units.h"
#include "store/workers.h"
#include "validate.h"

typedef struct checker {
  sg_store *s;
  MDB_txn *txn;
  FILE *out;
  sg_check_stats *st;
  uint64_t expect; /* the next revision the changelog must hold */
  const sg_rec_kind *kind; /* the kind being walked (records and their indexes) */
  int index;               /* which of the kind's indexes */
} checker;

__attribute__((format(printf, 2, 3))) static void problem(checker *k, const char *fmt, ...) {
  k->st->problems++;
  if (!k->out) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("problem: ", k->out);
  vfprintf(k->out, fmt, ap);
  fputc('\n', k->out);
  va_end(ap);
}

static int pair_exists(checker *k, MDB_dbi dbi, uint64_t a, uint64_t b) {
  uint8_t kb[16];
  sg_key_u64(kb, a);
  sg_key_u64(kb + 8, b);
  MDB_val key = {16, kb}, v;
  return mdb_get(k->txn, dbi, &key, &v) == 0;
}

static int id_at(checker *k, MDB_dbi dbi, const void *key, size_t len, uint64_t *id) {
  return sg_index_get_id(k->txn, dbi, key, len, id) == 0;
}

/* Walks a table: fn(k, key, value) for each entry. */
static int walk(checker *k, MDB_dbi dbi, void (*fn)(checker *, MDB_val *, MDB_val *)) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(k->txn, dbi, &cur);
  if (rc) return sg_store_err(rc, "check: open cursor");
  MDB_val key, val;
  for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    fn(k, &key, &val);
  mdb_cursor_close(cur);
  return rc == MDB_NOTFOUND ? 0 : sg_store_err(rc, "check: walk");
}

static void check_unit(checker *k, MDB_val *key, MDB_val *val) {
  k->st->units++;
  uint64_t id = key->mv_size == 8 ? sg_key_get_u64(key->mv_data) : 0;
  sg_unit *u = shegong__v1__unit__unpack(NULL, val->mv_size, val->mv_data);
  if (!u || u->id != id) {
    problem(k, "unit record %llu does not decode or has another id", (unsigned long long)id);
    if (u) shegong__v1__unit__free_unpacked(u, NULL);
    return;
  }
  uint64_t by_code;
  if (!id_at(k, k->s->units_by_code, u->code, strlen(u->code), &by_code) || by_code != id)
    problem(k, "unit %llu: units_by_code[%s] does not point to it", (unsigned long long)id, u->code);
  if (!pair_exists(k, k->s->units_by_parent, u->parent_id, id))
    problem(k, "unit %llu: missing from units_by_parent", (unsigned long long)id);
  sg_unit *parent;
  if (u->parent_id && sg_units_get(k->s, k->txn, u->parent_id, NULL, &parent) != 0)
    problem(k, "unit %llu: parent %llu does not exist", (unsigned long long)id,
            (unsigned long long)u->parent_id);
  else if (u->parent_id)
    shegong__v1__unit__free_unpacked(parent, NULL);
  if (u->revision > k->st->head_revision || u->version == 0)
    problem(k, "unit %llu: revision %llu / version %llu out of range", (unsigned long long)id,
            (unsigned long long)u->revision, (unsigned long long)u->version);
  shegong__v1__unit__free_unpacked(u, NULL);
}

static void check_unit_code(checker *k, MDB_val *key, MDB_val *val) {
  char code[32];
  snprintf(code, sizeof code, "%.*s", (int)(key->mv_size < 31 ? key->mv_size : 31),
           (const char *)key->mv_data);
  sg_unit *u;
  if (val->mv_size != 8 || sg_units_get(k->s, k->txn, sg_key_get_u64(val->mv_data), NULL, &u) != 0) {
    problem(k, "units_by_code[%s] points to no unit", code);
    return;
  }
  if (strcmp(u->code, code) != 0) problem(k, "units_by_code[%s] points to unit %s", code, u->code);
  shegong__v1__unit__free_unpacked(u, NULL);
}

static void check_unit_parent(checker *k, MDB_val *key, MDB_val *val) {
  (void)val;
  if (key->mv_size != 16) {
    problem(k, "units_by_parent has a key of %zu bytes", key->mv_size);
    return;
  }
  uint64_t parent = sg_key_get_u64(key->mv_data), id = sg_key_get_u64((uint8_t *)key->mv_data + 8);
  sg_unit *u;
  if (sg_units_get(k->s, k->txn, id, NULL, &u) != 0) {
    problem(k, "units_by_parent (%llu, %llu): no such unit", (unsigned long long)parent,
            (unsigned long long)id);
    return;
  }
  if (u->parent_id != parent)
    problem(k, "units_by_parent (%llu, %llu): its parent is %llu", (unsigned long long)parent,
            (unsigned long long)id, (unsigned long long)u->parent_id);
  shegong__v1__unit__free_unpacked(u, NULL);
}

static uint64_t town_of_code(checker *k, const char *code) {
  uint64_t id = 0;
  if (!code[0] || !id_at(k, k->s->units_by_code, code, strlen(code), &id)) return 0;
  return id;
}

static void check_worker(checker *k, MDB_val *key, MDB_val *val) {
  k->st->workers++;
  uint64_t id = key->mv_size == 8 ? sg_key_get_u64(key->mv_data) : 0;
  sg_worker *w = shegong__v1__worker__unpack(NULL, val->mv_size, val->mv_data);
  if (!w || w->id != id) {
    problem(k, "worker record %llu does not decode or has another id", (unsigned long long)id);
    if (w) shegong__v1__worker__free_unpacked(w, NULL);
    return;
  }
  uint64_t by_idno;
  if (sg_workers_find_idno(k->s, k->txn, w->id_number, &by_idno) != 0 || by_idno != id)
    problem(k, "worker %llu: the ID-number index does not point to it", (unsigned long long)id);
  if (!pair_exists(k, k->s->workers_by_unit, w->unit_id, id))
    problem(k, "worker %llu: missing from workers_by_unit", (unsigned long long)id);
  uint64_t town = town_of_code(k, w->town_code);
  if (!town) problem(k, "worker %llu: town %s does not exist", (unsigned long long)id, w->town_code);
  else if (!pair_exists(k, k->s->workers_by_town, town, id))
    problem(k, "worker %llu: missing from workers_by_town", (unsigned long long)id);
  sg_unit *u;
  if (sg_units_get(k->s, k->txn, w->unit_id, NULL, &u) != 0)
    problem(k, "worker %llu: unit %llu does not exist", (unsigned long long)id,
            (unsigned long long)w->unit_id);
  else
    shegong__v1__unit__free_unpacked(u, NULL);
  if (w->revision > k->st->head_revision || w->version == 0)
    problem(k, "worker %llu: revision %llu / version %llu out of range", (unsigned long long)id,
            (unsigned long long)w->revision, (unsigned long long)w->version);
  shegong__v1__worker__free_unpacked(w, NULL);
}

/* workers_by_unit and workers_by_town: each pair names a worker with that unit or town. */
static void check_worker_pair(checker *k, MDB_val *key, int by_town) {
  if (key->mv_size != 16) {
    problem(k, "a worker index has a key of %zu bytes", key->mv_size);
    return;
  }
  uint64_t a = sg_key_get_u64(key->mv_data), id = sg_key_get_u64((uint8_t *)key->mv_data + 8);
  sg_worker *w;
  if (sg_workers_get(k->s, k->txn, id, NULL, &w) != 0) {
    problem(k, "%s (%llu, %llu): no such worker", by_town ? "workers_by_town" : "workers_by_unit",
            (unsigned long long)a, (unsigned long long)id);
    return;
  }
  uint64_t want = by_town ? town_of_code(k, w->town_code) : w->unit_id;
  if (want != a)
    problem(k, "%s (%llu, %llu): the worker is in %llu", by_town ? "workers_by_town" : "workers_by_unit",
            (unsigned long long)a, (unsigned long long)id, (unsigned long long)want);
  shegong__v1__worker__free_unpacked(w, NULL);
}

static void check_by_unit(checker *k, MDB_val *key, MDB_val *val) {
  (void)val;
  check_worker_pair(k, key, 0);
}

static void check_by_town(checker *k, MDB_val *key, MDB_val *val) {
  (void)val;
  check_worker_pair(k, key, 1);
}

static void check_idno(checker *k, MDB_val *key, MDB_val *val) {
  (void)key;
  sg_worker *w;
  if (val->mv_size != 8 || sg_workers_get(k->s, k->txn, sg_key_get_u64(val->mv_data), NULL, &w) != 0) {
    problem(k, "an ID-number index entry points to no worker");
    return;
  }
  uint8_t d[SG_IDNO_DIGEST_BYTES];
  sg_store_idno_digest(k->s, w->id_number, d);
  if (key->mv_size != sizeof d || memcmp(d, key->mv_data, sizeof d) != 0)
    problem(k, "worker %llu is indexed under another ID number", (unsigned long long)w->id);
  shegong__v1__worker__free_unpacked(w, NULL);
}

static void check_change(checker *k, MDB_val *key, MDB_val *val) {
  k->st->changes++;
  uint64_t rev = key->mv_size == 8 ? sg_key_get_u64(key->mv_data) : 0;
  if (rev != k->expect)
    problem(k, "changelog: revision %llu follows %llu (a gap or a duplicate)",
            (unsigned long long)rev, (unsigned long long)k->expect - 1);
  k->expect = rev + 1;
  sg_change *c = shegong__v1__change__unpack(NULL, val->mv_size, val->mv_data);
  if (!c || c->revision != rev) {
    problem(k, "change %llu does not decode or has another revision", (unsigned long long)rev);
    if (c) shegong__v1__change__free_unpacked(c, NULL);
    return;
  }
  if (c->record_case == SHEGONG__V1__CHANGE__RECORD__NOT_SET)
    problem(k, "change %llu carries no record", (unsigned long long)rev);
  if (c->n_towns == 0 && !pair_exists(k, k->s->changes_by_town, 0, rev))
    problem(k, "change %llu (district-wide) is missing from changes_by_town", (unsigned long long)rev);
  for (size_t i = 0; i < c->n_towns; i++) {
    uint64_t town = town_of_code(k, c->towns[i]);
    if (!town || !pair_exists(k, k->s->changes_by_town, town, rev))
      problem(k, "change %llu: not indexed for town %s", (unsigned long long)rev, c->towns[i]);
  }
  shegong__v1__change__free_unpacked(c, NULL);
}

static void check_change_index(checker *k, MDB_val *key, MDB_val *val) {
  (void)val;
  if (key->mv_size != 16) {
    problem(k, "changes_by_town has a key of %zu bytes", key->mv_size);
    return;
  }
  uint64_t rev = sg_key_get_u64((uint8_t *)key->mv_data + 8);
  uint8_t kb[8];
  sg_key_u64(kb, rev);
  MDB_val k2 = {8, kb}, v;
  if (mdb_get(k->txn, k->s->changes, &k2, &v) != 0)
    problem(k, "changes_by_town names revision %llu, which is not in the log", (unsigned long long)rev);
}

/* A record of k->kind: decodes, its key is its id, and its indexes name it. */
static void check_record(checker *k, MDB_val *key, MDB_val *val) {
  const sg_rec_kind *kind = k->kind;
  k->st->records++;
  uint64_t id = key->mv_size == 8 ? sg_key_get_u64(key->mv_data) : 0;
  ProtobufCMessage *m = protobuf_c_message_unpack(kind->desc, NULL, val->mv_size, val->mv_data);
  if (!m || sg_rec_key(kind, m) != id) {
    problem(k, "%s record %llu does not decode or has another key", kind->desc->short_name,
            (unsigned long long)id);
    if (m) protobuf_c_message_free_unpacked(m, NULL);
    return;
  }
  for (int i = 0; i < 2 && kind->index[i].field; i++) {
    uint64_t a = sg_msg_u64(m, kind->index[i].field);
    if (!pair_exists(k, sg_rec_dbi(k->s, kind->index[i].dbi), a, id))
      problem(k, "%s %llu: missing from its %s index", kind->desc->short_name,
              (unsigned long long)id, kind->index[i].field);
  }
  uint64_t worker = sg_msg_u64(m, "worker_id");
  sg_worker *w;
  if (worker && sg_workers_get(k->s, k->txn, worker, NULL, &w) != 0)
    problem(k, "%s %llu: worker %llu does not exist", kind->desc->short_name,
            (unsigned long long)id, (unsigned long long)worker);
  else if (worker)
    shegong__v1__worker__free_unpacked(w, NULL);
  if (sg_msg_u64(m, "revision") > k->st->head_revision)
    problem(k, "%s %llu: revision past the head", kind->desc->short_name, (unsigned long long)id);
  protobuf_c_message_free_unpacked(m, NULL);
}

/* An index entry (a, id) of k->kind: the record exists and its field is a. */
static void check_record_index(checker *k, MDB_val *key, MDB_val *val) {
  (void)val;
  const sg_rec_kind *kind = k->kind;
  const char *field = kind->index[k->index].field;
  if (key->mv_size != 16) {
    problem(k, "a %s index has a key of %zu bytes", kind->desc->short_name, key->mv_size);
    return;
  }
  uint64_t a = sg_key_get_u64(key->mv_data), id = sg_key_get_u64((uint8_t *)key->mv_data + 8);
  ProtobufCMessage *m;
  if (sg_rec_get(k->s, k->txn, kind, id, NULL, &m) != 0) {
    problem(k, "%s index (%llu, %llu): no such record", kind->desc->short_name,
            (unsigned long long)a, (unsigned long long)id);
    return;
  }
  if (sg_msg_u64(m, field) != a)
    problem(k, "%s index (%llu, %llu): the record's %s is %llu", kind->desc->short_name,
            (unsigned long long)a, (unsigned long long)id, field,
            (unsigned long long)sg_msg_u64(m, field));
  protobuf_c_message_free_unpacked(m, NULL);
}

/* transfers_due holds exactly the APPROVED transfers, under their effective day. */
static void check_due_entry(checker *k, MDB_val *key, MDB_val *val) {
  (void)val;
  if (key->mv_size != 16) {
    problem(k, "transfers_due has a key of %zu bytes", key->mv_size);
    return;
  }
  uint64_t day = sg_key_get_u64(key->mv_data), id = sg_key_get_u64((uint8_t *)key->mv_data + 8);
  Shegong__V1__Transfer *t;
  if (sg_rec_get(k->s, k->txn, SG_REC_TRANSFER, id, NULL, (ProtobufCMessage **)&t) != 0) {
    problem(k, "transfers_due names transfer %llu, which does not exist", (unsigned long long)id);
    return;
  }
  sg_date d;
  if (t->state != SHEGONG__V1__TRANSFER_STATE__APPROVED ||
      sg_validate_date(t->effective_date, &d, NULL, 0) || (uint64_t)sg_date_days(&d) != day)
    problem(k, "transfers_due: transfer %llu is not APPROVED for that day", (unsigned long long)id);
  protobuf_c_message_free_unpacked(&t->base, NULL);
}

static void check_transfer_due(checker *k, MDB_val *key, MDB_val *val) {
  Shegong__V1__Transfer *t = shegong__v1__transfer__unpack(NULL, val->mv_size, val->mv_data);
  (void)key;
  if (!t) return; /* reported by check_record */
  sg_date d;
  if (t->state == SHEGONG__V1__TRANSFER_STATE__APPROVED &&
      (sg_validate_date(t->effective_date, &d, NULL, 0) ||
       !pair_exists(k, k->s->transfers_due, (uint64_t)sg_date_days(&d), t->id)))
    problem(k, "transfer %llu is APPROVED but not in transfers_due: it would never take effect",
            (unsigned long long)t->id);
  shegong__v1__transfer__free_unpacked(t, NULL);
}

/* Every kind of store/records.h, by its table of kinds. */
static int check_records(checker *k) {
  int rc = 0;
  for (const sg_rec_kind *kind = sg_rec_kinds; kind->desc && !rc; kind++) {
    k->kind = kind;
    rc = walk(k, sg_rec_dbi(k->s, kind->table), check_record);
    for (int i = 0; i < 2 && kind->index[i].field && !rc; i++) {
      k->index = i;
      rc = walk(k, sg_rec_dbi(k->s, kind->index[i].dbi), check_record_index);
    }
  }
  return rc;
}

int sg_store_check(sg_store *s, FILE *report, sg_check_stats *stats) {
  memset(stats, 0, sizeof *stats);
  MDB_txn *txn = NULL;
  int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
  if (rc) return sg_store_err(rc, "check: begin");
  checker k = {s, txn, report, stats};
  if ((rc = sg_store_head_revision(s, txn, &stats->head_revision)) ||
      (rc = sg_changes_compacted(s, txn, &stats->compacted_revision)))
    goto done;
  k.expect = stats->compacted_revision + 1;
  if ((rc = walk(&k, s->units, check_unit)) || (rc = walk(&k, s->units_by_code, check_unit_code)) ||
      (rc = walk(&k, s->units_by_parent, check_unit_parent)) ||
      (rc = walk(&k, s->workers, check_worker)) ||
      (rc = walk(&k, s->workers_by_idno, check_idno)) ||
      (rc = walk(&k, s->workers_by_unit, check_by_unit)) ||
      (rc = walk(&k, s->workers_by_town, check_by_town)) ||
      (rc = walk(&k, s->changes, check_change)) ||
      (rc = walk(&k, s->changes_by_town, check_change_index)) || (rc = check_records(&k)) ||
      (rc = walk(&k, s->transfers_due, check_due_entry)) ||
      (rc = walk(&k, s->transfers, check_transfer_due)))
    goto done;
  /* the log runs to the head: nothing acknowledged is missing from it */
  if (k.expect != stats->head_revision + 1)
    problem(&k, "changelog ends at revision %llu but the head is %llu",
            (unsigned long long)k.expect - 1, (unsigned long long)stats->head_revision);
  MDB_stat ms;
  if (mdb_stat(txn, s->tokens, &ms) == 0) stats->tokens = ms.ms_entries;
  if (mdb_stat(txn, s->audit, &ms) == 0) stats->audit = ms.ms_entries;
done:
  mdb_txn_abort(txn);
  return rc;
}
