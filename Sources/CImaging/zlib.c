#include "CImaging.h"
#include "CZlib.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct ds_inflater {
    z_stream s;
    size_t input_left;  // bytes not yet handed to zlib (it counts in uInt: at most 1 GiB at a time)
    int ended;          // the stream's end (and checksum) has been read
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
    return z;
}

static void feed(ds_inflater *z) {
    if (z->s.avail_in == 0 && z->input_left > 0) {
        z->s.avail_in = (uInt)(z->input_left > (1u << 30) ? (1u << 30) : z->input_left);
        z->input_left -= z->s.avail_in;
    }
}

int ds_inflater_read(ds_inflater *z, uint8_t *output, size_t count) {
    while (count > 0) {
        if (z->ended) return DS_INFLATE_TRUNCATED;
        feed(z);
        uInt room = (uInt)(count > (1u << 30) ? (1u << 30) : count);
        z->s.next_out = output;
        z->s.avail_out = room;
        int rc = inflate(&z->s, Z_NO_FLUSH);
        size_t moved = room - z->s.avail_out;
        output += moved;
        count -= moved;
        if (rc == Z_STREAM_END) { z->ended = 1; continue; }
        int input_done = z->s.avail_in == 0 && z->input_left == 0;
        // Z_BUF_ERROR: no progress possible, because the input is used up (truncated) or something is wrong.
        if (rc == Z_BUF_ERROR) return input_done ? DS_INFLATE_TRUNCATED : DS_INFLATE_CORRUPT;
        if (rc != Z_OK) return DS_INFLATE_CORRUPT;
        if (input_done && moved == 0) return DS_INFLATE_TRUNCATED;
    }
    return DS_INFLATE_OK;
}

int ds_inflater_finish(ds_inflater *z) {
    uint8_t spare;  // one byte past the end: proves the stream holds more than was read
    while (!z->ended) {
        feed(z);
        z->s.next_out = &spare;
        z->s.avail_out = 1;
        int rc = inflate(&z->s, Z_NO_FLUSH);
        if (z->s.avail_out == 0) return DS_INFLATE_TOO_MUCH;
        if (rc == Z_STREAM_END) { z->ended = 1; break; }
        int input_done = z->s.avail_in == 0 && z->input_left == 0;
        if (rc == Z_BUF_ERROR) return input_done ? DS_INFLATE_TRUNCATED : DS_INFLATE_CORRUPT;
        if (rc != Z_OK) return DS_INFLATE_CORRUPT;
        if (input_done) return DS_INFLATE_TRUNCATED;
    }
    return DS_INFLATE_OK;
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
