#!/usr/bin/env bash
# deps.sh - install the Debian 12 packages castle builds, tests and benchmarks
# with. Idempotent: installs only what is missing. Also mounts bpffs.
set -eu

PKGS=(
	# build
	make gcc clang llvm bpftool pkg-config libbpf-dev libxdp-dev libelf-dev zlib1g-dev
	libyaml-dev libmicrohttpd-dev libsystemd-dev libcmocka-dev libclang-rt-14-dev
	# run and test
	iproute2 iputils-ping xdp-tools python3-scapy netcat-openbsd curl openssl jq prometheus util-linux
	# benchmarks and rivals
	nftables ipset iptables gnuplot-nox linux-perf binutils
	# lint
	clang-tidy cppcheck clang-tools
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
	echo "deps: all packages present"
fi

if ! mount | grep -q ' /sys/fs/bpf '; then
	mount -t bpf bpf /sys/fs/bpf
	echo "deps: mounted bpffs at /sys/fs/bpf"
fi
