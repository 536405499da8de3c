#ifndef CHTTPSHIMS_H
#define CHTTPSHIMS_H
// Plain functions over OpenSSL and zlib so Swift never sees their macros or opaque structs.
#include <stddef.h>
#include <stdint.h>

// ---- TLS (OpenSSL) ----
// Results of tls_read / tls_write when no bytes moved.
enum { DS_TLS_WANT_READ = -1, DS_TLS_WANT_WRITE = -2, DS_TLS_ERROR = -3, DS_TLS_CLOSED = 0 };

// A server context from PEM files; NULL with a message in errbuf on failure.
void *ds_tls_context_new(const char *cert_path, const char *key_path, char *errbuf, size_t errlen);
void ds_tls_context_free(void *context);
// A server-side session on a connected non-blocking socket; the handshake runs inside the first reads and writes.
void *ds_tls_session_new(void *context, int fd);
void ds_tls_session_free(void *session);
// > 0: bytes moved; DS_TLS_CLOSED: peer closed; otherwise one of the negative codes above.
int ds_tls_read(void *session, uint8_t *buffer, int length);
int ds_tls_write(void *session, const uint8_t *buffer, int length);
// 1 once the handshake has finished, else 0.
int ds_tls_handshake_done(void *session);
// Sends close_notify, best effort (non-blocking).
void ds_tls_shutdown(void *session);

// ---- gzip (zlib) ----
// Compresses input into a malloc'd gzip member; returns 0 on success. Caller frees *output.
int ds_gzip(const uint8_t *input, size_t length, int level, uint8_t **output, size_t *output_length);
// A gzip member written piece by piece (streamed responses). Each write compresses its input and, unless finish is set,
// ends with a sync flush so what was written so far reaches the client now (Server-Sent Events); finish writes the
// trailer. Output is malloc'd (caller frees; may be empty). Returns 0 on success.
void *ds_gzip_stream_new(int level);
int ds_gzip_stream_write(void *stream, const uint8_t *input, size_t length, int finish, uint8_t **output, size_t *output_length);
void ds_gzip_stream_free(void *stream);
// Results of ds_gunzip.
enum { DS_GUNZIP_OK = 0, DS_GUNZIP_TOO_LARGE = 1, DS_GUNZIP_CORRUPT = 2 };
// Decompresses a gzip stream, stopping with DS_GUNZIP_TOO_LARGE as soon as the output would exceed limit
// (so a zip bomb costs at most limit bytes). Caller frees *output on DS_GUNZIP_OK.
int ds_gunzip(const uint8_t *input, size_t length, size_t limit, uint8_t **output, size_t *output_length);

// ---- sockets ----
// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC (Glibc's Swift overlay hides accept4 behind _GNU_SOURCE).
int ds_accept_nonblocking(int fd);
// 1 when the peer has closed or reset the connection (POLLRDHUP, POLLHUP or POLLERR), even with unread bytes waiting;
// 0 while it is open. Never blocks.
int ds_peer_closed(int fd);

// ---- epoll (the connections' event loops) ----
// Interest bits for ds_epoll_set: readable (with peer hang-up), writable.
enum { DS_EPOLL_READ = 1, DS_EPOLL_WRITE = 2 };
// An epoll instance (close-on-exec); -1 with errno on failure.
int ds_epoll_create(void);
// Adds fd (op 0) or changes its interest (op 1), level-triggered, tagged with id; 0, or -1 with errno.
int ds_epoll_set(int epfd, int fd, int op, uint32_t interest, uint64_t id);
// Removes fd; 0, or -1 with errno.
int ds_epoll_remove(int epfd, int fd);
// Waits up to timeout_ms (-1: forever) for at most max events; fills ids and ready (DS_EPOLL_READ | DS_EPOLL_WRITE,
// an error or hang-up counting as both, so the read or write that follows sees it). Returns how many, 0 on timeout or
// EINTR, -1 with errno otherwise.
int ds_epoll_wait(int epfd, uint64_t *ids, uint32_t *ready, int max, int timeout_ms);
// A non-blocking, close-on-exec eventfd (a loop's wake-up); -1 with errno on failure.
int ds_eventfd(void);
// Adds one to the eventfd (wakes its loop) / reads it back to zero.
void ds_eventfd_signal(int fd);
void ds_eventfd_drain(int fd);

#endif
