// One-shot zlib compression shared by the gzip responses (CHTTPShims) and the PNG encoder (CImaging).
#ifndef DEEPSERVE_CZLIB_H
#define DEEPSERVE_CZLIB_H

#include <stddef.h>
#include <stdint.h>

/// Compresses `input` in one call. `window_bits` chooses the wrapper as zlib does: 15 for a zlib stream
/// (PNG), 15 + 16 for gzip (HTTP). On success returns 0 and a malloc'd buffer the caller frees; -1 otherwise.
int ds_deflate(const uint8_t *input, size_t length, int level, int window_bits, uint8_t **output, size_t *output_length);

#endif
