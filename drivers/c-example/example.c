/*
 * example.c - a complete examgate fingerprint plugin written in C.
 *
 * It simulates a reader the way a vendor would drive a real one, using only
 * examgate_plugin.h: one device, "c-fp-0", whose finger, cable and capture
 * quality are scripted through the simulation hooks (eg_sim_ops). Replace
 * the simulated parts (marked SIMULATION) with calls into your hardware.
 *
 * Build:  make            (or: cc -std=c11 -Wall -Wextra -Werror -pedantic \
 *                              -I../../device-sdk/include -shared -fPIC -pthread \
 *                              -o libexamgate_c_example.so example.c)
 * Check:  examgate-agent plugin check ./libexamgate_c_example.so
 *
 * TEMPLATE FORMAT "c-example", version 1 (EG_FORMAT_VENDOR, 40 bytes)
 *
 *   offset  size  field
 *        0     4  magic "CXFP"
 *        4     1  version, 1
 *        5     1  capture quality 0..100
 *        6     2  number of feature bits, little-endian, 256
 *        8    32  feature bits
 *
 * Each finger N has a fixed 256-bit feature vector drawn from a SplitMix64
 * generator seeded with (SEED, N). Every capture flips each bit with
 * probability 4% (FLIP_PERCENT), as no two impressions of a real finger are
 * alike.
 *
 * MATCHING AND CALIBRATION
 *   The raw score is the Hamming distance d between the two feature vectors.
 *   - Two impressions of one finger: each bit differs with probability
 *     2 * 0.04 * 0.96 = 7.7%, so d ~ Binomial(256, 0.077): 19.7 +/- 4.3.
 *   - Two different fingers: independent vectors, d ~ Binomial(256, 0.5):
 *     128 +/- 8.
 *   The threshold sits at d = 64 (25% of the bits): 10 standard deviations
 *   above the genuine mean and 8 below the impostor mean. The false-match
 *   rate there is P(Binomial(256, 0.5) < 64), about 1e-16, far below the
 *   1 in 10,000 the ABI asks for at score 800.
 *   The mapping onto the 1..1000 scale is piecewise linear:
 *     d in [0, 64]    -> 1000 down to 800  (d = 63 scores 804, d = 64 800)
 *     d in (64, 256]  -> 800 down to 1     (rounded down, so never above 800)
 *   Two impressions of one finger typically score about 940, two different
 *   fingers about 530.
 *
 * SIMULATION STATE
 *   Finger, cable and scripted poor-quality captures belong to the reader,
 *   not to an open handle: they survive close and reopen, like a real device
 *   whose state does not change when the software lets go of it. An
 *   unplugged reader disappears from discover and cannot be opened; a handle
 *   opened before the unplug stays valid and answers EG_ERR_NOT_CONNECTED.
 *
 * THREADING
 *   The agent may call different handles from different threads, and
 *   discover/open concurrently with them, so all reader state sits behind
 *   one mutex. A capture waits on a condition variable that sim commands
 *   signal, so "finger" or "unplug" ends a wait at once.
 */
#define _POSIX_C_SOURCE 200809L

#include "examgate_plugin.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- constants ------------------------------------------------------------ */

#define DEVICE_ID "c-fp-0"
#define DEVICE_NAME "examgate C example fingerprint reader"
#define FORMAT_NAME "c-example"

#define TEMPLATE_MAGIC "CXFP"
#define TEMPLATE_VERSION 1u
#define FEATURE_BITS 256u
#define FEATURE_BYTES (FEATURE_BITS / 8u)
#define HEADER_LEN 8u
#define TEMPLATE_LEN (HEADER_LEN + FEATURE_BYTES)

/* Seeds the fingers: every copy of this plugin knows the same people. */
#define SEED UINT64_C(0xC0FFEE5EED)
#define FLIP_PERCENT 4u
/* Hamming distance that scores exactly 800 (see MATCHING above). */
#define THRESHOLD_BITS 64u

/* ---- error messages ------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static eg_status fail(eg_msg *msg, eg_status status, const char *fmt, ...)
{
    if (msg != NULL) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(msg->text, EG_MSG_CAP, fmt, ap);
        va_end(ap);
        /* vsnprintf keeps one byte for its NUL; the agent needs only len. */
        msg->len = n < 0 ? 0 : ((size_t)n >= EG_MSG_CAP ? EG_MSG_CAP - 1 : (size_t)n);
    }
    return status;
}

/* ---- a deterministic generator (SplitMix64) -------------------------------- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static uint64_t mix2(uint64_t a, uint64_t b)
{
    uint64_t state = a;
    uint64_t first = splitmix64(&state);
    state = first ^ b;
    return splitmix64(&state);
}

/* ---- SIMULATION: the reader's state ---------------------------------------- */

struct reader {
    uint32_t finger;        /* finger on the sensor, 0 when none */
    int plugged;            /* 0 after "unplug" until "plug" */
    uint32_t poor_left;     /* captures still to fail with POOR_QUALITY */
    uint64_t captures;      /* successful captures so far: varies each impression */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed;
static pthread_once_t changed_once = PTHREAD_ONCE_INIT;
static int changed_ok;
static struct reader the_reader = { 0, 1, 0, 0 };

/* Waits measure time on the monotonic clock, so a clock change during an
 * exam cannot stretch or cut them; that needs a runtime-initialised condvar. */
static void init_changed(void)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        return;
    }
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&changed, &attr) == 0) {
        changed_ok = 1;
    }
    pthread_condattr_destroy(&attr);
}

static int ensure_changed(void)
{
    return pthread_once(&changed_once, init_changed) == 0 && changed_ok;
}

/* An open handle. All state lives in the reader so that it outlives the
 * handle; the handle only says which reader it is for. */
struct eg_device {
    struct reader *reader;
};

static int is_our_id(eg_str id)
{
    return id.ptr != NULL && id.len == sizeof(DEVICE_ID) - 1 && memcmp(id.ptr, DEVICE_ID, id.len) == 0;
}

/* ---- discover, open, close, free_bytes ----------------------------------- */

static eg_status ex_discover(eg_device_info *out, size_t cap, size_t *count, eg_msg *msg)
{
    if (count == NULL || (out == NULL && cap > 0)) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "discover: null output buffer or count");
    }
    pthread_mutex_lock(&lock);
    int plugged = the_reader.plugged;
    pthread_mutex_unlock(&lock);

    *count = 0;
    if (!plugged || cap == 0) {
        return EG_OK;
    }
    memset(&out[0], 0, sizeof out[0]);
    snprintf(out[0].id, EG_ID_CAP, "%s", DEVICE_ID);
    snprintf(out[0].name, EG_NAME_CAP, "%s", DEVICE_NAME);
    out[0].classes = EG_CLASS_FINGERPRINT;
    *count = 1;
    return EG_OK;
}

static eg_status ex_open(eg_str id, eg_device **out, eg_msg *msg)
{
    if (out == NULL) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "open: null output handle");
    }
    *out = NULL;
    if (!is_our_id(id)) {
        int shown = id.len > 64 ? 64 : (int)id.len;
        return fail(msg, EG_ERR_NOT_CONNECTED, "no device \"%.*s\" on this plugin; it has only %s", shown,
                    id.ptr != NULL ? id.ptr : "", DEVICE_ID);
    }
    if (!ensure_changed()) {
        return fail(msg, EG_ERR_DRIVER, "open: cannot create the capture condition variable");
    }
    pthread_mutex_lock(&lock);
    int plugged = the_reader.plugged;
    pthread_mutex_unlock(&lock);
    if (!plugged) {
        return fail(msg, EG_ERR_NOT_CONNECTED, "reader %s is unplugged", DEVICE_ID);
    }
    eg_device *dev = malloc(sizeof *dev);
    if (dev == NULL) {
        return fail(msg, EG_ERR_DRIVER, "open: out of memory");
    }
    dev->reader = &the_reader;
    *out = dev;
    return EG_OK;
}

static void ex_close(eg_device *dev)
{
    free(dev);
}

static void ex_free_bytes(uint8_t *data, size_t len)
{
    (void)len;
    free(data);
}

/* ---- fingerprint operations ------------------------------------------------ */

static void finger_features(uint32_t finger, uint8_t bits[FEATURE_BYTES])
{
    uint64_t state = mix2(SEED, finger);
    for (size_t i = 0; i < FEATURE_BYTES; i += 8) {
        uint64_t word = splitmix64(&state);
        for (size_t j = 0; j < 8; j++) {
            bits[i + j] = (uint8_t)(word >> (8 * j));
        }
    }
}

/* SIMULATION: what the sensor and the extractor of a real reader produce. */
static void capture_template(uint32_t finger, uint64_t impression, uint8_t *data, uint32_t *quality)
{
    uint8_t bits[FEATURE_BYTES];
    finger_features(finger, bits);
    uint64_t noise = mix2(mix2(SEED, finger), impression);
    for (size_t i = 0; i < FEATURE_BITS; i++) {
        if (splitmix64(&noise) % 100u < FLIP_PERCENT) {
            bits[i / 8] ^= (uint8_t)(1u << (i % 8));
        }
    }
    *quality = 70u + (uint32_t)(splitmix64(&noise) % 26u);

    memcpy(data, TEMPLATE_MAGIC, 4);
    data[4] = (uint8_t)TEMPLATE_VERSION;
    data[5] = (uint8_t)*quality;
    data[6] = (uint8_t)(FEATURE_BITS & 0xFFu);
    data[7] = (uint8_t)(FEATURE_BITS >> 8);
    memcpy(data + HEADER_LEN, bits, FEATURE_BYTES);
}

static struct timespec deadline_after(uint32_t timeout_ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += (time_t)(timeout_ms / 1000u);
    t.tv_nsec += (long)(timeout_ms % 1000u) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec += 1;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static eg_status ex_get_template(eg_device *dev, uint32_t timeout_ms, eg_template_out *out, eg_msg *msg)
{
    if (dev == NULL || out == NULL) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "get_template: null device or output");
    }
    memset(out, 0, sizeof *out);
    struct reader *r = dev->reader;
    struct timespec deadline = deadline_after(timeout_ms);

    pthread_mutex_lock(&lock);
    /* Wait for a finger (or an unplug), as a real reader polls its sensor. */
    for (;;) {
        if (!r->plugged) {
            pthread_mutex_unlock(&lock);
            return fail(msg, EG_ERR_NOT_CONNECTED, "reader %s is unplugged; plug it back in", DEVICE_ID);
        }
        if (r->finger != 0) {
            break;
        }
        if (pthread_cond_timedwait(&changed, &lock, &deadline) == ETIMEDOUT && r->finger == 0 && r->plugged) {
            pthread_mutex_unlock(&lock);
            return fail(msg, EG_ERR_NO_FINGER, "no finger on %s within %u ms", DEVICE_ID, (unsigned)timeout_ms);
        }
    }
    if (r->poor_left > 0) {
        r->poor_left--;
        pthread_mutex_unlock(&lock);
        return fail(msg, EG_ERR_POOR_QUALITY, "image too faint to extract features (scripted)");
    }
    uint32_t finger = r->finger;
    uint64_t impression = ++r->captures;
    pthread_mutex_unlock(&lock);

    uint8_t *data = malloc(TEMPLATE_LEN);
    if (data == NULL) {
        return fail(msg, EG_ERR_DRIVER, "get_template: out of memory");
    }
    uint32_t quality = 0;
    capture_template(finger, impression, data, &quality);
    out->format = EG_FORMAT_VENDOR;
    out->quality = quality;
    out->vendor_format = (eg_str)EG_STR(FORMAT_NAME);
    out->data = data;
    out->len = TEMPLATE_LEN;
    return EG_OK;
}

/* Check one template and point *bits at its features. `which` names it in
 * messages ("probe" or "enrolled"). */
static eg_status parse_template(const eg_template *t, const char *which, const uint8_t **bits, eg_msg *msg)
{
    if (t == NULL) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "%s template is NULL", which);
    }
    if (t->format != EG_FORMAT_VENDOR || t->vendor_format.ptr == NULL ||
        t->vendor_format.len != sizeof(FORMAT_NAME) - 1 ||
        memcmp(t->vendor_format.ptr, FORMAT_NAME, sizeof(FORMAT_NAME) - 1) != 0) {
        if (t->format == EG_FORMAT_VENDOR) {
            int shown = t->vendor_format.len > 64 ? 64 : (int)t->vendor_format.len;
            return fail(msg, EG_ERR_FORMAT_MISMATCH, "%s template is vendor format \"%.*s\"; this reader compares only %s",
                        which, shown, t->vendor_format.ptr != NULL ? t->vendor_format.ptr : "", FORMAT_NAME);
        }
        return fail(msg, EG_ERR_FORMAT_MISMATCH, "%s template has format code %u; this reader compares only vendor format %s",
                    which, (unsigned)t->format, FORMAT_NAME);
    }
    if (t->data == NULL) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "%s template has no data", which);
    }
    if (t->len != TEMPLATE_LEN) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "%s template is %zu bytes; a %s v%u template is %u bytes", which, t->len,
                    FORMAT_NAME, TEMPLATE_VERSION, (unsigned)TEMPLATE_LEN);
    }
    const uint8_t *d = t->data;
    if (memcmp(d, TEMPLATE_MAGIC, 4) != 0) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "%s template does not start with the %s magic \"%s\"", which, FORMAT_NAME,
                    TEMPLATE_MAGIC);
    }
    if (d[4] != TEMPLATE_VERSION) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "%s template is %s version %u; this driver reads version %u", which,
                    FORMAT_NAME, (unsigned)d[4], TEMPLATE_VERSION);
    }
    unsigned nbits = (unsigned)d[6] | ((unsigned)d[7] << 8);
    if (d[5] > 100 || nbits != FEATURE_BITS) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "%s template header is corrupt (quality %u, %u feature bits)", which,
                    (unsigned)d[5], nbits);
    }
    *bits = d + HEADER_LEN;
    return EG_OK;
}

static unsigned popcount8(uint8_t x)
{
    unsigned n = 0;
    for (; x != 0; x &= (uint8_t)(x - 1)) {
        n++;
    }
    return n;
}

/* Hamming distance -> 1..1000, 800 at THRESHOLD_BITS (see MATCHING above). */
static uint32_t score_for_distance(unsigned d)
{
    long score;
    if (d <= THRESHOLD_BITS) {
        score = 1000L - (long)d * 200L / (long)THRESHOLD_BITS;
    } else {
        long over = (long)(d - THRESHOLD_BITS), span = (long)(FEATURE_BITS - THRESHOLD_BITS);
        score = 800L - (over * 799L + span - 1) / span;
    }
    return (uint32_t)(score < 1 ? 1 : (score > 1000 ? 1000 : score));
}

static eg_status ex_match(eg_device *dev, const eg_template *probe, const eg_template *enrolled, uint32_t *score,
                          eg_msg *msg)
{
    if (dev == NULL || score == NULL) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "match_templates: null device or score");
    }
    const uint8_t *a = NULL, *b = NULL;
    eg_status st = parse_template(probe, "probe", &a, msg);
    if (st != EG_OK) {
        return st;
    }
    st = parse_template(enrolled, "enrolled", &b, msg);
    if (st != EG_OK) {
        return st;
    }
    unsigned distance = 0;
    for (size_t i = 0; i < FEATURE_BYTES; i++) {
        distance += popcount8((uint8_t)(a[i] ^ b[i]));
    }
    /* Matching is pure computation: it works with the reader unplugged. */
    *score = score_for_distance(distance);
    return EG_OK;
}

static eg_status ex_enabled(eg_device *dev, uint32_t *enabled, eg_msg *msg)
{
    if (dev == NULL || enabled == NULL) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "enabled: null device or output");
    }
    pthread_mutex_lock(&lock);
    *enabled = dev->reader->plugged ? 1u : 0u;
    pthread_mutex_unlock(&lock);
    return EG_OK;
}

static eg_status ex_finger_present(eg_device *dev, uint32_t *present, eg_msg *msg)
{
    if (dev == NULL || present == NULL) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "finger_present: null device or output");
    }
    pthread_mutex_lock(&lock);
    int plugged = dev->reader->plugged;
    *present = dev->reader->finger != 0 ? 1u : 0u;
    pthread_mutex_unlock(&lock);
    if (!plugged) {
        *present = 0;
        return fail(msg, EG_ERR_NOT_CONNECTED, "reader %s is unplugged; plug it back in", DEVICE_ID);
    }
    return EG_OK;
}

/* ---- SIMULATION: the test hooks -------------------------------------------- */

/* Split `s` at whitespace into at most `max` words; returns how many there
 * were (possibly more than `max`). */
static size_t split_words(eg_str s, eg_str *words, size_t max)
{
    size_t n = 0, i = 0;
    while (i < s.len) {
        while (i < s.len && (s.ptr[i] == ' ' || s.ptr[i] == '\t')) {
            i++;
        }
        if (i == s.len) {
            break;
        }
        size_t start = i;
        while (i < s.len && s.ptr[i] != ' ' && s.ptr[i] != '\t') {
            i++;
        }
        if (n < max) {
            words[n].ptr = s.ptr + start;
            words[n].len = i - start;
        }
        n++;
    }
    return n;
}

static int word_is(eg_str w, const char *lit)
{
    return w.len == strlen(lit) && memcmp(w.ptr, lit, w.len) == 0;
}

/* A decimal number that fits in 32 bits, digits only. */
static int parse_u32(eg_str w, uint32_t *value)
{
    uint64_t v = 0;
    if (w.len == 0 || w.len > 10) {
        return 0;
    }
    for (size_t i = 0; i < w.len; i++) {
        if (w.ptr[i] < '0' || w.ptr[i] > '9') {
            return 0;
        }
        v = v * 10u + (uint64_t)(w.ptr[i] - '0');
    }
    if (v > UINT32_MAX) {
        return 0;
    }
    *value = (uint32_t)v;
    return 1;
}

static eg_status ex_sim_control(eg_device *dev, eg_str command, eg_msg *msg)
{
    if (dev == NULL || (command.ptr == NULL && command.len > 0)) {
        return fail(msg, EG_ERR_INVALID_ARGUMENT, "sim control: null device or command");
    }
    int shown = command.len > 64 ? 64 : (int)command.len;
    const char *text = command.ptr != NULL ? command.ptr : "";
    eg_str w[2];
    size_t n = split_words(command, w, 2);
    uint32_t number = 0;
    struct reader *r = dev->reader;

    if (n == 2 && word_is(w[0], "finger")) {
        if (!parse_u32(w[1], &number) || number == 0) {
            return fail(msg, EG_ERR_INVALID_ARGUMENT, "sim command \"%.*s\": the finger must be a positive integer",
                        shown, text);
        }
        pthread_mutex_lock(&lock);
        r->finger = number;
    } else if (n == 1 && word_is(w[0], "lift")) {
        pthread_mutex_lock(&lock);
        r->finger = 0;
    } else if (n == 1 && word_is(w[0], "unplug")) {
        pthread_mutex_lock(&lock);
        r->plugged = 0;
    } else if (n == 1 && word_is(w[0], "plug")) {
        pthread_mutex_lock(&lock);
        r->plugged = 1;
    } else if (n == 2 && word_is(w[0], "poor-quality")) {
        if (!parse_u32(w[1], &number)) {
            return fail(msg, EG_ERR_INVALID_ARGUMENT, "sim command \"%.*s\": the count must be a non-negative integer",
                        shown, text);
        }
        pthread_mutex_lock(&lock);
        r->poor_left = number;
    } else {
        return fail(msg, EG_ERR_UNSUPPORTED,
                    "unknown sim command \"%.*s\"; expected finger N, lift, unplug, plug or poor-quality N", shown, text);
    }
    /* Wake a capture waiting for a finger or watching for an unplug. */
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    return EG_OK;
}

/* ---- the descriptor -------------------------------------------------------- */

static const eg_fingerprint_ops fingerprint_ops = {
    .struct_size = sizeof(eg_fingerprint_ops),
    .reserved = 0,
    .get_template = ex_get_template,
    .match_templates = ex_match,
    .enabled = ex_enabled,
    .finger_present = ex_finger_present,
};

static const eg_sim_ops sim_ops = {
    .struct_size = sizeof(eg_sim_ops),
    .reserved = 0,
    .control = ex_sim_control,
};

static const eg_plugin plugin = {
    .abi_version = EG_ABI_VERSION,
    .struct_size = sizeof(eg_plugin),
    .name = EG_STR("c-example"),
    .vendor = EG_STR("examgate example vendor"),
    .version = EG_STR("1.0.0"),
    .device_classes = EG_CLASS_FINGERPRINT,
    .reserved = 0,
    .discover = ex_discover,
    .open = ex_open,
    .close = ex_close,
    .free_bytes = ex_free_bytes,
    .fingerprint = &fingerprint_ops,
    .idcard = NULL,
    .camera = NULL,
    .sim = &sim_ops,
};

/* The one exported symbol; everything above is static. */
const eg_plugin *examgate_plugin_entry(void)
{
    return &plugin;
}
