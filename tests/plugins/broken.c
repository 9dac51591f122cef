/*
 * broken.c - deliberately broken examgate plugins, for tests.
 *
 * Compiled once per defect with -DBROKEN_<KIND>; without one it is a
 * minimal working fingerprint reader. Every variant is that same reader
 * (one device "broken-0", finger always present, a fixed 16-byte template
 * of vendor format "broken") except at the one place its defect names, so
 * a test sees the failure exactly at that operation:
 *
 *   BROKEN_WRONG_ABI         abi_version 999, everything else valid
 *   BROKEN_SHORT_STRUCT      abi_version 1, struct_size 8
 *   BROKEN_NO_ENTRY          exports examgate_plugin_init instead of the entry
 *   BROKEN_NULL_DESCRIPTOR   the entry returns NULL
 *   BROKEN_MISSING_OPS       declares the fingerprint class, table NULL
 *   BROKEN_SEGFAULT          get_template writes through a NULL pointer
 *   BROKEN_ABORT             get_template calls abort()
 *   BROKEN_HANG              get_template never returns
 *   BROKEN_EXIT              get_template calls _exit(3)
 *   BROKEN_BAD_SCORE         match_templates returns EG_OK with score 5000
 *
 * broken_plugin_calls() (exported) counts calls into the descriptor's
 * functions, so a test can tell that a loader refused a plugin without
 * calling any of them.
 */
#define _POSIX_C_SOURCE 200809L

#include "examgate_plugin.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEVICE_ID "broken-0"
#define FORMAT_NAME "broken"
#define TEMPLATE_LEN 16u

static atomic_uint calls;

uint32_t broken_plugin_calls(void);
uint32_t broken_plugin_calls(void)
{
    return (uint32_t)atomic_load(&calls);
}

static void counted(void)
{
    atomic_fetch_add(&calls, 1u);
}

static eg_status fail(eg_msg *msg, eg_status status, const char *text)
{
    if (msg != NULL) {
        size_t n = strlen(text);
        n = n < EG_MSG_CAP ? n : EG_MSG_CAP;
        memcpy(msg->text, text, n);
        msg->len = n;
    }
    return status;
}

/* ---- the working core ------------------------------------------------------ */

struct eg_device {
    int open;
};

static eg_status b_discover(eg_device_info *out, size_t cap, size_t *count, eg_msg *msg)
{
    counted();
    if (count == NULL || (out == NULL && cap > 0)) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "discover: null output");
    }
    *count = 0;
    if (cap == 0) {
        return EG_OK;
    }
    memset(&out[0], 0, sizeof out[0]);
    snprintf(out[0].id, EG_ID_CAP, "%s", DEVICE_ID);
    snprintf(out[0].name, EG_NAME_CAP, "%s", "deliberately broken test reader");
    out[0].classes = EG_CLASS_FINGERPRINT;
    *count = 1;
    return EG_OK;
}

static eg_status b_open(eg_str id, eg_device **out, eg_msg *msg)
{
    counted();
    if (out == NULL) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "open: null output");
    }
    if (id.ptr == NULL || id.len != strlen(DEVICE_ID) || memcmp(id.ptr, DEVICE_ID, id.len) != 0) {
        return fail(msg, EG_ERR_NOT_CONNECTED, "no such device; this plugin has only " DEVICE_ID);
    }
    eg_device *dev = malloc(sizeof *dev);
    if (dev == NULL) {
        return fail(msg, EG_ERR_DRIVER, "open: out of memory");
    }
    dev->open = 1;
    *out = dev;
    return EG_OK;
}

static void b_close(eg_device *dev)
{
    counted();
    free(dev);
}

static void b_free_bytes(uint8_t *data, size_t len)
{
    counted();
    (void)len;
    free(data);
}

static eg_status b_get_template(eg_device *dev, uint32_t timeout_ms, eg_template_out *out, eg_msg *msg)
{
    counted();
    (void)timeout_ms;
#if defined(BROKEN_SEGFAULT)
    /* volatile: the compiler must really store, not optimise the fault away. */
    int *volatile nowhere = NULL;
    *nowhere = 42;
#elif defined(BROKEN_ABORT)
    abort();
#elif defined(BROKEN_HANG)
    for (;;) {
        sleep(1);
    }
#elif defined(BROKEN_EXIT)
    _exit(3);
#endif
    if (dev == NULL || out == NULL) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "get_template: null device or output");
    }
    uint8_t *data = malloc(TEMPLATE_LEN);
    if (data == NULL) {
        return fail(msg, EG_ERR_DRIVER, "get_template: out of memory");
    }
    for (size_t i = 0; i < TEMPLATE_LEN; i++) {
        data[i] = (uint8_t)(0xB0u + i);
    }
    out->format = EG_FORMAT_VENDOR;
    out->quality = 50;
    out->vendor_format = (eg_str)EG_STR(FORMAT_NAME);
    out->data = data;
    out->len = TEMPLATE_LEN;
    return EG_OK;
}

static eg_status b_match(eg_device *dev, const eg_template *probe, const eg_template *enrolled, uint32_t *score,
                         eg_msg *msg)
{
    counted();
    if (dev == NULL || probe == NULL || enrolled == NULL || score == NULL) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "match_templates: null argument");
    }
    if (probe->len != TEMPLATE_LEN || enrolled->len != TEMPLATE_LEN || probe->data == NULL || enrolled->data == NULL) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "match_templates: templates must be 16 bytes");
    }
#if defined(BROKEN_BAD_SCORE)
    *score = 5000; /* off the 1..1000 scale */
#else
    *score = memcmp(probe->data, enrolled->data, TEMPLATE_LEN) == 0 ? 1000u : 1u;
#endif
    return EG_OK;
}

static eg_status b_enabled(eg_device *dev, uint32_t *enabled, eg_msg *msg)
{
    counted();
    if (dev == NULL || enabled == NULL) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "enabled: null argument");
    }
    *enabled = 1;
    return EG_OK;
}

static eg_status b_finger_present(eg_device *dev, uint32_t *present, eg_msg *msg)
{
    counted();
    if (dev == NULL || present == NULL) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "finger_present: null argument");
    }
    *present = 1;
    return EG_OK;
}

/* ---- the descriptor, with the defect ---------------------------------------- */

static const eg_fingerprint_ops fingerprint_ops = {
    .struct_size = sizeof(eg_fingerprint_ops),
    .reserved = 0,
    .get_template = b_get_template,
    .match_templates = b_match,
    .enabled = b_enabled,
    .finger_present = b_finger_present,
};

static const eg_plugin plugin = {
#if defined(BROKEN_WRONG_ABI)
    .abi_version = 999,
#else
    .abi_version = EG_ABI_VERSION,
#endif
#if defined(BROKEN_SHORT_STRUCT)
    .struct_size = 8,
#else
    .struct_size = sizeof(eg_plugin),
#endif
    .name = EG_STR("broken"),
    .vendor = EG_STR("examgate tests"),
    .version = EG_STR("0.0.1"),
    .device_classes = EG_CLASS_FINGERPRINT,
    .reserved = 0,
    .discover = b_discover,
    .open = b_open,
    .close = b_close,
    .free_bytes = b_free_bytes,
#if defined(BROKEN_MISSING_OPS)
    .fingerprint = NULL,
#else
    .fingerprint = &fingerprint_ops,
#endif
    .idcard = NULL,
    .camera = NULL,
    .sim = NULL,
};

#if defined(BROKEN_NO_ENTRY)
/* A plausible slip: the right descriptor behind the wrong symbol name. */
const eg_plugin *examgate_plugin_init(void);
const eg_plugin *examgate_plugin_init(void)
{
    return &plugin;
}
#else
const eg_plugin *examgate_plugin_entry(void)
{
#if defined(BROKEN_MISSING_OPS)
    (void)fingerprint_ops; /* written, never hooked up: the defect */
#endif
#if defined(BROKEN_NULL_DESCRIPTOR)
    (void)plugin;
    return NULL;
#else
    return &plugin;
#endif
}
#endif
