/*
 * yaml.c — a purpose-built reader for the YAML subset SAM templates use.
 *
 * Why not libyaml or python3-yaml: neither is guaranteed on a fresh machine and the emulator
 * must read template.yaml with nothing but our own deps. The subset:
 *   - block mappings and block sequences by indentation (spaces only), including the
 *     "indentless" sequence under a key and "- key: value" items;
 *   - plain scalars (folded over more-indented continuation lines), '...' and "..." scalars
 *     on one line (with \" \\ \n \t \uXXXX escapes), | and > block scalars;
 *   - tags (!Ref X, !Sub "...", !GetAtt a.b, or a tag in front of a nested node);
 *   - flow collections [a, b] and {k: v}, possibly spread over several lines;
 *   - comments, "---", "..." and % directives.
 * Anchors, aliases, merge keys and multi-line quoted scalars are rejected or kept as text;
 * CloudFormation/SAM templates do not need them.
 */
#include <stdio.h>
#include <string.h>

#include "ak/alloc.h"
#include "emu.h"

typedef struct {
    int indent;
    char *text; /* after the indentation, NUL-terminated, comment and trailing blanks removed */
    char *raw;  /* after the indentation, only the line ending removed (block scalars) */
    bool blank;
    int lineno;
} s_line;

typedef struct {
    s_line *l;
    size_t n, i;
    char *err;
    size_t errcap;
    bool failed;
    int depth;
} s_parser;

#define S_MAX_DEPTH 64

static void s_fail(s_parser *p, int line, const char *what) {
    if (p->failed) return;
    p->failed = true;
    snprintf(p->err, p->errcap, "template line %d: %s", line, what);
}

static akemu_ynode *s_node(akemu_ytype t, int line) {
    akemu_ynode *n = ak_calloc(1, sizeof(*n));
    if (n != NULL) {
        n->type = t;
        n->line = line;
    }
    return n;
}

void akemu_yaml_free(akemu_ynode *n) {
    if (n == NULL) return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys != NULL) ak_free(n->keys[i]);
        akemu_yaml_free(n->vals[i]);
    }
    ak_free(n->keys);
    ak_free(n->vals);
    ak_free(n->tag);
    ak_free(n->str);
    ak_free(n);
}

static bool s_push(akemu_ynode *parent, char *key, akemu_ynode *val) {
    if (parent->n == parent->cap) {
        size_t nc = parent->cap ? parent->cap * 2 : 8;
        akemu_ynode **nv = ak_realloc(parent->vals, nc * sizeof(*nv));
        if (nv == NULL) return false;
        parent->vals = nv;
        if (parent->type == AKEMU_Y_MAP) {
            char **nk = ak_realloc(parent->keys, nc * sizeof(*nk));
            if (nk == NULL) return false;
            parent->keys = nk;
        }
        parent->cap = nc;
    }
    if (parent->type == AKEMU_Y_MAP) parent->keys[parent->n] = key;
    parent->vals[parent->n++] = val;
    return true;
}

const akemu_ynode *akemu_ymap_get(const akemu_ynode *map, const char *key) {
    if (map == NULL || map->type != AKEMU_Y_MAP) return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0) return map->vals[i];
    return NULL;
}

const char *akemu_yscalar(const akemu_ynode *n) {
    if (n == NULL || n->type != AKEMU_Y_SCALAR || n->tag != NULL) return NULL;
    return n->str;
}

/* ---------------------------------------------------------------- lines */

/* Cuts a comment: '#' at the start or after a blank, outside quotes. Then trims the right. */
static void s_strip_comment(char *t) {
    char q = 0;
    size_t n = strlen(t);
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (q) {
            if (c == q) {
                if (q == '\'' && t[i + 1] == '\'')
                    i++;
                else
                    q = 0;
            } else if (q == '"' && c == '\\' && t[i + 1]) {
                i++;
            }
            continue;
        }
        /* Quotes only open a quoted scalar at the start of a token. */
        if ((c == '"' || c == '\'') && (i == 0 || strchr(" \t[{,:-", t[i - 1]) != NULL)) {
            q = c;
        } else if (c == '#' && (i == 0 || t[i - 1] == ' ' || t[i - 1] == '\t')) {
            n = i;
            break;
        }
    }
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    t[n] = '\0';
}

static ak_err s_split_lines(char *buf, size_t len, s_parser *p) {
    size_t count = 1;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n') count++;
    p->l = ak_calloc(count, sizeof(s_line));
    AK_ENSURE(p->l != NULL, AK_E_NOMEM);
    char *s = buf;
    char *end = buf + len;
    int lineno = 0;
    while (s <= end && p->n < count) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *e = nl ? nl : end;
        *e = '\0';
        if (e > s && e[-1] == '\r') e[-1] = '\0';
        lineno++;
        s_line *L = &p->l[p->n++];
        L->lineno = lineno;
        int ind = 0;
        while (s[ind] == ' ')
            ind++;
        if (s[ind] == '\t') {
            s_fail(p, lineno, "tab in indentation");
            return AK_E_INVALID_INPUT;
        }
        L->indent = ind;
        L->raw = s + ind;
        /* The comment-free copy lives after the raw text? No: raw is kept intact for block
         * scalars, so the stripped text is a separate copy. */
        L->text = ak_strndup(L->raw, strlen(L->raw));
        AK_ENSURE(L->text != NULL, AK_E_NOMEM);
        s_strip_comment(L->text);
        const char *t = L->text;
        L->blank =
            t[0] == '\0' || (ind == 0 && (strcmp(t, "---") == 0 || strcmp(t, "...") == 0 || t[0] == '%'));
        if (!nl) break;
        s = nl + 1;
    }
    return AK_OK;
}

static void s_skip_blank(s_parser *p) {
    while (p->i < p->n && p->l[p->i].blank)
        p->i++;
}

static bool s_is_dash(const char *t) { return t[0] == '-' && (t[1] == ' ' || t[1] == '\0'); }

/* Finds the ':' that ends a mapping key on this line; -1 when the line is not "key: ...". */
static long s_find_key(const char *t) {
    if (t[0] == '[' || t[0] == '{' || t[0] == '!' || t[0] == '|' || t[0] == '>' || t[0] == '&' || t[0] == '*')
        return -1;
    size_t i = 0;
    if (t[0] == '"' || t[0] == '\'') {
        char q = t[0];
        for (i = 1; t[i]; i++) {
            if (q == '"' && t[i] == '\\' && t[i + 1]) {
                i++;
            } else if (t[i] == q) {
                if (q == '\'' && t[i + 1] == '\'') {
                    i++;
                    continue;
                }
                break;
            }
        }
        if (!t[i]) return -1;
        i++;
        while (t[i] == ' ')
            i++;
        return (t[i] == ':' && (t[i + 1] == ' ' || t[i + 1] == '\0')) ? (long)i : -1;
    }
    for (; t[i]; i++)
        if (t[i] == ':' && (t[i + 1] == ' ' || t[i + 1] == '\0')) return (long)i;
    return -1;
}

/* ---------------------------------------------------------------- scalars */

static void s_put_utf8(char *o, size_t *k, unsigned cp) {
    if (cp < 0x80) {
        o[(*k)++] = (char)cp;
    } else if (cp < 0x800) {
        o[(*k)++] = (char)(0xC0 | (cp >> 6));
        o[(*k)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        o[(*k)++] = (char)(0xE0 | (cp >> 12));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[(*k)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static int s_hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses a quoted scalar starting at *s (on the quote); advances past the closing quote. */
static char *s_quoted(const char **s, s_parser *p, int line) {
    const char *t = *s;
    char q = *t++;
    size_t cap = strlen(t) + 1;
    char *o = ak_malloc(cap);
    if (o == NULL) {
        s_fail(p, line, "out of memory");
        return NULL;
    }
    size_t k = 0;
    for (;;) {
        char c = *t;
        if (c == '\0') {
            ak_free(o);
            s_fail(p, line, "unterminated quoted scalar (multi-line quotes are not supported)");
            return NULL;
        }
        t++;
        if (c == q) {
            if (q == '\'' && *t == '\'') {
                o[k++] = '\'';
                t++;
                continue;
            }
            break;
        }
        if (q == '"' && c == '\\') {
            char e = *t++;
            switch (e) {
                case 'n':
                    o[k++] = '\n';
                    break;
                case 't':
                    o[k++] = '\t';
                    break;
                case 'r':
                    o[k++] = '\r';
                    break;
                case '0':
                    o[k++] = '\0';
                    break;
                case '"':
                case '\\':
                case '/':
                case ' ':
                    o[k++] = e;
                    break;
                case 'x':
                case 'u': {
                    int nd = e == 'x' ? 2 : 4;
                    unsigned cp = 0;
                    for (int d = 0; d < nd; d++) {
                        int h = s_hex(t[d]);
                        if (h < 0) {
                            ak_free(o);
                            s_fail(p, line, "bad escape in quoted scalar");
                            return NULL;
                        }
                        cp = cp * 16u + (unsigned)h;
                    }
                    t += nd;
                    s_put_utf8(o, &k, cp);
                    break;
                }
                default:
                    ak_free(o);
                    s_fail(p, line, "unknown escape in quoted scalar");
                    return NULL;
            }
            continue;
        }
        o[k++] = c;
    }
    o[k] = '\0';
    *s = t;
    return o;
}

static akemu_ynode *s_scalar(char *str, int line, s_parser *p) {
    if (str == NULL) return NULL;
    akemu_ynode *n = s_node(AKEMU_Y_SCALAR, line);
    if (n == NULL) {
        ak_free(str);
        s_fail(p, line, "out of memory");
        return NULL;
    }
    n->str = str;
    return n;
}

/* ---------------------------------------------------------------- flow collections */

static void s_ws(const char **s) {
    while (**s == ' ' || **s == '\t' || **s == '\n')
        (*s)++;
}

static akemu_ynode *s_flow_node(const char **s, s_parser *p, int line, bool is_key);

static akemu_ynode *s_flow_coll(const char **s, s_parser *p, int line) {
    char open = **s;
    char close = open == '[' ? ']' : '}';
    akemu_ynode *n = s_node(open == '[' ? AKEMU_Y_SEQ : AKEMU_Y_MAP, line);
    if (n == NULL) return NULL;
    (*s)++;
    for (;;) {
        s_ws(s);
        if (**s == close) {
            (*s)++;
            return n;
        }
        char *key = NULL;
        if (open == '{') {
            akemu_ynode *k = s_flow_node(s, p, line, true);
            if (k == NULL || k->type != AKEMU_Y_SCALAR) {
                akemu_yaml_free(k);
                goto bad;
            }
            key = k->str;
            k->str = NULL;
            akemu_yaml_free(k);
            s_ws(s);
            if (**s != ':') {
                ak_free(key);
                goto bad;
            }
            (*s)++;
        }
        akemu_ynode *v = s_flow_node(s, p, line, false);
        if (v == NULL || !s_push(n, key, v)) {
            ak_free(key);
            akemu_yaml_free(v);
            goto bad;
        }
        s_ws(s);
        if (**s == ',') {
            (*s)++;
        } else if (**s != close) {
            goto bad;
        }
    }
bad:
    s_fail(p, line, "malformed flow collection");
    akemu_yaml_free(n);
    return NULL;
}

static akemu_ynode *s_flow_node(const char **s, s_parser *p, int line, bool is_key) {
    if (++p->depth > S_MAX_DEPTH) {
        s_fail(p, line, "nesting too deep");
        return NULL;
    }
    akemu_ynode *n = NULL;
    char *tag = NULL;
    s_ws(s);
    if (**s == '!') {
        const char *b = *s;
        while (**s && **s != ' ' && **s != ',' && **s != ']' && **s != '}')
            (*s)++;
        tag = ak_strndup(b, (size_t)(*s - b));
        s_ws(s);
    }
    if (**s == '[' || **s == '{') {
        n = s_flow_coll(s, p, line);
    } else if (**s == '"' || **s == '\'') {
        n = s_scalar(s_quoted(s, p, line), line, p);
    } else {
        const char *b = *s;
        while (**s && **s != ',' && **s != ']' && **s != '}' && !(is_key && **s == ':'))
            (*s)++;
        const char *e = *s;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        char *str = ak_strndup(b, (size_t)(e - b));
        n = e == b && tag == NULL ? s_node(AKEMU_Y_NULL, line) : s_scalar(str, line, p);
        if (e == b && tag == NULL) ak_free(str);
    }
    if (n != NULL) {
        n->tag = tag;
    } else {
        ak_free(tag);
    }
    p->depth--;
    return n;
}

/* ---------------------------------------------------------------- block structure */

static akemu_ynode *s_block(s_parser *p, int min_indent);
static akemu_ynode *s_seq(s_parser *p, int ind);

/* Parses the value part of "key: <rest>" or of a lone scalar line. The line holding `rest`
 * has been consumed; `parent` is the indentation that more-indented lines must exceed. */
static akemu_ynode *s_value(s_parser *p, const char *rest, int parent, int line, bool in_map) {
    char *tag = NULL;
    akemu_ynode *n = NULL;
    if (rest[0] == '&' || rest[0] == '*') {
        s_fail(p, line, "anchors and aliases are not supported");
        return NULL;
    }
    if (rest[0] == '!') {
        const char *b = rest;
        while (*rest && *rest != ' ')
            rest++;
        tag = ak_strndup(b, (size_t)(rest - b));
        while (*rest == ' ')
            rest++;
    }
    if (rest[0] == '\0') {
        s_skip_blank(p);
        if (p->i < p->n && p->l[p->i].indent > parent) {
            n = s_block(p, parent + 1);
        } else if (in_map && p->i < p->n && p->l[p->i].indent == parent && s_is_dash(p->l[p->i].text)) {
            n = s_seq(p, parent); /* indentless sequence under a key */
        } else {
            n = s_node(AKEMU_Y_NULL, line);
        }
    } else if (rest[0] == '|' || rest[0] == '>') {
        bool folded = rest[0] == '>';
        bool keep = strchr(rest, '+') != NULL;
        bool strip = strchr(rest, '-') != NULL;
        ak_buf b;
        ak_buf_init(&b, 1u << 20);
        int cind = -1;
        size_t nl_pending = 0;
        bool ok = true;
        while (p->i < p->n) {
            s_line *L = &p->l[p->i];
            bool empty = L->raw[0] == '\0';
            if (!empty && L->indent <= parent) break;
            if (!empty && cind < 0) cind = L->indent;
            if (!empty && L->indent < cind) break;
            p->i++;
            if (empty) {
                nl_pending++;
                continue;
            }
            if (b.len > 0) {
                if (folded && nl_pending == 0) {
                    ok = ok && ak_buf_append_byte(&b, ' ') == AK_OK;
                } else {
                    for (size_t k = 0; k < (folded ? nl_pending : nl_pending + 1); k++)
                        ok = ok && ak_buf_append_byte(&b, '\n') == AK_OK;
                }
            }
            nl_pending = 0;
            for (int k = cind; k < L->indent; k++)
                ok = ok && ak_buf_append_byte(&b, ' ') == AK_OK;
            ok = ok && ak_buf_append_str(&b, L->raw) == AK_OK;
        }
        if (!strip && b.len > 0) ok = ok && ak_buf_append_byte(&b, '\n') == AK_OK;
        if (keep)
            for (size_t k = 0; k < nl_pending; k++)
                ok = ok && ak_buf_append_byte(&b, '\n') == AK_OK;
        char *str = ok ? ak_strndup(ak_buf_cstr(&b), b.len) : NULL;
        ak_buf_free(&b);
        if (str == NULL) s_fail(p, line, "block scalar too large or out of memory");
        n = s_scalar(str, line, p);
    } else if (rest[0] == '[' || rest[0] == '{') {
        /* A flow collection may run over several lines: join until the brackets balance. */
        ak_buf b;
        ak_buf_init(&b, 1u << 20);
        bool ok = ak_buf_append_str(&b, rest) == AK_OK;
        for (;;) {
            int depth = 0;
            char q = 0;
            for (size_t k = 0; k < b.len; k++) {
                char c = (char)b.ptr[k];
                if (q) {
                    if (c == q)
                        q = 0;
                    else if (q == '"' && c == '\\')
                        k++;
                } else if (c == '"' || c == '\'') {
                    q = c;
                } else if (c == '[' || c == '{') {
                    depth++;
                } else if (c == ']' || c == '}') {
                    depth--;
                }
            }
            if (depth <= 0 || !ok) break;
            s_skip_blank(p);
            if (p->i >= p->n) break;
            ok = ak_buf_append_byte(&b, ' ') == AK_OK && ak_buf_append_str(&b, p->l[p->i].text) == AK_OK;
            p->i++;
        }
        const char *s = ak_buf_cstr(&b);
        n = ok ? s_flow_node(&s, p, line, false) : NULL;
        if (n != NULL) {
            s_ws(&s);
            if (*s != '\0') {
                s_fail(p, line, "trailing text after flow collection");
                akemu_yaml_free(n);
                n = NULL;
            }
        } else if (!ok) {
            s_fail(p, line, "flow collection too large");
        }
        ak_buf_free(&b);
    } else if (rest[0] == '"' || rest[0] == '\'') {
        const char *s = rest;
        n = s_scalar(s_quoted(&s, p, line), line, p);
        while (n != NULL && *s == ' ')
            s++;
        if (n != NULL && *s != '\0') {
            s_fail(p, line, "text after a quoted scalar");
            akemu_yaml_free(n);
            n = NULL;
        }
    } else {
        /* Plain scalar, folded over more-indented continuation lines. */
        ak_buf b;
        ak_buf_init(&b, 1u << 20);
        bool ok = ak_buf_append_str(&b, rest) == AK_OK;
        for (;;) {
            size_t save = p->i;
            s_skip_blank(p);
            if (p->i >= p->n || p->l[p->i].indent <= parent || s_is_dash(p->l[p->i].text) ||
                s_find_key(p->l[p->i].text) >= 0) {
                p->i = save;
                break;
            }
            ok =
                ok && ak_buf_append_byte(&b, ' ') == AK_OK && ak_buf_append_str(&b, p->l[p->i].text) == AK_OK;
            p->i++;
        }
        char *str = ok ? ak_strndup(ak_buf_cstr(&b), b.len) : NULL;
        ak_buf_free(&b);
        if (str == NULL) s_fail(p, line, "scalar too large or out of memory");
        n = s_scalar(str, line, p);
    }
    if (n == NULL) {
        ak_free(tag);
        return NULL;
    }
    if (tag != NULL) {
        ak_free(n->tag);
        n->tag = tag;
        if (n->type == AKEMU_Y_NULL) { /* "!Ref" alone: an empty tagged scalar */
            n->type = AKEMU_Y_SCALAR;
            n->str = ak_strndup("", 0);
        }
    }
    return n;
}

static akemu_ynode *s_map(s_parser *p, int ind) {
    akemu_ynode *m = s_node(AKEMU_Y_MAP, p->l[p->i].lineno);
    if (m == NULL) return NULL;
    for (;;) {
        s_skip_blank(p);
        if (p->i >= p->n || p->l[p->i].indent != ind || s_is_dash(p->l[p->i].text)) break;
        s_line *L = &p->l[p->i];
        if (p->l[p->i].indent > ind) {
            s_fail(p, L->lineno, "unexpected indentation");
            goto bad;
        }
        long colon = s_find_key(L->text);
        if (colon < 0) {
            s_fail(p, L->lineno, "expected \"key: value\"");
            goto bad;
        }
        char *key;
        if (L->text[0] == '"' || L->text[0] == '\'') {
            const char *s = L->text;
            key = s_quoted(&s, p, L->lineno);
        } else {
            key = ak_strndup(L->text, (size_t)colon);
        }
        if (key == NULL) goto bad;
        const char *rest = L->text + colon + 1;
        while (*rest == ' ')
            rest++;
        p->i++;
        if (akemu_ymap_get(m, key) != NULL) {
            s_fail(p, L->lineno, "duplicate key");
            ak_free(key);
            goto bad;
        }
        akemu_ynode *v = s_value(p, rest, ind, L->lineno, true);
        if (v == NULL || !s_push(m, key, v)) {
            ak_free(key);
            akemu_yaml_free(v);
            s_fail(p, L->lineno, "out of memory");
            goto bad;
        }
    }
    /* A more-indented line right after a map is an error, not something to skip. */
    if (p->i < p->n && p->l[p->i].indent > ind && !p->failed) {
        s_fail(p, p->l[p->i].lineno, "unexpected indentation");
        goto bad;
    }
    return m;
bad:
    akemu_yaml_free(m);
    return NULL;
}

static akemu_ynode *s_seq(s_parser *p, int ind) {
    akemu_ynode *q = s_node(AKEMU_Y_SEQ, p->l[p->i].lineno);
    if (q == NULL) return NULL;
    for (;;) {
        s_skip_blank(p);
        if (p->i >= p->n || p->l[p->i].indent != ind || !s_is_dash(p->l[p->i].text)) break;
        s_line *L = &p->l[p->i];
        const char *rest = L->text + 1;
        while (*rest == ' ')
            rest++;
        akemu_ynode *item;
        if (*rest == '\0') {
            p->i++;
            item = s_block(p, ind + 1);
            if (item == NULL && !p->failed) item = s_node(AKEMU_Y_NULL, L->lineno);
        } else {
            /* "- key: v" starts a map whose keys sit at the column of "key": re-read this
             * line as if the dash were spaces. */
            int col = ind + (int)(rest - L->text);
            size_t off = (size_t)(rest - L->text);
            memmove(L->text, L->text + off, strlen(L->text + off) + 1);
            L->raw += off;
            L->indent = col;
            item = s_block(p, col);
        }
        if (item == NULL || !s_push(q, NULL, item)) {
            akemu_yaml_free(item);
            s_fail(p, L->lineno, "bad sequence item");
            akemu_yaml_free(q);
            return NULL;
        }
    }
    return q;
}

static akemu_ynode *s_block(s_parser *p, int min_indent) {
    s_skip_blank(p);
    if (p->i >= p->n || p->l[p->i].indent < min_indent) return s_node(AKEMU_Y_NULL, 0);
    if (++p->depth > S_MAX_DEPTH) {
        s_fail(p, p->l[p->i].lineno, "nesting too deep");
        return NULL;
    }
    s_line *L = &p->l[p->i];
    akemu_ynode *n;
    if (s_is_dash(L->text)) {
        n = s_seq(p, L->indent);
    } else if (s_find_key(L->text) >= 0) {
        n = s_map(p, L->indent);
    } else {
        p->i++;
        n = s_value(p, L->text, L->indent - 1, L->lineno, false);
    }
    p->depth--;
    return n;
}

ak_err akemu_yaml_parse(const char *text, size_t len, akemu_ynode **out, char *err, size_t errcap) {
    ak_err rc = AK_OK;
    s_parser p = {0};
    p.err = err;
    p.errcap = errcap;
    *out = NULL;
    if (errcap) err[0] = '\0';
    char *buf = ak_strndup(text, len);
    AK_ENSURE(buf != NULL, AK_E_NOMEM);
    AK_ENSURE_OUT(memchr(text, '\0', len) == NULL, AK_E_INVALID_INPUT);
    AK_GUARD_OUT(s_split_lines(buf, len, &p));
    akemu_ynode *root = s_block(&p, 0);
    s_skip_blank(&p);
    if (!p.failed && p.i < p.n) s_fail(&p, p.l[p.i].lineno, "unexpected text (bad indentation?)");
    if (p.failed || root == NULL) {
        if (!p.failed) s_fail(&p, 0, "parse failed");
        akemu_yaml_free(root);
        rc = AK_E_INVALID_INPUT;
        goto out;
    }
    *out = root;
out:
    if (rc != AK_OK && errcap && err[0] == '\0') snprintf(err, errcap, "template: %s", ak_err_message(rc));
    if (p.l != NULL)
        for (size_t i = 0; i < p.n; i++)
            ak_free(p.l[i].text);
    ak_free(p.l);
    ak_free(buf);
    return rc;
}
