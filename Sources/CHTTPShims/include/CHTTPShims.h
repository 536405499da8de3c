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

#endif
