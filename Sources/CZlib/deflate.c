#include "CZlib.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int ds_deflate(const uint8_t *input, size_t length, int level, int window_bits, uint8_t **output, size_t *output_length) {
    z_stream s;
    memset(&s, 0, sizeof s);
    if (deflateInit2(&s, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    // deflateBound covers the zlib wrapper; the gzip one is a few bytes longer.
    const size_t capacity = deflateBound(&s, (uLong)length) + 32;
    uint8_t *out = malloc(capacity);
    if (!out) { deflateEnd(&s); return -1; }
    s.next_in = (Bytef *)input;
    s.avail_in = (uInt)length;
    s.next_out = out;
    s.avail_out = (uInt)capacity;
    const int rc = deflate(&s, Z_FINISH);
    deflateEnd(&s);
    if (rc != Z_STREAM_END) { free(out); return -1; }
    *output = out;
    *output_length = capacity - s.avail_out;
    return 0;
}
