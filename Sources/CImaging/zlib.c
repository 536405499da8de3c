#include "CImaging.h"
#include "CZlib.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

// Inflated bytes are staged in `staged` and handed out from there: a PNG is read one row (a few dozen bytes) at a
// time, and zlib decodes with its fast loop only while it has at least 258 bytes of room to write into; inflating
// straight into each row kept it on the byte-at-a-time path, 2-3x slower on small images.
enum { STAGE_BYTES = 16384 };

struct ds_inflater {
    z_stream s;
    size_t input_left;  // bytes not yet handed to zlib (it counts in uInt: at most 1 GiB at a time)
    int ended;          // the stream's end (and checksum) has been read
    size_t staged_at;   // the next byte of `staged` to hand out
    size_t staged_end;  // how many bytes of `staged` hold inflated data
    uint8_t staged[STAGE_BYTES];
};

// One finished inflater per thread, kept for the thread's next image: inflateInit allocates zlib's state (7 KiB)
// and the first inflate its 32 KiB window, and a PNG of a small digit cost more in setting zlib up and tearing it
// down than in inflating. inflateReset keeps both allocations and clears everything else (the checksum and header
// included), so a reused inflater reads a stream exactly as a fresh one does.
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;

static void spare_destroy(void *p) {
    ds_inflater *z = p;
    inflateEnd(&z->s);
    free(z);
}

static void spare_key_create(void) { (void)pthread_key_create(&spare_key, spare_destroy); }

ds_inflater *ds_inflater_new(const uint8_t *input, size_t length) {
    pthread_once(&spare_once, spare_key_create);
    ds_inflater *z = pthread_getspecific(spare_key);
    if (z && pthread_setspecific(spare_key, NULL) == 0 && inflateReset(&z->s) == Z_OK) {
        z->input_left = 0;
        z->ended = 0;
    } else {
        if (z) spare_destroy(z);
        z = calloc(1, sizeof *z);
        if (!z) return NULL;
        if (inflateInit(&z->s) != Z_OK) { free(z); return NULL; }
    }
    z->s.next_in = (Bytef *)input;
    z->s.avail_in = 0;
    z->input_left = length;
    z->staged_at = 0;
    z->staged_end = 0;
    return z;
}

static void feed(ds_inflater *z) {
    if (z->s.avail_in == 0 && z->input_left > 0) {
        z->s.avail_in = (uInt)(z->input_left > (1u << 30) ? (1u << 30) : z->input_left);
        z->input_left -= z->s.avail_in;
    }
}

// Inflates the next stretch of the stream into `staged` (after what it held was handed out). Returns
// DS_INFLATE_OK with at least one new byte staged, or why none could be.
static int refill(ds_inflater *z) {
    z->staged_at = 0;
    z->staged_end = 0;
    while (z->staged_end == 0) {
        if (z->ended) return DS_INFLATE_TRUNCATED;
        feed(z);
        z->s.next_out = z->staged;
        z->s.avail_out = STAGE_BYTES;
        int rc = inflate(&z->s, Z_NO_FLUSH);
        z->staged_end = STAGE_BYTES - z->s.avail_out;
        if (rc == Z_STREAM_END) { z->ended = 1; continue; }
        int input_done = z->s.avail_in == 0 && z->input_left == 0;
        // Z_BUF_ERROR: no progress possible, because the input is used up (truncated) or something is wrong.
        if (rc == Z_BUF_ERROR) return input_done ? DS_INFLATE_TRUNCATED : DS_INFLATE_CORRUPT;
        if (rc != Z_OK) return DS_INFLATE_CORRUPT;
        if (input_done && z->staged_end == 0) return DS_INFLATE_TRUNCATED;
    }
    return DS_INFLATE_OK;
}

int ds_inflater_read(ds_inflater *z, uint8_t *output, size_t count) {
    while (count > 0) {
        if (z->staged_at == z->staged_end) {
            int rc = refill(z);
            if (rc != DS_INFLATE_OK) return rc;
        }
        size_t available = z->staged_end - z->staged_at;
        size_t n = count < available ? count : available;
        memcpy(output, z->staged + z->staged_at, n);
        z->staged_at += n;
        output += n;
        count -= n;
    }
    return DS_INFLATE_OK;
}

// Any byte left staged, or still in the stream, is more than the caller read: the image holds too much data.
int ds_inflater_finish(ds_inflater *z) {
    if (z->staged_at < z->staged_end) return DS_INFLATE_TOO_MUCH;
    if (z->ended) return DS_INFLATE_OK;
    int rc = refill(z);
    if (rc == DS_INFLATE_OK) return DS_INFLATE_TOO_MUCH;
    // Nothing more came out: the stream must have ended cleanly (checksum read) for the image to be whole.
    return z->ended ? DS_INFLATE_OK : rc;
}

void ds_inflater_free(ds_inflater *z) {
    if (!z) return;
    pthread_once(&spare_once, spare_key_create);
    // Keep it for this thread's next image unless one is kept already (an image decoded inside another's decode).
    if (pthread_getspecific(spare_key) == NULL && pthread_setspecific(spare_key, z) == 0) {
        z->s.next_in = NULL;   // the caller's buffer is gone
        z->s.avail_in = 0;
        return;
    }
    spare_destroy(z);
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
