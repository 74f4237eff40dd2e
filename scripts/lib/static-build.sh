# The build that scripts/install and scripts/package ship: the Swift runtime linked in
# (--static-swift-stdlib), so it needs nothing from the toolchain's folder at run time. A folder
# of its own: SwiftPM does not rebuild objects when only --static-swift-stdlib changes, and
# objects of one kind linked into the other fail (-lCoreFoundation not found).
# Sourced from the checkout's root, by bash.
static_binary() { echo ".build-static/$1/colt-orders"; }

# build_static CONFIGURATION (release or debug). Through sudo it builds as the user who owns the
# checkout, not as root, so that both scripts share .build-static whoever ran the last one.
build_static() {
  local command=(swift build -c "$1" --static-swift-stdlib --scratch-path .build-static --product colt-orders)
  if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    sudo -u "$SUDO_USER" env PATH="$PATH" "${command[@]}"
  else
    "${command[@]}"
  fi
}
