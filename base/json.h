/*
 * json: the one JSON string escaper of the project.
 *
 * Scenario identities (the canonical JSON that `fedbits check` matches runs on), reports
 * and exports all write strings through json_append_string(), so a string is escaped the
 * same way everywhere. The form is fixed, because identities are hashed: the string is
 * wrapped in double quotes, '"' and '\\' get a backslash, every byte below 0x20 becomes
 * \u00XX (lower-case hex; no \n or \t short forms), and all other bytes, UTF-8 included,
 * are copied as they are (RFC 8259, section 7).
 */
#ifndef FEDBITS_BASE_JSON_H
#define FEDBITS_BASE_JSON_H

#include <stddef.h>

#include "base/errbuf.h"
#include "base/strbuf.h"

/*
 * Appends the NUL-terminated string s to sb as a quoted, escaped JSON string. All or
 * nothing: on an error (those of strbuf_append) sb is left as it was.
 */
int json_append_string(struct strbuf *sb, const char *s, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Bytes json_append_string() appends for s. */
size_t json_string_len(const char *s);

#endif
