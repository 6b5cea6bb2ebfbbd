/*
 * ak/xml.h — a small, strict, bounded XML reader for AWS responses (S3, STS, IAM).
 *
 * Parses a whole document into a flat array of element nodes that point into the caller's bytes
 * (the document must outlive the ak_xml). Well-formedness is checked in full: one root element,
 * matching end tags, quoted attribute values, legal characters, comments, CDATA sections and
 * processing instructions in their places. Refused outright: any DOCTYPE or entity declaration
 * (no DTDs means no entity expansion attacks and no external fetches), unknown entities, nesting
 * deeper than AK_XML_MAX_DEPTH and more than AK_XML_MAX_NODES elements.
 *
 * Lookups match LOCAL names (the part after any "prefix:"), because S3 and STS put everything in
 * a default namespace. Text is decoded on demand: &amp; &lt; &gt; &quot; &apos;, decimal and hex
 * character references (to UTF-8; NUL, surrogates and > U+10FFFF are refused), CDATA verbatim,
 * comments dropped.
 */
#ifndef AK_XML_H
#define AK_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"
#include "ak/err.h"

#define AK_XML_MAX_DEPTH 32u
#define AK_XML_MAX_NODES 200000u
/* Largest document accepted (equal to the upstream body ceiling). */
#define AK_XML_MAX_DOC (8u * 1024u * 1024u)
#define AK_XML_NONE UINT32_MAX

typedef struct ak_xml_node {
    ak_cur name;           /* qualified name as written ("s3:Key" or "Key") */
    uint32_t parent;       /* AK_XML_NONE for the root */
    uint32_t first_child;  /* first child ELEMENT, AK_XML_NONE if none */
    uint32_t next_sibling; /* next sibling element, AK_XML_NONE if none */
    size_t content_start;  /* raw content (between the tags) as offsets into the document */
    size_t content_end;
} ak_xml_node;

typedef struct ak_xml {
    ak_cur doc;
    ak_xml_node *nodes; /* nodes[0] is the root element */
    uint32_t n;
    uint32_t cap;
} ak_xml;

/* Parses `doc`. Returns AK_E_INVALID_INPUT for anything not well-formed or refused (see above),
 * AK_E_LIMIT past the ceilings, AK_E_NOMEM. On error *x is left empty (nothing to free). */
AK_MUST ak_err ak_xml_parse(ak_cur doc, ak_xml *x);
void ak_xml_free(ak_xml *x);

/* Local name of a node ("Key" for "s3:Key"). */
ak_cur ak_xml_local_name(const ak_xml *x, uint32_t node);
/* True when the root element's local name is `name`. */
bool ak_xml_root_is(const ak_xml *x, const char *name);

/* First child element of `parent` with local name `name` (NULL name: any). false if none. */
bool ak_xml_child(const ak_xml *x, uint32_t parent, const char *name, uint32_t *out);
/* Next sibling of `node` with the same local name as `node` (repeated elements). false if none. */
bool ak_xml_next_same(const ak_xml *x, uint32_t node, uint32_t *out);
/* Follows a '/'-separated path of local names below `from` ("Error/Code"); first match at each
 * step. false if any step is missing. */
bool ak_xml_find(const ak_xml *x, uint32_t from, const char *path, uint32_t *out);

/* Appends the decoded text of a leaf element to `out`. AK_E_INVALID_INPUT when the element has
 * child elements (mixed content is not text we want), AK_E_LIMIT past out's ceiling. */
AK_MUST ak_err ak_xml_text(const ak_xml *x, uint32_t node, ak_buf *out);
/* ak_xml_find + ak_xml_text. AK_E_NOT_FOUND when the path is missing. */
AK_MUST ak_err ak_xml_text_at(const ak_xml *x, uint32_t from, const char *path, ak_buf *out);

#endif
