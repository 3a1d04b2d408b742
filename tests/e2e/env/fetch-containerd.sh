#!/usr/bin/env bash
# Fetches a newer containerd than Debian bookworm's for the e2e matrix, from Debian's later releases, into
# the project's own cache, without touching the system's apt sources, lists or installed packages.
#
#   fetch-containerd.sh [--cache-dir DIR] VERSION
#
# VERSION  1.6  bookworm's own package (/usr/bin, installed by scripts/install-deps.sh): only checked.
#          1.7  the newest 1.7.x that trixie/sid offer (e.g. 1.7.24~ds1-6+deb13u1, trixie)
#          2.1  the newest 2.1.x that trixie/sid offer (e.g. 2.1.9+ds1-5, sid)
# DIR      --cache-dir, else $INPLACED_E2E_CACHE_DIR, else /var/cache/inplaced-e2e (outside the work tree,
#          shared by every checkout and build directory of this machine, kept between runs).
#
# Prints the directory holding containerd, containerd-shim-runc-v2 and ctr on stdout (logs go to stderr).
# When DIR/containerd-VERSION (a symlink to DIR/containerd-<exact Debian version>/usr/bin) is present and
# its containerd answers --version, nothing is downloaded. Otherwise, under an exclusive lock on DIR/lock
# (parallel fixtures fetch once):
#   - a private apt state in DIR/apt: its own sources.list (trixie + sid main from the system's own Debian
#     mirror, signed by the Debian archive keyring), lists and archive cache; the Release files of sid
#     can be past Valid-Until on a mirror snapshot, hence Acquire::Check-Valid-Until=false;
#   - apt-get update (skipped when the private lists are less than an hour old; then a version missing
#     from them or a failed download refreshes them once), apt-cache madison containerd → the newest
#     version of that minor, apt-get download;
#   - dpkg-deb -x into DIR/containerd-<exact version>/, DELETING the runc that trixie's package unpacks
#     beside containerd (it needs GLIBC_2.38; bookworm's runc 1.1.5 on PATH is the one used);
#   - checks that `containerd --version` runs and names the requested minor.
# Exit status non-zero with a reason on any failure: e2e then fails, it never skips.
set -euo pipefail

cache_dir=${INPLACED_E2E_CACHE_DIR:-/var/cache/inplaced-e2e}
version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cache-dir) cache_dir=$2; shift 2 ;;
    --cache-dir=*) cache_dir=${1#--cache-dir=}; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    -*) echo "fetch-containerd: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [ -z "$version" ] || { echo "fetch-containerd: one VERSION only" >&2; exit 2; }; version=$1; shift ;;
  esac
done

log() { echo "fetch-containerd: $*" >&2; }
die() { log "$*"; exit 1; }

# check_bin_dir DIR MINOR: DIR's containerd runs here and is MINOR.x.
check_bin_dir() {
  local bin=$1 minor=$2 out f
  for f in containerd containerd-shim-runc-v2 ctr; do
    [ -x "$bin/$f" ] || { log "$bin/$f is missing"; return 1; }
  done
  out=$("$bin/containerd" --version 2>&1) || { log "$bin/containerd --version failed: $out"; return 1; }
  # "containerd github.com/containerd/containerd[/v2] 1.7.24~ds1 1.7.24~ds1-6+deb13u1"
  if ! awk -v m="$minor" '{ if (index($3, m ".") == 1) found = 1 } END { exit !found }' <<<"$out"; then
    log "$bin/containerd is not $minor.x: $out"
    return 1
  fi
}

case "$version" in
  1.6)
    check_bin_dir /usr/bin 1.6 || die "install bookworm's containerd: scripts/install-deps.sh"
    echo /usr/bin
    exit 0
    ;;
  1.7|2.1) ;;
  "") die "usage: fetch-containerd.sh [--cache-dir DIR] 1.6|1.7|2.1" ;;
  *) die "unsupported containerd version '$version' (1.6, 1.7 or 2.1)" ;;
esac

link="$cache_dir/containerd-$version"
# Fast path, no lock: a complete fetch is published by an atomic symlink rename.
if [ -L "$link" ] && check_bin_dir "$link" "$version" 2>/dev/null; then
  readlink -f "$link"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (writes $cache_dir, runs apt-get)"
for tool in apt-get apt-cache dpkg-deb dpkg flock; do
  command -v "$tool" >/dev/null || die "$tool missing"
done
mkdir -p "$cache_dir"
exec 9>"$cache_dir/lock"
flock 9
# Another fetch may have finished while we waited for the lock.
if [ -L "$link" ] && check_bin_dir "$link" "$version" 2>/dev/null; then
  readlink -f "$link"
  exit 0
fi

# The system's own Debian mirror (deb822 or one-line format), never the security archive.
mirror_uri() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { IGNORECASE = 1 }
         /^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI SUITE COMPONENTS...
    awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                       if ($i !~ /security/ && $i ~ /debian/) { print $i; exit } }' "$f"
  done
}
mirror=$(mirror_uri | head -n1)
mirror=${mirror%/}
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d/*}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -s "$keyring" ] || die "$keyring missing (package debian-archive-keyring)"

apt_dir="$cache_dir/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$mirror" trixie "$keyring" "$mirror" sid \
  > "$apt_dir/sources.list"
# apt downloads as _apt where it can; let it write the download directories.
if id _apt >/dev/null 2>&1; then
  chown _apt "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs" 2>/dev/null || true
fi
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o Dir::Etc::SourceParts=/nonexistent
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o Acquire::Check-Valid-Until=false
  -o Acquire::Languages=none
)

# update_lists: refreshes the private lists (trixie + sid Packages; a few seconds) and stamps them.
update_lists() {
  log "updating the private apt state in $apt_dir (trixie + sid from $mirror)"
  apt-get "${apt_opts[@]}" -qq update >&2 || { log "apt-get update of the private state failed"; return 1; }
  touch "$apt_dir/updated"
}

# download: resolves the newest Debian version of containerd whose upstream part is VERSION.x from the
# private lists into $exact and downloads its .deb into $deb.
download() {
  local candidates c
  candidates=$(apt-cache "${apt_opts[@]}" madison containerd | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' |
    awk -v m="$version" 'index($0, m ".") == 1 || index($0, "1:" m ".") == 1' | sort -u)
  if [ -z "$candidates" ]; then
    log "no containerd $version.x in trixie or sid; madison says:"
    apt-cache "${apt_opts[@]}" madison containerd >&2 || true
    return 1
  fi
  exact=""
  for c in $candidates; do
    if [ -z "$exact" ] || dpkg --compare-versions "$c" gt "$exact"; then exact=$c; fi
  done
  log "containerd $version → $exact"
  rm -f "$apt_dir/debs"/containerd_*.deb
  (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" -qq download "containerd=$exact" >&2) ||
    { log "apt-get download containerd=$exact failed"; return 1; }
  deb=$(ls "$apt_dir/debs"/containerd_*.deb 2>/dev/null | head -n1)
  [ -n "$deb" ] || { log "apt-get download left no containerd .deb in $apt_dir/debs"; return 1; }
}

t0=$(date +%s.%N)
# Lists refreshed within the hour (e.g. by the fetch of the other version) are used as they are; when
# they turn out stale (version gone from the mirror), they are refreshed once and the fetch retried.
if [ -n "$(find "$apt_dir/updated" -mmin -60 2>/dev/null)" ]; then
  download || { update_lists && download; } || die "cannot fetch containerd $version"
else
  { update_lists && download; } || die "cannot fetch containerd $version"
fi

# Debian versions may hold ':' and '~': keep the directory name to safe characters.
target="$cache_dir/containerd-$(printf '%s' "$exact" | tr -c 'A-Za-z0-9.+~-' '_')"
rm -rf "$target.tmp"
mkdir -p "$target.tmp"
dpkg-deb -x "$deb" "$target.tmp"
# Trixie's runc needs GLIBC_2.38 (bookworm has 2.36): containerd must find bookworm's /usr/sbin/runc.
find "$target.tmp" \( -name runc -o -name 'runc.*' \) \( -type f -o -type l \) -delete
check_bin_dir "$target.tmp/usr/bin" "$version" || die "the unpacked containerd does not run here"
rm -rf "$target"
mv "$target.tmp" "$target"
ln -sfn "$target/usr/bin" "$link.tmp"
mv -T "$link.tmp" "$link"
log "containerd $exact ready in $target/usr/bin ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s)"
readlink -f "$link"
