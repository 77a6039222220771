# Sourced by scripts/test.sh: fetches the containerd builds the e2e matrix runs besides Debian 12's
# own 1.6 — the newest `containerd` of Debian's `trixie` suite (1.7) and of `sid` (2.x).
#
# The system's apt state is never touched: a private sources list (built from the archive URI
# the machine's own apt sources already name, suite swapped), private lists and cache dirs, then
# `apt-get download` and `dpkg-deb -x` into a cache dir. The result is a manifest, one line per
# version: `<upstream version> <dir holding containerd, ctr and containerd-shim-runc-v2>`.
#
# Idempotent: a version already unpacked is not downloaded again.

CONTAINERD_SUITES=(trixie sid)
CONTAINERD_CACHE="${MICRUN_CONTAINERD_CACHE:-/var/cache/micrun/containerd}"

# The archive URI of the machine's own Debian sources (deb822 or one-line format).
debian_archive_uri() {
  local uri
  uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null)
  [[ -n "$uri" ]] || uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
  [[ -n "$uri" ]] || { echo "error: no Debian archive URI in /etc/apt/sources.list{,.d}" >&2; return 1; }
  echo "$uri"
}

# Writes "$CONTAINERD_CACHE/matrix" and prints its path. Debian 12's containerd (/usr/bin) comes first.
ensure_containerd_versions() {
  local apt_dir="$CONTAINERD_CACHE/apt" uri suite version upstream dest manifest="$CONTAINERD_CACHE/matrix"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
  uri=$(debian_archive_uri) || return 1
  : > "$apt_dir/sources.list"
  for suite in "${CONTAINERD_SUITES[@]}"; do
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main" >> "$apt_dir/sources.list"
  done
  local apt_opts=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
    -o APT::Sandbox::User=root -o Debug::NoLocking=1
  )
  # Refresh the private lists at most once a day.
  if [[ -z $(find "$apt_dir/lists" -maxdepth 1 -name '*_Packages*' -mtime -1 2>/dev/null | head -n 1) ]]; then
    apt-get "${apt_opts[@]}" -q update >&2 || { echo "error: cannot read the Debian archive at $uri" >&2; return 1; }
  fi

  local tmp="$manifest.tmp"
  printf '%s %s\n' "$(containerd_upstream_version /usr/bin/containerd)" /usr/bin > "$tmp"
  for suite in "${CONTAINERD_SUITES[@]}"; do
    # madison lists every version with its suite; take the newest of this one.
    version=$(apt-cache "${apt_opts[@]}" madison containerd | awk -v s=" $suite/" 'index($0, s) { print $3 }' \
      | sort -V | tail -n 1)
    [[ -n "$version" ]] || { echo "error: no containerd in Debian's $suite suite" >&2; return 1; }
    dest="$CONTAINERD_CACHE/$version"
    if [[ ! -x "$dest/usr/bin/containerd" ]]; then
      (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" -q download "containerd=$version" >&2) || return 1
      rm -rf "$dest.partial" && mkdir -p "$dest.partial"
      dpkg-deb -x "$apt_dir/debs/containerd_${version//:/%3a}_$(dpkg --print-architecture).deb" "$dest.partial" || return 1
      rm -rf "$dest" && mv "$dest.partial" "$dest"
    fi
    upstream=$(containerd_upstream_version "$dest/usr/bin/containerd") || return 1
    printf '%s %s\n' "$upstream" "$dest/usr/bin" >> "$tmp"
  done
  mv "$tmp" "$manifest"
  echo "$manifest"
}

# "containerd github.com/containerd/containerd 1.7.24~ds1 ..." → 1.7.24
containerd_upstream_version() {
  "$1" --version | awk '{ print $3 }' | sed -E 's/^v//; s/[~+-].*//'
}
