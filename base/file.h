/*
 * file: the one whole-file reader of the project.
 *
 * Scenario, sweep, CSV and trace files are read whole into memory and parsed there.
 * file_read() appends a file's bytes to a struct strbuf (base/strbuf.h), whose cap, set
 * by the caller, bounds how much a file may hold: a larger file is refused with
 * -ERR_RANGE, never read in full. Every error carries the file name as its location
 * (errbuf_set_location), and its message names the kind of file the caller says it is
 * ("cannot open scenario 'a.yaml': No such file or directory").
 */
#ifndef FEDBITS_BASE_FILE_H
#define FEDBITS_BASE_FILE_H

#include "base/errbuf.h"
#include "base/strbuf.h"

/*
 * Appends the whole of the file at path to sb. `what` names the file in messages (e.g.
 * "CSV file"). Returns 0, -ERR_NOTFOUND (no such file), -ERR_IO (cannot open or read),
 * -ERR_RANGE (the file does not fit in sb's cap) or -ERR_NOMEM. On an error sb holds
 * what it held before the call.
 */
int file_read(struct strbuf *sb, const char *path, const char *what, struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
