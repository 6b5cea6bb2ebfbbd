/*
 * xml.c — strict, bounded XML reader (see ak/xml.h). XML 1.0 (W3C REC, 5th ed.) well-formedness
 * for the subset AWS sends; no DTD support by design (§2.8 doctypedecl is refused).
 */
#include "ak/xml.h"

#include <string.h>

#include "ak/alloc.h"

typedef struct s_p {
    const uint8_t *s;
    size_t n;
    size_t i;
} s_p;

static bool s_at(const s_p *p, const char *lit) {
    size_t l = strlen(lit);
    return p->n - p->i >= l && memcmp(p->s + p->i, lit, l) == 0;
}

static bool s_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static void s_skip_ws(s_p *p) {
    while (p->i < p->n && s_ws(p->s[p->i]))
        p->i++;
}

/* XML 1.0 Char: no C0 controls except tab, LF, CR. (UTF-8 is taken as given; bytes >= 0x80 pass.) */
static bool s_char_ok(uint8_t c) { return c >= 0x20 || c == '\t' || c == '\n' || c == '\r'; }

static bool s_name_start(uint8_t c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' || c >= 0x80;
}
static bool s_name_char(uint8_t c) {
    return s_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static ak_err s_name(s_p *p, ak_cur *out) {
    size_t st = p->i;
    AK_ENSURE(p->i < p->n && s_name_start(p->s[p->i]), AK_E_INVALID_INPUT);
    while (p->i < p->n && s_name_char(p->s[p->i]))
        p->i++;
    *out = ak_cur_from(p->s + st, p->i - st);
    return AK_OK;
}

/* Encodes a code point as UTF-8 (cp already validated). */
static size_t s_utf8(uint32_t cp, uint8_t o[4]) {
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses one reference starting at '&' (p->i on '&'); advances past ';'. Writes its UTF-8 bytes. */
static ak_err s_entity(s_p *p, uint8_t o[4], size_t *olen) {
    static const struct {
        const char *name;
        uint8_t ch;
    } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    p->i++; /* '&' */
    for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
        if (s_at(p, named[k].name)) {
            p->i += strlen(named[k].name);
            o[0] = named[k].ch;
            *olen = 1;
            return AK_OK;
        }
    }
    AK_ENSURE(p->i < p->n && p->s[p->i] == '#', AK_E_INVALID_INPUT);
    p->i++;
    bool hex = p->i < p->n && p->s[p->i] == 'x';
    if (hex) p->i++;
    uint32_t cp = 0;
    size_t digits = 0;
    while (p->i < p->n && p->s[p->i] != ';') {
        uint8_t c = p->s[p->i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (hex && c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else if (hex && c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else
            return AK_E_INVALID_INPUT;
        cp = cp * (hex ? 16u : 10u) + d;
        AK_ENSURE(cp <= 0x10FFFF, AK_E_INVALID_INPUT);
        digits++;
        p->i++;
    }
    AK_ENSURE(digits > 0 && p->i < p->n, AK_E_INVALID_INPUT);
    p->i++; /* ';' */
    /* XML 1.0 Char production: tab, LF, CR, >= 0x20 except surrogates and U+FFFE/U+FFFF. */
    AK_ENSURE(cp == 0x9 || cp == 0xA || cp == 0xD || cp >= 0x20, AK_E_INVALID_INPUT);
    AK_ENSURE(!(cp >= 0xD800 && cp <= 0xDFFF) && cp != 0xFFFE && cp != 0xFFFF, AK_E_INVALID_INPUT);
    *olen = s_utf8(cp, o);
    return AK_OK;
}

/* Skips "<!--" ... "-->" (p->i at '<'). "--" inside a comment is not allowed (XML 1.0 §2.5). */
static ak_err s_comment(s_p *p) {
    p->i += 4;
    for (;;) {
        AK_ENSURE(p->i + 1 < p->n, AK_E_INVALID_INPUT);
        if (p->s[p->i] == '-' && p->s[p->i + 1] == '-') {
            AK_ENSURE(p->i + 2 < p->n && p->s[p->i + 2] == '>', AK_E_INVALID_INPUT);
            p->i += 3;
            return AK_OK;
        }
        AK_ENSURE(s_char_ok(p->s[p->i]), AK_E_INVALID_INPUT);
        p->i++;
    }
}

/* Skips "<?target ...?>" (p->i at '<'). */
static ak_err s_pi(s_p *p) {
    p->i += 2;
    ak_cur target;
    AK_GUARD(s_name(p, &target));
    for (;;) {
        AK_ENSURE(p->i + 1 < p->n, AK_E_INVALID_INPUT);
        if (p->s[p->i] == '?' && p->s[p->i + 1] == '>') {
            p->i += 2;
            return AK_OK;
        }
        AK_ENSURE(s_char_ok(p->s[p->i]), AK_E_INVALID_INPUT);
        p->i++;
    }
}

/* Skips "<![CDATA[" ... "]]>" (p->i at '<'). */
static ak_err s_cdata(s_p *p) {
    p->i += 9;
    for (;;) {
        AK_ENSURE(p->i + 2 < p->n, AK_E_INVALID_INPUT);
        if (p->s[p->i] == ']' && p->s[p->i + 1] == ']' && p->s[p->i + 2] == '>') {
            p->i += 3;
            return AK_OK;
        }
        AK_ENSURE(s_char_ok(p->s[p->i]), AK_E_INVALID_INPUT);
        p->i++;
    }
}

/* Skips whitespace, comments and PIs outside the root element. Refuses DOCTYPE and friends. */
static ak_err s_misc(s_p *p) {
    for (;;) {
        s_skip_ws(p);
        if (s_at(p, "<!--"))
            AK_GUARD(s_comment(p));
        else if (s_at(p, "<?"))
            AK_GUARD(s_pi(p));
        else if (s_at(p, "<!"))
            return AK_E_INVALID_INPUT; /* DOCTYPE, ENTITY, ...: never */
        else
            return AK_OK;
    }
}

static ak_err s_new_node(ak_xml *x, ak_cur name, uint32_t parent, uint32_t *out) {
    AK_ENSURE(x->n < AK_XML_MAX_NODES, AK_E_LIMIT);
    if (x->n == x->cap) {
        uint32_t nc = x->cap ? x->cap * 2 : 64;
        if (nc > AK_XML_MAX_NODES) nc = AK_XML_MAX_NODES;
        ak_xml_node *nv = ak_realloc(x->nodes, (size_t)nc * sizeof(*nv));
        AK_ENSURE(nv != NULL, AK_E_NOMEM);
        x->nodes = nv;
        x->cap = nc;
    }
    uint32_t id = x->n++;
    x->nodes[id] = (ak_xml_node){.name = name,
                                 .parent = parent,
                                 .first_child = AK_XML_NONE,
                                 .next_sibling = AK_XML_NONE,
                                 .content_start = 0,
                                 .content_end = 0};
    *out = id;
    return AK_OK;
}

/* Parses attributes up to '>' or '/>' (p->i just after the element name). */
static ak_err s_attrs(s_p *p, bool *empty) {
    for (;;) {
        size_t before = p->i;
        s_skip_ws(p);
        AK_ENSURE(p->i < p->n, AK_E_INVALID_INPUT);
        if (p->s[p->i] == '>') {
            p->i++;
            *empty = false;
            return AK_OK;
        }
        if (s_at(p, "/>")) {
            p->i += 2;
            *empty = true;
            return AK_OK;
        }
        AK_ENSURE(p->i > before, AK_E_INVALID_INPUT); /* attributes are separated by whitespace */
        ak_cur an;
        AK_GUARD(s_name(p, &an));
        s_skip_ws(p);
        AK_ENSURE(p->i < p->n && p->s[p->i] == '=', AK_E_INVALID_INPUT);
        p->i++;
        s_skip_ws(p);
        AK_ENSURE(p->i < p->n && (p->s[p->i] == '"' || p->s[p->i] == '\''), AK_E_INVALID_INPUT);
        uint8_t q = p->s[p->i++];
        for (;;) {
            AK_ENSURE(p->i < p->n, AK_E_INVALID_INPUT);
            uint8_t c = p->s[p->i];
            if (c == q) {
                p->i++;
                break;
            }
            AK_ENSURE(c != '<' && s_char_ok(c), AK_E_INVALID_INPUT);
            if (c == '&') {
                uint8_t o[4];
                size_t ol;
                AK_GUARD(s_entity(p, o, &ol));
            } else {
                p->i++;
            }
        }
    }
}

static ak_err s_parse(s_p *p, ak_xml *x) {
    uint32_t stack[AK_XML_MAX_DEPTH];
    uint32_t last_child[AK_XML_MAX_DEPTH];
    size_t depth = 0;
    /* optional UTF-8 BOM, XML declaration, misc */
    if (s_at(p, "\xEF\xBB\xBF")) p->i += 3;
    AK_GUARD(s_misc(p));
    AK_ENSURE(p->i < p->n && p->s[p->i] == '<', AK_E_INVALID_INPUT);
    for (;;) {
        AK_ENSURE(p->i < p->n, AK_E_INVALID_INPUT); /* unclosed element */
        uint8_t c = p->s[p->i];
        if (c != '<') {
            AK_ENSURE(depth > 0, AK_E_INVALID_INPUT);
            if (c == '&') {
                uint8_t o[4];
                size_t ol;
                AK_GUARD(s_entity(p, o, &ol));
                continue;
            }
            AK_ENSURE(s_char_ok(c), AK_E_INVALID_INPUT);
            p->i++;
            continue;
        }
        if (s_at(p, "<!--")) {
            AK_ENSURE(depth > 0, AK_E_INVALID_INPUT);
            AK_GUARD(s_comment(p));
            continue;
        }
        if (s_at(p, "<![CDATA[")) {
            AK_ENSURE(depth > 0, AK_E_INVALID_INPUT);
            AK_GUARD(s_cdata(p));
            continue;
        }
        if (s_at(p, "<?")) {
            AK_GUARD(s_pi(p));
            continue;
        }
        AK_ENSURE(!s_at(p, "<!"), AK_E_INVALID_INPUT);
        if (s_at(p, "</")) {
            AK_ENSURE(depth > 0, AK_E_INVALID_INPUT);
            size_t tag_start = p->i;
            p->i += 2;
            ak_cur en;
            AK_GUARD(s_name(p, &en));
            s_skip_ws(p);
            AK_ENSURE(p->i < p->n && p->s[p->i] == '>', AK_E_INVALID_INPUT);
            p->i++;
            ak_xml_node *nd = &x->nodes[stack[depth - 1]];
            AK_ENSURE(ak_cur_eq(en, nd->name), AK_E_INVALID_INPUT);
            nd->content_end = tag_start;
            depth--;
            if (depth == 0) break;
            continue;
        }
        /* start tag */
        AK_ENSURE(depth > 0 || x->n == 0, AK_E_INVALID_INPUT); /* exactly one root */
        AK_ENSURE(depth < AK_XML_MAX_DEPTH, AK_E_LIMIT);
        p->i++;
        ak_cur name;
        AK_GUARD(s_name(p, &name));
        uint32_t parent = depth ? stack[depth - 1] : AK_XML_NONE;
        uint32_t id;
        AK_GUARD(s_new_node(x, name, parent, &id));
        if (depth) {
            if (last_child[depth - 1] == AK_XML_NONE)
                x->nodes[parent].first_child = id;
            else
                x->nodes[last_child[depth - 1]].next_sibling = id;
            last_child[depth - 1] = id;
        }
        bool empty;
        AK_GUARD(s_attrs(p, &empty));
        x->nodes[id].content_start = p->i;
        x->nodes[id].content_end = p->i;
        if (empty) {
            if (depth == 0) break;
            continue;
        }
        stack[depth] = id;
        last_child[depth] = AK_XML_NONE;
        depth++;
    }
    AK_GUARD(s_misc(p));
    AK_ENSURE(p->i == p->n, AK_E_INVALID_INPUT); /* nothing after the root but misc */
    return AK_OK;
}

ak_err ak_xml_parse(ak_cur doc, ak_xml *x) {
    AK_PRECOND(x != NULL);
    memset(x, 0, sizeof(*x));
    AK_ENSURE(doc.len <= AK_XML_MAX_DOC, AK_E_LIMIT);
    s_p p = {.s = doc.ptr, .n = doc.len, .i = 0};
    x->doc = doc;
    ak_err rc = s_parse(&p, x);
    if (rc != AK_OK) ak_xml_free(x);
    return rc;
}

void ak_xml_free(ak_xml *x) {
    if (x == NULL) return;
    ak_free(x->nodes);
    memset(x, 0, sizeof(*x));
}

ak_cur ak_xml_local_name(const ak_xml *x, uint32_t node) {
    AK_PRECOND(x != NULL && node < x->n);
    ak_cur n = x->nodes[node].name;
    long colon = -1;
    for (size_t i = 0; i < n.len; i++)
        if (n.ptr[i] == ':') colon = (long)i;
    if (colon >= 0) {
        n.ptr += colon + 1;
        n.len -= (size_t)colon + 1;
    }
    return n;
}

bool ak_xml_root_is(const ak_xml *x, const char *name) {
    AK_PRECOND(x != NULL && name != NULL);
    return x->n > 0 && ak_cur_eq_str(ak_xml_local_name(x, 0), name);
}

static bool s_child_named(const ak_xml *x, uint32_t parent, ak_cur name, bool any, uint32_t *out) {
    for (uint32_t c = x->nodes[parent].first_child; c != AK_XML_NONE; c = x->nodes[c].next_sibling) {
        if (any || ak_cur_eq(ak_xml_local_name(x, c), name)) {
            *out = c;
            return true;
        }
    }
    return false;
}

bool ak_xml_child(const ak_xml *x, uint32_t parent, const char *name, uint32_t *out) {
    AK_PRECOND(x != NULL && out != NULL);
    if (parent >= x->n) return false;
    return s_child_named(x, parent, ak_cur_from_str(name), name == NULL, out);
}

bool ak_xml_next_same(const ak_xml *x, uint32_t node, uint32_t *out) {
    AK_PRECOND(x != NULL && out != NULL);
    if (node >= x->n) return false;
    ak_cur want = ak_xml_local_name(x, node);
    for (uint32_t s = x->nodes[node].next_sibling; s != AK_XML_NONE; s = x->nodes[s].next_sibling) {
        if (ak_cur_eq(ak_xml_local_name(x, s), want)) {
            *out = s;
            return true;
        }
    }
    return false;
}

bool ak_xml_find(const ak_xml *x, uint32_t from, const char *path, uint32_t *out) {
    AK_PRECOND(x != NULL && path != NULL && out != NULL);
    if (from >= x->n) return false;
    ak_cur rest = ak_cur_from_str(path), step;
    uint32_t cur = from;
    for (;;) {
        bool more = ak_cur_split(&rest, '/', &step);
        if (!more) step = rest;
        if (!s_child_named(x, cur, step, false, &cur)) return false;
        if (!more) break;
    }
    *out = cur;
    return true;
}

ak_err ak_xml_text(const ak_xml *x, uint32_t node, ak_buf *out) {
    AK_PRECOND(x != NULL && out != NULL && node < x->n);
    const ak_xml_node *nd = &x->nodes[node];
    AK_ENSURE(nd->first_child == AK_XML_NONE, AK_E_INVALID_INPUT);
    /* The content was validated by the parser: only text, references, comments, CDATA, PIs. */
    s_p p = {.s = x->doc.ptr, .n = nd->content_end, .i = nd->content_start};
    while (p.i < p.n) {
        size_t st = p.i;
        if (s_at(&p, "<!--")) {
            AK_GUARD(s_comment(&p));
        } else if (s_at(&p, "<![CDATA[")) {
            AK_GUARD(s_cdata(&p));
            AK_GUARD(ak_buf_append(out, x->doc.ptr + st + 9, p.i - st - 12));
        } else if (s_at(&p, "<?")) {
            AK_GUARD(s_pi(&p));
        } else if (p.s[p.i] == '&') {
            uint8_t o[4];
            size_t ol;
            AK_GUARD(s_entity(&p, o, &ol));
            AK_GUARD(ak_buf_append(out, o, ol));
        } else {
            while (p.i < p.n && p.s[p.i] != '<' && p.s[p.i] != '&')
                p.i++;
            AK_GUARD(ak_buf_append(out, x->doc.ptr + st, p.i - st));
        }
    }
    return AK_OK;
}

ak_err ak_xml_text_at(const ak_xml *x, uint32_t from, const char *path, ak_buf *out) {
    uint32_t n;
    AK_ENSURE(ak_xml_find(x, from, path, &n), AK_E_NOT_FOUND);
    return ak_xml_text(x, n, out);
}
