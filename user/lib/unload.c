// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * unload.c - see loader.h: what takes castle off an interface (castlectl
 * unload, a vanished device forgotten) and removes its pins once no
 * interface is left, and the check that an interface can take castle at all.
 */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "attach_int.h"
#include "loader.h"

#if __has_include("castle_tc.skel.h") && __has_include("tc_attach.h")
#define CASTLE_HAVE_TC 1
#include "tc_attach.h"
#endif

static void unpin_all(const char *pin_dir)
{
	DIR *d = opendir(pin_dir);
	struct dirent *e;
	char path[4400];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(pin_dir);
}

/* The link type of ifname (ARPHRD_*), in the caller's network namespace
 * (sysfs may show another one): >= 0, or -errno. */
static int link_type(const char *ifname)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ret = ioctl(fd, SIOCGIFHWADDR, &ifr) ? -errno : ifr.ifr_hwaddr.sa_family;
	close(fd);
	return ret;
}

int castle_iface_check(const char *ifname, char *err, size_t errlen)
{
	int ret;

	if (!if_nametoindex(ifname)) {
		ret = -errno;
		snprintf(err, errlen, "interface %s: %s", ifname,
			 ret == -ENODEV ? "no such interface" : strerror(-ret));
		return ret ? ret : -ENODEV;
	}
	/* Both programs parse Ethernet frames (loopback's carry a blank
	 * Ethernet header too). On an L3 device (tun, WireGuard, IP tunnels)
	 * the IP header comes first and every packet would be misread. */
	ret = link_type(ifname);
	if (ret >= 0 && ret != ARPHRD_ETHER && ret != ARPHRD_LOOPBACK) {
		snprintf(err, errlen, "interface %s is not an Ethernet interface (link type %d): "
			 "castle's programs parse Ethernet frames; put the gate on the Ethernet "
			 "device the traffic arrives on", ifname, ret);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Every pin under pin_dir removed when m's ifaces map records no interface:
 * true then. */
static bool unpin_if_unused(const struct castle_maps *m, const char *pin_dir)
{
	uint32_t next;

	if (bpf_map_get_next_key(m->ifaces, NULL, &next) == 0)
		return false;
	unpin_all(pin_dir);
	return true;
}

int castle_unpin_unused(const char *pin_dir)
{
	struct castle_maps m;
	char err[256];
	bool gone;

	if (castle_maps_open_pinned(pin_dir, &m, err, sizeof(err)))
		return -ENOENT;
	gone = unpin_if_unused(&m, pin_dir);
	castle_maps_close(&m);
	return gone ? 0 : -EBUSY;
}

int castle_iface_forget(const struct castle_maps *m, const char *pin_dir, const char *ifname)
{
	struct castle_iface v;
	uint32_t key, next, *prev = NULL, found = 0;
	char link[4200];

	while (bpf_map_get_next_key(m->ifaces, prev, &next) == 0) {
		if (!bpf_map_lookup_elem(m->ifaces, &next, &v) && !strncmp(v.name, ifname, sizeof(v.name)))
			found = next;
		key = next;
		prev = &key;
	}
	/* The device took its XDP program and TC link with it; what is left
	 * is our record and the pin of a defunct link. */
	snprintf(link, sizeof(link), "%s/" CASTLE_PIN_LINK_TC_FMT, pin_dir, ifname);
	unlink(link);
	if (!found)
		return -ENOENT;
	bpf_map_delete_elem(m->ifaces, &found);
	castle_ifslot_release(m, found);
	return 0;
}

int castle_unload_iface(const char *pin_dir, const char *ifname, bool *all_gone, char *err,
			size_t errlen)
{
	struct castle_maps m;
	struct castle_iface v;
	uint32_t key, next, *prev = NULL, found = 0, tc_mode = 0;
	int ifindex, ret;
	char link[4200];

	*all_gone = false;
	ret = castle_maps_open_pinned(pin_dir, &m, err, errlen);
	if (ret)
		return ret;
	while (bpf_map_get_next_key(m.ifaces, prev, &next) == 0) {
		if (!bpf_map_lookup_elem(m.ifaces, &next, &v) && !strncmp(v.name, ifname, sizeof(v.name))) {
			found = next;
			tc_mode = v.tc_mode;
		}
		key = next;
		prev = &key;
	}
	ifindex = if_nametoindex(ifname);
	if (!found && !ifindex) {
		snprintf(err, errlen, "%s: no such interface, and castle has no record of it", ifname);
		ret = -ENODEV;
		goto out;
	}
	if (ifindex) {
		ret = castle_xdp_detach(ifindex, ifname, err, errlen);
		if (ret)
			goto out;
	}
	snprintf(link, sizeof(link), "%s/" CASTLE_PIN_LINK_TC_FMT, pin_dir, ifname);
#ifdef CASTLE_HAVE_TC
	if (ifindex) {
		if (found != (uint32_t)ifindex)
			tc_mode = 0; /* the record is of a device since deleted */
		/* Without a record (tc_mode 0) a clsact qdisc is never removed:
		 * nothing says castle made it. */
		ret = castle_tc_detach(ifindex, link, tc_mode, err, errlen);
		if (ret)
			goto out;
	}
#endif
	unlink(link); /* the link pin holds the TC attachment */
	key = found ? found : (uint32_t)ifindex;
	bpf_map_delete_elem(m.ifaces, &key);
	castle_ifslot_release(&m, key);

	*all_gone = unpin_if_unused(&m, pin_dir);
out:
	castle_maps_close(&m);
	return ret;
}
