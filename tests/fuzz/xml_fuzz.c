/* xml_fuzz.c — libFuzzer target: ak_xml_parse on arbitrary bytes, then every lookup and text decode. */
#include <stddef.h>
#include <stdint.h>

#include "ak/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ak_xml x;
    if (ak_xml_parse(ak_cur_from(data, size), &x) != AK_OK) return 0;
    ak_buf b;
    ak_buf_init(&b, 1u << 20);
    for (uint32_t i = 0; i < x.n; i++) {
        (void)ak_xml_local_name(&x, i);
        uint32_t o;
        if (ak_xml_child(&x, i, NULL, &o) && o >= x.n) __builtin_trap();
        if (ak_xml_next_same(&x, i, &o) && o >= x.n) __builtin_trap();
        ak_buf_clear(&b);
        ak_err e = ak_xml_text(&x, i, &b);
        /* a leaf's content was validated by the parser, so decoding it cannot fail except on size */
        if (x.nodes[i].first_child == AK_XML_NONE && e != AK_OK && e != AK_E_LIMIT && e != AK_E_NOMEM)
            __builtin_trap();
    }
    uint32_t o;
    (void)ak_xml_find(&x, 0, "Error/Code", &o);
    (void)ak_xml_root_is(&x, "ListBucketResult");
    ak_buf_free(&b);
    ak_xml_free(&x);
    return 0;
}
