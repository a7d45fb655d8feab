/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * units.h - durations, rates, byte sizes and port ranges as an operator writes
 * them ("1h30m", "200/s", "10MiB/s", "9000-9100"), and the reverse for output
 * ("9m58s", "1.2M", "3.4 GiB").
 *
 * Parsers return 0, or -1 with a message for the operator in err (never a
 * partial result: *out is written only on success).
 */
#ifndef CASTLE_UNITS_H
#define CASTLE_UNITS_H

#include <stddef.h>
#include <stdint.h>

#define CASTLE_NSEC_PER_SEC 1000000000ull

/* Largest packet rate accepted: a GCRA cost below 1 ns cannot be represented. */
#define CASTLE_RATE_MAX 1e9

/* "500ms", "30s", "10m", "1h30m", "2d" -> nanoseconds. Units ns, us, ms, s,
 * m, h, d, combined in any order; "0" alone is 0. */
int castle_parse_duration(const char *s, uint64_t *ns, char *err, size_t errlen);

/* "200/s", "10/m", "5/h", "0.5/s" -> packets per second. Zero, negative and
 * rates above CASTLE_RATE_MAX (or so low one packet costs > 31 years) fail. */
int castle_parse_rate(const char *s, double *pps, char *err, size_t errlen);

/* "10MiB/s", "1GB/s", "500KiB/s", "1000B/s" (also /m, /h) -> bytes per second.
 * K/M/G/T are powers of 1000, Ki/Mi/Gi/Ti of 1024; the unit must end in an
 * upper-case B (bytes): "10Mb/s" is refused as ambiguous (bits?). */
int castle_parse_byte_rate(const char *s, double *bps, char *err, size_t errlen);

/* "65536", "64KiB", "1MB" -> bytes (same units as castle_parse_byte_rate). */
int castle_parse_bytes(const char *s, uint64_t *bytes, char *err, size_t errlen);

/* "443" or "9000-9100" -> lo..hi inclusive; 0, > 65535 and lo > hi fail. */
int castle_parse_ports(const char *s, uint16_t *lo, uint16_t *hi, char *err, size_t errlen);

/* An entry's comment: shorter than CASTLE_NOTE_MAX bytes (63) and free of
 * control characters (it is printed in tables and kept one per line in the
 * state file). 0, or -1 with a message. The policy and castlectl share it. */
int castle_comment_check(const char *s, char *err, size_t errlen);
/* s into out (outlen bytes, NUL-terminated, cut at a whole character): what
 * castle_comment_check refuses escaped (\n, \t, \r, \xNN for other C0 bytes,
 * DEL and invalid UTF-8, \uNNNN for C1 and bidirectional controls) and a
 * backslash doubled (so that the text "\x1b" never reads as an escaped ESC);
 * its length. For messages that quote input. */
size_t castle_text_escape(const char *s, char *out, size_t outlen);
/* The same, a backslash kept as it is: for a comment in castlectl's tables,
 * where the text reads as the operator typed it (JSON has it exact), and
 * only the controls an older castlectl let in are escaped. */
size_t castle_comment_display(const char *s, char *out, size_t outlen);

/* Humanizers: write into buf and return buf, for use in printf arguments.
 * count: 999 -> "999", 12345 -> "12.3K", 1234567 -> "1.2M" (powers of 1000)
 * bytes: 512 -> "512 B", 3.4*2^30 -> "3.4 GiB" (powers of 1024)
 * duration: 598e9 -> "9m58s", 5400e9 -> "1h30m", 0.5e9 -> "500ms" (truncated,
 * at most two units). */
const char *castle_human_count(uint64_t v, char *buf, size_t len);
const char *castle_human_bytes(uint64_t v, char *buf, size_t len);
const char *castle_human_duration(uint64_t ns, char *buf, size_t len);

#endif /* CASTLE_UNITS_H */
