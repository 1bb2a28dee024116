#!/bin/bash
# Makes a Debian 12 base image in podman's store without any image
# registry: debootstrap of bookworm from the mirror this machine's own apt
# uses, then `podman import`.  An image of that name already in the store
# is kept as it is, so only the first run pays for the bootstrap.
#
#   deploy/container/base.sh [--image NAME] [--force]
#
# NAME defaults to localhost/chat-base:bookworm.  --force bootstraps again
# and replaces it.  The mirror is read, at every run, from
# /etc/apt/sources.list and /etc/apt/sources.list.d/*.list and *.sources
# (the first one serving bookworm); CHAT_MIRROR=URL overrides it.  The
# image's own apt sources name the same mirror, and its security suite
# when the host has one.
set -euo pipefail

prog=base.sh
image=localhost/chat-base:bookworm
force=0
while [ $# -gt 0 ]; do
	case $1 in
	--image) image=${2:?}; shift 2 ;;
	--force) force=1; shift ;;
	*) sed -n '7,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done

die() {
	echo "$prog: $*" >&2
	exit 1
}

podman=${PODMAN:-podman}
if [ "$force" -eq 0 ] && "$podman" image exists "$image"; then
	echo "$prog: $image is in the store already"
	exit 0
fi

# Prints "URI SUITE" for every deb (not deb-src) source of apt's
# configuration, one-line and deb822 alike.
apt_sources() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# deb [options] URI SUITE COMPONENT...
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
		    awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# Stanzas apart by blank lines; a stanza with Enabled: no is
		# skipped, and every URI pairs with every suite.
		awk '
		function flush(  i, j, nu, ns, u, s) {
			if (types ~ /(^| )deb( |$)/ && enabled != "no") {
				nu = split(uris, u, " ")
				ns = split(suites, s, " ")
				for (i = 1; i <= nu; i++)
					for (j = 1; j <= ns; j++)
						print u[i], s[j]
			}
			types = uris = suites = ""
			enabled = "yes"
		}
		BEGIN { enabled = "yes" }
		/^#/ { next }
		/^[ \t]*$/ { flush(); next }
		{
			key = tolower($1)
			sub(/^[^:]*:[ \t]*/, "")
			if (key == "types:") types = $0
			else if (key == "uris:") uris = $0
			else if (key == "suites:") suites = $0
			else if (key == "enabled:") enabled = tolower($0)
		}
		END { flush() }' "$f"
	done
}

sources=$(apt_sources)
mirror=${CHAT_MIRROR:-$(awk '$2 == "bookworm" { print $1; exit }' <<<"$sources")}
security=$(awk '$2 == "bookworm-security" { print $1; exit }' <<<"$sources")
[ -n "$mirror" ] ||
    die "no apt source for bookworm in /etc/apt (set CHAT_MIRROR=URL)"
command -v debootstrap >/dev/null ||
    die "debootstrap is missing (apt-get install debootstrap)"

root=$(mktemp -d /tmp/chat-base.XXXXXX)
trap 'rm -rf "$root" "$root.log"' EXIT
echo "$prog: debootstrap bookworm into $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" \
    >"$root.log" 2>&1 || {
	tail -n 20 "$root.log" >&2
	rm -f "$root.log"
	die "debootstrap failed"
}
rm -f "$root.log"

# apt in the image: the same mirror with the point-release updates, and
# security updates from where the host gets them.
rm -f "$root/etc/apt/sources.list"
{
	echo "Types: deb"
	echo "URIs: $mirror"
	echo "Suites: bookworm bookworm-updates"
	echo "Components: main"
	echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
	if [ -n "$security" ]; then
		echo
		echo "Types: deb"
		echo "URIs: $security"
		echo "Suites: bookworm-security"
		echo "Components: main"
		echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
	fi
} >"$root/etc/apt/sources.list.d/debian.sources"
# Images are rebuilt rather than upgraded in place: no package lists, no
# downloaded packages, and no service started by a package's install
# script (there is no init to start it under).
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

tar --numeric-owner -C "$root" -c . |
    "$podman" import --quiet --change 'CMD ["/bin/bash"]' \
    --message "debootstrap --variant=minbase bookworm" - "$image" >/dev/null
echo "$prog: $image made"
