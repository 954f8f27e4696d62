/*
 * A C host of roomcast: starts the engine, validates session tokens from a table on a separate
 * thread (the auth callback only queues requests; a worker completes them later), and publishes
 * quotes to watchlist rooms. Stops cleanly (server:shutdown, grace, close) on SIGTERM/SIGINT.
 *
 *   usage: c-host [port] [redis-url [subscription-mode]]    prints "listening on <port>" once ready
 *   (with a subscription mode, static|dynamic|dynamic-private, redis-url lists Redis Cluster
 *   nodes, comma-separated, and pub/sub is sharded)
 *
 * With a Redis URL it is a member of a cluster (roomcast and Node socket.io nodes alike): the
 * client events `cluster:fetch`, `cluster:tell` and `cluster:join` run the cluster-wide calls,
 * and a server-side `ping` from another server is answered with {"from":"c-host"}.
 *
 * Sessions: sessionID "tok-alice" belongs to user "alice", "tok-bob" to "bob"; "tok-down"
 * simulates a failing session store; anything else is rejected.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "roomcast.h"

#define S(lit) (const uint8_t *)(lit), strlen(lit)

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

/* ---- the auth queue: callback (engine thread) → worker thread ---- */

typedef struct pending {
  uint64_t id;
  char *request_json;
  struct pending *next;
} pending;

typedef struct {
  roomcast_server *server;
  pthread_mutex_t lock;
  pthread_cond_t ready;
  pending *head;
  int quit;
  atomic_int freed;
} auth_queue;

static void on_auth(void *userdata, uint64_t id, const uint8_t *json, size_t len) {
  auth_queue *q = userdata;
  pending *p = malloc(sizeof *p);
  if (!p) return; /* the engine times the request out */
  p->id = id;
  p->request_json = strndup((const char *)json, len);
  pthread_mutex_lock(&q->lock);
  p->next = q->head;
  q->head = p;
  pthread_cond_signal(&q->ready);
  pthread_mutex_unlock(&q->lock);
}

static void free_auth_queue(void *userdata) {
  auth_queue *q = userdata;
  atomic_store(&q->freed, 1);
}

/* A tiny lookup: find "sessionID":"<value>" in the request JSON. */
static int field(const char *json, const char *key, char *out, size_t cap) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
  const char *start = strstr(json, pattern);
  if (!start) return 0;
  start += strlen(pattern);
  const char *end = strchr(start, '"');
  if (!end || (size_t)(end - start) >= cap) return 0;
  memcpy(out, start, end - start);
  out[end - start] = 0;
  return 1;
}

static void *auth_worker(void *arg) {
  auth_queue *q = arg;
  for (;;) {
    pthread_mutex_lock(&q->lock);
    while (!q->head && !q->quit) pthread_cond_wait(&q->ready, &q->lock);
    if (q->quit && !q->head) {
      pthread_mutex_unlock(&q->lock);
      return NULL;
    }
    pending *p = q->head;
    q->head = p->next;
    pthread_mutex_unlock(&q->lock);

    char sid[128] = {0}, uid[128] = {0};
    field(p->request_json, "sessionID", sid, sizeof sid);
    field(p->request_json, "userId", uid, sizeof uid);
    roomcast_result r;
    if (strcmp(sid, "tok-down") == 0) {
      r = roomcast_server_auth_fail(q->server, p->id, S("session store unavailable"));
    } else if ((strcmp(sid, "tok-alice") == 0 && strcmp(uid, "alice") == 0) ||
               (strcmp(sid, "tok-bob") == 0 && strcmp(uid, "bob") == 0)) {
      r = roomcast_server_auth_accept(q->server, p->id, (const uint8_t *)uid, strlen(uid), S("C user"), S("trader"));
      /* Completing twice is an error code, never a crash. */
      roomcast_result again = roomcast_server_auth_reject(q->server, p->id);
      if (again != ROOMCAST_RESULT_ERR_ALREADY_COMPLETED) fprintf(stderr, "double completion not refused\n");
    } else {
      r = roomcast_server_auth_reject(q->server, p->id);
    }
    if (r != ROOMCAST_RESULT_OK) fprintf(stderr, "auth completion failed: %d\n", (int)r);
    free(p->request_json);
    free(p);
  }
}

/* ---- the handshake hook: refuse requests that carry an `x-deny` header (answered inline;
 * a host may as well answer later from another thread) ---- */

static void on_allow_request(void *userdata, uint64_t id, const uint8_t *json, size_t len) {
  roomcast_server **server = userdata;
  char *request = strndup((const char *)json, len);
  char reason[128] = {0};
  if (request && field(request, "x-deny", reason, sizeof reason)) {
    roomcast_server_request_refuse(*server, id, (const uint8_t *)reason, strlen(reason));
  } else {
    roomcast_server_request_allow(*server, id);
  }
  free(request);
}

/* Answers an ack with the one JSON value that `read` writes for the event's socket. */
typedef roomcast_result (*socket_read_fn)(const roomcast_server *, const uint8_t *, size_t,
                                          uint8_t *, size_t, size_t *);

static void ack_with(roomcast_server *server, const roomcast_event *ev, socket_read_fn read) {
  size_t needed = 0;
  read(server, ev->socket_id, ev->socket_id_len, NULL, 0, &needed);
  char *out = malloc(needed + 2);
  if (!out) return;
  out[0] = '[';
  if (read(server, ev->socket_id, ev->socket_id_len, (uint8_t *)out + 1, needed, &needed) ==
      ROOMCAST_RESULT_OK) {
    out[needed + 1] = ']';
    roomcast_server_ack(server, ev->ack_id, (const uint8_t *)out, needed + 2);
  }
  free(out);
}

/* ---- cluster-wide calls: their answers arrive on an engine thread, later ---- */

typedef struct {
  roomcast_server *server;
  uint64_t ack_id;
} pending_ack;

/* Answers the client's ack with the cluster's JSON answer (or the result code when it failed). */
static void ack_with_answer(void *userdata, roomcast_result result, const uint8_t *json, size_t len) {
  pending_ack *p = userdata;
  char *out = malloc(len + 32);
  if (out) {
    int n = snprintf(out, len + 32, "[[%d,%.*s]]", (int)result, (int)len, (const char *)json);
    roomcast_server_ack(p->server, p->ack_id, (const uint8_t *)out, (size_t)n);
    free(out);
  }
  free(p);
}

static pending_ack *pending_for(roomcast_server *server, const roomcast_event *ev) {
  pending_ack *p = malloc(sizeof *p);
  if (p) *p = (pending_ack){.server = server, .ack_id = ev->ack_id};
  return p;
}

/* `cluster:fetch` → every socket of the cluster; `cluster:tell <event>` → a server-side emit
 * with acks; `cluster:join <room>` → every socket of the cluster joins `room`. The string
 * argument is read from args_json `["<value>"]`. */
static int on_cluster_event(roomcast_server *server, const roomcast_event *ev) {
  char arg[128] = {0};
  if (ev->args_json_len > 4 && ev->args_json_len - 4 < sizeof arg)
    memcpy(arg, ev->args_json + 2, ev->args_json_len - 4);
  roomcast_target everyone = {0};
  if (ev->name_len == 13 && memcmp(ev->name, "cluster:fetch", 13) == 0) {
    pending_ack *p = pending_for(server, ev);
    if (p && roomcast_server_fetch_sockets(server, &everyone, ack_with_answer, p) != ROOMCAST_RESULT_OK) free(p);
    return 1;
  }
  if (ev->name_len == 12 && memcmp(ev->name, "cluster:tell", 12) == 0) {
    pending_ack *p = pending_for(server, ev);
    if (p && roomcast_server_server_side_emit(server, NULL, 0, (const uint8_t *)arg, strlen(arg), S("[1]"), ack_with_answer, p) !=
                 ROOMCAST_RESULT_OK)
      free(p);
    return 1;
  }
  if (ev->name_len == 12 && memcmp(ev->name, "cluster:join", 12) == 0) {
    roomcast_bytes room = {(const uint8_t *)arg, strlen(arg)};
    roomcast_server_sockets_join(server, &everyone, &room, 1);
    roomcast_server_ack(server, ev->ack_id, S("[]"));
    return 1;
  }
  return 0;
}

/* ---- events: `handshake`, `get-data` and `set-data` per socket; other acks echo ---- */

static void on_event(void *userdata, const roomcast_event *ev) {
  roomcast_server **server = userdata;
  if (ev->kind == ROOMCAST_EVENT_KIND_SERVER_SIDE_EVENT) {
    if (ev->ack_id && ev->name_len == 4 && memcmp(ev->name, "ping", 4) == 0)
      roomcast_server_ack(*server, ev->ack_id, S("[{\"from\":\"c-host\"}]"));
    return;
  }
  if (ev->kind != ROOMCAST_EVENT_KIND_CLIENT_EVENT || ev->ack_id == 0) return;
  if (on_cluster_event(*server, ev)) return;
  if (ev->name_len == 6 && memcmp(ev->name, "whoami", 6) == 0) {
    /* The event carries the identity, the namespace and any binary attachments. */
    char out[512];
    int n = snprintf(out, sizeof out,
                     "[{\"userId\":\"%.*s\",\"userName\":\"%.*s\",\"userRole\":\"%.*s\","
                     "\"namespace\":\"%.*s\",\"attachments\":%zu,\"firstLen\":%zu}]",
                     (int)ev->user_id_len, (const char *)ev->user_id, (int)ev->user_name_len,
                     (const char *)ev->user_name, (int)ev->user_role_len, (const char *)ev->user_role,
                     (int)ev->nsp_len, (const char *)ev->nsp, ev->attachments_len,
                     ev->attachments_len ? ev->attachments[0].len : (size_t)0);
    if (n > 0 && (size_t)n < sizeof out) roomcast_server_ack(*server, ev->ack_id, (const uint8_t *)out, (size_t)n);
  } else if (ev->name_len == 9 && memcmp(ev->name, "handshake", 9) == 0) {
    ack_with(*server, ev, roomcast_server_socket_handshake);
  } else if (ev->name_len == 8 && memcmp(ev->name, "get-data", 8) == 0) {
    ack_with(*server, ev, roomcast_server_socket_data);
  } else if (ev->name_len == 8 && memcmp(ev->name, "set-data", 8) == 0 && ev->args_json_len >= 2) {
    /* args_json is `[<value>]`: the value is what lies between the brackets. */
    roomcast_server_set_socket_data(*server, ev->socket_id, ev->socket_id_len, ev->args_json + 1,
                             ev->args_json_len - 2);
    roomcast_server_ack(*server, ev->ack_id, S("[]"));
  } else {
    roomcast_server_ack(*server, ev->ack_id, ev->args_json, ev->args_json_len);
  }
}

int main(int argc, char **argv) {
  uint16_t port = argc > 1 ? (uint16_t)atoi(argv[1]) : 0;
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);

  roomcast_config *config = roomcast_config_new();
  roomcast_config_set_listen(config, S("127.0.0.1"), port);
  roomcast_config_set_ping(config, 1000, 1000);
  roomcast_config_set_auth_timeout(config, 2000);
  /* A client that drops for up to 5 s gets the quotes it missed (at most 1000 packets / 1 MiB). */
  roomcast_config_set_recovery(config, 5000, 1000, 1 << 20);
  /* Misuse is an error code with a message, not a crash. */
  if (roomcast_config_set_listen(config, S("not-an-ip"), 1) != ROOMCAST_RESULT_ERR_INVALID_ARGUMENT) return 2;
  if (argc > 2 && roomcast_config_set_redis_url(config, (const uint8_t *)argv[2], strlen(argv[2])) != ROOMCAST_RESULT_OK)
    return 2;
  /* With a subscription mode, the Redis URLs name a Redis Cluster and pub/sub is sharded. */
  if (argc > 3 && roomcast_config_set_redis_sharded(config, (const uint8_t *)argv[3], strlen(argv[3])) != ROOMCAST_RESULT_OK)
    return 2;

  roomcast_server *server = NULL;
  if (roomcast_server_new(config, &server) != ROOMCAST_RESULT_OK) return 1;
  roomcast_config_free(config);

  auth_queue queue = {.server = server, .head = NULL, .quit = 0};
  atomic_init(&queue.freed, 0);
  pthread_mutex_init(&queue.lock, NULL);
  pthread_cond_init(&queue.ready, NULL);
  pthread_t worker;
  pthread_create(&worker, NULL, auth_worker, &queue);
  roomcast_server_set_auth_callback(server, on_auth, &queue, free_auth_queue);
  roomcast_server_set_event_callback(server, on_event, &server, NULL);
  roomcast_server_set_allow_request_callback(server, on_allow_request, &server, NULL);

  uint16_t bound = 0;
  if (roomcast_server_start(server, &bound) != ROOMCAST_RESULT_OK) {
    char msg[256];
    roomcast_last_error_message((uint8_t *)msg, sizeof msg);
    fprintf(stderr, "start failed: %s\n", msg);
    return 1;
  }
  printf("listening on %u\n", bound);
  fflush(stdout);

  const char *symbols[] = {"AAPL", "MSFT", "TSLA"};
  double prices[] = {185.5, 410.2, 250.0};
  unsigned tick = 0;
  while (!stopping) {
    for (int i = 0; i < 3; i++) {
      char room[64], json[128];
      prices[i] += ((int)((tick * 7 + (unsigned)i) % 5) - 2) * 0.01;
      snprintf(room, sizeof room, "watchlist:%s", symbols[i]);
      snprintf(json, sizeof json, "{\"symbol\":\"%s\",\"quote\":{\"price\":%.2f,\"seq\":%u}}", symbols[i], prices[i], tick);
      roomcast_server_emit_to_room(server, (const uint8_t *)room, strlen(room), S("quote:update"),
                                   (const uint8_t *)json, strlen(json), NULL);
    }
    tick++;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }

  roomcast_stats stats;
  roomcast_server_stats(server, &stats);
  size_t needed = 0;
  roomcast_result small = roomcast_server_metrics(server, NULL, 0, &needed);
  char *metrics = malloc(needed + 1);
  roomcast_server_metrics(server, (uint8_t *)metrics, needed, &needed);
  fprintf(stderr, "stopping: %llu connections, metrics %zu bytes (%s)\n",
          (unsigned long long)stats.total_connections, needed,
          small == ROOMCAST_RESULT_ERR_BUFFER_TOO_SMALL ? "size query ok" : "size query FAILED");
  free(metrics);

  roomcast_server_stop(server, 200);
  roomcast_server_free(server);
  pthread_mutex_lock(&queue.lock);
  queue.quit = 1;
  pthread_cond_signal(&queue.ready);
  pthread_mutex_unlock(&queue.lock);
  pthread_join(worker, NULL);
  printf("stopped (userdata freed: %d)\n", atomic_load(&queue.freed));
  return 0;
}
