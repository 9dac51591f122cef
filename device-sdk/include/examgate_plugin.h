/*
 * examgate_plugin.h - the examgate device plugin ABI, version 1.
 *
 * This header is the whole contract between an examgate seat agent and a
 * vendor's device driver. You need nothing else: no Rust, no examgate source.
 *
 * WHAT A PLUGIN IS
 *   A shared library (.so on Linux, .dll on Windows) that exports exactly one
 *   function:
 *
 *       const struct eg_plugin *examgate_plugin_entry(void);
 *
 *   It returns a pointer to a descriptor that lives as long as the library is
 *   loaded (normally a `static const struct eg_plugin`). The agent calls the
 *   entry point once, checks `abi_version` and `struct_size`, and only then
 *   calls anything else.
 *
 * RULES THAT NEVER CHANGE
 *   - The first two fields of `struct eg_plugin` are, in every ABI version,
 *     `uint32_t abi_version; uint32_t struct_size;`. Set them to
 *     EG_ABI_VERSION and sizeof(struct eg_plugin).
 *   - Every function table starts with `uint32_t struct_size`. New versions
 *     only append fields; the agent never reads past the size you declare.
 *   - Every operation returns an `eg_status` (EG_OK is 0). On any other value,
 *     write a human-readable reason into the `eg_msg` the agent passes you
 *     (UTF-8, no need to NUL-terminate; set `len`). The agent shows it to the
 *     examiner and returns it from the legacy ErrorMessage call.
 *   - Strings are UTF-8 with an explicit length (`eg_str`).
 *   - Memory: whoever allocates frees. Buffers you hand to the agent
 *     (templates) are returned to you through `free_bytes`. Buffers the agent
 *     hands to you are only valid during the call.
 *
 * THREADING
 *   The agent calls one device from one thread at a time; different devices
 *   may be called from different threads concurrently. `discover` and `open`
 *   may run concurrently with operations on already open devices.
 *
 * ISOLATION
 *   By default the agent loads your library in a separate driver-host
 *   process. If your code crashes or hangs past the agent's timeout, the host
 *   is killed and restarted and the caller gets one error; the exam goes on.
 *   Please do not rely on this: return EG_ERR_TIMEOUT yourself instead.
 *
 * A MINIMAL FINGERPRINT PLUGIN (see drivers/c-example/ for a complete one)
 *
 *   static const struct eg_fingerprint_ops fp_ops = {
 *       .struct_size = sizeof(struct eg_fingerprint_ops),
 *       .get_template = my_get_template,
 *       .match_templates = my_match,
 *       .enabled = my_enabled,
 *       .finger_present = NULL,            // optional
 *   };
 *   static const struct eg_plugin plugin = {
 *       .abi_version = EG_ABI_VERSION,
 *       .struct_size = sizeof(struct eg_plugin),
 *       .name = EG_STR("acme-fp"), .vendor = EG_STR("Acme"), .version = EG_STR("1.2.0"),
 *       .device_classes = EG_CLASS_FINGERPRINT,
 *       .discover = my_discover, .open = my_open, .close = my_close,
 *       .free_bytes = my_free_bytes,
 *       .fingerprint = &fp_ops,
 *   };
 *   const struct eg_plugin *examgate_plugin_entry(void) { return &plugin; }
 *
 * Check your library with:  examgate-agent plugin check ./libacme.so
 */
#ifndef EXAMGATE_PLUGIN_H
#define EXAMGATE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. */
#define EG_ABI_VERSION 1u

/* Name of the one symbol a plugin exports. */
#define EG_ENTRY_SYMBOL "examgate_plugin_entry"

/* ---- status codes --------------------------------------------------------
 * Each says whether trying again can help; the agent uses that to decide
 * whether to ask the candidate to retry. */
typedef int32_t eg_status;
#define EG_OK                     0
#define EG_ERR_NOT_CONNECTED      1  /* device unplugged or gone; retry after it returns */
#define EG_ERR_BUSY               2  /* device in use; retry later */
#define EG_ERR_TIMEOUT            3  /* nothing happened in time; retry */
#define EG_ERR_NO_FINGER          4  /* no finger on the sensor before the timeout; retry */
#define EG_ERR_POOR_QUALITY       5  /* capture too poor (dry, wet, smudged); retry */
#define EG_ERR_NO_CARD            6  /* no card on the reader; retry */
#define EG_ERR_CARD_REMOVED       7  /* card taken away during the read; retry */
#define EG_ERR_PROTOCOL           8  /* device answered something unexpected; retry may help */
#define EG_ERR_DRIVER             9  /* driver fault; retry will not help */
#define EG_ERR_INVALID_ARGUMENT  10  /* the agent passed something wrong; retry will not help */
#define EG_ERR_UNSUPPORTED       11  /* this device cannot do that; retry will not help */
#define EG_ERR_FORMAT_MISMATCH   12  /* templates of formats this device cannot compare */
#define EG_ERR_PANIC             13  /* the driver crashed internally; the device is unusable until closed and reopened */

/* ---- device classes (bit mask) ------------------------------------------ */
#define EG_CLASS_FINGERPRINT  (1u << 0)
#define EG_CLASS_IDCARD       (1u << 1)
#define EG_CLASS_CAMERA       (1u << 2)

/* ---- template formats ---------------------------------------------------- */
#define EG_FORMAT_ISO19794_2  1u  /* ISO/IEC 19794-2:2005 finger minutiae record */
#define EG_FORMAT_ANSI378     2u  /* ANSI INCITS 378-2004 finger minutiae record */
#define EG_FORMAT_VENDOR      3u  /* vendor-native; `vendor_format` names it */

/* ---- plain data ---------------------------------------------------------- */

/* UTF-8 string with explicit length; need not be NUL-terminated. */
typedef struct eg_str {
    const char *ptr;
    size_t len;
} eg_str;

/* Build an eg_str from a string literal. */
#define EG_STR(lit) { (lit), sizeof(lit) - 1 }

/* Error message buffer owned by the agent. Write at most EG_MSG_CAP bytes of
 * UTF-8 into `text` and set `len`. */
#define EG_MSG_CAP 256
typedef struct eg_msg {
    char text[EG_MSG_CAP];
    size_t len;
} eg_msg;

/* One device the plugin can see. Fixed-size, NUL-terminated fields so that
 * discovery needs no allocation. `id` must be stable across discover calls
 * and unique within the plugin (a serial number, a port path). */
#define EG_ID_CAP   64
#define EG_NAME_CAP 128
typedef struct eg_device_info {
    char id[EG_ID_CAP];
    char name[EG_NAME_CAP];
    uint32_t classes;           /* EG_CLASS_* bits this device offers */
    uint32_t reserved;          /* set to 0 */
} eg_device_info;

/* A template passed from the agent to the plugin (borrowed for the call). */
typedef struct eg_template {
    uint32_t format;            /* EG_FORMAT_* */
    uint32_t reserved;          /* 0 */
    eg_str vendor_format;       /* name of a vendor format, empty otherwise */
    const uint8_t *data;
    size_t len;
} eg_template;

/* A template returned by the plugin. `data` is allocated by the plugin and
 * given back through `eg_plugin.free_bytes(data, len)`. `vendor_format` must
 * point to static storage (a string literal). */
typedef struct eg_template_out {
    uint32_t format;
    uint32_t quality;           /* 0..100, 0 if unknown */
    eg_str vendor_format;
    uint8_t *data;
    size_t len;
} eg_template_out;

/* An opaque open device; the plugin decides what it points to. */
typedef struct eg_device eg_device;

/* ---- function tables ----------------------------------------------------- */

typedef struct eg_fingerprint_ops {
    uint32_t struct_size;       /* sizeof(struct eg_fingerprint_ops) */
    uint32_t reserved;
    /* Wait up to timeout_ms for a finger, capture it, extract a template. */
    eg_status (*get_template)(eg_device *dev, uint32_t timeout_ms,
                              eg_template_out *out, eg_msg *msg);
    /* Compare a fresh template (probe) with an enrolled one. Write a score in
     * 1..1000 to *score; above 800 means the same finger. Calibrate your raw
     * score so that 800 sits at a false-match rate of 1 in 10,000 or less. */
    eg_status (*match_templates)(eg_device *dev, const eg_template *probe,
                                 const eg_template *enrolled, uint32_t *score,
                                 eg_msg *msg);
    /* Whether the reader may be used now: 1 yes, 0 no. */
    eg_status (*enabled)(eg_device *dev, uint32_t *enabled, eg_msg *msg);
    /* Optional (may be NULL): 1 if a finger is on the sensor now, else 0.
     * Used for finger placed / lifted events; must return within 50 ms. */
    eg_status (*finger_present)(eg_device *dev, uint32_t *present, eg_msg *msg);
} eg_fingerprint_ops;

/* A card as read: the raw 256-byte UCS-2LE text block and 1024-byte WLT
 * photo of GA 467 (each may be empty when the reader gives identifiers only),
 * and the chip serial. Each buffer is plugin-allocated. */
typedef struct eg_card_out {
    uint8_t *text;  size_t text_len;
    uint8_t *photo; size_t photo_len;
    uint8_t *chip_serial; size_t chip_serial_len;
} eg_card_out;

/* ID card reader operations. Reserved in ABI 1 for second-generation ID
 * card readers; a plugin without ID card support leaves the pointer NULL. */
typedef struct eg_idcard_ops {
    uint32_t struct_size;
    uint32_t reserved;
    /* Read the card on the reader into out (text block, photo, chip serial),
     * allocated by the plugin and freed through free_bytes. */
    eg_status (*read_card)(eg_device *dev, uint32_t timeout_ms,
                           eg_card_out *out, eg_msg *msg);
} eg_idcard_ops;


/* Camera operations. Reserved in ABI 1; NULL when not offered. */
typedef struct eg_camera_ops {
    uint32_t struct_size;
    uint32_t reserved;
    /* Capture one frame. `fourcc` is the pixel format ('MJPG', 'YUYV',
     * 'NV12', 'RGB3'); `data` is plugin-allocated, freed via free_bytes. */
    eg_status (*capture)(eg_device *dev, uint32_t timeout_ms,
                         uint32_t *width, uint32_t *height, uint32_t *fourcc,
                         uint8_t **data, size_t *len, eg_msg *msg);
} eg_camera_ops;

/* Simulation hooks. Optional: a plugin that drives a simulator (or real
 * hardware with a test mode) exposes them so that the conformance suite can
 * place and lift fingers and unplug the device. Commands are text:
 *   "finger N"      put finger N (a positive integer) on the sensor
 *   "lift"          take the finger away
 *   "unplug"        the device disappears (operations give NOT_CONNECTED)
 *   "plug"          it comes back
 *   "poor-quality N" the next N captures fail with POOR_QUALITY
 * and for cameras:
 *   "subject" | "empty" | "cover" | "uniform"   what the lens sees
 *   "freeze" | "unfreeze"                       repeat the last frame or not
 *   "slow MS"                                   every capture takes MS ms
 * Unknown commands, or commands the device class cannot follow, return
 * EG_ERR_UNSUPPORTED; a known command with a bad argument returns
 * EG_ERR_INVALID_ARGUMENT or EG_ERR_UNSUPPORTED. */
typedef struct eg_sim_ops {
    uint32_t struct_size;
    uint32_t reserved;
    eg_status (*control)(eg_device *dev, eg_str command, eg_msg *msg);
} eg_sim_ops;

/* ---- the descriptor ------------------------------------------------------ */

typedef struct eg_plugin {
    uint32_t abi_version;       /* EG_ABI_VERSION, forever the first field  */
    uint32_t struct_size;       /* sizeof(struct eg_plugin), forever second */
    eg_str name;                /* short driver name, e.g. "acme-fp"        */
    eg_str vendor;              /* vendor name                              */
    eg_str version;             /* driver version, e.g. "1.2.0"             */
    uint32_t device_classes;    /* EG_CLASS_* bits the plugin can offer     */
    uint32_t reserved;          /* 0 */

    /* Fill up to `cap` entries of `out` with the devices present now and set
     * *count. Must not block for more than a second. */
    eg_status (*discover)(eg_device_info *out, size_t cap, size_t *count,
                          eg_msg *msg);
    /* Open the device with this id (from discover). */
    eg_status (*open)(eg_str id, eg_device **out, eg_msg *msg);
    /* Close an open device; never fails. */
    void (*close)(eg_device *dev);
    /* Free a buffer the plugin returned. */
    void (*free_bytes)(uint8_t *data, size_t len);

    /* Function tables; NULL when the class is not offered. */
    const eg_fingerprint_ops *fingerprint;
    const eg_idcard_ops *idcard;
    const eg_camera_ops *camera;
    const eg_sim_ops *sim;      /* optional test hooks, see above */
} eg_plugin;

/* ---- photo decoder plugins ------------------------------------------------
 * The photo on a second-generation ID card is in the proprietary WLT format
 * (1024 bytes); only vendors' decoders turn it into an image (102 x 126,
 * 24-bit BGR). A decoder is a separate, tiny plugin: a shared library
 * exporting
 *
 *     const struct eg_wlt_decoder *examgate_wlt_decoder_entry(void);
 *
 * with the same rules as device plugins (first two fields fixed, struct_size
 * set, EG_OK or an error with a message). examgate never decodes WLT itself;
 * without a decoder it reports the photo's bytes and SHA-256 only. The agent
 * runs the decoder in a child process per photo, so a crash costs the photo,
 * never the card read. */
#define EG_WLT_DECODER_SYMBOL "examgate_wlt_decoder_entry"

typedef struct eg_wlt_decoder {
    uint32_t abi_version;       /* EG_ABI_VERSION */
    uint32_t struct_size;       /* sizeof(struct eg_wlt_decoder) */
    eg_str name;
    eg_str vendor;
    eg_str version;
    /* Decode `wlt_len` bytes of WLT into a BGR image, 3 bytes a pixel, rows
     * top to bottom. `*bgr` is allocated by the decoder and handed back
     * through free_bytes. */
    eg_status (*decode)(const uint8_t *wlt, size_t wlt_len, uint32_t *width,
                        uint32_t *height, uint8_t **bgr, size_t *bgr_len,
                        eg_msg *msg);
    void (*free_bytes)(uint8_t *data, size_t len);
} eg_wlt_decoder;

typedef const eg_wlt_decoder *(*eg_wlt_decoder_entry_fn)(void);

/* The one exported symbol. */
typedef const eg_plugin *(*eg_plugin_entry_fn)(void);
const eg_plugin *examgate_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* EXAMGATE_PLUGIN_H */
