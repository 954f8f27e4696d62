/* The C ABI as a C program sees it (compiled and run by ffi/tests/c_abi.rs): result codes and
 * last-error messages, the lifecycle, the buffer protocol, and a real Engine.IO handshake over
 * a socket against the running server, the per-socket calls on a Socket.IO session over
 * polling, and namespaces beside `/` (made and matched) with the cluster-wide calls, which act
 * on this server alone without Redis. Exits non-zero if any check failed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "roomcast.h"

static int failures = 0;

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                          \
    }                                                                      \
  } while (0)

#define S(text) (const uint8_t *)(text), strlen(text)

static void last_error(char *buf, size_t cap) { roomcast_last_error_message((uint8_t *)buf, cap); }

/* One HTTP request to 127.0.0.1:port (`Connection: close`); the whole response into `out`. */
static int http_request(uint16_t port, const char *method, const char *target, const char *body, char *out,
                        size_t cap) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  char request[1024];
  snprintf(request, sizeof request,
           "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: text/plain\r\n"
           "Content-Length: %zu\r\n\r\n%s",
           method, target, strlen(body), body);
  if (write(fd, request, strlen(request)) < 0) {
    close(fd);
    return -1;
  }
  size_t len = 0;
  ssize_t n;
  while (len + 1 < cap && (n = read(fd, out + len, cap - 1 - len)) > 0) len += (size_t)n;
  out[len] = 0;
  close(fd);
  return (int)len;
}

static roomcast_server *the_server = NULL;

/* Accepts every handshake at once, from the engine's thread (allowed: inside the callback). */
static void accept_all(void *userdata, uint64_t request_id, const uint8_t *json, size_t len) {
  (void)userdata;
  (void)json;
  (void)len;
  roomcast_server_auth_accept(the_server, request_id, S("u1"), S("Ada"), S("trader"));
}

/* Copies the quoted value after `key` in `text` into `out`. */
static int value_after(const char *text, const char *key, char *out, size_t cap) {
  const char *at = strstr(text, key);
  if (!at) return -1;
  at += strlen(key);
  size_t n = 0;
  while (at[n] && at[n] != '"' && n + 1 < cap) n++;
  memcpy(out, at, n);
  out[n] = 0;
  return (int)n;
}

/* A Socket.IO session over polling: connect, then per-socket rooms, emits and disconnect. */
static void per_socket_calls(uint16_t port) {
  char response[4096], sid[64], target[256], socket_id[64];
  CHECK(http_request(port, "GET", "/socket.io/?EIO=4&transport=polling", "", response, sizeof response) > 0);
  CHECK(value_after(response, "\"sid\":\"", sid, sizeof sid) == 20);
  snprintf(target, sizeof target, "/socket.io/?EIO=4&transport=polling&sid=%s", sid);
  CHECK(http_request(port, "POST", target, "40{\"sessionID\":\"s1\",\"userId\":\"u1\"}", response, sizeof response) > 0);
  CHECK(http_request(port, "GET", target, "", response, sizeof response) > 0);
  CHECK(value_after(response, "40{\"sid\":\"", socket_id, sizeof socket_id) == 20);

  CHECK(roomcast_server_socket_join(the_server, S(socket_id), S("desk:fx")) == ROOMCAST_RESULT_OK);
  uint32_t count = 0;
  CHECK(roomcast_server_emit_to_room(the_server, S("desk:fx"), S("desk:update"), S("{\"n\":1}"), &count) ==
        ROOMCAST_RESULT_OK);
  CHECK(count == 1);
  CHECK(roomcast_server_socket_emit(the_server, S(socket_id), S("note"), S("\"for you\"")) == ROOMCAST_RESULT_OK);
  CHECK(roomcast_server_socket_emit(the_server, S(socket_id), S("note"), S("{bad")) == ROOMCAST_RESULT_ERR_INVALID_JSON);
  CHECK(http_request(port, "GET", target, "", response, sizeof response) > 0);
  CHECK(strstr(response, "42[\"desk:update\",{\"n\":1}]") != NULL);
  CHECK(strstr(response, "42[\"note\",\"for you\"]") != NULL);

  /* Broadcasts with rooms and excepts. */
  roomcast_bytes desk = {(const uint8_t *)"desk:fx", 7};
  roomcast_bytes self = {(const uint8_t *)socket_id, strlen(socket_id)};
  roomcast_target to_desk = {&desk, 1, NULL, 0, false, NULL, 0};
  roomcast_target desk_but_self = {&desk, 1, &self, 1, false, NULL, 0};
  roomcast_target everyone = {NULL, 0, NULL, 0, false, NULL, 0};
  /* Volatile: sent only when the transport is writable (socket.io's rule); no poll waits now. */
  roomcast_target everyone_volatile = {NULL, 0, NULL, 0, true, NULL, 0};
  CHECK(roomcast_server_broadcast(the_server, &to_desk, S("desk:news"), S("1"), &count) == ROOMCAST_RESULT_OK);
  CHECK(count == 1);
  CHECK(roomcast_server_broadcast(the_server, &desk_but_self, S("desk:news"), S("2"), &count) == ROOMCAST_RESULT_OK);
  CHECK(count == 0);
  CHECK(roomcast_server_broadcast(the_server, &everyone, S("all:news"), S("3"), &count) == ROOMCAST_RESULT_OK);
  CHECK(count == 1);
  CHECK(roomcast_server_broadcast(the_server, &everyone_volatile, S("all:news"), S("4"), &count) == ROOMCAST_RESULT_OK);
  CHECK(count == 0);
  CHECK(roomcast_server_broadcast(the_server, NULL, S("x"), S("1"), &count) == ROOMCAST_RESULT_ERR_NULL_POINTER);
  CHECK(http_request(port, "GET", target, "", response, sizeof response) > 0);
  CHECK(strstr(response, "42[\"desk:news\",1]") != NULL);
  CHECK(strstr(response, "42[\"desk:news\",2]") == NULL);
  CHECK(strstr(response, "42[\"all:news\",3]") != NULL);
  CHECK(strstr(response, "42[\"all:news\",4]") == NULL);

  CHECK(roomcast_server_socket_leave(the_server, S(socket_id), S("desk:fx")) == ROOMCAST_RESULT_OK);
  CHECK(roomcast_server_emit_to_room(the_server, S("desk:fx"), S("desk:update"), S("2"), &count) == ROOMCAST_RESULT_OK);
  CHECK(count == 0);
  CHECK(roomcast_server_socket_disconnect(the_server, S(socket_id), false) == ROOMCAST_RESULT_OK);
  CHECK(http_request(port, "GET", target, "", response, sizeof response) > 0);
  CHECK(strstr(response, "41") != NULL);
  CHECK(roomcast_server_socket_join(the_server, S(socket_id), S("desk:fx")) == ROOMCAST_RESULT_ERR_NOT_FOUND);
  CHECK(roomcast_server_socket_disconnect(the_server, S("nobody"), true) == ROOMCAST_RESULT_ERR_NOT_FOUND);
}

/* What the event callback and the cluster callbacks saw (they run on engine threads). */
static atomic_int connects_in_orders = 0;
static atomic_int answered = 0;
static char answer[2048];
static roomcast_result answer_result;

static void on_event(void *userdata, const roomcast_event *ev) {
  (void)userdata;
  if (ev->kind == ROOMCAST_EVENT_KIND_CONNECT && ev->nsp_len == 7 && memcmp(ev->nsp, "/orders", 7) == 0)
    atomic_fetch_add(&connects_in_orders, 1);
}

static void on_answer(void *userdata, roomcast_result result, const uint8_t *json, size_t len) {
  (void)userdata;
  answer_result = result;
  snprintf(answer, sizeof answer, "%.*s", (int)len, (const char *)json);
  atomic_store(&answered, 1);
}

/* Waits (at most 2 s) for a callback to have run. */
static int wait_for(atomic_int *flag) {
  for (int i = 0; i < 200 && !atomic_load(flag); i++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return atomic_load(flag);
}

static bool desks_only(void *userdata, const uint8_t *nsp, size_t nsp_len, const uint8_t *auth, size_t auth_len) {
  (void)userdata;
  (void)auth;
  (void)auth_len;
  return nsp_len > 6 && memcmp(nsp, "/desk-", 6) == 0;
}

/* Namespaces beside `/`: one made up front, others matched on demand; a socket in one is
 * addressed by id, broadcasts name it, and the cluster-wide calls answer from this server. */
static void namespace_calls(uint16_t port) {
  char response[4096], sid[64], target[256], socket_id[64];
  CHECK(roomcast_server_of(the_server, S("/"), false) == ROOMCAST_RESULT_ERR_INVALID_ARGUMENT);
  CHECK(roomcast_server_of(the_server, S("orders"), false) == ROOMCAST_RESULT_OK);
  CHECK(roomcast_server_set_namespace_matcher(the_server, desks_only, NULL, NULL, false) == ROOMCAST_RESULT_OK);
  CHECK(http_request(port, "GET", "/socket.io/?EIO=4&transport=polling", "", response, sizeof response) > 0);
  CHECK(value_after(response, "\"sid\":\"", sid, sizeof sid) == 20);
  snprintf(target, sizeof target, "/socket.io/?EIO=4&transport=polling&sid=%s", sid);
  CHECK(http_request(port, "POST", target, "40/orders,", response, sizeof response) > 0);
  CHECK(http_request(port, "GET", target, "", response, sizeof response) > 0);
  CHECK(value_after(response, "40/orders,{\"sid\":\"", socket_id, sizeof socket_id) == 20);
  CHECK(wait_for(&connects_in_orders));

  CHECK(roomcast_server_socket_emit(the_server, S(socket_id), S("note"), S("1")) == ROOMCAST_RESULT_OK);
  roomcast_target in_orders = {NULL, 0, NULL, 0, false, (const uint8_t *)"/orders", 7};
  roomcast_target nowhere = {NULL, 0, NULL, 0, false, (const uint8_t *)"/nope", 5};
  uint32_t count = 0;
  CHECK(roomcast_server_broadcast(the_server, &in_orders, S("book"), S("2"), &count) == ROOMCAST_RESULT_OK);
  CHECK(count == 1);
  CHECK(roomcast_server_broadcast(the_server, &nowhere, S("book"), S("2"), &count) == ROOMCAST_RESULT_ERR_NOT_FOUND);
  CHECK(http_request(port, "GET", target, "", response, sizeof response) > 0);
  CHECK(strstr(response, "42/orders,[\"note\",1]") != NULL);
  CHECK(strstr(response, "42/orders,[\"book\",2]") != NULL);

  CHECK(roomcast_server_fetch_sockets(the_server, &in_orders, on_answer, NULL) == ROOMCAST_RESULT_OK);
  CHECK(wait_for(&answered));
  CHECK(answer_result == ROOMCAST_RESULT_OK);
  CHECK(strstr(answer, socket_id) != NULL && strstr(answer, "\"local\":true") != NULL);
  atomic_store(&answered, 0);
  CHECK(roomcast_server_sockets_join(the_server, &in_orders, &(roomcast_bytes){(const uint8_t *)"vip", 3}, 1) ==
        ROOMCAST_RESULT_OK);
  CHECK(roomcast_server_all_rooms(the_server, S("/orders"), on_answer, NULL) == ROOMCAST_RESULT_OK);
  CHECK(wait_for(&answered));
  CHECK(strstr(answer, "\"vip\"") != NULL && strstr(answer, socket_id) != NULL);
  atomic_store(&answered, 0);
  /* No other server: a server-side emit with acks completes at once with no answers. */
  CHECK(roomcast_server_server_side_emit(the_server, S("/orders"), S("ping"), S("[]"), on_answer, NULL) ==
        ROOMCAST_RESULT_OK);
  CHECK(wait_for(&answered));
  CHECK(answer_result == ROOMCAST_RESULT_OK && strcmp(answer, "[]") == 0);
  CHECK(roomcast_server_server_side_emit(the_server, NULL, 0, S("ping"), S("{}"), NULL, NULL) ==
        ROOMCAST_RESULT_ERR_INVALID_JSON);

  /* The matcher creates `/desk-fx` for the client that asks; `/other` stays unknown. */
  CHECK(http_request(port, "POST", target, "40/desk-fx,", response, sizeof response) > 0);
  CHECK(http_request(port, "GET", target, "", response, sizeof response) > 0);
  CHECK(strstr(response, "40/desk-fx,{\"sid\":\"") != NULL);
  CHECK(http_request(port, "POST", target, "40/other,", response, sizeof response) > 0);
  CHECK(http_request(port, "GET", target, "", response, sizeof response) > 0);
  CHECK(strstr(response, "44/other,{\"message\":\"Invalid namespace\"}") != NULL);
  CHECK(roomcast_server_socket_disconnect(the_server, S(socket_id), true) == ROOMCAST_RESULT_OK);
}

int main(void) {
  char message[256];
  CHECK(strlen(roomcast_version()) > 0);

  roomcast_config *config = roomcast_config_new();
  CHECK(config != NULL);
  CHECK(roomcast_config_set_path(config, S("socket.io")) == ROOMCAST_RESULT_ERR_INVALID_ARGUMENT);
  last_error(message, sizeof message);
  CHECK(strcmp(message, "path must start with '/'") == 0);
  CHECK(roomcast_config_set_ping(config, 0, 1000) == ROOMCAST_RESULT_ERR_INVALID_ARGUMENT);
  CHECK(roomcast_config_set_listen(config, S("localhost"), 0) == ROOMCAST_RESULT_ERR_INVALID_ARGUMENT);
  CHECK(roomcast_config_set_listen(config, S("127.0.0.1"), 0) == ROOMCAST_RESULT_OK);
  CHECK(roomcast_config_set_write_coalesce_ms(config, 2) == ROOMCAST_RESULT_OK);
  CHECK(roomcast_config_set_redis_url(config, S("http://x")) == ROOMCAST_RESULT_ERR_INVALID_ARGUMENT);
  CHECK(roomcast_config_set_redis_sharded(config, S("everywhere")) == ROOMCAST_RESULT_ERR_INVALID_ARGUMENT);
  last_error(message, sizeof message);
  CHECK(strstr(message, "unknown subscriptionMode") != NULL);
  CHECK(roomcast_config_set_redis_sharded(config, S("dynamic-private")) == ROOMCAST_RESULT_OK);
  CHECK(roomcast_config_set_redis_sharded(config, NULL, 0) == ROOMCAST_RESULT_OK);
  CHECK(roomcast_config_set_rate_limit(config, S("orders:place"), 5, 0) == ROOMCAST_RESULT_ERR_INVALID_ARGUMENT);
  CHECK(roomcast_config_set_rate_limit(config, S("orders:place"), 5, 1000) == ROOMCAST_RESULT_OK);
  CHECK(roomcast_config_set_per_message_deflate(config, true, 0) == ROOMCAST_RESULT_OK);
  CHECK(roomcast_config_set_http_compression(config, true, 1024) == ROOMCAST_RESULT_OK);
  CHECK(roomcast_config_set_per_message_deflate(NULL, true, 0) == ROOMCAST_RESULT_ERR_NULL_POINTER);

  roomcast_server *server = NULL;
  CHECK(roomcast_server_new(NULL, &server) == ROOMCAST_RESULT_ERR_NULL_POINTER);
  CHECK(roomcast_server_new(config, &server) == ROOMCAST_RESULT_OK);
  roomcast_config_free(config);
  the_server = server;
  CHECK(roomcast_server_set_auth_callback(server, accept_all, NULL, NULL) == ROOMCAST_RESULT_OK);
  CHECK(roomcast_server_set_event_callback(server, on_event, NULL, NULL) == ROOMCAST_RESULT_OK);

  CHECK(roomcast_server_stop(server, 0) == ROOMCAST_RESULT_ERR_NOT_RUNNING);
  uint16_t port = 0;
  CHECK(roomcast_server_start(server, &port) == ROOMCAST_RESULT_OK);
  CHECK(port > 0);
  CHECK(roomcast_server_start(server, NULL) == ROOMCAST_RESULT_ERR_ALREADY_RUNNING);

  char body[2048];
  CHECK(http_request(port, "GET", "/socket.io/?EIO=4&transport=polling", "", body, sizeof body) > 0);
  CHECK(strstr(body, "HTTP/1.1 200") == body);
  CHECK(strstr(body, "0{\"sid\":\"") != NULL);
  CHECK(strstr(body, "\"upgrades\":[\"websocket\"]") != NULL);

  per_socket_calls(port);
  namespace_calls(port);

  uint32_t count = 99;
  CHECK(roomcast_server_emit_to_room(server, S("watchlist:AAPL"), S("quote:update"), S("{oops"), &count) ==
        ROOMCAST_RESULT_ERR_INVALID_JSON);
  CHECK(roomcast_server_emit_to_room(server, S("watchlist:AAPL"), S("quote:update"), S("{\"p\":1}"), &count) ==
        ROOMCAST_RESULT_OK);
  CHECK(count == 0);

  /* The buffer protocol: too small reports the needed length, then the call succeeds. */
  size_t needed = 0;
  uint8_t tiny[4];
  CHECK(roomcast_server_metrics(server, tiny, sizeof tiny, &needed) == ROOMCAST_RESULT_ERR_BUFFER_TOO_SMALL);
  CHECK(needed > sizeof tiny);
  uint8_t *text = malloc(needed);
  size_t len = 0;
  CHECK(roomcast_server_metrics(server, text, needed, &len) == ROOMCAST_RESULT_OK);
  CHECK(len == needed);
  free(text);

  uint8_t health[1024];
  CHECK(roomcast_server_health(server, health, sizeof health, &len) == ROOMCAST_RESULT_OK);
  CHECK(len > 0 && memcmp(health, "{\"status\":", 10) == 0);

  roomcast_stats stats;
  CHECK(roomcast_server_stats(server, &stats) == ROOMCAST_RESULT_OK);
  CHECK(stats.initialized);
  /* Per broadcast size, smallest first, named by static strings. */
  CHECK(strcmp(stats.broadcast_latency[0].recipients, "1") == 0);
  CHECK(strcmp(stats.broadcast_latency[ROOMCAST_BROADCAST_CLASSES - 1].recipients, "10001+") == 0);
  for (size_t i = 0; i < ROOMCAST_BROADCAST_CLASSES; i++) {
    const roomcast_broadcast_latency *c = &stats.broadcast_latency[i];
    CHECK((c->broadcasts == 0) == (c->latency_max_ms == 0.0) && c->latency_p50_ms <= c->latency_max_ms);
  }
  CHECK(roomcast_server_stats(server, NULL) == ROOMCAST_RESULT_ERR_NULL_POINTER);

  uint8_t data[64];
  CHECK(roomcast_server_socket_data(server, S("nobody"), data, sizeof data, &len) == ROOMCAST_RESULT_ERR_NOT_FOUND);
  CHECK(roomcast_server_auth_reject(server, 42) == ROOMCAST_RESULT_ERR_ALREADY_COMPLETED);
  CHECK(roomcast_server_ack(server, 42, S("[]")) == ROOMCAST_RESULT_ERR_ALREADY_COMPLETED);
  CHECK(roomcast_server_ack(server, 42, S("{}")) == ROOMCAST_RESULT_ERR_INVALID_JSON);

  CHECK(roomcast_server_stop(server, 0) == ROOMCAST_RESULT_OK);
  CHECK(roomcast_server_stop(server, 0) == ROOMCAST_RESULT_ERR_NOT_RUNNING);
  roomcast_server_free(server);
  roomcast_server_free(NULL);

  if (failures == 0) printf("c abi: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
