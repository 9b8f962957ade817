/* provider_ovp_xml.c: the OVP provider's custom metadata (reference §2.6): each
 * KalturaMetadata.xml cleaned as the real provider cleans it, parsed with libxml2, and every
 * child of <metadata> turned into metadata[tagName] the way its xmlToJson() + ['#text'] does
 * (one text child: a string; several: an array; none, CDATA only, or a repeated tag: the key
 * disappears). Used only by provider_ovp_config.c; nothing here is kept between calls.
 */
#include "provider_ovp_priv.h"

#include "kp/err.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

#define G kp_ovp__get

/* xml.replace(/\r?\n|\r/g, '').replace(/>\s*\/g, '>') */
static char *clean_xml(const char *xml, size_t n, size_t *out_len)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (xml[i] != '\r' && xml[i] != '\n')
            out[o++] = xml[i];
    size_t w = 0;
    for (size_t i = 0; i < o;) {
        char ch = out[i];
        out[w++] = ch;
        i++;
        if (ch == '>') {
            size_t k;
            while (i < o && (k = kp_ovp__js_space((const unsigned char *)out + i, o - i)) != 0)
                i += k;
        }
    }
    out[w] = '\0';
    *out_len = w;
    return out;
}

/* The DOM nodeName of a libxml2 node, into b. */
static int node_name(kp_buf *b, const xmlNode *n)
{
    switch (n->type) {
    case XML_ELEMENT_NODE:
        if (n->ns && n->ns->prefix) {
            int rc = kp_buf_printf(b, "%s:", (const char *)n->ns->prefix);
            if (rc < 0)
                return rc;
        }
        return kp_buf_puts(b, (const char *)n->name);
    case XML_TEXT_NODE:
        return kp_buf_puts(b, "#text");
    case XML_CDATA_SECTION_NODE:
        return kp_buf_puts(b, "#cdata-section");
    case XML_COMMENT_NODE:
        return kp_buf_puts(b, "#comment");
    default:
        return kp_buf_puts(b, n->name ? (const char *)n->name : "#node");
    }
}

/* XmlParser.xmlToJson(doc).metadata[key]['#text'] for one child name: a string when the
 * single element of that name has one text child, an array for several, NULL otherwise. */
static int element_text(const xmlNode *el, json_t **out)
{
    *out = NULL;
    size_t n = 0;
    for (const xmlNode *t = el->children; t; t = t->next)
        n += t->type == XML_TEXT_NODE;
    if (n == 0)
        return 0;
    json_t *arr = n > 1 ? json_array() : NULL;
    if (n > 1 && !arr)
        return KP_ENOMEM;
    for (const xmlNode *t = el->children; t; t = t->next) {
        if (t->type != XML_TEXT_NODE)
            continue;
        const char *txt = t->content ? (const char *)t->content : "";
        json_t *s = json_string(txt);
        if (!s) {
            json_decref(arr);
            return KP_ENOMEM;
        }
        if (!arr) {
            *out = s;
            return 0;
        }
        if (json_array_append_new(arr, s) != 0) {
            json_decref(arr);
            return KP_ENOMEM;
        }
    }
    *out = arr;
    return 0;
}

static int apply_metadata_xml(const char *xml, size_t len, json_t *metadata)
{
    size_t clen;
    char *clean = clean_xml(xml, len, &clen);
    if (!clean)
        return KP_ENOMEM;
    xmlDoc *doc = xmlReadMemory(clean, (int)clen, NULL, "UTF-8",
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                    XML_PARSE_RECOVER);
    free(clean);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    kp_buf name;
    kp_buf_init(&name);
    int rc = 0;
    if (!root || node_name(&name, root) < 0 || !name.data || strcmp(name.data, "metadata") != 0) {
        rc = KP_EPARSE; /* Object.keys(metasObj.metadata) of undefined */
        goto done;
    }
    if (root->properties || root->nsDef)
        json_object_del(metadata, "@attributes");
    /* keys in first-occurrence order; a repeated name becomes an array (no '#text') */
    for (const xmlNode *ch = root->children; ch && rc >= 0; ch = ch->next) {
        kp_buf_reset(&name);
        rc = node_name(&name, ch);
        if (rc < 0)
            break;
        bool seen = false, repeated = false;
        kp_buf other;
        kp_buf_init(&other);
        for (const xmlNode *p = root->children; p && rc >= 0; p = p->next) {
            kp_buf_reset(&other);
            rc = node_name(&other, p);
            if (rc < 0 || strcmp(other.data ? other.data : "", name.data) != 0)
                continue;
            if (p == ch)
                break;
            seen = true;
        }
        for (const xmlNode *p = ch->next; p && rc >= 0 && !repeated; p = p->next) {
            kp_buf_reset(&other);
            rc = node_name(&other, p);
            repeated = rc >= 0 && strcmp(other.data ? other.data : "", name.data) == 0;
        }
        kp_buf_free(&other);
        if (rc < 0 || seen)
            continue;
        json_t *val = NULL;
        if (!repeated && ch->type == XML_ELEMENT_NODE)
            rc = element_text(ch, &val);
        if (rc >= 0)
            rc = kp_ovp__set_or_del(metadata, name.data, val);
    }
done:
    kp_buf_free(&name);
    xmlFreeDoc(doc);
    return rc;
}

/* _parseMetadata(metadataList) into metadata. md is the raw metadata_metadata.list result
 * (NULL when the loader's slot was missing). */
int kp_ovp__custom_metadata(const json_t *md, json_t *metadata)
{
    if (!md || json_is_null(md) || !(kp_ovp__number(G(md, "totalCount")) > 0))
        return 0;
    const json_t *objects = G(md, "objects");
    if (!json_is_array(objects))
        return 0; /* KalturaMetadataListResponse threw: the loader keeps no metadata */
    for (size_t i = 0; i < json_array_size(objects); i++)
        if (json_is_null(json_array_get(objects, i)))
            return 0;
    for (size_t i = 0; i < json_array_size(objects); i++) {
        const json_t *xml = G(json_array_get(objects, i), "xml");
        if (!kp_ovp__truthy(xml))
            continue;
        if (!json_is_string(xml))
            return KP_EPARSE; /* xml.replace */
        int rc = apply_metadata_xml(json_string_value(xml), json_string_length(xml), metadata);
        if (rc < 0)
            return rc;
    }
    return 0;
}
