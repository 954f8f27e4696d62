/* The C ABI as a C program sees it (compiled and run by ffi/tests/c_abi.rs): result codes and
 * last-error messages, the lifecycle, the buffer protocol, and a real Engine.IO handshake over
 * a socket against the running server. Exits non-zero at the first failed check. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/* GET /socket.io/?EIO=4&transport=polling on 127.0.0.1:port; the body into `out`. */
static int polling_handshake(uint16_t port, char *out, size_t cap) {
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
  const char *request =
      "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
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
  CHECK(roomcast_config_set_redis_url(config, S("http://x")) == ROOMCAST_RESULT_ERR_INVALID_ARGUMENT);
  CHECK(roomcast_config_set_rate_limit(config, S("orders:place"), 5, 0) == ROOMCAST_RESULT_ERR_INVALID_ARGUMENT);
  CHECK(roomcast_config_set_rate_limit(config, S("orders:place"), 5, 1000) == ROOMCAST_RESULT_OK);

  roomcast_server *server = NULL;
  CHECK(roomcast_server_new(NULL, &server) == ROOMCAST_RESULT_ERR_NULL_POINTER);
  CHECK(roomcast_server_new(config, &server) == ROOMCAST_RESULT_OK);
  roomcast_config_free(config);

  CHECK(roomcast_server_stop(server, 0) == ROOMCAST_RESULT_ERR_NOT_RUNNING);
  uint16_t port = 0;
  CHECK(roomcast_server_start(server, &port) == ROOMCAST_RESULT_OK);
  CHECK(port > 0);
  CHECK(roomcast_server_start(server, NULL) == ROOMCAST_RESULT_ERR_ALREADY_RUNNING);

  char body[2048];
  CHECK(polling_handshake(port, body, sizeof body) > 0);
  CHECK(strstr(body, "HTTP/1.1 200") == body);
  CHECK(strstr(body, "0{\"sid\":\"") != NULL);
  CHECK(strstr(body, "\"upgrades\":[\"websocket\"]") != NULL);

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
