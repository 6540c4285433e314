/* json: the JSON string escaper. See json.h. */
#include "base/json.h"

#include <string.h>

#include "base/banned.h"

/* Bytes the escaped form of c takes. */
static size_t
json_escaped_len(unsigned char c)
{
    if (c == '"' || c == '\\')
        return 2;
    return c < 0x20 ? 6 : 1;
}

size_t
json_string_len(const char *s)
{
    size_t n = 2;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        n += json_escaped_len(*p);
    return n;
}

int
json_append_string(struct strbuf *sb, const char *s, struct errbuf *eb)
{
    static const char hex[] = "0123456789abcdef";
    int rc = strbuf_grow(sb, json_string_len(s), eb);
    if (rc < 0)
        return rc;
    /* The room is reserved: the appends below cannot fail. */
    rc = strbuf_appendc(sb, '"', eb);
    for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p != '\0'; p++) {
        size_t plain = 0;
        while (p[plain] != '\0' && json_escaped_len(p[plain]) == 1)
            plain++;
        if (plain > 0) {
            rc = strbuf_append(sb, p, plain, eb);
            p += plain - 1;
            continue;
        }
        char esc[6] = { '\\', (char)*p, 0, 0, 0, 0 };
        size_t n = 2;
        if (*p < 0x20) {
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 0xf];
            n = 6;
        }
        rc = strbuf_append(sb, esc, n, eb);
    }
    return rc == 0 ? strbuf_appendc(sb, '"', eb) : rc;
}
