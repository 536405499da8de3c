#include "CImaging.h"
#include <setjmp.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <jpeglib.h>

// libjpeg reports fatal errors through error_exit, which by default prints and calls exit(). Ours jumps back
// to the caller's setjmp with the message saved; warnings (corrupt data, premature end) are made fatal too.
struct guard {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char *errbuf;
    size_t errlen;
};

static void guard_error_exit(j_common_ptr cinfo) {
    struct guard *g = (struct guard *)cinfo->err;
    if (g->errbuf && g->errlen) {
        char message[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, message);
        snprintf(g->errbuf, g->errlen, "%s", message);
    }
    longjmp(g->jump, 1);
}

static void guard_emit_message(j_common_ptr cinfo, int level) {
    // level -1: a warning about the data (corrupt or truncated) — refuse the image rather than guess.
    if (level < 0) guard_error_exit(cinfo);
}

static void guard_output_message(j_common_ptr cinfo) { (void)cinfo; }

// A progressive JPEG can hold thousands of tiny scans, each a pass over the whole coefficient buffer: a small
// file that burns seconds of CPU. Real encoders write about ten; more than this many is refused.
enum { MAX_SCANS = 256 };

static void guard_progress(j_common_ptr cinfo) {
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (cinfo->is_decompressor && d->input_scan_number > MAX_SCANS) {
        struct guard *g = (struct guard *)cinfo->err;
        if (g->errbuf && g->errlen) snprintf(g->errbuf, g->errlen, "more than %d scans", MAX_SCANS);
        longjmp(g->jump, 1);
    }
}

static void guard_install(struct jpeg_decompress_struct *cinfo, struct guard *g, char *errbuf, size_t errlen) {
    cinfo->err = jpeg_std_error(&g->pub);
    g->pub.error_exit = guard_error_exit;
    g->pub.emit_message = guard_emit_message;
    g->pub.output_message = guard_output_message;
    g->errbuf = errbuf;
    g->errlen = errlen;
    if (errbuf && errlen) errbuf[0] = 0;
}

// The bytes libjpeg holds for a multi-scan (progressive) image: every component's DCT coefficients, 64 16-bit
// values per block, padded to whole MCUs, kept for the whole image until the last scan. 0 for a single scan.
static size_t coefficient_bytes(struct jpeg_decompress_struct *cinfo) {
    if (!jpeg_has_multiple_scans(cinfo)) return 0;
    size_t total = 0;
    for (int i = 0; i < cinfo->num_components; i++) {
        jpeg_component_info *c = &cinfo->comp_info[i];
        size_t h = (size_t)c->h_samp_factor, v = (size_t)c->v_samp_factor;
        size_t columns = ((size_t)c->width_in_blocks + h - 1) / h * h;
        size_t rows = ((size_t)c->height_in_blocks + v - 1) / v * v;
        total += columns * rows * sizeof(JBLOCK);
    }
    return total;
}

int ds_jpeg_info(const uint8_t *input, size_t length, int *width, int *height, int *color, int *progressive,
                 size_t *coefficients, char *errbuf, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    struct guard g;
    guard_install(&cinfo, &g, errbuf, errlen);
    if (setjmp(g.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return DS_JPEG_ERROR;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, input, (unsigned long)length);
    jpeg_read_header(&cinfo, TRUE);
    *width = (int)cinfo.image_width;
    *height = (int)cinfo.image_height;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: *color = DS_JPEG_GRAY; break;
    case JCS_CMYK: case JCS_YCCK: *color = DS_JPEG_CMYK; break;
    default: *color = DS_JPEG_COLOR; break;
    }
    *progressive = jpeg_has_multiple_scans(&cinfo) ? 1 : 0;
    *coefficients = coefficient_bytes(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return DS_JPEG_OK;
}

int ds_jpeg_decode(const uint8_t *input, size_t length, int channels, int scale_denom, size_t max_memory,
                   uint8_t *output, size_t capacity, int *out_width, int *out_height, char *errbuf, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    struct guard g;
    // Everything the error path reads after longjmp lives outside the registers (volatile or in cinfo).
    JSAMPLE *volatile cmyk_row = NULL;
    guard_install(&cinfo, &g, errbuf, errlen);
    if (setjmp(g.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(cmyk_row);
        return DS_JPEG_ERROR;
    }
    jpeg_create_decompress(&cinfo);
    struct jpeg_progress_mgr progress = { .progress_monitor = guard_progress };
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, input, (unsigned long)length);
    jpeg_read_header(&cinfo, TRUE);
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    if (cmyk) cinfo.out_color_space = JCS_CMYK;
    else cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    // libjpeg scales in the IDCT: 1/2, 1/4 or 1/8 of the size costs a fraction of the full decode's work.
    cinfo.scale_num = 1;
    cinfo.scale_denom = (unsigned)scale_denom;
    // Past this, libjpeg asks for a backing store, which this build lacks: a clean error, not more memory.
    if (max_memory > 0) cinfo.mem->max_memory_to_use = (long)max_memory;
    jpeg_start_decompress(&cinfo);
    size_t width = cinfo.output_width, height = cinfo.output_height;
    *out_width = (int)width;
    *out_height = (int)height;
    if ((size_t)channels * width * height > capacity) {
        snprintf(errbuf, errlen, "output buffer too small for %zux%zu", width, height);
        jpeg_destroy_decompress(&cinfo);
        return DS_JPEG_ERROR;
    }
    if (cmyk) {
        cmyk_row = malloc(width * 4);
        if (!cmyk_row) {
            snprintf(errbuf, errlen, "out of memory");
            jpeg_destroy_decompress(&cinfo);
            return DS_JPEG_ERROR;
        }
    }
    // Adobe's CMYK JPEGs (the usual kind, Photoshop's and PIL's) store the inks inverted.
    int inverted = cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *out = output + (size_t)cinfo.output_scanline * width * (size_t)channels;
        if (!cmyk) {
            JSAMPROW row = out;
            jpeg_read_scanlines(&cinfo, &row, 1);
            continue;
        }
        JSAMPROW row = cmyk_row;
        jpeg_read_scanlines(&cinfo, &row, 1);
        for (size_t x = 0; x < width; x++) {
            unsigned c = cmyk_row[4 * x], m = cmyk_row[4 * x + 1], y = cmyk_row[4 * x + 2], k = cmyk_row[4 * x + 3];
            if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
            // Now c, m, y, k are 255 for no ink: RGB = (1 - ink) * (1 - black).
            unsigned r = (c * k + 127) / 255, gr = (m * k + 127) / 255, b = (y * k + 127) / 255;
            if (channels == 1) {
                out[x] = (uint8_t)((r * 19595 + gr * 38470 + b * 7471 + 0x8000) >> 16);
            } else {
                out[3 * x] = (uint8_t)r; out[3 * x + 1] = (uint8_t)gr; out[3 * x + 2] = (uint8_t)b;
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(cmyk_row);
    return DS_JPEG_OK;
}

static void guard_install_compress(struct jpeg_compress_struct *cinfo, struct guard *g, char *errbuf, size_t errlen) {
    cinfo->err = jpeg_std_error(&g->pub);
    g->pub.error_exit = guard_error_exit;
    g->pub.output_message = guard_output_message;
    g->errbuf = errbuf;
    g->errlen = errlen;
    if (errbuf && errlen) errbuf[0] = 0;
}

int ds_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality, int progressive,
                   uint8_t **output, size_t *output_length, char *errbuf, size_t errlen) {
    struct jpeg_compress_struct cinfo;
    struct guard g;
    unsigned long size = 0;
    guard_install_compress(&cinfo, &g, errbuf, errlen);
    if (setjmp(g.jump)) {
        // jpeg_mem_dest's buffer is lost here (libjpeg may have replaced it, so it can't be freed safely); only
        // invalid arguments get here, and this encoder is for tests and tools.
        jpeg_destroy_compress(&cinfo);
        return DS_JPEG_ERROR;
    }
    jpeg_create_compress(&cinfo);
    unsigned char *out = NULL;
    jpeg_mem_dest(&cinfo, &out, &size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    if (progressive) jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * (size_t)width * (size_t)channels);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *output = out;
    *output_length = size;
    return DS_JPEG_OK;
}
