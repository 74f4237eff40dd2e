# The service's system user and group colt-orders (operators join the group to write the
# database). POSIX sh: scripts/install sources it, and scripts/package copies it into the
# package's postinst. Runs its commands through $SUDO when that is set.
create_system_user() {
  if ! getent group colt-orders >/dev/null; then
    ${SUDO:-} groupadd --system colt-orders
    echo "created group colt-orders"
  fi
  if ! getent passwd colt-orders >/dev/null; then
    ${SUDO:-} useradd --system --gid colt-orders --home-dir /var/lib/colt-orders --no-create-home \
      --shell /usr/sbin/nologin --comment "colt-orders daemon" colt-orders
    echo "created user colt-orders"
  fi
}
