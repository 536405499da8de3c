#include "CHTTPShims.h"
#include "CZlib.h"
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int ds_gzip(const uint8_t *input, size_t length, int level, uint8_t **output, size_t *output_length) {
    return ds_deflate(input, length, level, 15 + 16, output, output_length);   // 15 + 16: gzip wrapper
}

void *ds_gzip_stream_new(int level) {
    z_stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (deflateInit2(s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) { free(s); return NULL; }
    return s;
}

int ds_gzip_stream_write(void *stream, const uint8_t *input, size_t length, int finish, uint8_t **output, size_t *output_length) {
    z_stream *s = stream;
    size_t capacity = deflateBound(s, (uLong)length) + 64, produced = 0;
    uint8_t *out = malloc(capacity);
    if (!out) return -1;
    s->next_in = (Bytef *)input;
    s->avail_in = (uInt)length;
    for (;;) {
        if (produced == capacity) {
            uint8_t *bigger = realloc(out, capacity * 2);
            if (!bigger) { free(out); return -1; }
            out = bigger;
            capacity *= 2;
        }
        s->next_out = out + produced;
        s->avail_out = (uInt)(capacity - produced);
        int rc = deflate(s, finish ? Z_FINISH : Z_SYNC_FLUSH);
        produced = capacity - s->avail_out;
        if (rc == Z_STREAM_ERROR) { free(out); return -1; }
        if (finish ? rc == Z_STREAM_END : (s->avail_in == 0 && s->avail_out > 0)) break;
    }
    *output = out;
    *output_length = produced;
    return 0;
}

void ds_gzip_stream_free(void *stream) {
    if (!stream) return;
    deflateEnd(stream);
    free(stream);
}

int ds_gunzip(const uint8_t *input, size_t length, size_t limit, uint8_t **output, size_t *output_length) {
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, 15 + 16) != Z_OK) return DS_GUNZIP_CORRUPT;
    size_t capacity = length * 4 + 64;
    if (capacity > limit + 1) capacity = limit + 1;
    uint8_t *out = malloc(capacity);
    if (!out) { inflateEnd(&s); return DS_GUNZIP_CORRUPT; }
    s.next_in = (Bytef *)input;
    s.avail_in = (uInt)length;
    size_t produced = 0;
    int result = DS_GUNZIP_CORRUPT;
    for (;;) {
        if (produced == capacity) {
            if (capacity > limit) { result = DS_GUNZIP_TOO_LARGE; break; }
            size_t grown = capacity * 2;
            if (grown > limit + 1) grown = limit + 1;  // one byte past the limit is enough to know it is too large
            uint8_t *bigger = realloc(out, grown);
            if (!bigger) break;
            out = bigger;
            capacity = grown;
        }
        s.next_out = out + produced;
        s.avail_out = (uInt)(capacity - produced);
        int rc = inflate(&s, Z_NO_FLUSH);
        produced = capacity - s.avail_out;
        if (produced > limit) { result = DS_GUNZIP_TOO_LARGE; break; }
        if (rc == Z_STREAM_END) {
            // Trailing garbage after the member is refused rather than ignored.
            result = s.avail_in == 0 ? DS_GUNZIP_OK : DS_GUNZIP_CORRUPT;
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) break;
        if (rc == Z_BUF_ERROR && s.avail_in == 0) break;  // truncated stream
    }
    inflateEnd(&s);
    if (result != DS_GUNZIP_OK) { free(out); return result; }
    *output = out;
    *output_length = produced;
    return DS_GUNZIP_OK;
}
