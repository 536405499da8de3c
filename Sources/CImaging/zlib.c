#include "CImaging.h"
#include "CZlib.h"
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int ds_zlib_inflate(const uint8_t *input, size_t length, uint8_t *output, size_t capacity) {
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit(&s) != Z_OK) return DS_INFLATE_CORRUPT;
    s.next_in = (Bytef *)input;
    size_t input_left = length;
    size_t produced = 0;
    uint8_t spare;  // one byte past the end: proves the stream holds more than capacity
    int result = DS_INFLATE_CORRUPT;
    for (;;) {
        // zlib counts in uInt: feed and drain in chunks of at most 1 GiB.
        if (s.avail_in == 0 && input_left > 0) {
            s.avail_in = (uInt)(input_left > (1u << 30) ? (1u << 30) : input_left);
            input_left -= s.avail_in;
        }
        size_t room = capacity - produced;
        if (room > 0) {
            s.next_out = output + produced;
            s.avail_out = (uInt)(room > (1u << 30) ? (1u << 30) : room);
        } else {
            s.next_out = &spare;
            s.avail_out = 1;
        }
        uInt before = s.avail_out;
        int rc = inflate(&s, Z_NO_FLUSH);
        size_t moved = before - s.avail_out;
        if (room == 0 && moved > 0) { result = DS_INFLATE_TOO_MUCH; break; }
        produced += moved;
        if (rc == Z_STREAM_END) { result = produced == capacity ? DS_INFLATE_OK : DS_INFLATE_TRUNCATED; break; }
        if (rc == Z_BUF_ERROR) {
            // No progress possible: the input is used up (truncated), or something is badly wrong.
            result = (s.avail_in == 0 && input_left == 0) ? DS_INFLATE_TRUNCATED : DS_INFLATE_CORRUPT;
            break;
        }
        if (rc != Z_OK) { result = DS_INFLATE_CORRUPT; break; }
        if (s.avail_in == 0 && input_left == 0 && moved == 0) { result = DS_INFLATE_TRUNCATED; break; }
    }
    inflateEnd(&s);
    return result;
}

int ds_zlib_deflate(const uint8_t *input, size_t length, int level, uint8_t **output, size_t *output_length) {
    return ds_deflate(input, length, level, 15, output, output_length);   // 15: zlib wrapper, as PNG wants
}

uint32_t ds_crc32(uint32_t crc, const uint8_t *input, size_t length) {
    while (length > 0) {
        uInt n = length > (1u << 30) ? (1u << 30) : (uInt)length;
        crc = (uint32_t)crc32(crc, input, n);
        input += n;
        length -= n;
    }
    return crc;
}
