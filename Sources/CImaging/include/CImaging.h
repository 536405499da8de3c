#ifndef CIMAGING_H
#define CIMAGING_H
// Plain functions over zlib and libjpeg-turbo for the Imaging target, so Swift never sees their
// macros, opaque structs or libjpeg's setjmp/longjmp error handling.
#include <stddef.h>
#include <stdint.h>

// ---- zlib ----
// Results of ds_zlib_inflate.
enum { DS_INFLATE_OK = 0, DS_INFLATE_TRUNCATED = 1, DS_INFLATE_CORRUPT = 2, DS_INFLATE_TOO_MUCH = 3 };
// Inflates a zlib stream (RFC 1950, checksum verified) into exactly `capacity` bytes at output.
// DS_INFLATE_OK: the stream ended and filled the buffer exactly; TRUNCATED: the input ended (or the stream
// ended) before the buffer was full; TOO_MUCH: the stream holds more than capacity bytes; CORRUPT: bad data.
// Never writes past capacity, so the caller's size (from a checked header) bounds the memory used.
int ds_zlib_inflate(const uint8_t *input, size_t length, uint8_t *output, size_t capacity);
// Compresses input into a malloc'd zlib stream; returns 0 on success. Caller frees *output.
int ds_zlib_deflate(const uint8_t *input, size_t length, int level, uint8_t **output, size_t *output_length);
// CRC-32 (as in PNG chunks and gzip) of `length` bytes, continuing from `crc` (start with 0).
uint32_t ds_crc32(uint32_t crc, const uint8_t *input, size_t length);

// ---- JPEG (libjpeg-turbo) ----
// Results of the JPEG functions; on DS_JPEG_ERROR, errbuf holds libjpeg's message.
enum { DS_JPEG_OK = 0, DS_JPEG_ERROR = 1 };
// Colour spaces reported by ds_jpeg_info.
enum { DS_JPEG_GRAY = 1, DS_JPEG_COLOR = 3, DS_JPEG_CMYK = 4 };
// Reads the header only: dimensions, DS_JPEG_GRAY / DS_JPEG_COLOR / DS_JPEG_CMYK, and whether it is progressive.
int ds_jpeg_info(const uint8_t *input, size_t length, int *width, int *height, int *color, int *progressive,
                 char *errbuf, size_t errlen);
// Decodes into output (width * height * channels bytes, channels 1 = gray or 3 = RGB; CMYK/YCCK become RGB).
// Any libjpeg error or warning (corrupt data, premature end of file) fails with DS_JPEG_ERROR: nothing exits,
// nothing is printed.
int ds_jpeg_decode(const uint8_t *input, size_t length, int channels, uint8_t *output, size_t capacity,
                   char *errbuf, size_t errlen);

#endif
