/*
 * layout_probe.c - prints the size of every struct in examgate_plugin.h and
 * the offset of every field, as this C compiler lays them out. A test
 * compares them with the Rust mirror (examgate_device_sdk::abi), so a
 * mismatch between header and SDK fails the build's tests, not an exam.
 */
#include "examgate_plugin.h"

#include <stddef.h>
#include <stdio.h>

#define SIZE(type) printf("%s %zu\n", #type, sizeof(type))
#define FIELD(type, field) printf("%s.%s %zu\n", #type, #field, offsetof(type, field))

int main(void)
{
    SIZE(eg_str);
    FIELD(eg_str, ptr);
    FIELD(eg_str, len);

    SIZE(eg_msg);
    FIELD(eg_msg, text);
    FIELD(eg_msg, len);

    SIZE(eg_device_info);
    FIELD(eg_device_info, id);
    FIELD(eg_device_info, name);
    FIELD(eg_device_info, classes);
    FIELD(eg_device_info, reserved);

    SIZE(eg_template);
    FIELD(eg_template, format);
    FIELD(eg_template, reserved);
    FIELD(eg_template, vendor_format);
    FIELD(eg_template, data);
    FIELD(eg_template, len);

    SIZE(eg_template_out);
    FIELD(eg_template_out, format);
    FIELD(eg_template_out, quality);
    FIELD(eg_template_out, vendor_format);
    FIELD(eg_template_out, data);
    FIELD(eg_template_out, len);

    SIZE(eg_fingerprint_ops);
    FIELD(eg_fingerprint_ops, struct_size);
    FIELD(eg_fingerprint_ops, reserved);
    FIELD(eg_fingerprint_ops, get_template);
    FIELD(eg_fingerprint_ops, match_templates);
    FIELD(eg_fingerprint_ops, enabled);
    FIELD(eg_fingerprint_ops, finger_present);

    SIZE(eg_card_out);
    FIELD(eg_card_out, text);
    FIELD(eg_card_out, text_len);
    FIELD(eg_card_out, photo);
    FIELD(eg_card_out, photo_len);
    FIELD(eg_card_out, chip_serial);
    FIELD(eg_card_out, chip_serial_len);

    SIZE(eg_idcard_ops);
    FIELD(eg_idcard_ops, struct_size);
    FIELD(eg_idcard_ops, reserved);
    FIELD(eg_idcard_ops, read_card);

    SIZE(eg_camera_ops);
    FIELD(eg_camera_ops, struct_size);
    FIELD(eg_camera_ops, reserved);
    FIELD(eg_camera_ops, capture);

    SIZE(eg_sim_ops);
    FIELD(eg_sim_ops, struct_size);
    FIELD(eg_sim_ops, reserved);
    FIELD(eg_sim_ops, control);

    SIZE(eg_plugin);
    FIELD(eg_plugin, abi_version);
    FIELD(eg_plugin, struct_size);
    FIELD(eg_plugin, name);
    FIELD(eg_plugin, vendor);
    FIELD(eg_plugin, version);
    FIELD(eg_plugin, device_classes);
    FIELD(eg_plugin, reserved);
    FIELD(eg_plugin, discover);
    FIELD(eg_plugin, open);
    FIELD(eg_plugin, close);
    FIELD(eg_plugin, free_bytes);
    FIELD(eg_plugin, fingerprint);
    FIELD(eg_plugin, idcard);
    FIELD(eg_plugin, camera);
    FIELD(eg_plugin, sim);
    return 0;
}
