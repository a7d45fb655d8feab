/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * attach_int.h - between attach.c and unload.c (not for other callers).
 */
#ifndef CASTLE_ATTACH_INT_H
#define CASTLE_ATTACH_INT_H

/* castle's XDP program off ifindex, when it is castle's that runs there (a
 * plain attach or libxdp's dispatcher); 0 when none of castle's is there. */
int castle_xdp_detach(int ifindex, const char *ifname, char *err, size_t errlen);

#endif /* CASTLE_ATTACH_INT_H */
