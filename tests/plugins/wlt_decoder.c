/*
 * A stand-in photo decoder for tests of the decoder plugin hook. It does NOT
 * decode WLT (that format is proprietary and only vendors' decoders read
 * it): it paints a 102 x 126 BGR picture whose colours come from the input
 * bytes, so a test can tell that the agent called it with the card's photo.
 * Built twice: normally, and with -DCRASH (it dereferences NULL).
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "examgate_plugin.h"

#define WIDTH 102
#define HEIGHT 126

static eg_status decode(const uint8_t *wlt, size_t wlt_len, uint32_t *width, uint32_t *height, uint8_t **bgr,
                        size_t *bgr_len, eg_msg *msg) {
#ifdef CRASH
    volatile int *nowhere = NULL;
    *nowhere = 1;
#endif
    if (wlt_len != 1024) {
        msg->len = (size_t)snprintf(msg->text, EG_MSG_CAP, "a WLT photo is 1024 bytes, got %zu", wlt_len);
        return EG_ERR_INVALID_ARGUMENT;
    }
    size_t n = (size_t)WIDTH * HEIGHT * 3;
    uint8_t *out = malloc(n);
    if (out == NULL) {
        msg->len = (size_t)snprintf(msg->text, EG_MSG_CAP, "out of memory");
        return EG_ERR_DRIVER;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = wlt[i % wlt_len];
    }
    *width = WIDTH;
    *height = HEIGHT;
    *bgr = out;
    *bgr_len = n;
    return EG_OK;
}

static void free_bytes(uint8_t *data, size_t len) {
    (void)len;
    free(data);
}

static const eg_wlt_decoder decoder = {
    .abi_version = EG_ABI_VERSION,
    .struct_size = sizeof(eg_wlt_decoder),
    .name = EG_STR("test-wlt"),
    .vendor = EG_STR("examgate tests"),
    .version = EG_STR("0.1.0"),
    .decode = decode,
    .free_bytes = free_bytes,
};

const eg_wlt_decoder *examgate_wlt_decoder_entry(void);
const eg_wlt_decoder *examgate_wlt_decoder_entry(void) { return &decoder; }
