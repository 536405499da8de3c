#ifndef CIMAGING_H
#define CIMAGING_H
// Plain functions over zlib and libjpeg-turbo for the Imaging target, so Swift never sees their
// macros, opaque structs or libjpeg's setjmp/longjmp error handling.
#include <stddef.h>
#include <stdint.h>

// ---- zlib ----
// Results of the ds_inflater functions.
enum { DS_INFLATE_OK = 0, DS_INFLATE_TRUNCATED = 1, DS_INFLATE_CORRUPT = 2, DS_INFLATE_TOO_MUCH = 3 };
// Inflates a zlib stream (RFC 1950, checksum verified) a piece at a time, so a decoder allocates only as much
// as the data really holds. input must stay valid until ds_inflater_free; NULL means out of memory.
typedef struct ds_inflater ds_inflater;
ds_inflater *ds_inflater_new(const uint8_t *input, size_t length);
// The next `count` bytes of the stream: DS_INFLATE_OK when all were there; TRUNCATED if the input or the stream
// ended first; CORRUPT on bad data.
int ds_inflater_read(ds_inflater *inflater, uint8_t *output, size_t count);
// After the last read: DS_INFLATE_OK if the stream ends there (checksum verified); TOO_MUCH if it holds more
// bytes; TRUNCATED if the input ends before the stream does; CORRUPT on bad data.
int ds_inflater_finish(ds_inflater *inflater);
void ds_inflater_free(ds_inflater *inflater);
// Compresses input into a malloc'd zlib stream; returns 0 on success. Caller frees *output.
int ds_zlib_deflate(const uint8_t *input, size_t length, int level, uint8_t **output, size_t *output_length);
// CRC-32 (as in PNG chunks and gzip) of `length` bytes, continuing from `crc` (start with 0).
uint32_t ds_crc32(uint32_t crc, const uint8_t *input, size_t length);

// ---- JPEG (libjpeg-turbo) ----
// Results of the JPEG functions; on DS_JPEG_ERROR, errbuf holds libjpeg's message.
enum { DS_JPEG_OK = 0, DS_JPEG_ERROR = 1 };
// Colour spaces reported by ds_jpeg_info.
enum { DS_JPEG_GRAY = 1, DS_JPEG_COLOR = 3, DS_JPEG_CMYK = 4 };
// Reads the header only: dimensions, DS_JPEG_GRAY / DS_JPEG_COLOR / DS_JPEG_CMYK, whether it is progressive,
// and the bytes of coefficients libjpeg will hold while decoding it (0 unless progressive).
int ds_jpeg_info(const uint8_t *input, size_t length, int *width, int *height, int *color, int *progressive,
                 size_t *coefficients, char *errbuf, size_t errlen);
// Decodes at 1/scale_denom of the size (1, 2, 4 or 8; each side rounded up, reported in out_width and
// out_height) into output (out_width * out_height * channels bytes, channels 1 = gray or 3 = RGB; CMYK/YCCK
// become RGB). max_memory (0: no limit) caps libjpeg's own allocations. Any libjpeg error or warning (corrupt
// data, premature end of file) fails with DS_JPEG_ERROR: nothing exits, nothing is printed.
int ds_jpeg_decode(const uint8_t *input, size_t length, int channels, int scale_denom, size_t max_memory,
                   uint8_t *output, size_t capacity, int *out_width, int *out_height, char *errbuf, size_t errlen);
// Compresses width * height * channels (1 or 3) samples as a baseline JPEG (or progressive) at quality 1-100
// into a malloc'd buffer; returns DS_JPEG_OK on success. Caller frees *output.
int ds_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality, int progressive,
                   uint8_t **output, size_t *output_length, char *errbuf, size_t errlen);

#endif
