#include "CHTTPShims.h"
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>

// Mozilla's "intermediate" TLS 1.2 list without the finite-field DHE suites.
static const char *const tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

static void copy_error(char *errbuf, size_t errlen, const char *what) {
    unsigned long code = ERR_get_error();
    char reason[256] = "unknown error";
    if (code) ERR_error_string_n(code, reason, sizeof reason);
    snprintf(errbuf, errlen, "%s: %s", what, reason);
}

void *ds_tls_context_new(const char *cert_path, const char *key_path, char *errbuf, size_t errlen) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) { copy_error(errbuf, errlen, "SSL_CTX_new"); return NULL; }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // Partial writes let a non-blocking SSL_write report progress; a moving buffer lets us retry from a new address.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // TLS 1.2: forward-secret AEAD suites only (no static RSA key exchange, no CBC with SHA-1 MACs). TLS 1.3 suites
    // are a separate list and keep OpenSSL's defaults, all of which are AEAD and forward secret.
    if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1) {
        copy_error(errbuf, errlen, "cipher list");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
        copy_error(errbuf, errlen, "certificate");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
        copy_error(errbuf, errlen, "private key");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        copy_error(errbuf, errlen, "key does not match certificate");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

void ds_tls_context_free(void *context) { SSL_CTX_free((SSL_CTX *)context); }

void *ds_tls_session_new(void *context, int fd) {
    SSL *ssl = SSL_new((SSL_CTX *)context);
    if (!ssl) return NULL;
    if (SSL_set_fd(ssl, fd) != 1) { SSL_free(ssl); return NULL; }
    SSL_set_accept_state(ssl);
    return ssl;
}

void ds_tls_session_free(void *session) { SSL_free((SSL *)session); }

static int map_error(SSL *ssl, int ret) {
    switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_WANT_READ: return DS_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return DS_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return DS_TLS_CLOSED;
    default: ERR_clear_error(); return DS_TLS_ERROR;
    }
}

int ds_tls_read(void *session, uint8_t *buffer, int length) {
    SSL *ssl = (SSL *)session;
    int n = SSL_read(ssl, buffer, length);
    return n > 0 ? n : map_error(ssl, n);
}

int ds_tls_write(void *session, const uint8_t *buffer, int length) {
    SSL *ssl = (SSL *)session;
    int n = SSL_write(ssl, buffer, length);
    return n > 0 ? n : map_error(ssl, n);
}

int ds_tls_handshake_done(void *session) { return SSL_is_init_finished((SSL *)session); }

void ds_tls_shutdown(void *session) {
    SSL *ssl = (SSL *)session;
    if (SSL_is_init_finished(ssl)) SSL_shutdown(ssl);
    ERR_clear_error();
}
