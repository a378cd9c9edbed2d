/*
 * A town replica: a local LMDB copy of one town's units and workers that
 * works with no server, and syncs with the district when one is reachable.
 *
 * The copy has the server's own tables, and calls against it run the
 * server's own handlers (server/svc/), so an offline answer is the answer
 * the server would give for the same data, and an offline write is checked
 * by the same rules. A write is applied to the copy and queued in the
 * outbox; sg_replica_sync() pushes the outbox (idempotently, by mutation
 * id), records what the server refused as conflicts, then pulls the town's
 * changes (or a snapshot, when the changelog has been compacted past this
 * copy). Nothing is resolved silently: conflicts wait for the operator.
 *
 * Records created offline get provisional ids (>= SG_REPLICA_LOCAL_ID_BASE)
 * until the sync brings the server's record. Such a record cannot be
 * updated before it has been synced (FAILED_PRECONDITION).
 *
 * Not thread-safe: one sg_replica per thread. Messages returned are malloc'd
 * (free with protobuf_c_message_free_unpacked(msg, NULL)).
 */
#ifndef SG_REPLICA_H
#define SG_REPLICA_H

#include "shegong.h"
#include "shegong/v1/sync.pb-c.h"

#define SG_REPLICA_LOCAL_ID_BASE (UINT64_C(1) << 62)

typedef struct sg_replica sg_replica;

/* Opens (creating if needed) the replica in directory dir. */
int sg_replica_open(sg_replica **out, const char *dir, sg_status *st);
void sg_replica_close(sg_replica *r);

/*
 * Makes an empty replica the copy of `town` from the server c is connected
 * to (server names it, for status): records both, then takes a snapshot.
 * FAILED_PRECONDITION if the replica already has a town.
 */
int sg_replica_init(sg_replica *r, sg_client *c, const char *server, const char *town,
                    sg_status *st);

/*
 * A call answered from the copy, with sg_call()'s contract. Reads of units
 * and workers work as on the server; Units/Create and Workers/Create,
 * Update and Leave are applied locally and queued; other methods are
 * UNIMPLEMENTED offline.
 */
int sg_replica_call(sg_replica *r, const char *method, const ProtobufCMessage *req,
                    ProtobufCMessage **resp, sg_status *st);

/* Push, then pull until current. *report (caller frees) says what happened. */
int sg_replica_sync(sg_replica *r, sg_client *c, Shegong__V1__SyncReport **report,
                    sg_status *st);

int sg_replica_status(sg_replica *r, Shegong__V1__ReplicaStatus **out, sg_status *st);
int sg_replica_outbox(sg_replica *r, Shegong__V1__OutboxList **out, sg_status *st);
int sg_replica_conflicts(sg_replica *r, Shegong__V1__ConflictList **out, sg_status *st);

/*
 * Resolves conflict mutation_id. keep_mine: queue the mutation again, based
 * on the server's current version (a new mutation id), to be pushed at the
 * next sync; otherwise take the server's record (which the copy already
 * holds) and drop the mutation. NOT_FOUND if there is no such conflict;
 * FAILED_PRECONDITION for keep_mine on a conflict that is not about a
 * version (an invalid mutation must be entered again, corrected).
 */
int sg_replica_resolve(sg_replica *r, const char *mutation_id, int keep_mine, sg_status *st);

/* The server address recorded at init ("" if none); static until close. */
const char *sg_replica_server(sg_replica *r);

#endif
